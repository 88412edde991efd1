//! The batch channel's reader on arbitrary bytes: never panics, a refused
//! file always gets errors and a negative ACRF, and every form of an
//! accepted file converts to the REST v2 JSON without panicking.
#![no_main]

use kruispunt_batch::acrf::{Stamp, acrf};
use kruispunt_batch::{Limits, ReadOutcome, read_dimona_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_forms: 50,
        ..Limits::default()
    };
    let Ok(outcome) = read_dimona_file(data, &limits) else {
        return;
    };
    let stamp = Stamp {
        date: "2026-11-29".into(),
        time: "10:00:00.000".into(),
    };
    match outcome {
        ReadOutcome::Rejected(errors) => {
            assert!(!errors.is_empty());
            assert!(errors.iter().all(|e| e.line >= 1 && e.column >= 1));
            let a = acrf("f", "r", &stamp, &errors);
            assert!(a.contains("<ResultCode>0</ResultCode>"));
        }
        ReadOutcome::Accepted(forms) => {
            assert!(!forms.is_empty());
            for f in &forms {
                let _ = f.to_v2_json(Some(935_467));
                let _ = f.source_of("worker.ssin");
            }
        }
    }
});
