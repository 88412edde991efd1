//! `POST /hub/v1/messages`: the preventive check, routing, audit, answer.

use crate::{Hub, HubError};
use kruispunt_domain::Invalid;
use kruispunt_domain::clock::format_date;
use kruispunt_domain::hub::{HubCode, INTERNAL_SERVICES, is_person_service, valid_service_name};
use kruispunt_domain::ids::{EmployerId, EnterpriseNumber, Ssin};
use kruispunt_domain::registers::{InstitutionCode, Person};
use kruispunt_security::audit::sha256;
use kruispunt_store::{Appended, AuditDraft, IntegrationLookup, QueuedAudit};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// The message as sent (fields parsed here, so errors name them).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    pub service: Option<String>,
    pub ssin: Option<String>,
    pub purpose: Option<String>,
    pub body: Option<Value>,
}

/// Why a message was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotAuthorized,
    NotIntegrated,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotAuthorized => "not-authorized",
            Self::NotIntegrated => "not-integrated",
        }
    }
    pub fn code(self) -> HubCode {
        match self {
            Self::NotAuthorized => HubCode::NotAuthorized,
            Self::NotIntegrated => HubCode::NotIntegrated,
        }
    }
}

/// What happened to a message. Every variant was audited before it is
/// returned.
#[derive(Debug, Clone)]
pub enum MessageOutcome {
    Answered {
        ticket: String,
        /// The answer's JSON, exactly as digested in the audit entry.
        answer: Box<RawValue>,
    },
    Refused {
        ticket: String,
        refusal: Refusal,
        message: String,
    },
    /// The authentic source knows nothing under this key.
    NotFound { ticket: String, message: String },
    /// An external provider failed (`timeout`: it did not answer in time).
    ProviderFailed {
        ticket: String,
        timeout: bool,
        message: String,
    },
}

/// The `identification` answer: the person as the National Register holds
/// them. Serialized straight to the bytes that are digested, audited and
/// sent (no `Value` in between); `address` and `deathDate` only when known.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentificationAnswer<'a> {
    ssin: String,
    family_name: &'a str,
    given_name: &'a str,
    birth_date: Option<String>,
    gender: Option<&'static str>,
    nationality: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<AddressAnswer<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    death_date: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddressAnswer<'a> {
    street: &'a str,
    house_number: &'a str,
    postal_code: &'a str,
    municipality: &'a str,
    country: &'a str,
}

impl<'a> IdentificationAnswer<'a> {
    pub fn of(p: &'a Person) -> Self {
        IdentificationAnswer {
            ssin: p.ssin.to_string(),
            family_name: &p.last_name,
            given_name: &p.first_name,
            birth_date: p.birth_date.map(format_date),
            gender: p.sex.map(|s| s.code()),
            nationality: p.nationality.as_ref().map(|n| n.as_str()),
            address: p.address.as_ref().map(|a| AddressAnswer {
                street: &a.street,
                house_number: &a.house_number,
                postal_code: &a.postal_code,
                municipality: &a.municipality,
                country: &a.country,
            }),
            death_date: p.death_date.map(format_date),
        }
    }
}

/// The `identification` answer as JSON text (also the data of a register
/// change's notification).
pub fn identification(p: &Person) -> Result<Box<RawValue>, HubError> {
    raw(&IdentificationAnswer::of(p))
}

fn raw<T: Serialize + ?Sized>(v: &T) -> Result<Box<RawValue>, HubError> {
    serde_json::value::to_raw_value(v).map_err(|e| HubError::Internal(e.to_string()))
}

struct Checked {
    service: String,
    purpose: String,
    ssin: Option<Ssin>,
}

fn check_input(req: &MessageRequest) -> Result<Checked, HubError> {
    let service = req
        .service
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Invalid::new(
                "service",
                "is required (identification, employment, employer or a provider's service)",
            )
        })?;
    if !valid_service_name(service) {
        return Err(HubError::UnknownService);
    }
    let purpose = req
        .purpose
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Invalid::new(
                "purpose",
                "is required: the purpose (capacity code) the data is requested for",
            )
        })?;
    if purpose.len() > 40 {
        return Err(Invalid::new("purpose", "must be at most 40 characters").into());
    }
    let ssin = match (&req.ssin, is_person_service(service)) {
        (Some(s), _) => Some(Ssin::parse(s).map_err(|e| Invalid::id("ssin", "the SSIN", e))?),
        (None, true) => return Err(Invalid::new("ssin", "is required for this service").into()),
        (None, false) => None,
    };
    Ok(Checked {
        service: service.to_owned(),
        purpose: purpose.to_owned(),
        ssin,
    })
}

impl Hub {
    /// Processes one message from `institution`.
    pub async fn message(
        &self,
        institution: &InstitutionCode,
        req: MessageRequest,
    ) -> Result<MessageOutcome, HubError> {
        let started = std::time::Instant::now();
        let c = check_input(&req)?;
        let external = if INTERNAL_SERVICES.contains(&c.service.as_str()) {
            None
        } else {
            Some(
                self.store()
                    .provider(&c.service)
                    .await?
                    .ok_or(HubError::UnknownService)?,
            )
        };
        // The employer service needs a key in the body; check before auditing.
        let employer_key = if c.service == "employer" {
            Some(employer_key(req.body.as_ref())?)
        } else {
            None
        };

        let ticket = self.ticket();
        let today = self.today();
        let at = self.now().millis();
        let draft = |outcome: &str, answer_digest: Option<Vec<u8>>| AuditDraft {
            ticket: ticket.clone(),
            at,
            kind: "message".into(),
            actor: format!("institution:{institution}"),
            service: Some(c.service.clone()),
            purpose: Some(c.purpose.clone()),
            ssin: c.ssin.map(|s| s.to_string()),
            outcome: outcome.into(),
            detail: None,
            answer_digest,
        };

        // (a) authorization: public, granted by the committee.
        let authorization = self
            .authorization_for(institution.as_str(), &c.service, &c.purpose, &today)
            .await?;
        let capacity = c.purpose.parse::<u16>().ok();
        // An identification check may be answered from the register cache
        // (SQLite): its audit entry is then appended only if the registers
        // have not changed since, else the message is decided again on a
        // fresh read (at most once more: a fresh read needs no condition).
        let mut fresh = false;
        loop {
            // (b) integration: the requester holds a file on this person in
            // the capacity it claims as purpose, for a period covering
            // today. For identification, the check and the register lookup
            // share one read.
            let mut person_found: Option<Option<Person>> = None;
            let mut registers_at = None;
            let refusal = match (&authorization, c.ssin) {
                (None, _) => Some(Refusal::NotAuthorized),
                (Some((_, true)), Some(ssin)) => {
                    let integrated = match capacity {
                        None => false,
                        Some(cap) if c.service == "identification" => {
                            let looked = self
                                .0
                                .lookups
                                .person_and_integration(
                                    IntegrationLookup {
                                        ssin,
                                        institution: institution.as_str().to_owned(),
                                        capacity: cap,
                                        today: today.clone(),
                                    },
                                    fresh,
                                )
                                .await?;
                            person_found = Some(looked.person);
                            registers_at = looked.registers_at;
                            looked.integrated
                        }
                        Some(cap) => {
                            self.store()
                                .has_active_reference(
                                    institution.as_str(),
                                    &ssin.to_string(),
                                    cap,
                                    &today,
                                )
                                .await?
                        }
                    };
                    (!integrated).then_some(Refusal::NotIntegrated)
                }
                (Some(_), _) => None,
            };
            if let Some(refusal) = refusal {
                let entry = QueuedAudit {
                    draft: draft(refusal.reason(), None),
                    registers_at,
                };
                if self.0.audit.append_queued(entry).await? == Appended::Stale {
                    fresh = true;
                    continue;
                }
                metrics::counter!("hub_messages_total", "service" => c.service.clone(), "outcome" => refusal.reason()).increment(1);
                let message = match refusal {
                    Refusal::NotAuthorized => format!(
                        "{institution} holds no valid authorization for service {} with purpose {}",
                        c.service, c.purpose
                    ),
                    Refusal::NotIntegrated => format!(
                        "{institution} holds no active reference on this person with capacity {}",
                        c.purpose
                    ),
                };
                return Ok(MessageOutcome::Refused {
                    ticket,
                    refusal,
                    message,
                });
            }

            // Routing to the authentic source.
            let routed: Result<Box<RawValue>, MessageOutcome> = match (c.service.as_str(), &external) {
                ("identification", _) => match c.ssin {
                    Some(ssin) => match match person_found {
                        Some(p) => p,
                        None => self.store().person(&ssin).await?,
                    } {
                        Some(p) => Ok(identification(&p)?),
                        None => Err(MessageOutcome::NotFound {
                            ticket: ticket.clone(),
                            message: "no person with this SSIN in the National Register or the bis register"
                                .into(),
                        }),
                    },
                    None => Err(MessageOutcome::NotFound {
                        ticket: ticket.clone(),
                        message: "no SSIN".into(),
                    }),
                },
                ("employment", _) => Ok(raw(&json!({
                    "ssin": c.ssin.map(|s| s.to_string()),
                    "periods": self.employment_periods(c.ssin).await?,
                }))?),
                ("employer", _) => {
                    let found = match employer_key {
                        Some(EmployerKey::Id(id)) => self.store().employer(id).await?,
                        Some(EmployerKey::Enterprise(en)) => {
                            self.store().employer_by_enterprise(en).await?
                        }
                        None => None,
                    };
                    match found {
                        Some(e) => Ok(raw(&json!({
                            "employerId": e.employer_id.value(),
                            "enterpriseNumber": e.enterprise_number.to_string(),
                            "name": e.name,
                            "jointCommittee": e.joint_committee,
                            "active": e.active,
                        }))?),
                        None => Err(MessageOutcome::NotFound {
                            ticket: ticket.clone(),
                            message: "no employer with this number in the employer directory"
                                .into(),
                        }),
                    }
                }
                // Never decided on a register version, so never repeated.
                (_, Some((provider, endpoint))) => {
                    self.forward(
                        endpoint,
                        provider,
                        &ticket,
                        &c.service,
                        &c.purpose,
                        c.ssin,
                        institution,
                        req.body.clone(),
                    )
                    .await
                    .and_then(|answer| {
                        raw(&answer).map_err(|e| MessageOutcome::ProviderFailed {
                            ticket: ticket.clone(),
                            timeout: false,
                            message: e.to_string(),
                        })
                    })
                }
                _ => return Err(HubError::UnknownService),
            };

            let (outcome, label, digest) = match routed {
                Ok(answer) => {
                    let digest = sha256(answer.get().as_bytes());
                    (
                        MessageOutcome::Answered {
                            ticket: ticket.clone(),
                            answer,
                        },
                        "forwarded",
                        Some(digest),
                    )
                }
                Err(other) => {
                    let label = match &other {
                        MessageOutcome::NotFound { .. } => "not-found",
                        MessageOutcome::ProviderFailed { timeout: true, .. } => "provider-timeout",
                        _ => "provider-failed",
                    };
                    (other, label, None)
                }
            };
            let entry = QueuedAudit {
                draft: draft(label, digest),
                registers_at,
            };
            if self.0.audit.append_queued(entry).await? == Appended::Stale {
                fresh = true;
                continue;
            }
            metrics::counter!("hub_messages_total", "service" => c.service, "outcome" => label)
                .increment(1);
            metrics::histogram!("hub_message_seconds").record(started.elapsed().as_secs_f64());
            return Ok(outcome);
        }
    }

    /// The person's Dimona periods at every employer (the `employment`
    /// authentic source), cancelled ones left out.
    async fn employment_periods(&self, ssin: Option<Ssin>) -> Result<Vec<Value>, HubError> {
        let Some(ssin) = ssin else {
            return Ok(Vec::new());
        };
        Ok(self
            .store()
            .periods_of_person(&ssin.to_string())
            .await?
            .iter()
            .map(|p| {
                json!({
                    "periodId": p.period_id, "employerId": p.employer_id, "startDate": p.start_date,
                    "endDate": p.end_date, "workerType": p.worker_type,
                    "jointCommissionNumber": p.joint_committee, "status": p.status,
                })
            })
            .collect())
    }
}

enum EmployerKey {
    Id(EmployerId),
    Enterprise(EnterpriseNumber),
}

fn employer_key(body: Option<&Value>) -> Result<EmployerKey, HubError> {
    let body =
        body.ok_or_else(|| Invalid::new("body", "must hold employerId or enterpriseNumber"))?;
    if let Some(v) = body.get("employerId") {
        let s = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return Err(Invalid::new("body.employerId", "must be an ONSS number").into()),
        };
        return EmployerId::parse(&s)
            .map(EmployerKey::Id)
            .map_err(|e| Invalid::id("body.employerId", "the ONSS number", e).into());
    }
    if let Some(Value::String(s)) = body.get("enterpriseNumber") {
        return EnterpriseNumber::parse(s)
            .map(EmployerKey::Enterprise)
            .map_err(|e| Invalid::id("body.enterpriseNumber", "the enterprise number", e).into());
    }
    Err(Invalid::new("body", "must hold employerId or enterpriseNumber").into())
}
