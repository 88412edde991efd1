//! Every identifier parser on arbitrary text: never panics, and whatever
//! parses prints back to something that parses to the same value.
#![no_main]

use kruispunt_domain::ids::{
    DimonaPeriodId, EmployerId, EnterpriseNumber, EstablishmentUnitNumber, Ssin,
};
use kruispunt_domain::principal::{Principal, Scope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(x) = Ssin::parse(s) {
        assert_eq!(Ssin::parse(x.as_str()).ok(), Some(x));
        assert_eq!(Ssin::parse(&x.formatted()).ok(), Some(x));
        let _ = (x.kind(), x.sex(), x.birth_date(), x.birth_date_parts(), x.sequence());
    }
    if let Ok(x) = EnterpriseNumber::parse(s) {
        assert_eq!(EnterpriseNumber::parse(&x.formatted()).ok(), Some(x));
    }
    if let Ok(x) = EstablishmentUnitNumber::parse(s) {
        assert_eq!(EstablishmentUnitNumber::parse(&x.value().to_string()).ok(), Some(x));
    }
    if let Ok(x) = EmployerId::parse(s) {
        assert_eq!(EmployerId::parse(&x.formatted()).ok(), Some(x));
        let _ = x.kind();
    }
    if let Ok(x) = DimonaPeriodId::parse(s) {
        assert_eq!(DimonaPeriodId::parse(&format!("{:012}", x.value())).ok(), Some(x));
    }
    if let Ok(p) = Principal::parse_subject(s) {
        assert_eq!(Principal::parse_subject(&p.subject()).ok(), Some(p));
    }
    if let Ok(list) = Scope::parse_list(s) {
        assert_eq!(Scope::parse_list(&Scope::join(&list)).ok(), Some(list));
    }
    let _ = kruispunt_domain::clock::parse_date("d", s);
});
