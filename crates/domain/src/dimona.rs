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
    // Daily registrations (block 90480): NL from the ONSS glossary (zone
    // title and anomaly title, as above), FR translated.
    ATTESTATION_STATUS_MISSING = "00110-001", Blocking, "Statut de l'attestation absent", "Status van het attest niet aanwezig";
    ATTESTATION_STATUS_INVALID = "00110-003", Blocking, "Statut de l'attestation invalide", "Status van het attest ongeldig";
    DAILY_ID_MISSING = "01085-001", Blocking, "Numéro d'identification de l'enregistrement journalier absent", "Identificatienummer van de dagelijkse registratie niet aanwezig";
    DAILY_ID_INVALID = "01085-003", Blocking, "Numéro d'identification de l'enregistrement journalier invalide", "Identificatienummer van de dagelijkse registratie ongeldig";
    DAILY_ID_FORBIDDEN = "01085-005", Blocking, "Numéro d'identification de l'enregistrement journalier interdit", "Identificatienummer van de dagelijkse registratie verboden";
    // The glossary's label of 01085-354 names the Dimona period: kept as published.
    DAILY_UNKNOWN = "01085-354", Blocking, "Numéro de période Dimona inconnu", "Identificatienummer van Dimonaperiode onbekend";
    DAILY_CANCELLED = "01085-355", Blocking, "Période Dimona ou enregistrement journalier déjà annulé", "Reeds geannuleerde Dimonaperiode of dagelijkse registratie";
    DAILY_NOT_MODIFIABLE = "01085-181", Blocking, "Modification ou annulation non autorisée", "Wijziging of annulatie niet toegelaten";
    DAILY_TOO_MANY_HOURS = "90480-260", Blocking, "Nombre d'heures trop élevé (plus de 24 heures)", "Aantal uren te hoog";
    DAILY_OVERLAP = "90480-334", Blocking, "Chevauchement avec un autre enregistrement journalier de la période", "Overlappend";
    DAILY_NO_CHANGE = "90480-444", Blocking, "Aucune modification trouvée", "Er zijn geen wijzigingen gevonden";
    PERIOD_ID_FORBIDDEN = "00913-005", Blocking, "Numéro de période Dimona interdit", "Identificatienummer van Dimonaperiode verboden";
    DAILY_OUTSIDE_PERIOD = "00913-462", Blocking, "Incompatibilité entre l'enregistrement journalier et les caractéristiques de la période Dimona", "Onverenigbaarheid tussen de dagelijkse registratie en de karakteristieken van de Dimonaperiode";
    DAILY_END_OUTSIDE_PERIOD = "00911-462", Blocking, "Incompatibilité entre l'enregistrement journalier et les caractéristiques de la période Dimona", "Onverenigbaarheid tussen de dagelijkse registratie en de karakteristieken van de Dimonaperiode";
    DAILY_START_OUTSIDE_PERIOD = "00910-462", Blocking, "Incompatibilité entre l'enregistrement journalier et les caractéristiques de la période Dimona", "Onverenigbaarheid tussen de dagelijkse registratie en de karakteristieken van de Dimonaperiode";
    START_FORBIDDEN = "00910-005", Blocking, "Date de début interdite", "Begindatum verboden";
    END_FORBIDDEN = "00911-005", Blocking, "Date de fin interdite", "Einddatum verboden";
    START_HOUR_FORBIDDEN = "00777-005", Blocking, "Heure de début interdite", "Beginuur verboden";
    END_HOUR_FORBIDDEN = "00778-005", Blocking, "Heure de fin interdite", "Einduur verboden";
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

/// What a daily registration declaration does: its `AttestationStatus`
/// (zone 00110 in block 90480).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyAction {
    /// `0`: a new registration on a Dimona period.
    Create,
    /// `1`: changes a registration's dates or hours.
    Modify,
    /// `3`: cancels a registration.
    Cancel,
}

impl DailyAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "0" => Some(Self::Create),
            "1" => Some(Self::Modify),
            "3" => Some(Self::Cancel),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Self::Create => "0",
            Self::Modify => "1",
            Self::Cancel => "3",
        }
    }
    fn column(self) -> usize {
        match self {
            Self::Create => 0,
            Self::Modify => 1,
            Self::Cancel => 2,
        }
    }
}

/// A daily registration as declared (parsed from JSON or XML; identifiers
/// were checked at the door, here only whether they were given matters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyFacts {
    pub attestation_status: Option<String>,
    pub has_registration_id: bool,
    pub has_period_id: bool,
    pub start: Option<Date>,
    pub start_hour: Option<String>,
    pub end: Option<Date>,
    pub end_hour: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Mandatory,
    Optional,
    Forbidden,
}

#[derive(Debug, Clone, Copy)]
enum DailyZone {
    RegistrationId,
    PeriodId,
    Start,
    StartHour,
    End,
    EndHour,
}

impl DailyZone {
    fn given(self, f: &DailyFacts) -> bool {
        match self {
            Self::RegistrationId => f.has_registration_id,
            Self::PeriodId => f.has_period_id,
            Self::Start => f.start.is_some(),
            Self::StartHour => f.start_hour.is_some(),
            Self::End => f.end.is_some(),
            Self::EndHour => f.end_hour.is_some(),
        }
    }
}

/// The zones of block 90480 per action (create, modify, cancel), with the
/// anomaly when a mandatory zone is missing and when a forbidden one is
/// given. From the ONSS glossary, except `EndingDate` on a create: the
/// glossary makes it mandatory there, kruispunt's specification optional
/// (a registration may be closed later by a modify).
const DAILY_ZONES: &[(DailyZone, [Presence; 3], AnomalyKind, AnomalyKind)] = {
    use Presence::{Forbidden as F, Mandatory as M, Optional as O};
    use anomaly as a;
    &[
        (
            DailyZone::RegistrationId,
            [F, M, M],
            a::DAILY_ID_MISSING,
            a::DAILY_ID_FORBIDDEN,
        ),
        (
            DailyZone::PeriodId,
            [M, F, F],
            a::PERIOD_ID_MISSING,
            a::PERIOD_ID_FORBIDDEN,
        ),
        (
            DailyZone::Start,
            [M, O, F],
            a::START_MISSING,
            a::START_FORBIDDEN,
        ),
        (
            DailyZone::StartHour,
            [M, O, F],
            a::START_HOUR_MISSING,
            a::START_HOUR_FORBIDDEN,
        ),
        // EndingDate (00911): mandatory for a create, like the start
        // (glossary 2023/3), optional for a modify.
        (DailyZone::End, [M, O, F], a::END_MISSING, a::END_FORBIDDEN),
        (
            DailyZone::EndHour,
            [O, O, F],
            a::END_HOUR_MISSING,
            a::END_HOUR_FORBIDDEN,
        ),
    ]
};

/// The rules of a daily registration that need no stored data: a known
/// attestation status, the zones each action needs or forbids, valid
/// hours, and (for a create, whose values are complete) an end not before
/// the start. Returns the action when the status is known.
pub fn check_daily_registration(f: &DailyFacts) -> (Option<DailyAction>, Vec<AnomalyKind>) {
    let action = match f.attestation_status.as_deref() {
        None => return (None, vec![anomaly::ATTESTATION_STATUS_MISSING]),
        Some(s) => match DailyAction::parse(s) {
            Some(a) => a,
            None => return (None, vec![anomaly::ATTESTATION_STATUS_INVALID]),
        },
    };
    let mut out = Vec::new();
    for (zone, presence, missing, forbidden) in DAILY_ZONES {
        match (presence[action.column()], zone.given(f)) {
            (Presence::Mandatory, false) => out.push(*missing),
            (Presence::Forbidden, true) => out.push(*forbidden),
            _ => {}
        }
    }
    if f.start_hour
        .as_deref()
        .is_some_and(|h| parse_hour(h).is_none())
    {
        out.push(anomaly::START_HOUR_INVALID);
    }
    if f.end_hour
        .as_deref()
        .is_some_and(|h| parse_hour(h).is_none())
    {
        out.push(anomaly::END_HOUR_INVALID);
    }
    if action == DailyAction::Create {
        for a in daily_order(
            f.start,
            f.start_hour.as_deref(),
            f.end,
            f.end_hour.as_deref(),
        ) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    (Some(action), out)
}

/// An end before the start (00911-014), or on the same day an end hour
/// before the start hour (00778-345).
fn daily_order(
    start: Option<Date>,
    start_hour: Option<&str>,
    end: Option<Date>,
    end_hour: Option<&str>,
) -> Vec<AnomalyKind> {
    let mut out = Vec::new();
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        out.push(anomaly::END_BEFORE_START);
    }
    let same_day = match (start, end) {
        (_, None) => true,
        (Some(s), Some(e)) => s == e,
        (None, Some(_)) => false,
    };
    if let (Some(sh), Some(eh)) = (
        start_hour.and_then(parse_hour),
        end_hour.and_then(parse_hour),
    ) && same_day
        && eh < sh
    {
        out.push(anomaly::END_HOUR_BEFORE_START);
    }
    out
}

/// A daily registration as stored: one day of presence on a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyState {
    pub start: Date,
    /// `HHMM`.
    pub start_hour: String,
    pub end: Option<Date>,
    pub end_hour: Option<String>,
}

impl DailyState {
    /// Minutes since an epoch at `day`, `hour` (`HHMM`), or `default`
    /// minutes into the day when the hour is not given.
    fn at(day: Date, hour: Option<&str>, default: i64) -> i64 {
        let minutes = hour
            .and_then(parse_hour)
            .map(|v| i64::from(v / 100 * 60 + v % 100))
            .unwrap_or(default);
        i64::from(day.to_julian_day()) * 1440 + minutes
    }

    /// The shift as `[start, end)` in minutes. Without an end date it ends
    /// on its start day; without an end hour, `open_end` minutes into the
    /// end day (0 for the shortest it can be, 1440 for the longest).
    fn span(&self, open_end: i64) -> (i64, i64) {
        (
            Self::at(self.start, Some(&self.start_hour), 0),
            Self::at(
                self.end.unwrap_or(self.start),
                self.end_hour.as_deref(),
                open_end,
            ),
        )
    }
}

/// An OUT or UPDATE that would leave an active daily registration outside
/// its period: a new start after a registered day (00910-462), a new end
/// before one (00911-462). `days`: the start days of the period's active
/// registrations.
pub fn check_period_keeps_registrations(
    start: Date,
    end: Option<Date>,
    days: &[Date],
) -> Vec<AnomalyKind> {
    let mut out = Vec::new();
    if days.iter().any(|d| *d < start) {
        out.push(anomaly::DAILY_START_OUTSIDE_PERIOD);
    }
    if let Some(end) = end
        && days.iter().any(|d| *d > end)
    {
        out.push(anomaly::DAILY_END_OUTSIDE_PERIOD);
    }
    out
}

/// The rules of a create or modify that [`check_daily_on`] accepted,
/// against what it replaces and the period's other active registrations:
/// a modify that changes nothing (90480-444), a shift of more than 24 hours
/// (90480-260), a shift overlapping another one (90480-334; a shift with
/// no end hour is taken to last until the end of its end day).
pub fn check_daily_conflicts(
    before: Option<&DailyState>,
    after: &DailyState,
    others: &[DailyState],
) -> Vec<AnomalyKind> {
    if before == Some(after) {
        return vec![anomaly::DAILY_NO_CHANGE];
    }
    let mut out = Vec::new();
    let (start, shortest_end) = after.span(0);
    if shortest_end - start > 24 * 60 {
        out.push(anomaly::DAILY_TOO_MANY_HOURS);
    }
    let (_, end) = after.span(1440);
    if others.iter().any(|o| {
        let (o_start, o_end) = o.span(1440);
        start < o_end && o_start < end
    }) {
        out.push(anomaly::DAILY_OVERLAP);
    }
    out
}

/// The Dimona period a daily registration is (to be) on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyPeriod {
    pub start: Date,
    /// `None`: open-ended.
    pub end: Option<Date>,
    pub cancelled: bool,
}

impl DailyPeriod {
    fn covers(&self, day: Date) -> bool {
        day >= self.start && self.end.is_none_or(|e| day <= e)
    }
}

/// What the stored data says about a daily registration that passed
/// [`check_daily_registration`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyOutcome {
    pub anomalies: Vec<AnomalyKind>,
    /// The registration after the declaration, when accepted (`None`
    /// after a cancel, or when refused).
    pub after: Option<DailyState>,
}

/// The rules of a daily registration against stored data. `registration`:
/// for a modify or cancel, the registration named (with whether it is
/// cancelled), `None` when unknown or another employer's. `period`: the
/// period named by a create, or the one the registration is on; `None`
/// when unknown or another employer's.
pub fn check_daily_on(
    action: DailyAction,
    f: &DailyFacts,
    registration: Option<(&DailyState, bool)>,
    period: Option<&DailyPeriod>,
) -> DailyOutcome {
    use anomaly as a;
    let refused = |a: AnomalyKind| DailyOutcome {
        anomalies: vec![a],
        after: None,
    };
    match action {
        DailyAction::Create => {
            let Some(p) = period else {
                return refused(a::PERIOD_UNKNOWN);
            };
            if p.cancelled {
                return refused(a::PERIOD_CANCELLED);
            }
            let (Some(start), Some(start_hour)) = (f.start, f.start_hour.clone()) else {
                return refused(a::START_MISSING);
            };
            if !p.covers(start) {
                return refused(a::DAILY_OUTSIDE_PERIOD);
            }
            DailyOutcome {
                anomalies: Vec::new(),
                after: Some(DailyState {
                    start,
                    start_hour,
                    end: f.end,
                    end_hour: f.end_hour.clone(),
                }),
            }
        }
        DailyAction::Modify | DailyAction::Cancel => {
            let Some((old, cancelled)) = registration else {
                return refused(a::DAILY_UNKNOWN);
            };
            if cancelled {
                return refused(a::DAILY_CANCELLED);
            }
            let Some(p) = period.filter(|p| !p.cancelled) else {
                return refused(a::DAILY_NOT_MODIFIABLE);
            };
            if action == DailyAction::Cancel {
                return DailyOutcome {
                    anomalies: Vec::new(),
                    after: None,
                };
            }
            let new = DailyState {
                start: f.start.unwrap_or(old.start),
                start_hour: f
                    .start_hour
                    .clone()
                    .unwrap_or_else(|| old.start_hour.clone()),
                end: f.end.or(old.end),
                end_hour: f.end_hour.clone().or_else(|| old.end_hour.clone()),
            };
            let mut anomalies = daily_order(
                Some(new.start),
                Some(&new.start_hour),
                new.end,
                new.end_hour.as_deref(),
            );
            if !p.covers(new.start) {
                anomalies.push(a::DAILY_START_OUTSIDE_PERIOD);
            }
            let after = anomalies.is_empty().then_some(new);
            DailyOutcome { anomalies, after }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_period_keeps_its_registered_days_inside() {
        let days = [date!(2026 - 12 - 05), date!(2026 - 12 - 09)];
        let ids_of = |v: Vec<AnomalyKind>| v.iter().map(|a| a.id).collect::<Vec<_>>();
        assert!(check_period_keeps_registrations(date!(2026 - 12 - 05), None, &days).is_empty());
        assert!(
            check_period_keeps_registrations(
                date!(2026 - 12 - 01),
                Some(date!(2026 - 12 - 09)),
                &days
            )
            .is_empty()
        );
        assert_eq!(
            ids_of(check_period_keeps_registrations(
                date!(2026 - 12 - 06),
                Some(date!(2026 - 12 - 08)),
                &days
            )),
            ["00910-462", "00911-462"]
        );
        assert!(check_period_keeps_registrations(date!(2026 - 12 - 06), None, &[]).is_empty());
    }

    #[test]
    fn daily_conflicts_no_change_too_long_and_overlap() {
        let shift = |start, sh: &str, end, eh: Option<&str>| DailyState {
            start,
            start_hour: sh.into(),
            end,
            end_hour: eh.map(str::to_owned),
        };
        let day = date!(2026 - 12 - 01);
        let morning = shift(day, "0800", None, Some("1200"));
        let ids_of = |v: Vec<AnomalyKind>| v.iter().map(|a| a.id).collect::<Vec<_>>();
        assert!(check_daily_conflicts(None, &morning, &[]).is_empty());
        assert_eq!(
            ids_of(check_daily_conflicts(Some(&morning), &morning, &[])),
            ["90480-444"]
        );
        // Night shift to the next morning: 10 hours, fine; two days: not.
        let night = shift(day, "2200", Some(date!(2026 - 12 - 02)), Some("0800"));
        assert!(check_daily_conflicts(None, &night, &[]).is_empty());
        let long = shift(day, "0800", Some(date!(2026 - 12 - 02)), Some("0801"));
        assert_eq!(
            ids_of(check_daily_conflicts(None, &long, &[])),
            ["90480-260"]
        );
        let no_hour = shift(day, "0800", Some(date!(2026 - 12 - 03)), None);
        assert_eq!(
            ids_of(check_daily_conflicts(None, &no_hour, &[])),
            ["90480-260"]
        );
        // Afternoon after the morning: no overlap; touching ends are fine.
        let afternoon = shift(day, "1200", None, Some("1700"));
        assert!(check_daily_conflicts(None, &afternoon, std::slice::from_ref(&morning)).is_empty());
        let late_morning = shift(day, "1100", None, Some("1500"));
        assert_eq!(
            ids_of(check_daily_conflicts(
                None,
                &late_morning,
                std::slice::from_ref(&morning)
            )),
            ["90480-334"]
        );
        // A shift without end hour runs to the end of its day.
        let open = shift(day, "0600", None, None);
        assert_eq!(
            ids_of(check_daily_conflicts(None, &afternoon, &[open])),
            ["90480-334"]
        );
        // The next morning: free from 08:00, when the night shift ends.
        let tomorrow = shift(date!(2026 - 12 - 02), "0800", None, Some("1200"));
        assert!(check_daily_conflicts(None, &tomorrow, &[morning, night.clone()]).is_empty());
        let early = shift(date!(2026 - 12 - 02), "0700", None, Some("1200"));
        assert_eq!(
            ids_of(check_daily_conflicts(None, &early, &[night])),
            ["90480-334"]
        );
    }

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

    fn create() -> DailyFacts {
        DailyFacts {
            attestation_status: Some("0".into()),
            has_registration_id: false,
            has_period_id: true,
            start: Some(date!(2026 - 12 - 05)),
            start_hour: Some("1800".into()),
            end: Some(date!(2026 - 12 - 06)),
            end_hour: Some("0200".into()),
        }
    }

    #[test]
    fn daily_registrations_need_a_known_attestation_status() {
        let mut f = create();
        f.attestation_status = None;
        assert_eq!(ids(&check_daily_registration(&f).1), vec!["00110-001"]);
        for bad in ["2", "4", "8", "x", ""] {
            f.attestation_status = Some(bad.into());
            let (action, a) = check_daily_registration(&f);
            assert_eq!((action, ids(&a)), (None, vec!["00110-003"]), "{bad:?}");
        }
        f.attestation_status = Some("0".into());
        assert_eq!(
            check_daily_registration(&f),
            (Some(DailyAction::Create), vec![])
        );
    }

    /// Each row: the action, the zones given (registration id, period id,
    /// start date, start hour, end date, end hour), the anomalies.
    #[test]
    fn daily_registration_zones_per_action() {
        let table: &[(&str, [bool; 6], &[&str])] = &[
            ("0", [false, true, true, true, true, false], &[]),
            ("0", [false, true, true, true, true, true], &[]),
            (
                "0",
                [false, false, false, false, false, false],
                &["00913-001", "00910-001", "00777-001", "00911-001"],
            ),
            ("0", [false, true, true, true, false, true], &["00911-001"]),
            ("0", [true, true, true, true, true, false], &["01085-005"]),
            ("0", [false, true, true, false, true, true], &["00777-001"]),
            ("1", [true, false, false, false, false, false], &[]),
            ("1", [true, false, true, true, true, true], &[]),
            (
                "1",
                [false, false, true, false, false, false],
                &["01085-001"],
            ),
            (
                "1",
                [true, true, false, false, false, false],
                &["00913-005"],
            ),
            ("3", [true, false, false, false, false, false], &[]),
            (
                "3",
                [false, false, false, false, false, false],
                &["01085-001"],
            ),
            (
                "3",
                [true, true, true, true, true, true],
                &[
                    "00913-005",
                    "00910-005",
                    "00777-005",
                    "00911-005",
                    "00778-005",
                ],
            ),
        ];
        for (status, given, expected) in table {
            let f = DailyFacts {
                attestation_status: Some((*status).into()),
                has_registration_id: given[0],
                has_period_id: given[1],
                start: given[2].then_some(date!(2026 - 12 - 05)),
                start_hour: given[3].then(|| "1800".into()),
                end: given[4].then_some(date!(2026 - 12 - 05)),
                end_hour: given[5].then(|| "2300".into()),
            };
            assert_eq!(
                ids(&check_daily_registration(&f).1),
                *expected,
                "status {status}, given {given:?}"
            );
        }
    }

    #[test]
    fn daily_registration_hours_and_order() {
        let mut f = create();
        f.end = Some(date!(2026 - 12 - 04));
        assert_eq!(ids(&check_daily_registration(&f).1), vec!["00911-014"]);
        let mut f = create();
        f.end = Some(date!(2026 - 12 - 05));
        assert_eq!(ids(&check_daily_registration(&f).1), vec!["00778-345"]);
        let mut f = create();
        f.start_hour = Some("2460".into());
        f.end_hour = Some("99".into());
        assert_eq!(
            ids(&check_daily_registration(&f).1),
            vec!["00777-003", "00778-003"]
        );
    }

    #[test]
    fn daily_registrations_against_the_period_and_the_stored_registration() {
        let f = create();
        let period = DailyPeriod {
            start: date!(2026 - 12 - 05),
            end: Some(date!(2026 - 12 - 06)),
            cancelled: false,
        };
        let r = check_daily_on(DailyAction::Create, &f, None, Some(&period));
        assert!(r.anomalies.is_empty(), "{r:?}");
        assert_eq!(r.after.map(|s| s.start), Some(date!(2026 - 12 - 05)));
        assert_eq!(
            ids(&check_daily_on(DailyAction::Create, &f, None, None).anomalies),
            vec!["00913-354"]
        );
        let cancelled = DailyPeriod {
            cancelled: true,
            ..period
        };
        assert_eq!(
            ids(&check_daily_on(DailyAction::Create, &f, None, Some(&cancelled)).anomalies),
            vec!["00913-355"]
        );
        let mut outside = create();
        outside.start = Some(date!(2026 - 12 - 07));
        assert_eq!(
            ids(&check_daily_on(DailyAction::Create, &outside, None, Some(&period)).anomalies),
            vec!["00913-462"]
        );
        // An open-ended period covers every later day, not earlier ones.
        let open = DailyPeriod {
            end: None,
            ..period
        };
        assert!(
            check_daily_on(DailyAction::Create, &outside, None, Some(&open))
                .anomalies
                .is_empty()
        );
        outside.start = Some(date!(2026 - 12 - 04));
        assert_eq!(
            ids(&check_daily_on(DailyAction::Create, &outside, None, Some(&open)).anomalies),
            vec!["00913-462"]
        );

        let stored = DailyState {
            start: date!(2026 - 12 - 05),
            start_hour: "1800".into(),
            end: Some(date!(2026 - 12 - 06)),
            end_hour: Some("0200".into()),
        };
        let modify = DailyFacts {
            attestation_status: Some("1".into()),
            has_registration_id: true,
            end_hour: Some("0300".into()),
            ..DailyFacts::default()
        };
        let r = check_daily_on(
            DailyAction::Modify,
            &modify,
            Some((&stored, false)),
            Some(&period),
        );
        assert!(r.anomalies.is_empty(), "{r:?}");
        assert_eq!(r.after.and_then(|s| s.end_hour), Some("0300".into()));
        let moved = DailyFacts {
            start: Some(date!(2026 - 12 - 09)),
            end: Some(date!(2026 - 12 - 09)),
            end_hour: Some("2300".into()),
            ..modify.clone()
        };
        let r = check_daily_on(
            DailyAction::Modify,
            &moved,
            Some((&stored, false)),
            Some(&period),
        );
        assert_eq!((ids(&r.anomalies), r.after), (vec!["00910-462"], None));
        // The merged values are ordered: a new start after the stored end.
        let late = DailyFacts {
            start: Some(date!(2026 - 12 - 06)),
            end_hour: None,
            ..modify.clone()
        };
        let r = check_daily_on(
            DailyAction::Modify,
            &late,
            Some((&stored, false)),
            Some(&period),
        );
        assert_eq!(ids(&r.anomalies), vec!["00778-345"]);
        let cancel = DailyFacts {
            attestation_status: Some("3".into()),
            has_registration_id: true,
            ..DailyFacts::default()
        };
        for action in [DailyAction::Modify, DailyAction::Cancel] {
            let f = if action == DailyAction::Cancel {
                &cancel
            } else {
                &modify
            };
            assert_eq!(
                ids(&check_daily_on(action, f, None, Some(&period)).anomalies),
                vec!["01085-354"]
            );
            assert_eq!(
                ids(&check_daily_on(action, f, Some((&stored, true)), Some(&period)).anomalies),
                vec!["01085-355"]
            );
            assert_eq!(
                ids(&check_daily_on(action, f, Some((&stored, false)), Some(&cancelled)).anomalies),
                vec!["01085-181"]
            );
        }
        let r = check_daily_on(
            DailyAction::Cancel,
            &cancel,
            Some((&stored, false)),
            Some(&period),
        );
        assert_eq!(
            r,
            DailyOutcome {
                anomalies: vec![],
                after: None
            }
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
