//! SQLite: receipts taken in by passes on the writer thread, back to back.
//!
//! Each group of receipts is made durable and processed in one transaction
//! (see `Dimona::receive_and_process`). Passes are queued on the store's
//! writer thread one ahead: while one runs, the next waits behind it and,
//! when it starts, takes every receipt that arrived meanwhile. The writer
//! thus goes from one commit to the next pass without waiting for this task
//! to wake, take the write turn again and hand the next group over (a
//! third of a pass's time, measured, when each pass was handed over after
//! the last one had answered). The write turn is given back to the
//! process's other writers (hub, outboxes, portal) every [`STREAK`] passes
//! and whenever nothing is waiting.

use crate::{Dimona, Receipt};
use kruispunt_domain::clock::Timestamp;
use kruispunt_store::{NewDeclaration, WriteTurn};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// Passes queued on the writer thread at most (one running, one waiting).
const DEPTH: usize = 2;
/// Passes in a row before the write turn goes back to the pool's queue.
const STREAK: u32 = 8;
/// Declarations in one pass at most.
const PASS_MAX: usize = 256;

/// Receipts not yet taken by a pass.
#[derive(Default)]
struct Intake {
    receipts: Vec<Receipt>,
    /// Passes queued on the writer thread that have not taken theirs yet:
    /// they will take these receipts.
    waiting: usize,
}

fn lock(intake: &Mutex<Intake>) -> std::sync::MutexGuard<'_, Intake> {
    intake
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a pass on the writer thread did with the receipts it took.
struct Taken {
    /// Where each receipt waits for its answer.
    answers: Vec<Answer>,
    /// Processed on receipt; otherwise stored for the worker (or failed).
    processed: bool,
    result: Result<(), String>,
}

type Answer = tokio::sync::oneshot::Sender<Result<(), String>>;

type Running = Pin<Box<dyn Future<Output = Option<Taken>> + Send>>;

impl Dimona {
    pub(crate) async fn intake_on_writer_thread(
        self,
        mut rx: tokio::sync::mpsc::Receiver<Receipt>,
    ) {
        let store = self.hub().store().clone();
        let intake = Arc::new(Mutex::new(Intake::default()));
        // The worker takes declarations in (received_at, id) order: each
        // group gets a later millisecond than the one before, so that
        // declarations sent one after the other are processed in that
        // order even when the clock has not moved.
        let last_received = Arc::new(AtomicI64::new(i64::MIN));
        let mut running: VecDeque<Running> = VecDeque::new();
        let mut turn: Option<WriteTurn> = None;
        let mut streak = 0u32;
        let mut open = true;
        loop {
            // Queue a pass when receipts wait that no queued pass will take.
            while running.len() < DEPTH && streak < STREAK && {
                let mut i = lock(&intake);
                let due = !i.receipts.is_empty() && i.waiting == 0;
                if due {
                    i.waiting += 1;
                }
                due
            } {
                let queued = async {
                    // Before the turn: it writes through the writer pool.
                    self.ensure_onss().await?;
                    if turn.is_none() {
                        turn = Some(store.write_turn().await?);
                    }
                    let Some(held) = turn.as_ref() else {
                        return Err(kruispunt_hub::HubError::Internal("no write turn".into()));
                    };
                    Ok(store
                        .on_writer_thread(held, self.pass(intake.clone(), last_received.clone()))?)
                }
                .await;
                match queued {
                    Ok(pass) => {
                        running.push_back(Box::pin(pass));
                        streak += 1;
                    }
                    Err(e) => {
                        // Nothing was queued: answer what waits with the error.
                        let mut i = lock(&intake);
                        i.waiting -= 1;
                        let failed: Vec<Answer> = i.receipts.drain(..).map(|(_, a)| a).collect();
                        drop(i);
                        answer(
                            failed,
                            Err(format!("the declaration writer is unavailable: {e}")),
                        );
                    }
                }
            }
            if !open && running.is_empty() && lock(&intake).receipts.is_empty() {
                return;
            }
            tokio::select! {
                taken = async {
                    match running.front_mut() {
                        Some(pass) => pass.await,
                        None => std::future::pending().await,
                    }
                } => {
                    running.pop_front();
                    if let Some(Taken { answers, processed, result }) = taken {
                        if !processed && result.is_ok() && !answers.is_empty() {
                            self.queue.stored();
                        }
                        answer(answers, result);
                        if !processed {
                            self.wake.notify_one();
                        }
                    }
                    // A pass that panicked (None) dropped its receipts: their
                    // senders answer "the declaration writer stopped".
                    if running.is_empty()
                        && (streak >= STREAK || lock(&intake).receipts.is_empty())
                    {
                        turn = None;
                        streak = 0;
                    }
                }
                received = rx.recv(), if open => match received {
                    Some(r) => {
                        let mut i = lock(&intake);
                        i.receipts.push(r);
                        while let Ok(r) = rx.try_recv() {
                            i.receipts.push(r);
                        }
                    }
                    None => open = false,
                },
            }
        }
    }

    /// One pass, as a job for the writer thread: takes the receipts waiting
    /// when it starts and makes them durable, processed on receipt unless
    /// the worker has a backlog (which must keep its order) or processing
    /// fails; then they are stored alone, for the worker.
    fn pass(
        &self,
        intake: Arc<Mutex<Intake>>,
        last_received: Arc<AtomicI64>,
    ) -> impl FnOnce(&kruispunt_store::WriterSession<'_>) -> Taken + Send + 'static {
        let dimona = self.clone();
        move |session| {
            let receipts: Vec<Receipt> = {
                let mut i = lock(&intake);
                i.waiting -= 1;
                let n = i.receipts.len().min(PASS_MAX);
                i.receipts.drain(..n).collect()
            };
            let (rows, answers): (Vec<NewDeclaration>, Vec<Answer>) = receipts.into_iter().unzip();
            if rows.is_empty() {
                return Taken {
                    answers,
                    processed: true,
                    result: Ok(()),
                };
            }
            let rows = Arc::new(rows);
            let now = dimona.hub().now().millis();
            let received = now.max(last_received.load(Ordering::Acquire).saturating_add(1));
            last_received.store(received, Ordering::Release);
            let received = Timestamp(received);
            // A panic in the rules must not stop the intake: the group then
            // goes to the worker like any failed one.
            let processed = dimona.queue.empty()
                && match std::panic::catch_unwind(AssertUnwindSafe(|| {
                    dimona.receive_and_process(session, rows.clone(), received)
                })) {
                    Ok(Ok(())) => true,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, size = rows.len(), "processing on receipt failed; the declarations go to the worker");
                        false
                    }
                    Err(_) => {
                        tracing::error!(
                            size = rows.len(),
                            "processing on receipt panicked; the declarations go to the worker"
                        );
                        false
                    }
                };
            let result = if processed {
                Ok(())
            } else {
                session
                    .insert_declarations(&rows, received.millis())
                    .map_err(|e| e.to_string())
            };
            Taken {
                answers,
                processed,
                result,
            }
        }
    }
}

fn answer(answers: Vec<Answer>, result: Result<(), String>) {
    for done in answers {
        let _ = done.send(result.clone());
    }
}
