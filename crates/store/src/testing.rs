//! Fresh, isolated stores for tests: a new SQLite file, or a new database
//! on the PostgreSQL server named by `KRUISPUNT_TEST_DATABASE_URL`.
//!
//! The same test suites run on both backends: CI runs them once without the
//! variable (SQLite) and once with it pointing at PostgreSQL.

use crate::{Store, StoreError};
use sqlx::{AssertSqlSafe, Connection};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The environment variable selecting PostgreSQL for tests.
pub const TEST_DATABASE_ENV: &str = "KRUISPUNT_TEST_DATABASE_URL";

/// A unique name for this process and call (tests run in parallel).
fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::UNIX_EPOCH
        .elapsed()
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("kp_test_{}_{}_{}", std::process::id(), nanos, n)
}

/// A database URL for a fresh, empty database (created, not yet migrated).
pub async fn fresh_database_url() -> Result<String, StoreError> {
    sqlx::any::install_default_drivers();
    match std::env::var(TEST_DATABASE_ENV) {
        Ok(base) if base.starts_with("postgres") => {
            let name = unique_name();
            let mut conn = sqlx::AnyConnection::connect(&base).await?;
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await?;
            conn.close().await?;
            // Replace the database name (the last path segment).
            let (head, tail) = base
                .rsplit_once('/')
                .ok_or_else(|| StoreError::Config("bad test URL".into()))?;
            let query = tail
                .split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default();
            Ok(format!("{head}/{name}{query}"))
        }
        _ => {
            let dir = std::env::temp_dir().join("kruispunt-tests");
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::Config(e.to_string()))?;
            Ok(format!("sqlite://{}/{}.db", dir.display(), unique_name()))
        }
    }
}

/// A freshly migrated store on its own database.
pub async fn fresh_store() -> Result<(Store, String), StoreError> {
    let url = fresh_database_url().await?;
    let store = Store::open(&url).await?;
    Ok((store, url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuditDraft;
    use kruispunt_domain::clock::Timestamp;
    use kruispunt_domain::hub::AuditCrypto;
    use kruispunt_domain::registers::{EmployerInput, Institution, PersonInput};
    use sqlx::Row;

    fn now() -> Timestamp {
        Timestamp(1_796_000_000_000)
    }

    #[tokio::test]
    async fn registers_round_trip_on_this_backend() {
        let (store, _) = fresh_store().await.unwrap();
        let p = PersonInput {
            ssin: "93051822361".into(),
            last_name: "Peeters".into(),
            first_name: "Jan".into(),
            birth_date: Some("1993-05-18".into()),
            sex: Some("M".into()),
            nationality: Some("BE".into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        store.upsert_person(&p, now()).await.unwrap();
        assert_eq!(store.person(&p.ssin).await.unwrap(), Some(p.clone()));
        // Upsert replaces (the register is the authentic source).
        let mut p2 = p.clone();
        p2.last_name = "Janssens".into();
        store.upsert_person(&p2, now()).await.unwrap();
        assert_eq!(
            store.person(&p.ssin).await.unwrap().unwrap().last_name,
            "Janssens"
        );
        assert_eq!(store.count_persons().await.unwrap(), 1);

        let e = EmployerInput {
            employer_id: "935467".into(),
            enterprise_number: "0403170701".into(),
            name: "Brasserie".into(),
            joint_committee: Some("302".into()),
            address: None,
        }
        .validate()
        .unwrap();
        store.insert_employer(&e, now()).await.unwrap();
        assert!(matches!(
            store.insert_employer(&e, now()).await,
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(
            store.employer(e.employer_id).await.unwrap(),
            Some(e.clone())
        );
        assert_eq!(
            store
                .employer_by_enterprise(e.enterprise_number)
                .await
                .unwrap(),
            Some(e)
        );

        let i = Institution::new("ONEM", "Office national de l'emploi", Some(18), None).unwrap();
        store.insert_institution(&i, now()).await.unwrap();
        assert!(matches!(
            store.insert_institution(&i, now()).await,
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(store.institutions().await.unwrap(), vec![i]);
        assert!(store.capacity_exists(18, 1).await.unwrap());
        assert!(!store.capacity_exists(18, 77).await.unwrap());
        store
            .upsert_capacity(18, 77, "Test capacity")
            .await
            .unwrap();
        assert!(store.capacity_exists(18, 77).await.unwrap());
    }

    #[tokio::test]
    async fn inline_lookups_answer_as_the_batched_query() {
        use crate::{IntegrationLookup, NewReference};
        let (store, url) = fresh_store().await.unwrap();
        let i = Institution::new("CPAS-LIEGE", "CPAS de Liège", Some(17), None).unwrap();
        store.insert_institution(&i, now()).await.unwrap();
        let person = |ssin: &str| {
            PersonInput {
                ssin: ssin.into(),
                last_name: "Peeters".into(),
                first_name: "Jan".into(),
                birth_date: None,
                sex: Some("M".into()),
                nationality: Some("BE".into()),
                ..Default::default()
            }
            .validate()
            .unwrap()
        };
        let (current, ended, stranger) = (
            person("93051822361"),
            person("85073003328"),
            person("77010100141"),
        );
        for p in [&current, &ended, &stranger] {
            store.upsert_person(p, now()).await.unwrap();
        }
        let reference = |id: &str, ssin: &str, end: Option<&str>| NewReference {
            id: id.into(),
            institution: "CPAS-LIEGE".into(),
            ssin: ssin.into(),
            capacity: 1,
            start_date: "2026-01-01".into(),
            end_date: end.map(str::to_owned),
        };
        store
            .insert_references(
                &[
                    reference("r1", "93051822361", None),
                    reference("r2", "85073003328", Some("2026-06-30")),
                ],
                false,
                now(),
            )
            .await
            .unwrap();
        let ask = |ssin: &str, capacity: u16| IntegrationLookup {
            ssin: ssin.parse().unwrap(),
            institution: "CPAS-LIEGE".into(),
            capacity,
            today: "2026-11-30".into(),
        };
        let asks = [
            ask("93051822361", 1), // integrated
            ask("93051822361", 2), // another capacity
            ask("85073003328", 1), // reference ended
            ask("77010100141", 1), // no reference
            ask("90022512361", 1), // not in the register
        ];
        let batched = store.persons_and_integration(&asks).await.unwrap();
        assert_eq!(
            batched.iter().map(|(_, i)| *i).collect::<Vec<_>>(),
            [true, false, false, false, false]
        );
        assert_eq!(batched[0].0, Some(current.clone()));
        assert_eq!(batched[4].0, None);
        if store.reads_inline() {
            let pair = |l: &crate::InlineLookup| (l.person.clone(), l.integrated);
            let mut seen = std::collections::HashSet::new();
            for (a, expected) in asks.iter().zip(&batched) {
                let l = store.person_and_integration_inline(a, false).unwrap();
                assert_eq!(&pair(&l), expected);
                // A person's first lookup reads the file; later ones, in
                // any capacity, are answered from memory.
                assert_eq!(l.registers_at.is_none(), seen.insert(a.ssin));
            }
            // Asked again: the same answers, from memory, with the version
            // they hold for.
            let hits = store.register_cache_hits();
            for (a, expected) in asks.iter().zip(&batched) {
                let l = store.person_and_integration_inline(a, false).unwrap();
                assert_eq!(&pair(&l), expected);
                assert!(l.registers_at.is_some());
            }
            assert_eq!(store.register_cache_hits(), hits + asks.len() as u64);

            // What the hub does: decide on the lookup, append the decision's
            // entry on condition of the version, decide again on a fresh
            // read if it is refused. Returns the answer acted on and
            // whether it took a second read.
            let mut tickets = 0;
            let mut decide = async |a: &IntegrationLookup| {
                let mut fresh = false;
                loop {
                    let l = store.person_and_integration_inline(a, fresh).unwrap();
                    tickets += 1;
                    let entry = crate::QueuedAudit {
                        draft: draft(&format!("decision-{tickets}")),
                        registers_at: l.registers_at,
                    };
                    let appended = store
                        .append_audit_batch(vec![entry], std::sync::Arc::new(FoldChain), 0)
                        .await
                        .unwrap();
                    match appended[..] {
                        [crate::Appended::At(_)] => return (pair(&l), fresh),
                        [crate::Appended::Stale] if !fresh => fresh = true,
                        _ => panic!("a fresh read is never stale: {appended:?}"),
                    }
                }
            };
            // Unchanged registers: the kept answer is acted on.
            assert_eq!(
                decide(&asks[0]).await,
                ((Some(current.clone()), true), false)
            );
            let logged = store.audit_entries_after(0, 100).await.unwrap().len();

            // Changes made by this process, or by another one (the CLI, a
            // second server) through a connection of its own: the kept
            // answer is refused at the append, and the fresh read sees them.
            let other = Store::open(&url).await.unwrap();
            let mut conn = store.writer.acquire().await.unwrap();
            Store::end_reference_in(&mut conn, "r1", None, 1)
                .await
                .unwrap();
            drop(conn);
            assert_eq!(decide(&asks[0]).await, ((Some(current), false), true));
            // (That emptied the cache: this reads the file and is kept.)
            assert_eq!(
                decide(&asks[3]).await,
                ((Some(stranger.clone()), false), false)
            );
            other
                .insert_references(&[reference("r3", "77010100141", None)], false, now())
                .await
                .unwrap();
            assert_eq!(
                decide(&asks[3]).await,
                ((Some(stranger.clone()), true), true)
            );
            let mut renamed = stranger.clone();
            renamed.last_name = "Janssens".into();
            other.upsert_person(&renamed, now()).await.unwrap();
            assert_eq!(
                decide(&asks[3]).await,
                ((Some(renamed.clone()), true), true)
            );
            // Only the decisions acted on were logged.
            assert_eq!(
                store.audit_entries_after(0, 100).await.unwrap().len(),
                logged + 4
            );
            // The fresh read was kept: the next decision is from memory.
            let hits = store.register_cache_hits();
            assert_eq!(decide(&asks[3]).await, ((Some(renamed), true), false));
            assert_eq!(store.register_cache_hits(), hits + 1);
        } else {
            assert!(
                store
                    .person_and_integration_inline(&asks[0], false)
                    .is_err()
            );
        }
    }

    #[tokio::test]
    async fn jti_replay_is_refused_until_expiry() {
        let (store, _) = fresh_store().await.unwrap();
        let exp = now().plus_seconds(60);
        assert!(store.remember_jti("c1", "j1", exp, now()).await.unwrap());
        assert!(!store.remember_jti("c1", "j1", exp, now()).await.unwrap());
        assert!(
            store.remember_jti("c2", "j1", exp, now()).await.unwrap(),
            "jti is per client"
        );
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_reruns_no_migration() {
        let (store, url) = fresh_store().await.unwrap();
        let i = Institution::new("CPAS-LIEGE", "CPAS de Liège", Some(17), None).unwrap();
        store.insert_institution(&i, now()).await.unwrap();
        store.close().await;
        let again = Store::open(&url).await.unwrap();
        assert_eq!(again.institutions().await.unwrap().len(), 1);
    }

    /// A toy chain (the real one is SHA-256 in the security crate): enough
    /// to tell whether each entry was chained from its predecessor.
    struct FoldChain;

    impl AuditCrypto for FoldChain {
        fn chain(&self, prev: &[u8], r: &kruispunt_domain::hub::AuditRecord) -> Vec<u8> {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in prev
                .iter()
                .chain(r.ticket.as_bytes())
                .chain(&r.seq.to_be_bytes())
            {
                h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
            h.to_be_bytes().to_vec()
        }
        fn sign_checkpoint(&self, _seq: i64, _hash: &[u8]) -> (String, Vec<u8>) {
            ("test".into(), Vec::new())
        }
    }

    /// Group-commits `drafts`, none of them conditional: all appended.
    async fn append(store: &Store, drafts: Vec<AuditDraft>) -> Vec<i64> {
        let entries: Vec<crate::QueuedAudit> = drafts.into_iter().map(Into::into).collect();
        store
            .append_audit_batch(entries, std::sync::Arc::new(FoldChain), 0)
            .await
            .unwrap()
            .into_iter()
            .map(|a| match a {
                crate::Appended::At(seq) => seq,
                crate::Appended::Stale => panic!("an unconditional entry was refused"),
            })
            .collect()
    }

    fn draft(ticket: &str) -> AuditDraft {
        AuditDraft {
            ticket: ticket.into(),
            at: now().millis(),
            kind: "test".into(),
            actor: "operator".into(),
            service: None,
            purpose: None,
            ssin: None,
            outcome: "done".into(),
            detail: None,
            answer_digest: None,
        }
    }

    /// A large group commit (one multi-row statement on PostgreSQL, one
    /// statement per row on SQLite) keeps one unbroken chain, in the order
    /// given.
    #[tokio::test]
    async fn a_large_group_commit_is_one_chain_in_order() {
        let (store, _) = fresh_store().await.unwrap();
        let drafts: Vec<AuditDraft> = (0..100).map(|i| draft(&format!("big-{i}"))).collect();
        assert_eq!(
            append(&store, drafts).await,
            (1..=100).collect::<Vec<i64>>()
        );
        let entries = store.audit_entries_after(0, 200).await.unwrap();
        assert_eq!(entries.len(), 100);
        for (i, pair) in entries.windows(2).enumerate() {
            assert_eq!(pair[1].record.ticket, format!("big-{}", i + 1));
            assert_eq!(
                pair[1].hash,
                FoldChain.chain(&pair[0].hash, &pair[1].record)
            );
        }
    }

    /// SQLite's group commit on the writer thread (audit_queue.rs): entries
    /// are chained in the order they were queued, each requester learns
    /// its own seq, and a long backlog does not keep other writers out: a
    /// write through the writer pool gets in while thousands of entries
    /// are still queued (the turn ends after `TURN`). Answered through the
    /// relay task, as the hub's queue is.
    #[tokio::test]
    async fn the_audit_queue_chains_in_order_and_lets_other_writers_in() {
        let (store, _) = fresh_store().await.unwrap();
        if !store.has_writer_thread() {
            return; // PostgreSQL: batches go through append_audit_batch.
        }
        let queue = std::sync::Arc::new(crate::AuditQueue::with_relay());
        let committer = {
            let (store, queue) = (store.clone(), queue.clone());
            tokio::spawn(async move {
                loop {
                    queue.wait_for_entries().await;
                    store
                        .commit_audit_queue(&queue, std::sync::Arc::new(FoldChain), 0, 64)
                        .await
                        .unwrap();
                }
            })
        };
        let waits: Vec<_> = (0..300)
            .map(|i| queue.push(draft(&format!("q-{i}")).into()))
            .collect();
        for (i, w) in waits.into_iter().enumerate() {
            assert_eq!(w.await.unwrap(), Ok(crate::Appended::At(i as i64 + 1)));
        }
        let entries = store.audit_entries_after(0, 400).await.unwrap();
        assert_eq!(entries.len(), 300);
        for (i, pair) in entries.windows(2).enumerate() {
            assert_eq!(pair[1].record.ticket, format!("q-{}", i + 1));
            assert_eq!(
                pair[1].hash,
                FoldChain.chain(&pair[0].hash, &pair[1].record)
            );
        }

        // A backlog of 5,000 (79 batches of 64, each with its fsync).
        let mut waits: Vec<_> = (0..5_000)
            .map(|i| queue.push(draft(&format!("b-{i}")).into()))
            .collect();
        let mut last = waits.pop().unwrap();
        // The committer holds the turn now.
        waits.remove(0).await.unwrap().unwrap();
        sqlx::query("UPDATE audit_index_progress SET indexed_to = indexed_to WHERE id = 1")
            .execute(&store.writer)
            .await
            .unwrap();
        assert!(
            matches!(
                last.try_recv(),
                Err(tokio::sync::oneshot::error::TryRecvError::Empty)
            ),
            "the pool's write waited for the whole backlog"
        );
        assert_eq!(last.await.unwrap(), Ok(crate::Appended::At(5_300)));
        committer.abort();
    }

    /// Two processes on one database (two stores): each appends from its
    /// own head hint, which the other's appends make stale. The chain must
    /// still be one unbroken chain.
    #[tokio::test]
    async fn appends_from_a_stale_head_hint_keep_one_chain() {
        let (a, url) = fresh_store().await.unwrap();
        let b = Store::open(&url).await.unwrap();
        for round in 0..3 {
            for (name, store) in [("a", &a), ("b", &b)] {
                let mut tx = store.begin_audited(0).await.unwrap();
                tx.append(
                    &[
                        draft(&format!("{name}-tx-{round}-1")),
                        draft(&format!("{name}-tx-{round}-2")),
                    ],
                    &FoldChain,
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                append(store, vec![draft(&format!("{name}-batch-{round}"))]).await;
            }
        }
        let entries = a.audit_entries_after(0, 100).await.unwrap();
        assert_eq!(entries.len(), 18);
        let mut prev = entries[0].hash.clone();
        for (i, e) in entries.iter().enumerate().skip(1) {
            assert_eq!(e.record.seq, i as i64 + 1);
            assert_eq!(
                e.hash,
                FoldChain.chain(&prev, &e.record),
                "entry {} is not chained",
                e.record.seq
            );
            prev = e.hash.clone();
        }
    }

    /// The Dimona pass's shape: writes deferred to the end, then the audit
    /// entries, in one multi-statement query on SQLite, from two stores
    /// whose head hints go stale in turn. Each write runs once (the stale
    /// hint refuses the entries only, after the writes), and the chain stays
    /// one chain.
    #[tokio::test]
    async fn deferred_writes_with_entries_from_a_stale_hint_run_once() {
        let (a, url) = fresh_store().await.unwrap();
        let b = Store::open(&url).await.unwrap();
        let before = a.counter("notifications").await.unwrap();
        for round in 0..3 {
            for (name, store) in [("a", &a), ("b", &b)] {
                let mut tx = store.begin_audited(0).await.unwrap();
                let mut writes = crate::DeferredWrites::new(store.backend());
                let first =
                    crate::dimona_pass::reserve_many(&mut tx, &mut writes, &[("notifications", 2)])
                        .await
                        .unwrap()[0];
                assert_eq!(
                    first,
                    before + 1 + 4 * round + if name == "b" { 2 } else { 0 }
                );
                // A second reservation in the same writes could not see the
                // first one (inline reads): refused.
                if store.backend() == crate::Backend::Sqlite {
                    assert!(
                        crate::dimona_pass::reserve_many(
                            &mut tx,
                            &mut writes,
                            &[("notifications", 1)]
                        )
                        .await
                        .is_err()
                    );
                }
                tx.append_with(
                    writes,
                    &[draft(&format!("{name}-deferred-{round}"))],
                    &FoldChain,
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                append(store, vec![draft(&format!("{name}-batch-{round}"))]).await;
            }
        }
        assert_eq!(a.counter("notifications").await.unwrap(), before + 12);
        let entries = a.audit_entries_after(0, 100).await.unwrap();
        assert_eq!(entries.len(), 12);
        for pair in entries.windows(2) {
            assert_eq!(pair[1].record.seq, pair[0].record.seq + 1);
            assert_eq!(
                pair[1].hash,
                FoldChain.chain(&pair[0].hash, &pair[1].record)
            );
        }
    }

    /// The access log reads a person's entries from the index by person
    /// up to where it is built and from the log above: the same answer
    /// before, during (a run cut short: rows written, progress not moved)
    /// and after indexing, never an entry twice, and nobody else's.
    #[tokio::test]
    async fn a_persons_entries_are_the_same_whatever_the_index_has_reached() {
        let (store, _) = fresh_store().await.unwrap();
        let (anna, bert) = ("93051822361", "85073003328");
        let mut drafts = Vec::new();
        for i in 0..7 {
            for (ssin, kind) in [(anna, "message"), (bert, "message"), (anna, "self-access")] {
                let mut d = draft(&format!("{ssin}-{kind}-{i}"));
                d.kind = kind.into();
                d.ssin = Some(ssin.into());
                d.at = now().millis() + i;
                drafts.push(d);
            }
            // Entries about nobody, and of other kinds, are not indexed.
            drafts.push(draft(&format!("other-{i}")));
        }
        append(&store, drafts).await;
        let view = |store: &Store| {
            let store = store.clone();
            async move {
                let messages: Vec<String> = store
                    .audit_messages_about(anna, 100)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.ticket)
                    .collect();
                let own = store.audit_self_accesses(anna).await.unwrap();
                let three = store.audit_messages_about(anna, 3).await.unwrap().len();
                (messages, own, three)
            }
        };
        let expected: Vec<String> = (0..7)
            .rev()
            .map(|i| format!("{anna}-message-{i}"))
            .collect();
        let before = view(&store).await;
        assert_eq!(before.0, expected, "newest first, only anna's messages");
        assert_eq!(before.1, (7, Some(now().millis() + 6)));
        assert_eq!(before.2, 3, "the limit holds");

        // A run cut short: the first index rows are in, the progress is not.
        store.index_audit_by_person(10, 4).await.unwrap();
        sqlx::query("UPDATE audit_index_progress SET indexed_to = 0 WHERE id = 1")
            .execute(&store.writer)
            .await
            .unwrap();
        assert_eq!(
            view(&store).await,
            before,
            "rows beyond the progress are not read"
        );

        // Half the log indexed, then all of it (in runs of 3 rows per write).
        assert_eq!(store.index_audit_by_person(14, 3).await.unwrap(), 14);
        assert_eq!(
            view(&store).await,
            before,
            "half from the index, half from the log"
        );
        assert_eq!(store.index_audit_by_person(1_000, 3).await.unwrap(), 14);
        assert_eq!(
            store.index_audit_by_person(1_000, 3).await.unwrap(),
            0,
            "up to date"
        );
        assert_eq!(view(&store).await, before, "all from the index");
        if store.backend() == crate::Backend::Sqlite {
            // The index writes skip their fsync; every other commit must not.
            let level: i64 = sqlx::query("PRAGMA synchronous")
                .fetch_one(&store.writer)
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            assert_eq!(level, 2, "the writer is back to synchronous = FULL");
            let native = store.writer_thread_synchronous().await;
            assert_eq!(native, Some(2), "the writer thread is back to FULL");
        }
        let indexed: i64 = sqlx::query("SELECT COUNT(*) AS n FROM audit_by_person")
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        assert_eq!(
            indexed, 21,
            "messages and self-accesses about someone, once each"
        );

        // New entries after the index: read from the log again.
        let mut late = draft("late");
        late.kind = "message".into();
        late.ssin = Some(anna.into());
        append(&store, vec![late]).await;
        assert_eq!(
            view(&store).await.0.first().map(String::as_str),
            Some("late")
        );
    }
}
