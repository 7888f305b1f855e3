-- CHECK constraints for what the code already guarantees, and two missing indexes.
--
-- users and invitations: emails are stored lower-cased (AccountEmail lower-cases them).
-- smtp_profiles: the columns each kind of profile needs are set.
--
-- SQLite cannot add a CHECK to a table, so those three tables are rebuilt: copy the rows
-- aside, drop the table, create it anew with the CHECKs, copy the rows back (ids kept),
-- recreate its indexes.
--
-- sqlx runs a migration inside a transaction, where `PRAGMA foreign_keys = OFF` does
-- nothing, and `PRAGMA defer_foreign_keys` does not stop ON DELETE actions: dropping a
-- table first deletes its rows, and the actions of the foreign keys that point at it run.
--   DROP TABLE users:       password_resets (CASCADE, which in turn sets outbox.reset_id
--                           to NULL), audit_log.actor_id and invitations.invited_by (SET NULL)
--   DROP TABLE invitations: outbox.invitation_id (SET NULL)
--   DROP TABLE smtp_profiles: nothing points at it.
-- So every value those actions touch is saved first and put back after, and guards at the
-- end make the migration fail (and roll back) if anything did not survive.

-- What the ON DELETE actions will touch.
CREATE TEMP TABLE keep_resets AS SELECT * FROM password_resets;
CREATE TEMP TABLE keep_audit_actors AS SELECT id, actor_id FROM audit_log WHERE actor_id IS NOT NULL;
CREATE TEMP TABLE keep_inviters AS SELECT id, invited_by FROM invitations WHERE invited_by IS NOT NULL;
CREATE TEMP TABLE keep_outbox_links AS
    SELECT id, invitation_id, reset_id FROM outbox WHERE invitation_id IS NOT NULL OR reset_id IS NOT NULL;

-- users ---------------------------------------------------------------------------------
CREATE TEMP TABLE copy_users AS SELECT * FROM users;
DROP TABLE users;
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Stored lower-cased, so uniqueness per tenant is case-insensitive.
    email         TEXT    NOT NULL CONSTRAINT users_email_lower_case CHECK (email = lower(email)),
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'organizer', 'user')),
    is_operator   INTEGER NOT NULL DEFAULT 0 CHECK (is_operator IN (0, 1)),
    -- Bumped to end every session of the user (password reset).
    session_epoch INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, email)
);
INSERT INTO users (id, tenant_id, email, display_name, password_hash, role, is_operator, session_epoch, created_at)
    SELECT id, tenant_id, email, display_name, password_hash, role, is_operator, session_epoch, created_at
    FROM copy_users;

-- invitations ---------------------------------------------------------------------------
CREATE TEMP TABLE copy_invitations AS SELECT * FROM invitations;
DROP TABLE invitations;
CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       TEXT    NOT NULL CONSTRAINT invitations_email_lower_case CHECK (email = lower(email)),
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'organizer', 'user')),
    token_hash  TEXT    NOT NULL UNIQUE,
    invited_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    voided_at   INTEGER
);
CREATE INDEX invitations_by_tenant ON invitations (tenant_id, email);
INSERT INTO invitations (id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at,
                         voided_at)
    SELECT id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at, voided_at
    FROM copy_invitations;

-- smtp_profiles -------------------------------------------------------------------------
CREATE TEMP TABLE copy_smtp_profiles AS SELECT * FROM smtp_profiles;
DROP TABLE smtp_profiles;
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
    updated_at           INTEGER NOT NULL,
    -- What each kind needs.
    CONSTRAINT smtp_profiles_generic_needs_server
        CHECK (kind <> 'generic' OR (host IS NOT NULL AND port IS NOT NULL AND security IS NOT NULL)),
    CONSTRAINT smtp_profiles_generic_auth_needs_username
        CHECK (kind <> 'generic' OR auth_required = 0 OR username IS NOT NULL),
    CONSTRAINT smtp_profiles_graph_needs_app
        CHECK (kind <> 'graph' OR (username IS NOT NULL AND graph_tenant_id IS NOT NULL AND graph_client_id IS NOT NULL))
);
-- Names are unique per tenant, case-insensitively (names are ASCII only).
CREATE UNIQUE INDEX smtp_profiles_name ON smtp_profiles (tenant_id, name COLLATE NOCASE);
-- At most one default per tenant, enforced by the database itself (SPEC §3).
CREATE UNIQUE INDEX smtp_profiles_one_default ON smtp_profiles (tenant_id) WHERE is_default = 1;
INSERT INTO smtp_profiles
    SELECT id, tenant_id, name, kind, is_default, from_address, from_name, reply_to, signature, description, host,
           port, security, tls_verify, ca_pem, auth_required, username, password_sealed, graph_tenant_id,
           graph_client_id, graph_secret_sealed, last_test_at, last_test_ok, last_test_message, created_at, updated_at
    FROM copy_smtp_profiles;

-- Put back what the ON DELETE actions took --------------------------------------------
INSERT INTO password_resets (id, tenant_id, user_id, token_hash, created_at, expires_at, used_at, voided_at)
    SELECT id, tenant_id, user_id, token_hash, created_at, expires_at, used_at, voided_at FROM keep_resets
    WHERE id NOT IN (SELECT id FROM password_resets);
UPDATE audit_log SET actor_id = (SELECT k.actor_id FROM keep_audit_actors k WHERE k.id = audit_log.id)
    WHERE id IN (SELECT id FROM keep_audit_actors);
UPDATE invitations SET invited_by = (SELECT k.invited_by FROM keep_inviters k WHERE k.id = invitations.id)
    WHERE id IN (SELECT id FROM keep_inviters);
UPDATE outbox SET invitation_id = (SELECT k.invitation_id FROM keep_outbox_links k WHERE k.id = outbox.id),
                  reset_id = (SELECT k.reset_id FROM keep_outbox_links k WHERE k.id = outbox.id)
    WHERE id IN (SELECT id FROM keep_outbox_links);

-- Guards: any non-zero count fails the CHECK and rolls the whole migration back.
CREATE TEMP TABLE migration_guard (what TEXT NOT NULL, missing INTEGER NOT NULL CHECK (missing = 0));
INSERT INTO migration_guard
    SELECT 'users', (SELECT COUNT(*) FROM copy_users) - (SELECT COUNT(*) FROM users)
    UNION ALL SELECT 'invitations', (SELECT COUNT(*) FROM copy_invitations) - (SELECT COUNT(*) FROM invitations)
    UNION ALL SELECT 'smtp_profiles', (SELECT COUNT(*) FROM copy_smtp_profiles) - (SELECT COUNT(*) FROM smtp_profiles)
    UNION ALL SELECT 'password_resets', (SELECT COUNT(*) FROM keep_resets) - (SELECT COUNT(*) FROM password_resets)
    UNION ALL SELECT 'audit_log.actor_id', (SELECT COUNT(*) FROM keep_audit_actors k
                                            WHERE NOT EXISTS (SELECT 1 FROM audit_log a
                                                              WHERE a.id = k.id AND a.actor_id IS k.actor_id))
    UNION ALL SELECT 'invitations.invited_by', (SELECT COUNT(*) FROM keep_inviters k
                                                WHERE NOT EXISTS (SELECT 1 FROM invitations i
                                                                  WHERE i.id = k.id AND i.invited_by IS k.invited_by))
    UNION ALL SELECT 'outbox links', (SELECT COUNT(*) FROM keep_outbox_links k
                                      WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = k.id
                                                        AND o.invitation_id IS k.invitation_id
                                                        AND o.reset_id IS k.reset_id))
    UNION ALL SELECT 'foreign keys', (SELECT COUNT(*) FROM pragma_foreign_key_check);

DROP TABLE migration_guard;
DROP TABLE keep_resets;
DROP TABLE keep_audit_actors;
DROP TABLE keep_inviters;
DROP TABLE keep_outbox_links;
DROP TABLE copy_users;
DROP TABLE copy_invitations;
DROP TABLE copy_smtp_profiles;

-- Indexes ---------------------------------------------------------------------------------
-- Voiding a user's earlier resets, and the cascade when a user is deleted.
CREATE INDEX password_resets_by_user ON password_resets (user_id);
-- The cascade when an outbox message is deleted, and a message's attempts.
CREATE INDEX outbox_attempts_by_outbox ON outbox_attempts (outbox_id);
