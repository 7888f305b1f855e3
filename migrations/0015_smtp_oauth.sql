-- OAuth 2.0 sign-in (XOAUTH2) for Generic SMTP profiles. New columns only: every existing
-- row keeps its values and signs in with its password (oauth_provider NULL).
--
-- With OAuth, password_sealed holds the app's client secret (the profile's one login
-- secret, sealed the same way), username the mailbox signed in as.

-- NULL: sign in with the password. Otherwise the provider that issues the token.
ALTER TABLE smtp_profiles ADD COLUMN oauth_provider TEXT
    CHECK (oauth_provider IS NULL OR oauth_provider IN ('microsoft', 'google', 'other'));
ALTER TABLE smtp_profiles ADD COLUMN oauth_client_id TEXT;
-- Microsoft: the directory (tenant) ID.
ALTER TABLE smtp_profiles ADD COLUMN oauth_directory TEXT;
-- Other provider: its token endpoint and the scopes asked for.
ALTER TABLE smtp_profiles ADD COLUMN oauth_token_url TEXT;
ALTER TABLE smtp_profiles ADD COLUMN oauth_scope TEXT;
-- Google: the connected account. The refresh token is sealed like every secret; cleared
-- whenever the settings it was issued for change.
ALTER TABLE smtp_profiles ADD COLUMN oauth_refresh_sealed TEXT;
ALTER TABLE smtp_profiles ADD COLUMN oauth_account TEXT;
ALTER TABLE smtp_profiles ADD COLUMN oauth_connected_at INTEGER;
-- Why the last try to get a token failed for good (the provider refused the app or the
-- refresh token), shown on the dashboard while the profile is the default; cleared by the
-- next token, a saved edit or a new connection.
ALTER TABLE smtp_profiles ADD COLUMN oauth_problem TEXT;
