-- Each message's sealed content in a table of its own. The outbox rewrites a message's
-- row when it claims it and when it records the attempt, and the content (about 1.3 KB
-- for an invitation) was most of the row: every rewrite copied it again.
-- A later migration that rebuilds `outbox` (as 0014 did) must copy `outbox_bodies` aside
-- first and put it back: dropping `outbox` deletes its bodies with it.
CREATE TABLE outbox_bodies (
    outbox_id   INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    -- Sealed by the secret box: JSON {text, html} for email; {name, passcode} for SMS.
    body_sealed TEXT    NOT NULL
);
INSERT INTO outbox_bodies (outbox_id, body_sealed) SELECT id, body_sealed FROM outbox;
ALTER TABLE outbox DROP COLUMN body_sealed;
