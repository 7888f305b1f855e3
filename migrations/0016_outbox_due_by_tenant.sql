-- The outbox's fair pick looks up each waiting organization's oldest due mail: an index
-- by organization keeps that a short seek however long the queue (issue 13).
CREATE INDEX outbox_due_by_tenant ON outbox (tenant_id, status, next_attempt_at);
