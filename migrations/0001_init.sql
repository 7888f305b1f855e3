-- Tenants, their users, the first-run setup token and the audit log.
-- Times are unix seconds (UTC).

CREATE TABLE tenants (
    id                INTEGER PRIMARY KEY,
    slug              TEXT    NOT NULL UNIQUE,
    name              TEXT    NOT NULL,
    suspended         INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1)),
    email_enabled     INTEGER NOT NULL DEFAULT 0 CHECK (email_enabled IN (0, 1)),
    credential_policy TEXT    NOT NULL DEFAULT 'documented'
                              CHECK (credential_policy IN ('documented', 'provider')),
    created_at        INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Stored lower-cased, so uniqueness per tenant is case-insensitive.
    email         TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'organizer', 'user')),
    is_operator   INTEGER NOT NULL DEFAULT 0 CHECK (is_operator IN (0, 1)),
    -- Bumped to end every session of the user (password reset).
    session_epoch INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, email)
);

-- One-time link logged by `serve` while no tenant exists; only its SHA-256 is kept.
CREATE TABLE setup_tokens (
    token_hash TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    -- Who, as shown then (kept when the user is gone).
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, id DESC);
