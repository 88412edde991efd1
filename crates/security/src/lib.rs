//! Security primitives of kruispunt, with no HTTP and no SQL:
//!
//! - [`access_token`]: the server's own short-lived access tokens (JWS,
//!   EdDSA/Ed25519), signed by a rotatable key ring;
//! - [`client_assertion`]: OAuth2 client authentication with a signed JWT
//!   assertion (RS256, ES256), as the ONSS token endpoint does;
//! - [`oidc`]: OpenID Connect sign-in for the portal (PKCE, ID tokens
//!   verified against the issuer's JWKS);
//! - [`password`]: argon2id password hashes for portal accounts;
//! - [`system`]: the real clock and the real entropy source, the only
//!   places that read them (everything else gets them passed in).

pub mod access_token;
pub mod audit;
pub mod client_assertion;
mod error;
pub mod oidc;
pub mod password;
pub mod session;
pub mod system;

pub use error::AuthError;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub(crate) fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub(crate) fn unb64(data: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(data)
        .map_err(|_| AuthError::Malformed("is not base64url"))
}
