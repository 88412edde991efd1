//! Forwarding a checked message to an external provider.

use crate::Hub;
use crate::messages::MessageOutcome;
use kruispunt_domain::ids::Ssin;
use kruispunt_domain::registers::InstitutionCode;
use serde_json::{Value, json};
use std::time::Duration;

impl Hub {
    /// POSTs the checked request to the provider; relays its JSON answer.
    /// Connection failures and 5xx are retried (bounded); a timeout is not,
    /// since the provider may still be working on it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn forward(
        &self,
        endpoint: &str,
        provider: &str,
        ticket: &str,
        service: &str,
        purpose: &str,
        ssin: Option<Ssin>,
        requester: &InstitutionCode,
        body: Option<Value>,
    ) -> Result<Value, MessageOutcome> {
        let payload = json!({
            "ticket": ticket, "service": service, "purpose": purpose,
            "ssin": ssin.map(|s| s.to_string()), "requester": requester.as_str(), "body": body,
        });
        let attempts = self.config().provider_attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let sent = self
                .0
                .http
                .post(endpoint)
                .timeout(self.config().provider_timeout)
                .header("kruispunt-ticket", ticket)
                .json(&payload)
                .send()
                .await;
            match sent {
                Ok(res) if res.status().is_success() => {
                    return match res.json::<Value>().await {
                        Ok(v) => Ok(v),
                        Err(_) => Err(MessageOutcome::ProviderFailed {
                            ticket: ticket.into(),
                            timeout: false,
                            message: format!(
                                "the provider {provider} answered something that is not JSON"
                            ),
                        }),
                    };
                }
                Ok(res) if res.status().is_server_error() => {
                    last = format!("the provider {provider} answered {}", res.status())
                }
                Ok(res) => {
                    return Err(MessageOutcome::ProviderFailed {
                        ticket: ticket.into(),
                        timeout: false,
                        message: format!(
                            "the provider {provider} refused the request ({})",
                            res.status()
                        ),
                    });
                }
                Err(e) if e.is_timeout() => {
                    return Err(MessageOutcome::ProviderFailed {
                        ticket: ticket.into(),
                        timeout: true,
                        message: format!(
                            "the provider {provider} did not answer within {} ms",
                            self.config().provider_timeout.as_millis()
                        ),
                    });
                }
                Err(_) => last = format!("the provider {provider} cannot be reached"),
            }
            if attempt < attempts {
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
        }
        Err(MessageOutcome::ProviderFailed {
            ticket: ticket.into(),
            timeout: false,
            message: format!("{last} (after {attempts} attempts)"),
        })
    }
}
