-- The outbox's fair pick asks, for each organization's route, when its oldest due message
-- became due. This index of waiting mail answers that from the index alone (lease
-- included), and gives each route's oldest messages in order; it replaces 0016's.
CREATE INDEX outbox_ready ON outbox (tenant_id, via, next_attempt_at, lease_until) WHERE status = 'pending';
DROP INDEX outbox_due_by_tenant;
