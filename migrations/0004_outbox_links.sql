-- Which one-time link a mailed message carries, so a message whose link was replaced or
-- used before it went out is not sent.
ALTER TABLE outbox ADD COLUMN invitation_id INTEGER REFERENCES invitations (id) ON DELETE SET NULL;
ALTER TABLE outbox ADD COLUMN reset_id INTEGER REFERENCES password_resets (id) ON DELETE SET NULL;
