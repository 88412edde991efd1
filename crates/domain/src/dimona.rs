//! Dimona, the immediate declaration of employment: worker types, joint
//! committees, the anomaly catalogue (ids from the ONSS glossary, labels in
//! French and Dutch) and the rules a declaration must follow.
//!
//! Pure functions: the caller supplies what the rules need to know about
//! the world (existing periods, the student's hours this year, today).

use time::{Date, Month};

/// A Dimona worker type (`WorkerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkerType {
    Oth,
    Stu,
    Flx,
    Ext,
    Dwd,
    Ivt,
    Tri,
    Stg,
    Bcw,
    Rta,
    Alt,
    O17,
    S17,
    T17,
    Pmp,
    A17,
    Qua,
    Tea,
    Stx,
}

const WORKER_TYPES: &[(&str, WorkerType)] = &[
    ("OTH", WorkerType::Oth),
    ("STU", WorkerType::Stu),
    ("FLX", WorkerType::Flx),
    ("EXT", WorkerType::Ext),
    ("DWD", WorkerType::Dwd),
    ("IVT", WorkerType::Ivt),
    ("TRI", WorkerType::Tri),
    ("STG", WorkerType::Stg),
    ("BCW", WorkerType::Bcw),
    ("RTA", WorkerType::Rta),
    ("ALT", WorkerType::Alt),
    ("O17", WorkerType::O17),
    ("S17", WorkerType::S17),
    ("T17", WorkerType::T17),
    ("PMP", WorkerType::Pmp),
    ("A17", WorkerType::A17),
    ("QUA", WorkerType::Qua),
    ("TEA", WorkerType::Tea),
    ("STX", WorkerType::Stx),
];

impl WorkerType {
    pub fn parse(s: &str) -> Option<Self> {
        WORKER_TYPES
            .iter()
            .find(|(c, _)| *c == s.trim())
            .map(|(_, t)| *t)
    }
    pub fn code(self) -> &'static str {
        WORKER_TYPES
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(c, _)| *c)
            .unwrap_or("OTH")
    }
    /// First day a closed type may no longer be used.
    pub fn closed_from(self) -> Option<Date> {
        let d = |y| Date::from_calendar_date(y, Month::January, 1).ok();
        match self {
            Self::A17 | Self::Tea => d(2022),
            Self::Qua => d(2023),
            Self::Stx => d(2014),
            _ => None,
        }
    }
    /// Types whose IN must carry an end date.
    fn end_date_mandatory(self) -> bool {
        matches!(
            self,
            Self::Stu | Self::Ext | Self::Ivt | Self::Tri | Self::Stg
        )
    }
    /// Types whose IN must carry planned hours (and only those may).
    fn planned_hours_mandatory(self) -> bool {
        matches!(self, Self::Stu | Self::O17 | Self::S17)
    }
}

/// Joint committees Dimona distinguishes; `XXX` for all others.
pub const JOINT_COMMITTEES: &[&str] = &[
    "124", "140", "144", "145", "149", "302", "320", "322", "XXX",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Blocking: the declaration is refused.
    Blocking,
    /// Non-blocking: accepted with a warning.
    NonBlocking,
}

/// One anomaly kind: id (`<zone>-<nnn>`), severity, labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnomalyKind {
    pub id: &'static str,
    pub severity: Severity,
    pub label_fr: &'static str,
    pub label_nl: &'static str,
}

macro_rules! anomalies {
    ($($name:ident = $id:literal, $sev:ident, $fr:literal, $nl:literal;)*) => {
        pub mod anomaly {
            use super::{AnomalyKind, Severity};
            $(pub const $name: AnomalyKind = AnomalyKind { id: $id, severity: Severity::$sev, label_fr: $fr, label_nl: $nl };)*
            pub const ALL: &[AnomalyKind] = &[$($name),*];
        }
    };
}

anomalies! {
    START_MISSING = "00910-001", Blocking, "Date de début absente", "Begindatum niet aanwezig";
    START_INVALID = "00910-003", Blocking, "Date de début invalide", "Begindatum ongeldig";
    START_OUT_OF_DOMAIN = "00910-008", Blocking, "Date de début hors du domaine autorisé", "Begindatum niet in het toegelaten domein";
    EXT_TOO_LONG = "00910-459", Blocking, "Interdit d'avoir des périodes de travailleurs occasionnels sur plus de deux jours consécutifs", "Verboden om periodes met gelegenheidswerknemers te hebben over meer dan twee opeenvolgende dagen";
    END_MISSING = "00911-001", Blocking, "Date de fin absente (obligatoire pour ce type de travailleur ou cette commission paritaire)", "Einddatum niet aanwezig (verplicht voor dit type werknemer of dit paritair comité)";
    END_INVALID = "00911-003", Blocking, "Date de fin invalide", "Einddatum ongeldig";
    END_OUT_OF_DOMAIN = "00911-008", Blocking, "Date de fin hors du domaine autorisé", "Einddatum niet in het toegelaten domein";
    END_BEFORE_START = "00911-014", Blocking, "Date de fin antérieure à la date de début", "Einddatum voorafgaand aan de begindatum";
    PERIOD_ID_MISSING = "00913-001", Blocking, "Numéro de période Dimona absent", "Identificatienummer van Dimonaperiode niet aanwezig";
    PERIOD_ID_INVALID = "00913-003", Blocking, "Numéro de période Dimona invalide", "Identificatienummer van Dimonaperiode ongeldig";
    PERIOD_UNKNOWN = "00913-354", Blocking, "Numéro de période Dimona inconnu", "Identificatienummer van Dimonaperiode onbekend";
    PERIOD_CANCELLED = "00913-355", Blocking, "Période Dimona déjà annulée", "Reeds geannuleerde Dimonaperiode";
    PERIOD_CLOSED = "00913-356", Blocking, "Période Dimona déjà clôturée", "Reeds afgesloten Dimonaperiode";
    WORKER_TYPE_MISSING = "00655-001", Blocking, "Type de travailleur absent", "Aard werknemer niet aanwezig";
    WORKER_TYPE_INVALID = "00655-003", Blocking, "Type de travailleur invalide", "Aard werknemer ongeldig";
    WORKER_TYPE_CLOSED = "00655-005", Blocking, "Type de travailleur interdit (supprimé pour cette période)", "Aard werknemer verboden (afgeschaft voor deze periode)";
    JOINT_COMMITTEE_INVALID = "00046-003", Blocking, "Numéro de commission paritaire invalide", "Nummer van paritair comité ongeldig";
    START_HOUR_MISSING = "00777-001", Blocking, "Heure de début absente (obligatoire pour un travailleur occasionnel)", "Beginuur niet aanwezig (verplicht voor een gelegenheidswerknemer)";
    START_HOUR_INVALID = "00777-003", Blocking, "Heure de début invalide (HHMM)", "Beginuur ongeldig (UUMM)";
    END_HOUR_MISSING = "00778-001", Blocking, "Heure de fin absente (obligatoire pour un travailleur occasionnel)", "Einduur niet aanwezig (verplicht voor een gelegenheidswerknemer)";
    END_HOUR_INVALID = "00778-003", Blocking, "Heure de fin invalide (HHMM)", "Einduur ongeldig (UUMM)";
    END_HOUR_BEFORE_START = "00778-345", Blocking, "L'heure de fin précède l'heure de début", "Het einduur valt vroeger dan het beginuur";
    PLANNED_HOURS_MISSING = "01135-001", Blocking, "Nombre d'heures planifiées absent (obligatoire pour ce type de travailleur)", "Aantal geplande uren niet aanwezig (verplicht voor dit type werknemer)";
    PLANNED_HOURS_INVALID = "01135-003", Blocking, "Nombre d'heures planifiées invalide (1 à 999)", "Aantal geplande uren ongeldig (1 tot 999)";
    PLANNED_HOURS_FORBIDDEN = "01135-005", Blocking, "Nombre d'heures planifiées interdit pour ce type de travailleur", "Aantal geplande uren verboden voor dit type werknemer";
    NOT_IDENTIFIABLE = "90017-151", Blocking, "Travailleur non identifiable", "Niet identificeerbaar";
    CONTINGENT_EXCEEDED = "90017-369", NonBlocking, "Dépassement du contingent", "Overschrijding van het contingent";
    DUPLICATE = "90373-333", Blocking, "Période Dimona en double", "Dubbele Dimonaperiode";
    OVERLAP = "90373-334", Blocking, "Période Dimona qui se chevauche", "Overlappende Dimonaperiode";
    EMPLOYER_INACTIVE = "90373-343", Blocking, "Employeur non actif dans le répertoire des employeurs", "Werkgever niet actief in het werkgeversrepertorium";
    // kruispunt's own: a declaration whose processing failed several times
    // (a defect, not the declarant's error) is refused rather than retried
    // forever.
    NOT_PROCESSABLE = "KP000-001", Blocking, "Déclaration impossible à traiter : contactez le support", "Aangifte kan niet verwerkt worden: contacteer de ondersteuning";
    LATE = "90373-460", NonBlocking, "Déclaration tardive", "Laattijdige aangifte";
}

/// The result of a processed declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclarationResult {
    /// Accepted.
    A,
    /// Accepted with warnings (non-blocking anomalies).
    W,
    /// Refused (a blocking anomaly).
    B,
    /// Waiting for the worker's identification.
    S,
}

impl DeclarationResult {
    pub fn from_anomalies(a: &[AnomalyKind]) -> Self {
        if a.iter().any(|x| x.severity == Severity::Blocking) {
            Self::B
        } else if a.is_empty() {
            Self::A
        } else {
            Self::W
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::W => "W",
            Self::B => "B",
            Self::S => "S",
        }
    }
}

/// An hour `HHMM` (0000-2359).
pub fn parse_hour(s: &str) -> Option<u16> {
    let s = s.trim().replace(':', "");
    if s.len() != 4 || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: u16 = s.parse().ok()?;
    (v / 100 < 24 && v % 100 < 60).then_some(v)
}

/// The student contingent (hours a year) for a calendar year: 600 from
/// 2023, 475 from 2017 to 2022.
pub fn student_contingent(year: i32) -> u32 {
    if year >= 2023 { 600 } else { 475 }
}

fn quarter(d: Date) -> (i32, u8) {
    (d.year(), (u8::from(d.month()) - 1) / 3 + 1)
}

fn quarter_start(d: Date) -> Option<Date> {
    let (y, q) = quarter(d);
    Date::from_calendar_date(y, Month::try_from((q - 1) * 3 + 1).ok()?, 1).ok()
}

/// A Dimona IN as declared (already parsed from JSON or XML).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFacts {
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub start_hour: Option<String>,
    pub end_hour: Option<String>,
    pub planned_hours: Option<i64>,
    pub worker_type: Option<String>,
    pub joint_committee: Option<String>,
}

/// An existing period of the same employer and worker (for duplicates and
/// overlaps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingPeriod {
    pub start: Date,
    pub end: Option<Date>,
    pub worker_type: WorkerType,
}

/// The rules of a Dimona IN. `student_hours_this_year`: planned hours of
/// the worker's other student periods in the start year (all employers).
pub fn check_in(
    f: &InFacts,
    today: Date,
    existing: &[ExistingPeriod],
    student_hours_this_year: u32,
) -> Vec<AnomalyKind> {
    use anomaly as a;
    let mut out = Vec::new();
    let Some(start) = f.start else {
        out.push(a::START_MISSING);
        return out;
    };
    let wt = match f.worker_type.as_deref() {
        None => {
            out.push(a::WORKER_TYPE_MISSING);
            return out;
        }
        Some(s) => match WorkerType::parse(s) {
            Some(t) => t,
            None => {
                out.push(a::WORKER_TYPE_INVALID);
                return out;
            }
        },
    };
    if wt.closed_from().is_some_and(|c| start >= c) {
        out.push(a::WORKER_TYPE_CLOSED);
    }
    let jc = f.joint_committee.as_deref().unwrap_or("XXX");
    if !JOINT_COMMITTEES.contains(&jc) {
        out.push(a::JOINT_COMMITTEE_INVALID);
    }
    if let Some(end) = f.end {
        if end < start {
            out.push(a::END_BEFORE_START);
        }
    } else if wt.end_date_mandatory() || jc == "322" {
        out.push(a::END_MISSING);
    }
    match (f.planned_hours, wt.planned_hours_mandatory()) {
        (None, true) => out.push(a::PLANNED_HOURS_MISSING),
        (Some(_), false) => out.push(a::PLANNED_HOURS_FORBIDDEN),
        (Some(h), true) if !(1..=999).contains(&h) => out.push(a::PLANNED_HOURS_INVALID),
        _ => {}
    }
    let sh = f
        .start_hour
        .as_deref()
        .map(|h| parse_hour(h).ok_or(()))
        .transpose();
    let eh = f
        .end_hour
        .as_deref()
        .map(|h| parse_hour(h).ok_or(()))
        .transpose();
    if sh.is_err() {
        out.push(a::START_HOUR_INVALID);
    }
    if eh.is_err() {
        out.push(a::END_HOUR_INVALID);
    }
    if wt == WorkerType::Ext {
        if f.start_hour.is_none() {
            out.push(a::START_HOUR_MISSING);
        }
        if f.end_hour.is_none() {
            out.push(a::END_HOUR_MISSING);
        }
        if let Some(end) = f.end
            && (end - start).whole_days() > 1
        {
            out.push(a::EXT_TOO_LONG);
        }
    }
    if let (Ok(Some(s)), Ok(Some(e))) = (sh, eh)
        && f.end.is_none_or(|end| end == start)
        && e < s
        && wt != WorkerType::Ext
    {
        out.push(a::END_HOUR_BEFORE_START);
    }
    if wt == WorkerType::Stu {
        if let Some(end) = f.end
            && quarter(end) != quarter(start)
        {
            out.push(a::END_OUT_OF_DOMAIN);
        }
        // In i64: the declared hours are any JSON integer (they overflowed a u32
        // sum, or were truncated by `as u32`, before).
        let planned = f.planned_hours.unwrap_or(0).max(0);
        if i64::from(student_hours_this_year).saturating_add(planned)
            > i64::from(student_contingent(start.year()))
        {
            out.push(a::CONTINGENT_EXCEEDED);
        }
    }
    if wt == WorkerType::Flx {
        // Not more than 31 days before the quarter the period starts in.
        if let Some(qs) = quarter_start(start)
            && (qs - today).whole_days() > 31
        {
            out.push(a::START_OUT_OF_DOMAIN);
        }
    }
    for p in existing {
        if p.start == start && p.end == f.end && p.worker_type == wt {
            out.push(a::DUPLICATE);
            break;
        }
        let overlaps = p.end.is_none_or(|e| e >= start) && f.end.is_none_or(|e| e >= p.start);
        if overlaps {
            out.push(a::OVERLAP);
            break;
        }
    }
    // An IN is due at the latest when work starts.
    if start < today {
        out.push(a::LATE);
    }
    out
}

/// The rules of a Dimona OUT on a period: the end date is known, not before
/// the start; a cancelled period cannot be closed.
pub fn check_out(start: Date, end: Option<Date>, today: Date) -> Vec<AnomalyKind> {
    let mut out = Vec::new();
    match end {
        None => out.push(anomaly::END_MISSING),
        Some(e) if e < start => out.push(anomaly::END_BEFORE_START),
        Some(e) => {
            // Due at the latest on the first working day after the end.
            if (today - e).whole_days() > 3 {
                out.push(anomaly::LATE);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn base() -> InFacts {
        InFacts {
            start: Some(date!(2026 - 12 - 01)),
            end: None,
            start_hour: None,
            end_hour: None,
            planned_hours: None,
            worker_type: Some("OTH".into()),
            joint_committee: Some("XXX".into()),
        }
    }
    const TODAY: Date = date!(2026 - 11 - 29);

    fn ids(v: &[AnomalyKind]) -> Vec<&'static str> {
        v.iter().map(|a| a.id).collect()
    }

    #[test]
    fn a_regular_in_is_accepted() {
        let r = check_in(&base(), TODAY, &[], 0);
        assert!(r.is_empty(), "{r:?}");
        assert_eq!(DeclarationResult::from_anomalies(&r), DeclarationResult::A);
    }

    #[test]
    fn students_need_end_date_planned_hours_and_one_quarter() {
        let mut f = base();
        f.worker_type = Some("STU".into());
        assert_eq!(
            ids(&check_in(&f, TODAY, &[], 0)),
            vec!["00911-001", "01135-001"]
        );
        f.end = Some(date!(2027 - 01 - 15));
        f.planned_hours = Some(40);
        assert_eq!(ids(&check_in(&f, TODAY, &[], 0)), vec!["00911-008"]);
        f.end = Some(date!(2026 - 12 - 20));
        assert!(check_in(&f, TODAY, &[], 0).is_empty());
        // Contingent exceeded: accepted with a warning.
        let r = check_in(&f, TODAY, &[], 580);
        assert_eq!(ids(&r), vec!["90017-369"]);
        assert_eq!(DeclarationResult::from_anomalies(&r), DeclarationResult::W);
    }

    /// Found while writing the `dimona_json` fuzz target: a student IN with
    /// `plannedHoursNumber` near 2^32 overflowed the contingent sum (a panic
    /// in debug builds), and 2^32 + 5 hours counted as 5.
    #[test]
    fn absurd_planned_hours_exceed_the_contingent_without_overflow() {
        let mut f = base();
        f.worker_type = Some("STU".into());
        f.end = Some(date!(2026 - 12 - 20));
        for h in [i64::from(u32::MAX), (1 << 32) + 5, i64::MAX] {
            f.planned_hours = Some(h);
            assert_eq!(
                ids(&check_in(&f, TODAY, &[], 400)),
                vec!["01135-003", "90017-369"],
                "{h} hours"
            );
        }
    }

    #[test]
    fn planned_hours_are_forbidden_for_others_and_bounded() {
        let mut f = base();
        f.planned_hours = Some(10);
        assert_eq!(ids(&check_in(&f, TODAY, &[], 0)), vec!["01135-005"]);
        let mut f = base();
        f.worker_type = Some("O17".into());
        f.planned_hours = Some(1000);
        assert_eq!(ids(&check_in(&f, TODAY, &[], 0)), vec!["01135-003"]);
    }

    #[test]
    fn occasional_workers_need_hours_and_at_most_two_days() {
        let mut f = base();
        f.worker_type = Some("EXT".into());
        f.end = Some(date!(2026 - 12 - 04));
        assert_eq!(
            ids(&check_in(&f, TODAY, &[], 0)),
            vec!["00777-001", "00778-001", "00910-459"]
        );
        f.end = Some(date!(2026 - 12 - 02));
        f.start_hour = Some("1800".into());
        f.end_hour = Some("0200".into());
        assert!(check_in(&f, TODAY, &[], 0).is_empty());
        f.end_hour = Some("2560".into());
        assert_eq!(ids(&check_in(&f, TODAY, &[], 0)), vec!["00778-003"]);
    }

    #[test]
    fn closed_types_committees_and_flexi_timing() {
        let mut f = base();
        f.worker_type = Some("A17".into());
        assert_eq!(ids(&check_in(&f, TODAY, &[], 0)), vec!["00655-005"]);
        let mut f = base();
        f.worker_type = Some("ZZZ".into());
        assert_eq!(ids(&check_in(&f, TODAY, &[], 0)), vec!["00655-003"]);
        let mut f = base();
        f.joint_committee = Some("999".into());
        assert_eq!(ids(&check_in(&f, TODAY, &[], 0)), vec!["00046-003"]);
        let mut f = base();
        f.joint_committee = Some("322".into());
        assert_eq!(ids(&check_in(&f, TODAY, &[], 0)), vec!["00911-001"]);
        let mut f = base();
        f.worker_type = Some("FLX".into());
        f.start = Some(date!(2027 - 04 - 10));
        assert_eq!(ids(&check_in(&f, TODAY, &[], 0)), vec!["00910-008"]);
        // 2027-01-10 is in a quarter that starts 33 days from today: too early.
        f.start = Some(date!(2027 - 01 - 10));
        assert_eq!(ids(&check_in(&f, TODAY, &[], 0)), vec!["00910-008"]);
        f.start = Some(date!(2026 - 12 - 15));
        assert!(check_in(&f, TODAY, &[], 0).is_empty());
    }

    #[test]
    fn duplicates_overlaps_and_lateness() {
        let f = base();
        let same = ExistingPeriod {
            start: date!(2026 - 12 - 01),
            end: None,
            worker_type: WorkerType::Oth,
        };
        assert_eq!(ids(&check_in(&f, TODAY, &[same], 0)), vec!["90373-333"]);
        let earlier = ExistingPeriod {
            start: date!(2026 - 01 - 01),
            end: None,
            worker_type: WorkerType::Oth,
        };
        assert_eq!(ids(&check_in(&f, TODAY, &[earlier], 0)), vec!["90373-334"]);
        let closed = ExistingPeriod {
            start: date!(2026 - 01 - 01),
            end: Some(date!(2026 - 06 - 30)),
            worker_type: WorkerType::Oth,
        };
        assert!(check_in(&f, TODAY, &[closed], 0).is_empty());
        let mut late = base();
        late.start = Some(date!(2026 - 11 - 20));
        let r = check_in(&late, TODAY, &[], 0);
        assert_eq!(ids(&r), vec!["90373-460"]);
        assert_eq!(DeclarationResult::from_anomalies(&r), DeclarationResult::W);
    }

    #[test]
    fn out_rules() {
        assert!(check_out(date!(2026 - 01 - 01), Some(date!(2026 - 11 - 28)), TODAY).is_empty());
        assert_eq!(
            ids(&check_out(
                date!(2026 - 01 - 01),
                Some(date!(2025 - 11 - 28)),
                TODAY
            )),
            vec!["00911-014"]
        );
        assert_eq!(
            ids(&check_out(date!(2026 - 01 - 01), None, TODAY)),
            vec!["00911-001"]
        );
    }

    #[test]
    fn catalogue_ids_are_unique_and_shaped() {
        let mut seen = std::collections::HashSet::new();
        for a in anomaly::ALL {
            assert!(seen.insert(a.id), "{}", a.id);
            assert_eq!(a.id.len(), 9);
            assert_eq!(&a.id[5..6], "-");
        }
    }
}
