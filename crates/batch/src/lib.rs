//! The ONSS batch channel's XML, without IO:
//!
//! - [`reader`] reads a Dimona file (`Dimona_20231.xsd`) as a stream, checks
//!   it against the schema's structure and simple types (kruispunt's own
//!   table in [`schema`], written from the published XSD), and turns each
//!   form into the ONSS REST v2 JSON that the Dimona service already knows,
//!   with where every value came from (line, column, zone) so anomalies can
//!   point back into the file.
//! - [`acrf`] and [`notification`] write the answers (`ACRF_20231.xsd`,
//!   `NOTIFICATION_20223.xsd`).
//!
//! Untrusted input: no DTDs, no entities but the five predefined ones and
//! character references, bounded depth, text length and form count.

pub mod acrf;
pub mod convert;
pub mod notification;
pub mod reader;
pub mod schema;
mod xml;

pub use reader::{FileError, Form, Limits, ReadOutcome, Value, read_dimona_file};
