pub mod batch;
pub mod dimona;
pub mod hub;
pub mod oauth;
pub mod system;
pub mod whoami;
