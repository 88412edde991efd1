-- Portal sign-in through an OpenID Connect provider: one row per sign-in
-- under way, from the redirect to the provider until its answer comes back
-- (single use, ten minutes at most). The browser holds `state` in a cookie;
-- the store keeps its SHA-256, the nonce the ID token must carry and the
-- PKCE code verifier.
CREATE TABLE portal_oidc_flows (
    state_hash   TEXT PRIMARY KEY NOT NULL,
    nonce        TEXT NOT NULL,
    verifier     TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    next_path    TEXT,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX portal_oidc_flows_expiry ON portal_oidc_flows (expires_at);
