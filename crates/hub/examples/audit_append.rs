//! The audit group commit alone, saturated: REQUESTERS tasks each append
//! entries one after another through the hub's `AuditWriter` (no HTTP, no
//! checks), for SECONDS, on the database at URL (use a copy: it grows).
//! Prints entries/s and each thread's CPU per entry (from /proc), so that
//! a change to the commit path can be compared without the load
//! generator and the HTTP stack sharing the cores.
//!
//!     cargo run --release -p kruispunt-hub --example audit_append -- /tmp/copy.db 5 64
use kruispunt_domain::clock::Clock;
use kruispunt_security::audit::{HubKey, HubKeyMaterial};
use kruispunt_security::system::{SystemClock, SystemEntropy};
use kruispunt_store::{AuditDraft, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// CPU ticks and bytes written by thread name, from /proc/self/task.
fn cpu_by_thread() -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let ticks = f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        // Bytes written (write/pwrite calls), from /proc/self/task/*/io.
        let written = std::fs::read_to_string(t.path().join("io"))
            .ok()
            .and_then(|io| {
                io.lines().find_map(|l| {
                    l.strip_prefix("wchar: ")
                        .and_then(|v| v.trim().parse().ok())
                })
            })
            .unwrap_or(0u64);
        let e = out.entry(name).or_insert((0, 0));
        e.0 += ticks;
        e.1 += written;
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .ok_or("usage: audit_append URL [SECONDS] [REQUESTERS]")?;
    let seconds: u64 = args.get(2).map_or(Ok(5), |s| s.parse())?;
    let requesters: usize = args.get(3).map_or(Ok(64), |s| s.parse())?;
    kruispunt_store::page_cache::install();
    let store = Store::open(url).await?;
    let key = HubKey::new(&HubKeyMaterial::generate(&SystemEntropy)?)?;
    let writer = kruispunt_hub::AuditWriter::spawn(store, Arc::new(key), 1000, 512);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let run = format!("{:x}", SystemClock.now().millis());
    let mut tasks = Vec::new();
    for r in 0..requesters {
        let (writer, stop, done, run) = (writer.clone(), stop.clone(), done.clone(), run.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let draft = AuditDraft {
                    // As the hub's: the time first, then random bits (here
                    // the requester and its count).
                    ticket: format!("T{:012x}{run}{r:04x}{i:08x}", SystemClock.now().millis()),
                    at: SystemClock.now().millis(),
                    kind: "message".into(),
                    actor: "institution:BENCH".into(),
                    service: Some("identification".into()),
                    purpose: Some("1".into()),
                    ssin: Some(format!(
                        "{:011}",
                        85_073_003_328u64 + (i * 97 + r as u64) % 50_000
                    )),
                    outcome: "forwarded".into(),
                    detail: None,
                    answer_digest: Some(vec![7; 32]),
                };
                writer.append(draft).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), kruispunt_hub::HubError>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // warm up
    let (n0, cpu0, t0) = (
        done.load(Ordering::Relaxed),
        cpu_by_thread(),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (n1, cpu1, el) = (done.load(Ordering::Relaxed), cpu_by_thread(), t0.elapsed());
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    let n = (n1 - n0) as f64;
    let us_per_tick = 1e6 / 100.0; // USER_HZ is 100 on Linux
    let by: Vec<String> = cpu1
        .iter()
        .filter_map(|(k, (ticks, written))| {
            let (t0, w0) = cpu0.get(k).copied().unwrap_or((0, 0));
            let (d, w) = (ticks - t0, written - w0);
            (d > 0).then(|| {
                format!(
                    "{k}={:.1}us,{:.0}B",
                    d as f64 * us_per_tick / n,
                    w as f64 / n
                )
            })
        })
        .collect();
    println!(
        "{:.0} entries/s  per entry (CPU, bytes written): {}",
        n / el.as_secs_f64(),
        by.join(" ")
    );
    Ok(())
}
