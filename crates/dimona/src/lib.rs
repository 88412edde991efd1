//! Dimona end to end: a declaration is stored durably (then answered 201),
//! processed asynchronously by a worker (rules, identification, the period,
//! the reference directory, the push to entitled institutions, the audit
//! entry — in one transaction), and consulted by its id or through the
//! employer's personnel file.

pub mod batch;
/// The ONSS v2 JSON and its door checks live in their own light crate (no
/// store), so the fuzz targets can reach them; this keeps the old path.
pub use kruispunt_dimona_wire as declaration;
mod intake;
mod mandates;
mod notices;
mod processing;

pub use mandates::MandateChange;
pub use notices::{notice_idempotency_key, notice_json};

use declaration::{DeclarationJson, EmployerRef};
use kruispunt_domain::Invalid;
use kruispunt_domain::clock::Timestamp;
use kruispunt_domain::ids::EmployerId;
use kruispunt_hub::{Hub, HubError};
use kruispunt_store::{DeclarationRow, NewDeclaration};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// `kruispunt validate`: the same door checks and the rules that need no
/// store (duplicates, overlaps, the student contingent and the worker's
/// identification need the server's registers and are not judged here).
pub fn validate_offline(
    body: &serde_json::Value,
    today: time::Date,
) -> Result<
    (
        declaration::Kind,
        Vec<kruispunt_domain::dimona::AnomalyKind>,
    ),
    Invalid,
> {
    use kruispunt_domain::clock::parse_date;
    let parsed: DeclarationJson = serde_json::from_value(body.clone())
        .map_err(|e| Invalid::new("body", format!("is not a Dimona declaration: {e}")))?;
    let checked = declaration::check(&parsed)?;
    let date = |s: &Option<String>| s.as_deref().and_then(|d| parse_date("date", d).ok());
    if let Some(r) = &parsed.daily_registration {
        // The rules of the declaration alone; the period and the
        // registration it names are the server's.
        let facts = kruispunt_domain::dimona::DailyFacts {
            attestation_status: r.attestation_status(),
            has_registration_id: checked.registration_id.is_some(),
            has_period_id: checked.period_id.is_some(),
            start: date(&r.start_date),
            start_hour: r.start_hour.clone(),
            end: date(&r.end_date),
            end_hour: r.end_hour.clone(),
        };
        let (_, anomalies) = kruispunt_domain::dimona::check_daily_registration(&facts);
        return Ok((checked.kind, anomalies));
    }
    let anomalies = match (checked.kind, &parsed.dimona_in, &parsed.dimona_out) {
        (declaration::Kind::In, Some(i), _) => kruispunt_domain::dimona::check_in(
            &kruispunt_domain::dimona::InFacts {
                start: date(&i.start_date),
                end: date(&i.end_date),
                start_hour: i.start_hour.clone(),
                end_hour: i.end_hour.clone(),
                planned_hours: i.planned_hours_number,
                worker_type: i.features.as_ref().and_then(|f| f.worker_type.clone()),
                joint_committee: i
                    .features
                    .as_ref()
                    .and_then(|f| f.joint_commission_number.clone()),
            },
            today,
            &[],
            0,
        ),
        (declaration::Kind::Out, _, Some(o)) if o.end_date.is_none() => {
            vec![kruispunt_domain::dimona::anomaly::END_MISSING]
        }
        _ => Vec::new(),
    };
    Ok((checked.kind, anomalies))
}

/// Declarations processed per transaction at most. Large: a pass costs a
/// few statements and one commit (an fsync) whatever its size, so a backlog
/// (a batch file) drains in few passes; under a steady trickle passes stay
/// small, since each takes only what is waiting.
const CLAIM: i64 = 2048;

/// How long a claimed declaration is reserved for its worker (PostgreSQL),
/// and how long a failed one waits before its next attempt.
pub(crate) const LEASE_MS: i64 = 30_000;

/// Why a declaration was not accepted at the door.
#[derive(Debug)]
pub enum SubmitError {
    Invalid(Invalid),
    /// The caller may not declare for this employer (ONSS 90256-155).
    NoMandate,
    Hub(HubError),
}

impl From<HubError> for SubmitError {
    fn from(e: HubError) -> Self {
        SubmitError::Hub(e)
    }
}

impl From<kruispunt_store::StoreError> for SubmitError {
    fn from(e: kruispunt_store::StoreError) -> Self {
        SubmitError::Hub(HubError::Store(e))
    }
}

type Receipt = (
    NewDeclaration,
    tokio::sync::oneshot::Sender<Result<(), String>>,
);

/// The Dimona service. Cheap to clone.
#[derive(Clone)]
pub struct Dimona {
    hub: Hub,
    wake: Arc<tokio::sync::Notify>,
    receipts: tokio::sync::mpsc::Sender<Receipt>,
    /// Wakes the notice webhook worker when this process queued deliveries.
    notice_wake: Arc<tokio::sync::Notify>,
    /// Set once the Dimona institution (ONSS) exists in the directory.
    onss_ready: Arc<tokio::sync::OnceCell<()>>,
    /// Declaration ids this process reserved and has not handed out yet:
    /// `next..end` of the `dimona_declaration` counter.
    ids: Arc<tokio::sync::Mutex<std::ops::Range<i64>>>,
    /// Whether stored declarations may be waiting for the worker: new
    /// receipts then queue behind them instead of being processed on
    /// receipt (declarations are processed in the order received).
    queue: Arc<QueueState>,
}

/// What the receipt writer knows of the worker's queue.
struct QueueState {
    /// The worker is draining stored declarations.
    draining: AtomicBool,
    /// Generations: bumped each time this process stores declarations for
    /// the worker (a receipt group not processed on receipt, a batch
    /// file); `drained` is the last generation a drain was sure to cover.
    /// They start apart: whatever an earlier run left goes first.
    stored: AtomicU64,
    drained: AtomicU64,
}

impl QueueState {
    fn new() -> Self {
        Self {
            draining: AtomicBool::new(false),
            stored: AtomicU64::new(1),
            drained: AtomicU64::new(0),
        }
    }

    /// Nothing stored by this process is known to wait for the worker.
    fn empty(&self) -> bool {
        !self.draining.load(Ordering::Acquire)
            && self.drained.load(Ordering::Acquire) >= self.stored.load(Ordering::Acquire)
    }

    /// Declarations were stored (committed) for the worker.
    pub(crate) fn stored(&self) {
        self.stored.fetch_add(1, Ordering::AcqRel);
    }
}

/// Declaration ids a process reserves at a time.
const ID_BLOCK: i64 = 4096;
/// The first declaration id: ids have 15 digits.
const FIRST_DECLARATION_ID: i64 = 100_000_000_000_000;

impl Dimona {
    /// Must run inside a tokio runtime (starts the receipt writer).
    pub fn new(hub: Hub) -> Self {
        let (receipts, rx) = tokio::sync::mpsc::channel::<Receipt>(4096);
        let dimona = Self {
            hub,
            wake: Arc::new(tokio::sync::Notify::new()),
            receipts,
            notice_wake: Arc::new(tokio::sync::Notify::new()),
            onss_ready: Arc::new(tokio::sync::OnceCell::new()),
            ids: Arc::new(tokio::sync::Mutex::new(0..0)),
            queue: Arc::new(QueueState::new()),
        };
        tokio::spawn(dimona.clone().write_receipts(rx));
        dimona
    }

    /// Group commit of receipts: every declaration waiting at that moment
    /// is made durable together, then all are answered 201.
    ///
    /// On SQLite the same transaction also processes them, on the writer
    /// thread (intake.rs): SQLite has one writer, and a separate receipt
    /// commit, then a pass waiting for the writer, then its commit, was
    /// what bounded the receipt rate. On PostgreSQL receipts are only
    /// stored; the worker processes them, on any node, while receipts go
    /// on in parallel.
    async fn write_receipts(self, mut rx: tokio::sync::mpsc::Receiver<Receipt>) {
        if self.hub.store().has_writer_thread() {
            return self.intake_on_writer_thread(rx).await;
        }
        let mut batch: Vec<Receipt> = Vec::with_capacity(256);
        // The worker takes declarations in (received_at, id) order: each
        // group gets a later millisecond than the one before, so that
        // declarations sent one after the other are processed in that
        // order even when the clock has not moved.
        let mut last_received = i64::MIN;
        while let Some(first) = rx.recv().await {
            batch.push(first);
            while batch.len() < 256 {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let rows: Vec<NewDeclaration> = batch.iter().map(|(d, _)| d.clone()).collect();
            let received = Timestamp(self.hub.now().millis().max(last_received + 1));
            last_received = received.millis();
            let result = self
                .hub
                .store()
                .insert_declarations(&rows, received.millis())
                .await
                .map_err(|e| e.to_string());
            if result.is_ok() {
                self.queue.stored();
            }
            for (_, done) in batch.drain(..) {
                let _ = done.send(result.clone());
            }
            self.wake.notify_one();
        }
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Checks the declaration's structure and the caller's right to declare
    /// for the employer, stores it durably, and returns its id.
    pub async fn submit(
        &self,
        declarant: EmployerId,
        body: &serde_json::Value,
    ) -> Result<String, SubmitError> {
        let parsed: DeclarationJson = serde_json::from_value(body.clone()).map_err(|e| {
            SubmitError::Invalid(Invalid::new(
                "body",
                format!("is not a Dimona declaration: {e}"),
            ))
        })?;
        if parsed.daily_registration.is_some() {
            // kruispunt's batch extension: the ONSS REST v2 has no daily
            // registrations.
            return Err(SubmitError::Invalid(Invalid::new(
                "dailyRegistration",
                "daily registrations are declared through the batch channel \
                 (DailyRegistrationDeclaration in a Dimona file), not this API",
            )));
        }
        let checked = declaration::check(&parsed).map_err(SubmitError::Invalid)?;
        let employer = match checked.employer {
            EmployerRef::Id(id) => Some(id),
            EmployerRef::Enterprise(en) => self
                .hub
                .store()
                .employer_by_enterprise(en)
                .await?
                .map(|e| e.employer_id),
        };
        // An employer declares for itself, a provider for the employers
        // that mandated it (ONSS 90256-155 otherwise).
        let Some(employer) = employer else {
            return Err(SubmitError::NoMandate);
        };
        if !self.may_act_for(declarant, employer).await? {
            return Err(SubmitError::NoMandate);
        }
        let id = self.new_id().await?;
        let row = NewDeclaration {
            id: id.clone(),
            employer_id: employer.as_i64(),
            declarant: format!("employer:{declarant}"),
            kind: checked.kind.code().into(),
            ssin: checked.ssin.map(|s| s.to_string()),
            body: body.to_string(),
        };
        let (done, wait) = tokio::sync::oneshot::channel();
        let unavailable =
            || SubmitError::Hub(HubError::Internal("the declaration writer stopped".into()));
        self.receipts
            .send((row, done))
            .await
            .map_err(|_| unavailable())?;
        wait.await.map_err(|_| unavailable())?.map_err(|e| {
            SubmitError::Hub(HubError::Internal(format!(
                "cannot store the declaration: {e}"
            )))
        })?;
        metrics::counter!("dimona_declarations_received_total", "kind" => checked.kind.code())
            .increment(1);
        Ok(id)
    }

    /// A 15-digit decimal id (the ONSS API's declaration ids are numbers).
    pub(crate) async fn new_id(&self) -> Result<String, HubError> {
        let mut ids = self.new_ids(1).await?;
        ids.pop()
            .ok_or_else(|| HubError::Internal("no declaration id".into()))
    }

    /// `n` new declaration ids, ascending: 15-digit numbers from the
    /// `dimona_declaration` counter, reserved in blocks of [`ID_BLOCK`] per
    /// process (one write per block; unique across processes). Numbered,
    /// not random, so that declarations fill their primary-key index at its
    /// end: a random id dirtied a random page of it per declaration. The
    /// caller's rights, not the id, guard a declaration (an id of another
    /// employer's declaration answers 404).
    pub(crate) async fn new_ids(&self, n: usize) -> Result<Vec<String>, HubError> {
        let mut block = self.ids.lock().await;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if block.is_empty() {
                let want = ID_BLOCK.max((n - out.len()) as i64);
                let first = self.hub.store().reserve("dimona_declaration", want).await?;
                *block = first..first + want;
            }
            let take = (n - out.len()).min(block.end.saturating_sub(block.start) as usize);
            for v in block.start..block.start + take as i64 {
                out.push((FIRST_DECLARATION_ID + v).to_string());
            }
            block.start += take as i64;
        }
        Ok(out)
    }

    /// The declaration, if `caller` may read it: its employer, the
    /// provider that declared it, or a provider the employer mandates.
    pub async fn declaration(
        &self,
        caller: EmployerId,
        id: &str,
    ) -> Result<Option<DeclarationRow>, HubError> {
        let Some(d) = self.hub.store().declaration(id).await? else {
            return Ok(None);
        };
        if d.employer_id == caller.as_i64() || d.declarant == format!("employer:{caller}") {
            return Ok(Some(d));
        }
        let mandated = match EmployerId::from_i64(d.employer_id) {
            Some(employer) => self.may_act_for(caller, employer).await?,
            None => false,
        };
        Ok(mandated.then_some(d))
    }

    /// Processes waiting declarations until none is left; returns how many.
    pub async fn process_pending(&self) -> Result<usize, HubError> {
        let store = self.hub.store();
        let mut n = 0;
        // Everything stored up to this generation is committed, hence seen
        // by the claims below: a drain that ends covers it.
        let covers = self.queue.stored.load(Ordering::Acquire);
        let mut batch = store
            .claim_declarations(self.hub.now().millis(), LEASE_MS, CLAIM, None)
            .await?;
        let _draining = Draining::begin(&self.queue.draining, !batch.is_empty());
        while !batch.is_empty() {
            n += batch.len();
            // The next batch (the declarations after this one) is claimed
            // while this one is processed: the claim's read overlaps the
            // pass's writes and commit instead of following them.
            let after = batch.last().map(|d| (d.received_at, d.id.clone()));
            let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
            let (done, next) = tokio::join!(
                self.process_batch(&batch),
                store.claim_declarations(self.hub.now().millis(), LEASE_MS, CLAIM, after)
            );
            done?;
            batch = next?;
            if batch.is_empty() {
                // Anything left before that point (a retry coming due, a
                // declaration received in the same millisecond): from the
                // start again.
                batch = store
                    .claim_declarations(self.hub.now().millis(), LEASE_MS, CLAIM, None)
                    .await?;
            }
        }
        self.queue.drained.fetch_max(covers, Ordering::AcqRel);
        Ok(n)
    }

    /// The processing worker (resumes whatever was received before a
    /// crash) and the notice webhook worker.
    pub fn spawn_worker(&self) {
        self.spawn_notice_delivery();
        let dimona = self.clone();
        tokio::spawn(async move {
            let mut pass: u64 = 0;
            loop {
                match dimona.process_pending().await {
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "Dimona processing pass failed"),
                }
                // Every ~2 s: declarations waiting for identification whose
                // worker the register now knows go back to the queue.
                pass += 1;
                if pass.is_multiple_of(10) {
                    match dimona.reidentify().await {
                        Ok(0) => {}
                        Ok(_) => continue,
                        Err(e) => tracing::warn!(error = %e, "Dimona re-identification failed"),
                    }
                }
                let _ =
                    tokio::time::timeout(Duration::from_millis(200), dimona.wake.notified()).await;
            }
        });
    }
}

/// Marks a drain while it runs (cleared on every exit, errors included).
struct Draining<'a>(&'a AtomicBool);

impl<'a> Draining<'a> {
    fn begin(flag: &'a AtomicBool, busy: bool) -> Option<Self> {
        busy.then(|| {
            flag.store(true, Ordering::Release);
            Draining(flag)
        })
    }
}

impl Drop for Draining<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
