-- The egress policy's per-organization toggle: whether the organization's SMTP profiles
-- may reach loopback, private (RFC 1918, ULA) and shared (carrier-grade NAT) addresses.
-- Off for every existing organization; an organization an operator belongs to has them
-- whatever this says (see src/store/egress.rs), so a single-organization install with a
-- relay on localhost works as before. Existing rows are kept as they are.
ALTER TABLE tenants ADD COLUMN allow_private_networks INTEGER NOT NULL DEFAULT 0
    CHECK (allow_private_networks IN (0, 1));
