//! `kruispunt audit verify`: recomputes the whole hash chain and checks
//! every signed checkpoint.

use kruispunt_domain::hub::checkpoint_message;
use kruispunt_security::audit::{chain_hash, verify_signature};
use kruispunt_store::{Store, StoreError};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub entries: i64,
    pub checkpoints: i64,
    pub head_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The first entry (seq) that does not verify.
    pub seq: i64,
    pub ticket: Option<String>,
    pub reason: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const PAGE: i64 = 5000;

pub async fn verify(store: &Store) -> Result<Result<Report, Broken>, StoreError> {
    let mut prev = vec![0u8; 32];
    let mut expected_seq = 1i64;
    let mut hashes_at_checkpoints: HashMap<i64, Vec<u8>> = HashMap::new();
    let checkpoints = {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = store.checkpoints(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            all.extend(page);
        }
        all
    };
    for c in &checkpoints {
        hashes_at_checkpoints.insert(c.seq, Vec::new());
    }
    // Entries first, then the head: the head only grows, and an append moves
    // it in the transaction that inserts the entry, so a head read after the
    // entries is at least as far as them. Other servers may append meanwhile
    // (a live multi-node system): then the entries are read on up to the
    // head that was seen, and the head's hash is compared at its own seq.
    let mut after = 0;
    let mut head: Option<(i64, Vec<u8>)> = None;
    let mut hash_at_head: Option<Vec<u8>> = None;
    loop {
        let page = store.audit_entries_after(after, PAGE).await?;
        let Some(last) = page.last() else {
            let (head_seq, head_hash) = match &head {
                // Already read a head and no entry came since: compare.
                Some(h) => h.clone(),
                None => {
                    let h = store.audit_head().await?;
                    head = Some(h.clone());
                    if h.0 > expected_seq - 1 {
                        // Appended since the last page: read on.
                        continue;
                    }
                    h
                }
            };
            let entries = expected_seq - 1;
            if head_seq == entries && hash_at_head.is_none() {
                hash_at_head = Some(prev.clone());
            }
            let matches = head_seq == 0 || hash_at_head.as_deref() == Some(head_hash.as_slice());
            if head_seq > entries || (head_seq < entries && hash_at_head.is_none()) || !matches {
                return Ok(Err(Broken {
                    seq: head_seq.max(entries),
                    ticket: None,
                    reason: format!(
                        "the chain head says {head_seq} entries but {entries} verify: entries were removed or added"
                    ),
                }));
            }
            break;
        };
        after = last.record.seq;
        for e in page {
            let broken = |reason: String| Broken {
                seq: e.record.seq,
                ticket: Some(e.record.ticket.clone()),
                reason,
            };
            if e.record.seq != expected_seq {
                return Ok(Err(Broken {
                    seq: expected_seq,
                    ticket: None,
                    reason: format!(
                        "entry {expected_seq} is missing (the next one is {})",
                        e.record.seq
                    ),
                }));
            }
            let computed = chain_hash(&prev, &e.record);
            if computed != e.hash {
                return Ok(Err(broken(
                    "its content does not match its hash: it was altered, or an earlier entry was"
                        .into(),
                )));
            }
            if let Some(slot) = hashes_at_checkpoints.get_mut(&e.record.seq) {
                *slot = computed.clone();
            }
            if head.as_ref().is_some_and(|h| h.0 == e.record.seq) {
                hash_at_head = Some(computed.clone());
            }
            prev = computed;
            expected_seq += 1;
        }
    }
    let entries = expected_seq - 1;
    let keys: HashMap<String, Vec<u8>> = store
        .hub_keys()
        .await?
        .into_iter()
        .map(|k| (k.kid, k.public_key))
        .collect();
    for c in &checkpoints {
        let Some(public) = keys.get(&c.kid) else {
            return Ok(Err(Broken {
                seq: c.seq,
                ticket: None,
                reason: format!("checkpoint {} is signed by an unknown key {}", c.seq, c.kid),
            }));
        };
        if !verify_signature(public, &checkpoint_message(c.seq, &c.hash), &c.signature) {
            return Ok(Err(Broken {
                seq: c.seq,
                ticket: None,
                reason: format!("checkpoint {} has an invalid signature", c.seq),
            }));
        }
        match hashes_at_checkpoints.get(&c.seq) {
            Some(h) if *h == c.hash => {}
            _ => {
                return Ok(Err(Broken {
                    seq: c.seq,
                    ticket: None,
                    reason: format!(
                        "the chain at entry {} differs from its signed checkpoint: history was rewritten",
                        c.seq
                    ),
                }));
            }
        }
    }
    Ok(Ok(Report {
        entries,
        checkpoints: checkpoints.len() as i64,
        head_hash: hex(&prev),
    }))
}
