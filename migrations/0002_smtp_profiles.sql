-- SMTP profiles (SPEC §2-§4). Secrets are stored sealed by the secret box, never plain.

CREATE TABLE smtp_profiles (
    id                   INTEGER PRIMARY KEY,
    tenant_id            INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                 TEXT    NOT NULL,
    kind                 TEXT    NOT NULL CHECK (kind IN ('generic', 'graph')),
    is_default           INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    from_address         TEXT    NOT NULL,
    from_name            TEXT    NOT NULL,
    reply_to             TEXT,
    signature            TEXT,
    description          TEXT,
    -- Generic SMTP
    host                 TEXT,
    port                 INTEGER CHECK (port BETWEEN 1 AND 49151),
    security             TEXT    CHECK (security IN ('ssl', 'starttls', 'none')),
    tls_verify           INTEGER NOT NULL DEFAULT 1 CHECK (tls_verify IN (0, 1)),
    ca_pem               TEXT,
    auth_required        INTEGER NOT NULL DEFAULT 1 CHECK (auth_required IN (0, 1)),
    -- The SMTP account, or the Graph user name.
    username             TEXT,
    password_sealed      TEXT,
    -- MS Graph API
    graph_tenant_id      TEXT,
    graph_client_id      TEXT,
    graph_secret_sealed  TEXT,
    -- The last test email (SPEC §4)
    last_test_at         INTEGER,
    last_test_ok         INTEGER,
    last_test_message    TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

-- Names are unique per tenant, case-insensitively (names are ASCII only).
CREATE UNIQUE INDEX smtp_profiles_name ON smtp_profiles (tenant_id, name COLLATE NOCASE);

-- At most one default per tenant, enforced by the database itself (SPEC §3).
CREATE UNIQUE INDEX smtp_profiles_one_default ON smtp_profiles (tenant_id) WHERE is_default = 1;
