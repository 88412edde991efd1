//! SQLite's default page cache behind a thin wrapper that skips the
//! commit-time scans that have nothing to drop.
//!
//! Why: at the end of every write transaction the pager truncates its cache
//! to the database's size, and SQLite's default cache (pcache1) decides
//! whether to walk its whole hash table from the largest page number it has
//! held since the last truncation. B-tree balancing (`balance_nonroot`)
//! sorts new pages by swapping two of them through the lock-byte page's
//! number (1 GiB / page size + 1), far above any database we hold, so the
//! next commit visits every cached page header (a cache miss each) and drops
//! nothing. Measured with `perf`: 18 % of the SQLite writer thread under the
//! Dimona load and 5 % of the server under hub messages, with the 32 MiB
//! writer cache.
//!
//! The wrapper forwards every call to the default cache and keeps, per
//! cache, the largest page number really held (the lock-byte page only
//! passes through during a swap). A truncation that could drop nothing is
//! not forwarded; every other one is, so the cache's contents are exactly
//! the default cache's. The process installs it once, before SQLite's first
//! use ([`install`]); if SQLite was already initialised (another library
//! opened a database first), the default cache stays, only slower.

use rusqlite::ffi;
use std::ffi::{c_int, c_uint, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// SQLite's `PENDING_BYTE`: the lock-byte page is the page holding it.
const PENDING_BYTE: c_uint = 0x4000_0000;

struct Methods(ffi::sqlite3_pcache_methods2);
// SAFETY: the methods table is plain function pointers and SQLite's own
// `pArg` (null for pcache1); it is written once, before any use, and read
// only after.
unsafe impl Send for Methods {}
unsafe impl Sync for Methods {}

static DEFAULT: OnceLock<Methods> = OnceLock::new();
static INSTALLED: OnceLock<bool> = OnceLock::new();
static SKIPPED: AtomicU64 = AtomicU64::new(0);

/// One wrapped cache. SQLite calls a cache from one connection at a time
/// (the pager's), so the fields need no lock.
struct Wrapped {
    inner: *mut ffi::sqlite3_pcache,
    lock_page: c_uint,
    /// No page with a larger number is held (an upper bound: discarded pages
    /// do not lower it, truncations do).
    max_key: c_uint,
    /// Pages currently keyed on the lock-byte page (during a swap).
    parked: u32,
}

/// Installs the wrapper if SQLite has not been initialised in this process
/// yet. Returns whether it is in place. Idempotent and cheap after the
/// first call; every path of this crate that opens SQLite calls it first.
pub fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        let mut default = ffi::sqlite3_pcache_methods2 {
            iVersion: 0,
            pArg: std::ptr::null_mut(),
            xInit: None,
            xShutdown: None,
            xCreate: None,
            xCachesize: None,
            xPagecount: None,
            xFetch: None,
            xUnpin: None,
            xRekey: None,
            xTruncate: None,
            xDestroy: None,
            xShrink: None,
        };
        // SAFETY: GETPCACHE2 copies the current methods into `default`;
        // after initialisation it refuses (SQLITE_MISUSE) and writes nothing.
        let rc = unsafe {
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_GETPCACHE2,
                &mut default as *mut ffi::sqlite3_pcache_methods2,
            )
        };
        if rc != ffi::SQLITE_OK || default.xCreate.is_none() || default.xTruncate.is_none() {
            tracing::warn!(rc, "SQLite was initialised before the page cache wrapper: default page cache kept (slower commits)");
            return false;
        }
        let _ = DEFAULT.set(Methods(default));
        let ours = ffi::sqlite3_pcache_methods2 {
            iVersion: default.iVersion,
            pArg: std::ptr::null_mut(),
            xInit: Some(x_init),
            xShutdown: Some(x_shutdown),
            xCreate: Some(x_create),
            xCachesize: Some(x_cachesize),
            xPagecount: Some(x_pagecount),
            xFetch: Some(x_fetch),
            xUnpin: Some(x_unpin),
            xRekey: Some(x_rekey),
            xTruncate: Some(x_truncate),
            xDestroy: Some(x_destroy),
            xShrink: Some(x_shrink),
        };
        // SAFETY: PCACHE2 copies the table; our functions only forward to
        // the default ones saved above.
        let rc = unsafe {
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_PCACHE2,
                &ours as *const ffi::sqlite3_pcache_methods2,
            )
        };
        rc == ffi::SQLITE_OK
    })
}

/// Truncations not forwarded since the process started (for tests).
pub fn skipped_truncations() -> u64 {
    SKIPPED.load(Ordering::Relaxed)
}

/// The default methods; `None` never happens in practice (ours are
/// installed only after DEFAULT is set) but must not panic across FFI.
fn default() -> Option<&'static ffi::sqlite3_pcache_methods2> {
    DEFAULT.get().map(|m| &m.0)
}

/// # Safety
/// `p` must be a cache this wrapper created and has not destroyed.
unsafe fn wrapped<'a>(p: *mut ffi::sqlite3_pcache) -> &'a mut Wrapped {
    unsafe { &mut *(p as *mut Wrapped) }
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    match default() {
        Some(d) => match d.xInit {
            Some(f) => unsafe { f(d.pArg) },
            None => ffi::SQLITE_OK,
        },
        None => ffi::SQLITE_ERROR,
    }
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {
    if let Some(d) = default()
        && let Some(f) = d.xShutdown
    {
        unsafe { f(d.pArg) }
    }
}

unsafe extern "C" fn x_create(
    sz_page: c_int,
    sz_extra: c_int,
    purgeable: c_int,
) -> *mut ffi::sqlite3_pcache {
    let Some(create) = default().and_then(|d| d.xCreate) else {
        return std::ptr::null_mut();
    };
    let inner = unsafe { create(sz_page, sz_extra, purgeable) };
    if inner.is_null() {
        return inner;
    }
    let lock_page = PENDING_BYTE / (sz_page.max(1) as c_uint) + 1;
    Box::into_raw(Box::new(Wrapped {
        inner,
        lock_page,
        max_key: 0,
        parked: 0,
    })) as *mut ffi::sqlite3_pcache
}

unsafe extern "C" fn x_cachesize(p: *mut ffi::sqlite3_pcache, n: c_int) {
    if let Some(f) = default().and_then(|d| d.xCachesize) {
        unsafe { f(wrapped(p).inner, n) }
    }
}

unsafe extern "C" fn x_pagecount(p: *mut ffi::sqlite3_pcache) -> c_int {
    match default().and_then(|d| d.xPagecount) {
        Some(f) => unsafe { f(wrapped(p).inner) },
        None => 0,
    }
}

unsafe extern "C" fn x_fetch(
    p: *mut ffi::sqlite3_pcache,
    key: c_uint,
    create: c_int,
) -> *mut ffi::sqlite3_pcache_page {
    let Some(f) = default().and_then(|d| d.xFetch) else {
        return std::ptr::null_mut();
    };
    let w = unsafe { wrapped(p) };
    let page = unsafe { f(w.inner, key, create) };
    if !page.is_null() && key > w.max_key {
        w.max_key = key;
    }
    page
}

unsafe extern "C" fn x_unpin(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    discard: c_int,
) {
    if let Some(f) = default().and_then(|d| d.xUnpin) {
        unsafe { f(wrapped(p).inner, page, discard) }
    }
}

unsafe extern "C" fn x_rekey(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    old: c_uint,
    new: c_uint,
) {
    let Some(f) = default().and_then(|d| d.xRekey) else {
        return;
    };
    let w = unsafe { wrapped(p) };
    unsafe { f(w.inner, page, old, new) };
    if old == w.lock_page {
        w.parked = w.parked.saturating_sub(1);
    }
    if new == w.lock_page {
        w.parked = w.parked.saturating_add(1);
    } else if new > w.max_key {
        w.max_key = new;
    }
}

unsafe extern "C" fn x_truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    let Some(f) = default().and_then(|d| d.xTruncate) else {
        return;
    };
    let w = unsafe { wrapped(p) };
    if w.parked == 0 && limit > w.max_key {
        // No page numbered `limit` or above is held: nothing to drop.
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    unsafe { f(w.inner, limit) };
    if w.lock_page >= limit {
        w.parked = 0;
    }
    w.max_key = w.max_key.min(limit.saturating_sub(1));
}

unsafe extern "C" fn x_destroy(p: *mut ffi::sqlite3_pcache) {
    // SAFETY: SQLite destroys a cache once; the Box was made in x_create.
    let w = unsafe { Box::from_raw(p as *mut Wrapped) };
    if let Some(f) = default().and_then(|d| d.xDestroy) {
        unsafe { f(w.inner) }
    }
}

unsafe extern "C" fn x_shrink(p: *mut ffi::sqlite3_pcache) {
    if let Some(f) = default().and_then(|d| d.xShrink) {
        unsafe { f(wrapped(p).inner) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn open(path: &std::path::Path) -> Connection {
        assert!(
            install(),
            "the wrapper must be installed before SQLite's first use"
        );
        let c = Connection::open(path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA cache_size = -32768;")
            .unwrap();
        c
    }

    /// Random-key index insertions split and rebalance pages (the swap
    /// through the lock-byte page); commits then skip the scan, and what a
    /// rolled-back transaction added to a growing file is still dropped.
    #[test]
    fn commits_skip_needless_scans_and_rollbacks_still_drop_pages() {
        let dir = std::env::temp_dir().join(format!("kp-pcache-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let c = open(&path);
        c.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID")
            .unwrap();
        let before = skipped_truncations();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut key = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{x:016x}")
        };
        for _ in 0..50 {
            let tx = c.unchecked_transaction().unwrap();
            for _ in 0..200 {
                tx.execute("INSERT INTO t VALUES (?1, zeroblob(100))", [key()])
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        assert!(
            skipped_truncations() > before,
            "no commit skipped its scan: the wrapper is not in use"
        );
        let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        // A transaction that grows the file, rolled back: its pages must go.
        let tx = c.unchecked_transaction().unwrap();
        for _ in 0..2_000 {
            tx.execute("INSERT INTO t VALUES (?1, zeroblob(1000))", [key()])
                .unwrap();
        }
        tx.rollback().unwrap();
        let after: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        assert_eq!(after, pages);
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 10_000);
        c.execute("INSERT INTO t VALUES ('after', zeroblob(10))", [])
            .unwrap();
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        // Another connection sees exactly what was committed.
        let other = open(&path);
        let n: i64 = other
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 10_001);
        drop((c, other));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
