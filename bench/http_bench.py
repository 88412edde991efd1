#!/usr/bin/env python3
"""HTTP benchmark of a release `kruispunt serve`, load from a separate process (wrk).

Measures, in the same run, the trivial endpoint (/health: no IO, the ceiling) and
each real endpoint, several runs each, and reports medians of throughput, p50 and
p99, plus the ratio to the ceiling. Usage:

    python3 bench/http_bench.py [--runs 3] [--duration 10] [--connections 64] [--database URL]
                                [--only TEXT] [--grow-audit SECONDS]

Needs `wrk` (Debian package). Builds the release binary first.
"""
import argparse, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# KP_BIN: a prebuilt binary to measure instead of building (A/B comparisons).
BIN = os.environ.get("KP_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "kruispunt")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def unit_ms(value, unit):
    v = float(value)
    return {"us": v / 1000, "ms": v, "s": v * 1000}[unit]


def wrk(url, seconds, connections, headers, script=None):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        cmd += ["-s", script]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict((p, unit_ms(v, u)) for p, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        sys.exit(f"{url}: {non2xx.group(1)} non-2xx answers; the benchmark would be meaningless")
    return rps, lat["50"], lat["99"]


INSTITUTION = "CPAS-LIEGE"


def start_server(binary, env, stderr=subprocess.DEVNULL):
    """`kruispunt serve` on a free port; returns the process and its base URL once
    /health answers (or after 10 s)."""
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    return server, base


def hub_script(db, work):
    """A wrk Lua script cycling through identification messages about every
    person the institution is integrated for (from the demo population)."""
    import datetime, sqlite3
    today = datetime.date.today().isoformat()
    # Persons the institution holds an active reference on, in a capacity it
    # is authorized to use as purpose: every message passes the check.
    query = (f"SELECT r.ssin, r.capacity FROM person_references r JOIN authorizations a "
             f"ON a.institution = r.institution AND a.service = 'identification' "
             f"AND a.purpose = CAST(r.capacity AS TEXT) AND a.revoked_at IS NULL "
             f"WHERE r.institution = '{INSTITUTION}' AND r.unregistered_at IS NULL "
             f"AND r.start_date <= '{today}' AND (r.end_date IS NULL OR r.end_date >= '{today}')")
    if db.startswith("postgres"):
        out = subprocess.run(["psql", db, "-At", "-F", ",", "-c",
                              query],
                             check=True, capture_output=True, text=True).stdout
        rows = [tuple(line.split(",")) for line in out.split()]
    else:
        con = sqlite3.connect(db)
        rows = con.execute(query).fetchall()
        con.close()
    if not rows:
        sys.exit("no integrated persons in the demo population")
    bodies = [json.dumps({"service": "identification", "ssin": s, "purpose": str(c)}) for s, c in rows]
    path = os.path.join(work, "messages.lua")
    with open(path, "w") as f:
        f.write("bodies = {\n" + ",\n".join("[==[" + b + "]==]" for b in bodies) + "\n}\n")
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                # Requests formatted once per thread: the load generator
                # shares the 2 cores with the server, and /health (the
                # ceiling) is sent from wrk's own pre-built request.
                "requests = {}\ninit = function(args)\n"
                "  for k, b in ipairs(bodies) do requests[k] = wrk.format(nil, nil, nil, b) end\nend\n"
                "i = 0\nrequest = function()\n  i = (i % #requests) + 1\n"
                "  return requests[i]\nend\n")
    print(f"# {len(bodies)} integrated persons for {INSTITUTION}")
    return path


def dimona_script(db, work, runs):
    """A wrk Lua script posting Dimona INs for many workers of one employer."""
    import sqlite3
    q_emp = "SELECT employer_id FROM employers WHERE active = 1 ORDER BY employer_id LIMIT 1"
    q_ssin = "SELECT ssin FROM persons WHERE death_date IS NULL ORDER BY ssin LIMIT 5000"
    if db.startswith("postgres"):
        run = lambda q: subprocess.run(["psql", db, "-At", "-c", q], check=True, capture_output=True, text=True).stdout.split()
        employer, ssins = int(run(q_emp)[0]), run(q_ssin)
    else:
        con = sqlite3.connect(db)
        employer = con.execute(q_emp).fetchone()[0]
        ssins = [r[0] for r in con.execute(q_ssin).fetchall()]
        con.close()
    # The date is filled in per request: each pass over the workers takes the
    # next day, and each run starts `day0` days further, so every IN is a new
    # one-day period (a period to write, not a duplicate or an overlap to
    # refuse: without an end date a period is open and the next day's IN
    # would overlap it).
    bodies = [json.dumps({"employer": {"employerId": employer}, "worker": {"ssin": s},
                          "dimonaIn": {"startDate": "@DATE@", "endDate": "@DATE@",
                                       "features": {"jointCommissionNumber": "XXX", "workerType": "OTH"}}})
              for s in ssins]
    paths = []
    for run in range(runs):
        path = os.path.join(work, f"dimona-{run}.lua")
        with open(path, "w") as f:
            f.write("bodies = {\n" + ",\n".join("[==[" + b + "]==]" for b in bodies) + "\n}\n")
            f.write(f"day0 = {run * 400}\n")
            # Each wrk thread runs its own copy of the script: the threads
            # take every other request number (`tid`), or they would send the
            # same declarations, and half would be refused as duplicates.
            f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    "base = os.time{year=2027, month=1, day=1, hour=12}\n"
                    "threads = 0\nfunction setup(thread)\n  thread:set('tid', threads)\n  threads = threads + 1\nend\n"
                    "tid = 0\ni = 0\nrequest = function()\n  i = i + 1\n"
                    "  local k = (i - 1) * 2 + tid\n"
                    "  local n = (k % #bodies) + 1\n"
                    "  local day = os.date('%Y-%m-%d', base + (day0 + math.floor(k / #bodies)) * 86400)\n"
                    "  return wrk.format(nil, nil, nil, (bodies[n]:gsub('@DATE@', day)))\nend\n")
        paths.append(path)
    return employer, paths


def dimona_results(db, since_ms):
    """How the benchmark's declarations ended: {result: count}, so a load that is
    mostly refused (duplicates, overlaps) shows up instead of passing for throughput."""
    q = f"SELECT result, COUNT(*) FROM dimona_declarations WHERE received_at >= {since_ms} GROUP BY result ORDER BY result"
    if db.startswith("postgres"):
        out = subprocess.run(["psql", db, "-At", "-F", " ", "-c", q], check=True, capture_output=True, text=True).stdout
        return {r.split()[0]: int(r.split()[1]) for r in out.splitlines() if r.strip()}
    import sqlite3
    con = sqlite3.connect(db)
    try:
        return {r[0]: r[1] for r in con.execute(q).fetchall()}
    finally:
        con.close()


def processing_lag(db, since_ms):
    """Waits until every declaration is processed; returns (count, p50, p99,
    max) of processed_at - received_at in ms, and the seconds waited."""
    started = time.time()
    q_left = "SELECT COUNT(*) FROM dimona_declarations WHERE processed_at IS NULL"
    q_lag = f"SELECT processed_at - received_at FROM dimona_declarations WHERE received_at >= {since_ms}"
    if db.startswith("postgres"):
        run = lambda q: subprocess.run(["psql", db, "-At", "-c", q], check=True, capture_output=True, text=True).stdout.split()
    else:
        import sqlite3
        def run(q):
            con = sqlite3.connect(db)
            try:
                return [str(r[0]) for r in con.execute(q).fetchall()]
            finally:
                con.close()
    while int(run(q_left)[0]) > 0 and time.time() - started < 600:
        time.sleep(0.2)
    lags = sorted(int(x) for x in run(q_lag))
    if not lags:
        return 0, 0, 0, 0, time.time() - started
    pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]
    return len(lags), pick(0.5), pick(0.99), lags[-1], time.time() - started


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--database", default=None, help="default: a fresh SQLite file")
    ap.add_argument("--rate-limit", type=int, default=0,
                    help="per-client requests/s (default 0: off, the load is one client)")
    ap.add_argument("--grow-audit", type=int, default=0, metavar="SECONDS",
                    help="first post hub messages for this long, unmeasured, so that the audit log "
                         "has grown (its per-person index then costs what it costs in service)")
    ap.add_argument("--only", default=None,
                    help="measure only targets whose name contains this text (the ceiling always runs)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    if not os.environ.get("KP_BIN"):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "kruispunt"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="kruispunt-bench-")
    db = args.database or os.path.join(work, "bench.db")
    # One client (one token, one IP) measures the server's ceiling: no per-client limit.
    env = dict(os.environ, KRUISPUNT_DATABASE_URL=db, RUST_LOG="warn", KRUISPUNT_RATE_LIMIT_PER_SECOND=str(args.rate_limit))
    subprocess.run([BIN, "demo", "--persons", "50000", "--employers", "100"], env=env, check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run([BIN, "admin", "token", "--operator", "--ttl", "3600"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    hub_token = subprocess.run([BIN, "admin", "token", "--institution", INSTITUTION, "--ttl", "3600"], env=env,
                               check=True, capture_output=True, text=True).stdout.strip()
    script = hub_script(db, work)
    employer, dimona = dimona_script(db, work, args.runs)
    employer_token = subprocess.run([BIN, "admin", "token", "--employer", str(employer), "--ttl", "3600"], env=env,
                                    check=True, capture_output=True, text=True).stdout.strip()
    server, base = start_server(BIN, env)
    try:
        targets = [
            ("GET /health (trivial ceiling)", "/health", []),
            ("GET /api/v1/whoami (token verification)", "/api/v1/whoami", [f"Authorization: Bearer {token}"]),
            ("GET /health/ready (store round trip)", "/health/ready", []),
            ("POST /hub/v1/messages identification (check + routing + durable audit)", "/hub/v1/messages",
             [f"Authorization: Bearer {hub_token}"], script),
            ("POST /REST/dimona/v2/declarations IN (durable 201)", "/REST/dimona/v2/declarations",
             [f"Authorization: Bearer {employer_token}"], dimona),
        ]
        targets = [t if len(t) == 4 else (*t, None) for t in targets]
        if args.only:
            targets = targets[:1] + [t for t in targets[1:] if args.only in t[0]]
        results = {t[0]: [] for t in targets}
        if args.grow_audit:
            rps, _, _ = wrk(base + "/hub/v1/messages", args.grow_audit, args.connections,
                            [f"Authorization: Bearer {hub_token}"], script)
            print(f"# audit log grown by about {rps * args.grow_audit:,.0f} entries first")
        # Read-side targets interleaved (same noise for all); Dimona last,
        # since its declarations leave a processing backlog that would load
        # whatever runs after it.
        reads = [t for t in targets if "dimona" not in t[1]]
        writes = [t for t in targets if "dimona" in t[1]]
        for _ in range(args.runs):
            for name, path, headers, lua in reads:
                results[name].append(wrk(base + path, args.duration, args.connections, headers, lua))
        since = int(time.time() * 1000)
        for run in range(args.runs):
            for name, path, headers, luas in writes:
                results[name].append(wrk(base + path, args.duration, args.connections, headers, luas[run]))
        lag = processing_lag(db, since) if writes else None
        ceiling = statistics.median(r[0] for r in results[targets[0][0]])
        print(f"# {args.runs} runs x {args.duration} s, {args.connections} connections, wrk -t2, release build, "
              f"store {'sqlite' if args.database is None else args.database.split(':')[0]}; medians")
        for name, *_ in targets:
            rps = statistics.median(r[0] for r in results[name])
            p50 = statistics.median(r[1] for r in results[name])
            p99 = statistics.median(r[2] for r in results[name])
            print(f"{name}: {rps:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms, {rps / ceiling:.0%} of ceiling")
        if lag is None:
            return
        n, l50, l99, lmax, waited = lag
        results = dimona_results(db, since)
        print("Dimona results: " + ", ".join(f"{k} {v:,}" for k, v in results.items())
              + " (A accepted, W accepted with warnings, B refused, S identification pending)")
        print(f"Dimona processing lag (received -> processed, {n:,} declarations of the Dimona runs): "
              f"p50 {l50} ms, p99 {l99} ms, max {lmax} ms; backlog drained {waited:.1f} s after the last run")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
