//! Who is calling: principals and the scopes their tokens may carry.

use crate::Invalid;
use crate::ids::{EmployerId, Ssin};
use crate::registers::InstitutionCode;
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub enum Principal {
    /// A network institution (CPAS, sickness fund, ...), identified by its code.
    Institution(InstitutionCode),
    /// An employer, by its ONSS number.
    Employer(EmployerId),
    /// A person, acting on their own data.
    Citizen(Ssin),
    /// A platform operator.
    Operator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    Institution,
    Employer,
    Citizen,
    Operator,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Institution => "institution",
            Self::Employer => "employer",
            Self::Citizen => "citizen",
            Self::Operator => "operator",
        }
    }
}

impl Principal {
    pub fn kind(&self) -> PrincipalKind {
        match self {
            Self::Institution(_) => PrincipalKind::Institution,
            Self::Employer(_) => PrincipalKind::Employer,
            Self::Citizen(_) => PrincipalKind::Citizen,
            Self::Operator => PrincipalKind::Operator,
        }
    }

    /// The id part of the subject (`""` for operators).
    pub fn id(&self) -> String {
        match self {
            Self::Institution(c) => c.to_string(),
            Self::Employer(e) => e.to_string(),
            Self::Citizen(s) => s.to_string(),
            Self::Operator => String::new(),
        }
    }

    /// The token subject, `kind:id` (`operator` alone).
    pub fn subject(&self) -> String {
        match self {
            Self::Operator => "operator".to_owned(),
            other => format!("{}:{}", other.kind().as_str(), other.id()),
        }
    }

    pub fn parse_subject(sub: &str) -> Result<Self, Invalid> {
        if sub == "operator" {
            return Ok(Self::Operator);
        }
        let (kind, id) = sub
            .split_once(':')
            .ok_or_else(|| Invalid::new("sub", "must be kind:id"))?;
        Self::from_parts(kind, id)
    }

    pub fn from_parts(kind: &str, id: &str) -> Result<Self, Invalid> {
        match kind {
            "institution" => InstitutionCode::parse(id).map(Self::Institution),
            "employer" => EmployerId::parse(id)
                .map(Self::Employer)
                .map_err(|e| Invalid::id("employerId", "the ONSS number", e)),
            "citizen" => Ssin::parse(id)
                .map(Self::Citizen)
                .map_err(|e| Invalid::id("ssin", "the SSIN", e)),
            "operator" => Ok(Self::Operator),
            _ => Err(Invalid::new("sub", "unknown principal kind")),
        }
    }

    /// Scopes a token of this principal gets when none are asked for.
    pub fn default_scopes(&self) -> Vec<Scope> {
        Scope::ALL
            .iter()
            .copied()
            .filter(|s| s.allowed_for(self.kind()))
            .collect()
    }
}

/// Debug hides citizen SSINs (personal data).
impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Citizen(_) => f.write_str("Citizen(***)"),
            other => f.write_str(&other.subject()),
        }
    }
}

/// What a token allows. Names of the Dimona scopes are the ONSS ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    DimonaDeclarant,
    DimonaConsult,
    BatchUpload,
    HubMessages,
    HubReferences,
    HubNotifications,
    CitizenSelf,
    Operator,
}

impl Scope {
    pub const ALL: &'static [Scope] = &[
        Scope::DimonaDeclarant,
        Scope::DimonaConsult,
        Scope::BatchUpload,
        Scope::HubMessages,
        Scope::HubReferences,
        Scope::HubNotifications,
        Scope::CitizenSelf,
        Scope::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DimonaDeclarant => "scope:dimona:declaration:declarant",
            Self::DimonaConsult => "scope:dimona:declaration:consult",
            Self::BatchUpload => "scope:batch:upload",
            Self::HubMessages => "scope:hub:messages",
            Self::HubReferences => "scope:hub:references",
            Self::HubNotifications => "scope:hub:notifications",
            Self::CitizenSelf => "scope:citizen:self",
            Self::Operator => "scope:operator",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .iter()
            .copied()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "scope",
                    format!("unknown scope; known scopes: {}", Self::catalogue()),
                )
            })
    }

    /// Parses a space-separated list (OAuth2 form), no duplicates kept.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, Invalid> {
        let mut out: Vec<Self> = Vec::new();
        for part in s.split_whitespace() {
            let scope = Self::parse(part)?;
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        Ok(out)
    }

    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn catalogue() -> String {
        Self::join(Self::ALL)
    }

    pub fn allowed_for(self, kind: PrincipalKind) -> bool {
        use PrincipalKind as K;
        match self {
            Self::DimonaDeclarant | Self::DimonaConsult | Self::BatchUpload => kind == K::Employer,
            Self::HubMessages | Self::HubReferences | Self::HubNotifications => {
                kind == K::Institution
            }
            Self::CitizenSelf => kind == K::Citizen,
            Self::Operator => kind == K::Operator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip() {
        for sub in [
            "operator",
            "institution:ONEM",
            "employer:935467",
            "citizen:93051822361",
        ] {
            assert_eq!(Principal::parse_subject(sub).unwrap().subject(), sub);
        }
        assert!(Principal::parse_subject("citizen:93051822362").is_err());
        assert!(Principal::parse_subject("robot:1").is_err());
    }

    #[test]
    fn scopes_follow_principal_kinds() {
        let employer = Principal::parse_subject("employer:935467").unwrap();
        assert!(employer.default_scopes().contains(&Scope::DimonaDeclarant));
        assert!(!employer.default_scopes().contains(&Scope::HubMessages));
        assert_eq!(
            Scope::parse_list("scope:hub:messages scope:hub:messages")
                .unwrap()
                .len(),
            1
        );
        assert_eq!(Scope::parse("nope").unwrap_err().field, "scope");
    }

    #[test]
    fn debug_hides_citizen_ssin() {
        let c = Principal::parse_subject("citizen:93051822361").unwrap();
        assert!(!format!("{c:?}").contains("9305"));
    }
}
