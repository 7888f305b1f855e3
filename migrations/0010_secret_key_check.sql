-- The secret box's check value: a fixed text sealed with the key in use, written on the
-- first start (or the first start after this migration) and re-sealed by `relaydesk key
-- rotate`. A start whose key cannot open it is refused, so a lost or wrong key is never
-- taken for a first run. At most one row. Depends on nothing but itself.
CREATE TABLE secret_key_check (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    check_sealed TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
