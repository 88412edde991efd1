#!/usr/bin/env python3
"""Where a hub message's cost goes: the server's CPU per request, by thread.

Builds the same demo population and wrk load as http_bench.py, then for each run measures
/health (the ceiling) and the hub's identification messages, and prints for each: throughput,
p50/p99, the server's CPU per request (from /proc/PID/task/*/stat, split by thread name:
tokio workers, sqlx's SQLite worker, the checkpointer...) and the machine's idle and iowait
shares. Usage (a release binary must exist; KP_BIN picks another, for A/B):

    RUNS=3 DUR=6 python3 bench/hub_profile.py
    PERF=dwarf RUNS=1 DUR=5 python3 bench/hub_profile.py    # also `perf record` the first run
    DB=/path/grown.db python3 bench/hub_profile.py         # start from a copy of that file

perf writes $WORK/perf.data (WORK defaults to a fresh temporary directory, printed).
"""
import os, sys, subprocess, shutil, tempfile, collections
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_bench as hb
BIN = os.environ.get("KP_BIN") or hb.BIN
DUR = int(os.environ.get("DUR", "8"))
PERF = os.environ.get("PERF")  # "g" or "dwarf"
DB = os.environ.get("DB")
work = os.environ.get("WORK") or tempfile.mkdtemp(prefix="kruispunt-profile-")
os.makedirs(work, exist_ok=True)
print(f"# work directory {work}")
db = os.path.join(work, "bench.db")
if DB:
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(DB + ext): shutil.copy(DB + ext, db + ext)
env = dict(os.environ, KRUISPUNT_DATABASE_URL=db, RUST_LOG="warn", KRUISPUNT_RATE_LIMIT_PER_SECOND="0")
if not DB:
    subprocess.run([BIN, "demo", "--persons", "50000", "--employers", "100"], env=env, check=True, stdout=subprocess.DEVNULL)
tok = subprocess.run([BIN, "admin", "token", "--institution", hb.INSTITUTION, "--ttl", "3600"], env=env, check=True, capture_output=True, text=True).stdout.strip()
script = hb.hub_script(db, work)
srv, base = hb.start_server(BIN, env, stderr=open(work + "/err.log", "w"))
# /proc/*/stat counts CPU time in clock ticks.
US_PER_TICK = 1e6 / os.sysconf("SC_CLK_TCK")
def threads(pid):
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            s = open(f"/proc/{pid}/task/{t}/stat").read()
            name = s[s.index("(")+1:s.rindex(")")]
            f = s[s.rindex(")")+2:].split()
            out[t] = (name, int(f[11]) + int(f[12]))
        except OSError: pass
    return out
def stat():
    f = open("/proc/stat").readline().split()[1:]
    v = list(map(int, f)); return sum(v), v[3], v[4]
def measure(name, path, hdr, lua, perf=False):
    t0 = threads(srv.pid); s0 = stat()
    p = None
    if perf:
        p = subprocess.Popen(["perf", "record", "-F", "999", "-p", str(srv.pid), "-o", work+"/perf.data"] + (["--call-graph", "dwarf"] if PERF=="dwarf" else ["-g"]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rps, p50, p99 = hb.wrk(base + path, DUR, 64, hdr, lua)
    if p: p.send_signal(2); p.wait()
    t1 = threads(srv.pid); s1 = stat()
    tot = s1[0]-s0[0]; idle = (s1[1]-s0[1])/tot; iow = (s1[2]-s0[2])/tot
    n = rps*DUR
    by = collections.Counter()
    for k,(nm,c) in t1.items():
        by[nm] += c - t0.get(k,(nm,0))[1]
    cpu = sum(by.values()) * US_PER_TICK / n
    print(f"{name}: {rps:,.0f}/s p50 {p50:.2f} p99 {p99:.2f}  server {cpu:.0f} us/req  idle {idle:.0%} iowait {iow:.0%}  " +
          " ".join(f"{k}={v * US_PER_TICK / n:.0f}" for k,v in by.most_common(6)))
    return rps
try:
    hdr = [f"Authorization: Bearer {tok}"]
    for i in range(int(os.environ.get("RUNS", "2"))):
        h = measure("health", "/health", [], None)
        m = measure("messages", "/hub/v1/messages", hdr, script, perf=bool(PERF) and i == 0)
        print(f"  ratio {m/h:.0%}")
finally:
    print("wal MB", os.path.getsize(db+"-wal")//1e6 if os.path.exists(db+"-wal") else 0)
    srv.terminate(); srv.wait()
