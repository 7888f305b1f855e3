-- An optional send rate per profile: at most this many messages a minute through it
-- (providers enforce such limits). NULL: no limit. The outbox leaves mail past the limit
-- waiting, without using an attempt. Existing profiles have none.
ALTER TABLE smtp_profiles ADD COLUMN max_per_minute INTEGER
    CHECK (max_per_minute IS NULL OR max_per_minute BETWEEN 1 AND 100000);
