//! The acknowledgement of a received file (`ACRF_20231.xsd`): positive
//! (`ResultCode` 1) once the file is durable, negative (0) with the error
//! ids when it is refused. The schema has no place for line numbers, so a
//! negative ACRF also carries each error's line, column and reason in an
//! XML comment, which schema validation ignores and people can read.

use crate::reader::FileError;
use crate::xml::{close, comment, leaf, open};

/// When the answer was made: `YYYY-MM-DD` and `hh:mm:ss.fff`.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub date: String,
    pub time: String,
}

/// The ACRF for `file_name`. `reference`: the number kruispunt gave the
/// file (at most 20 characters); `errors` empty → positive.
pub fn acrf(file_name: &str, reference: &str, stamp: &Stamp, errors: &[FileError]) -> String {
    let mut out = String::with_capacity(1024 + errors.len() * 160);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<ACRF xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"ACRF_20231.xsd\">\n");
    open(&mut out, 1, "Form");
    leaf(&mut out, 2, "Identification", "ACRF001");
    leaf(&mut out, 2, "FormCreationDate", &stamp.date);
    leaf(&mut out, 2, "FormCreationHour", &stamp.time);
    leaf(&mut out, 2, "AttestationStatus", "0");
    leaf(&mut out, 2, "TypeForm", "PA");
    open(&mut out, 2, "FileReference");
    // FileName has minLength 1; an empty name never gets this far, but the
    // document must stay valid whatever it is given.
    leaf(
        &mut out,
        3,
        "FileName",
        if file_name.is_empty() { "-" } else { file_name },
    );
    leaf(&mut out, 3, "ReferenceOrigin", "2");
    let reference: String = reference.chars().take(20).collect();
    if !reference.is_empty() {
        leaf(&mut out, 3, "ReferenceNbr", &reference);
    }
    close(&mut out, 2, "FileReference");
    open(&mut out, 2, "ReceptionResult");
    leaf(
        &mut out,
        3,
        "ResultCode",
        if errors.is_empty() { "1" } else { "0" },
    );
    let mut listed: Vec<&str> = Vec::new();
    for e in errors {
        // ErrorID has maxLength 9 (`NNNNN-NNN`); each id once.
        let id: String = e.error_id.chars().take(9).collect();
        if !listed.contains(&e.error_id.as_str()) {
            leaf(&mut out, 3, "ErrorID", &id);
            listed.push(&e.error_id);
        }
    }
    for e in errors {
        out.push_str("\t\t\t<!-- ");
        out.push_str(&comment(&format!(
            "{} line {}, column {}: {}",
            e.error_id, e.line, e.column, e.message
        )));
        out.push_str(" -->\n");
    }
    close(&mut out, 2, "ReceptionResult");
    close(&mut out, 1, "Form");
    out.push_str("</ACRF>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            date: "2026-11-29".into(),
            time: "10:00:00.000".into(),
        }
    }

    #[test]
    fn positive_and_negative() {
        let ok = acrf("FI.DIMONA.1.R.1", "KP0001", &stamp(), &[]);
        assert!(ok.contains("<ResultCode>1</ResultCode>"));
        assert!(!ok.contains("ErrorID"));
        let e = FileError {
            error_id: "00910-003".into(),
            line: 12,
            column: 5,
            message: "StartingDate is not a date -- <bad>".into(),
        };
        let ko = acrf("f", "KP0002", &stamp(), &[e.clone(), e]);
        assert!(ko.contains("<ResultCode>0</ResultCode>"));
        assert_eq!(ko.matches("<ErrorID>00910-003</ErrorID>").count(), 1);
        assert!(ko.contains(
            "<!-- 00910-003 line 12, column 5: StartingDate is not a date - - &lt;bad&gt; -->"
        ));
    }
}
