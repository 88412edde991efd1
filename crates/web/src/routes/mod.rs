pub mod oauth;
pub mod system;
