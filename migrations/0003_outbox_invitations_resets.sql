-- Invitations, password resets and the outbox that mails them (SPEC §5, §6).
-- Tokens are stored only as their SHA-256; mailed bodies (which carry a link) are sealed.

CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'organizer', 'user')),
    token_hash  TEXT    NOT NULL UNIQUE,
    invited_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    voided_at   INTEGER
);
CREATE INDEX invitations_by_tenant ON invitations (tenant_id, email);

CREATE TABLE password_resets (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    voided_at  INTEGER
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL CHECK (kind IN ('invitation', 'password_reset')),
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    -- JSON {text, html}, sealed by the secret box: it holds a one-time link.
    body_sealed     TEXT    NOT NULL,
    -- One Message-ID for every attempt.
    message_id      TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- Set while a worker holds the message; a lease past its time means the worker died.
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_tenant ON outbox (tenant_id, id DESC);

CREATE TABLE outbox_attempts (
    id        INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    attempt   INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    ok        INTEGER NOT NULL CHECK (ok IN (0, 1)),
    profile   TEXT,
    error     TEXT
);
