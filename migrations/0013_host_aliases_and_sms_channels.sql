-- Host aliases and SMS channels (guest access). New tables only: no existing row changes,
-- and nothing here depends on migrations after 0010.

-- A tenant's host aliases: `$relay` stands for a host name or IPv4 address, looked up
-- when a message is sent. Names are unique in the tenant regardless of case.
CREATE TABLE host_aliases (
    id         INTEGER PRIMARY KEY,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL COLLATE NOCASE CHECK (name LIKE '$%' AND length(name) BETWEEN 2 AND 33),
    value      TEXT    NOT NULL CHECK (length(value) BETWEEN 1 AND 100),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

-- SMS over SMTP: where passcodes go as email to an email-to-SMS gateway. The password is
-- sealed by the secret box, like the SMTP profiles' secrets. Off until enabled.
CREATE TABLE sms_channels (
    id                INTEGER PRIMARY KEY,
    tenant_id         INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    enabled           INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    name              TEXT    NOT NULL COLLATE NOCASE,
    host              TEXT    NOT NULL,
    -- NULL: the usual port of the security setting.
    port              INTEGER CHECK (port IS NULL OR port BETWEEN 1 AND 49151),
    security          TEXT    NOT NULL CHECK (security IN ('ssl', 'starttls', 'none')),
    sender            TEXT    NOT NULL,
    username          TEXT    NOT NULL COLLATE NOCASE,
    password_sealed   TEXT    NOT NULL,
    recipient         TEXT    NOT NULL,
    number_format     TEXT    NOT NULL CHECK (number_format IN ('plus', 'p')),
    message_type      TEXT,
    subject           TEXT,
    message           TEXT    NOT NULL,
    last_test_at      INTEGER,
    last_test_ok      INTEGER CHECK (last_test_ok IS NULL OR last_test_ok IN (0, 1)),
    last_test_message TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, username)
);
CREATE INDEX sms_channels_by_host ON sms_channels (tenant_id, host);

-- Guest access settings, one row per tenant once an admin saves them (no row: off, and
-- the defaults below).
CREATE TABLE guest_settings (
    tenant_id        INTEGER PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    enabled          INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    delivery         TEXT    NOT NULL DEFAULT 'email' CHECK (delivery IN ('email', 'sms', 'both')),
    passcode_length  INTEGER NOT NULL DEFAULT 6 CHECK (passcode_length BETWEEN 4 AND 10),
    access_hours     INTEGER NOT NULL DEFAULT 24 CHECK (access_hours BETWEEN 1 AND 720),
    -- Calling codes separated by spaces (`+44 +353`); empty: any number.
    allowed_prefixes TEXT    NOT NULL DEFAULT '',
    updated_at       INTEGER NOT NULL
);
