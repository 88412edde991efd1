//! SQLite only: the persons and their references as the hub's preventive
//! check last read them, kept in memory.
//!
//! Why: on SQLite every commit empties the page cache of every other
//! connection, and the audit log commits hundreds of times a second under
//! load, so the check's read of a person and their references went back to
//! the file every time (about nine `pread`s and their decoding: 40 µs, a
//! quarter of a hub message's cost; docs/benchmarks.md, session 11).
//!
//! Why an answer from here is never acted on stale: `register_version`
//! (migration 22) is moved by triggers in the same transaction as any
//! change to `persons` or `person_references`, by any connection of any
//! process. Every entry is read in ONE statement that also returns the
//! version, and all kept entries were read at the same version. A lookup
//! answered from here carries that version, and the audit entry of the
//! message it decides is appended only if the version is still current
//! inside the append's write transaction (`Store::append_audit_batch`);
//! otherwise the message is decided again on a fresh read. No answer
//! leaves before its audit entry is durable, so every answer matches the
//! registers as they stood at its audit commit. The append also tells the
//! cache the version it read, and a newer one empties the cache.
//!
//! (Session 11 read the version before every lookup instead: a read
//! transaction with its shared-memory locks and a `pread`, ~10 µs a
//! message. The append reads it once per group commit, on the writer's
//! warm cache.)

use kruispunt_domain::registers::Person;
use std::collections::HashMap;
#[cfg(test)]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Beyond this many persons the cache starts again from empty (bounded
/// memory: an entry is a few hundred bytes).
const MAX_ENTRIES: usize = 200_000;

/// What the check needs to know about one SSIN.
#[derive(Debug)]
pub(crate) struct Entry {
    /// `None`: in neither register.
    pub(crate) person: Option<Person>,
    pub(crate) references: Vec<CachedReference>,
}

/// One row of `person_references` about the person, as the check reads it.
#[derive(Debug)]
pub(crate) struct CachedReference {
    pub(crate) institution: String,
    pub(crate) capacity: i64,
    pub(crate) start_date: String,
    pub(crate) end_date: Option<String>,
    pub(crate) removed: bool,
}

impl Entry {
    /// The SQL check's condition: an active reference of `institution` in
    /// that capacity whose period covers `today` (ISO dates compare as
    /// text, as SQLite compares them).
    pub(crate) fn integrated(&self, institution: &str, capacity: i64, today: &str) -> bool {
        self.references.iter().any(|r| {
            !r.removed
                && r.institution == institution
                && r.capacity == capacity
                && r.start_date.as_str() <= today
                && r.end_date.as_deref().is_none_or(|end| end >= today)
        })
    }
}

#[derive(Default)]
struct State {
    /// The register version every entry was read at.
    version: i64,
    entries: HashMap<String, Arc<Entry>>,
}

impl State {
    /// Whether what was read at `version` belongs here: a newer version
    /// empties the cache and becomes its own; an older one (a read that
    /// began before a change someone else has seen) does not belong.
    fn admits(&mut self, version: i64) -> bool {
        if version > self.version {
            self.entries.clear();
            self.version = version;
        }
        version == self.version
    }
}

#[derive(Default)]
pub(crate) struct RegisterCache {
    state: Mutex<State>,
    /// Lookups answered from memory: counted in test builds only, to keep
    /// a shared counter off the hot path.
    #[cfg(test)]
    hits: AtomicU64,
}

impl std::fmt::Debug for RegisterCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterCache").finish_non_exhaustive()
    }
}

impl RegisterCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock left a consistent map (every
        // mutation is a single call): carry on with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `ssin` with the register version it was read at
    /// (to be checked when the message's audit entry is appended).
    pub(crate) fn get(&self, ssin: &str) -> Option<(i64, Arc<Entry>)> {
        let s = self.state();
        let hit = s.entries.get(ssin).map(|e| (s.version, e.clone()));
        #[cfg(test)]
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// The registers are at `version` (read by a writer): a newer version
    /// empties the cache.
    pub(crate) fn observe(&self, version: i64) {
        self.state().admits(version);
    }

    /// Keeps `entry`, read at `version`, unless the cache has moved past it.
    pub(crate) fn put(&self, version: i64, ssin: String, entry: Arc<Entry>) {
        let mut s = self.state();
        if !s.admits(version) {
            return;
        }
        if s.entries.len() >= MAX_ENTRIES {
            s.entries.clear();
        }
        s.entries.insert(ssin, entry);
    }

    /// How many lookups were answered from memory.
    #[cfg(test)]
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(
        institution: &str,
        capacity: i64,
        start: &str,
        end: Option<&str>,
    ) -> CachedReference {
        CachedReference {
            institution: institution.into(),
            capacity,
            start_date: start.into(),
            end_date: end.map(Into::into),
            removed: false,
        }
    }

    #[test]
    fn integration_follows_the_period_institution_capacity_and_removal() {
        let mut e = Entry {
            person: None,
            references: vec![reference("CPAS", 1, "2026-01-01", Some("2026-06-30"))],
        };
        assert!(e.integrated("CPAS", 1, "2026-01-01"));
        assert!(e.integrated("CPAS", 1, "2026-06-30"));
        assert!(!e.integrated("CPAS", 1, "2025-12-31"));
        assert!(!e.integrated("CPAS", 1, "2026-07-01"));
        assert!(!e.integrated("CPAS", 2, "2026-03-01"));
        assert!(!e.integrated("ONEM", 1, "2026-03-01"));
        e.references[0].end_date = None;
        assert!(e.integrated("CPAS", 1, "2099-01-01"));
        e.references[0].removed = true;
        assert!(!e.integrated("CPAS", 1, "2026-03-01"));
    }

    #[test]
    fn an_entry_serves_only_its_own_version() {
        let c = RegisterCache::default();
        let entry = || {
            Arc::new(Entry {
                person: None,
                references: vec![],
            })
        };
        c.put(3, "a".into(), entry());
        assert_eq!(c.get("a").map(|(v, _)| v), Some(3));
        // An older observation changes nothing.
        c.observe(2);
        assert_eq!(c.get("a").map(|(v, _)| v), Some(3));
        // An entry read before the cache moved on is not kept.
        c.put(2, "b".into(), entry());
        assert!(c.get("b").is_none());
        // A newer version, observed or read, empties the cache.
        c.observe(4);
        assert!(c.get("a").is_none());
        c.put(3, "a".into(), entry());
        assert!(c.get("a").is_none());
        c.put(4, "a".into(), entry());
        c.put(5, "b".into(), entry());
        assert!(c.get("a").is_none());
        assert_eq!(c.get("b").map(|(v, _)| v), Some(5));
        assert_eq!(c.hits(), 3);
    }
}
