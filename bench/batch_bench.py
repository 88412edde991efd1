#!/usr/bin/env python3
"""Batch channel benchmark: a Dimona file of N forms (default 10,000 DimonaIn for
distinct workers of one employer) sent to a release `kruispunt serve`, from this
separate process. Per run: time to the ACRF (the file is durable), time until the
NOTIFICATION is ready (every form processed) and fetched, forms/s; plus, in the
same run, the median round trip of the trivial endpoint (/health) for scale.
Reports medians of several runs. Usage:

    python3 bench/batch_bench.py [--runs 5] [--forms 10000] [--database URL]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time, urllib.request, urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import start_server  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# KP_BIN: a prebuilt binary (A/B comparisons of two builds), not rebuilt.
BIN = os.environ.get("KP_BIN") or os.path.join(ROOT, "target", "release", "kruispunt")

HEAD = ("<Identification>DIMONA</Identification><FormCreationDate>2026-11-29</FormCreationDate>"
        "<FormCreationHour>10:00:00.000</FormCreationHour><AttestationStatus>0</AttestationStatus><TypeForm>SU</TypeForm>")


def dimona_file(employer, ssins, day):
    forms = "".join(
        f"<Form>{HEAD}<DimonaIn><StartingDate>{day}</StartingDate><EndingDate>{day}</EndingDate>"
        f"<EmployerId><NOSSRegistrationNbr>{employer}</NOSSRegistrationNbr></EmployerId>"
        f"<NaturalPerson><INSS>{s}</INSS></NaturalPerson><DimonaFeatures><JointCommissionNbr>XXX</JointCommissionNbr>"
        f"<WorkerType>OTH</WorkerType></DimonaFeatures></DimonaIn></Form>\n" for s in ssins)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Dimona>\n{forms}</Dimona>\n'.encode()


def request(method, url, token=None, body=None):
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/xml")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--forms", type=int, default=10_000)
    ap.add_argument("--database", default=None, help="default: a fresh SQLite file")
    args = ap.parse_args()
    if not os.environ.get("KP_BIN"):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "kruispunt"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="kruispunt-batch-bench-")
    db = args.database or os.path.join(work, "bench.db")
    env = dict(os.environ, KRUISPUNT_DATABASE_URL=db, RUST_LOG="warn")
    subprocess.run([BIN, "demo", "--persons", str(max(50_000, args.forms * 2)), "--employers", "100"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    q_emp = "SELECT employer_id FROM employers WHERE active = 1 ORDER BY employer_id LIMIT 1"
    q_ssin = f"SELECT ssin FROM persons WHERE death_date IS NULL ORDER BY ssin LIMIT {args.forms}"
    if db.startswith("postgres"):
        run = lambda q: subprocess.run(["psql", db, "-At", "-c", q], check=True, capture_output=True, text=True).stdout.split()
        employer, ssins = int(run(q_emp)[0]), run(q_ssin)
    else:
        import sqlite3
        con = sqlite3.connect(db)
        employer = con.execute(q_emp).fetchone()[0]
        ssins = [r[0] for r in con.execute(q_ssin).fetchall()]
        con.close()
    token = subprocess.run([BIN, "admin", "token", "--employer", str(employer), "--ttl", "3600"], env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    server, base = start_server(BIN, env, stderr=open(os.environ.get("KP_BENCH_STDERR", os.devnull), "w"))
    acrf_ms, total_ms, health_ms = [], [], []
    fetch_ms = []  # the last GET: rendering and sending the NOTIFICATION
    try:
        for run in range(args.runs):
            # A different day per run: no overlap with the previous runs' periods.
            body = dimona_file(employer, ssins, f"2027-01-{run + 1:02d}")
            name = f"FI.DIMONA.{employer}.20261129.{run + 1:05d}.R.1.1"
            t0 = time.perf_counter()
            status, acrf = request("PUT", f"{base}/batch/v1/files/{name}", token, body)
            t1 = time.perf_counter()
            if status != 202 or b"<ResultCode>1</ResultCode>" not in acrf:
                sys.exit(f"file refused: {status} {acrf[:500]!r}")
            while True:
                tr = time.perf_counter()
                status, notification = request("GET", f"{base}/batch/v1/files/{name}/notification", token)
                if status == 200:
                    fetch_ms.append((time.perf_counter() - tr) * 1000)
                    break
                if status != 404:
                    sys.exit(f"notification: {status} {notification[:300]!r}")
                time.sleep(float(os.environ.get("KP_POLL", "0.02")))
            t2 = time.perf_counter()
            forms = notification.count(b"<HandlingResult>")
            accepted = notification.count(b"<ResultCode>1</ResultCode>")
            if forms != args.forms:
                sys.exit(f"the notification has {forms} forms, expected {args.forms}")
            samples = []
            for _ in range(200):
                h0 = time.perf_counter()
                urllib.request.urlopen(base + "/health", timeout=5).read()
                samples.append((time.perf_counter() - h0) * 1000)
            acrf_ms.append((t1 - t0) * 1000)
            total_ms.append((t2 - t0) * 1000)
            health_ms.append(statistics.median(samples))
            print(f"# run {run + 1}: {len(body) / 1e6:.1f} MB file, ACRF {acrf_ms[-1]:.0f} ms, NOTIFICATION "
                  f"{total_ms[-1]:.0f} ms ({len(notification) / 1e6:.1f} MB, {accepted} accepted of {forms})")
        store = "sqlite" if args.database is None else args.database.split(":")[0]
        a, t, h = statistics.median(acrf_ms), statistics.median(total_ms), statistics.median(health_ms)
        print(f"# {args.runs} runs, {args.forms} DimonaIn forms per file, release build, store {store}; medians")
        print(f"PUT /batch/v1/files (durable, positive ACRF): {a:,.0f} ms, {args.forms / a * 1000:,.0f} forms/s")
        print(f"file sent -> NOTIFICATION fetched: {t:,.0f} ms, {args.forms / t * 1000:,.0f} forms/s")
        print(f"  of which the last GET (render + transfer of the NOTIFICATION): {statistics.median(fetch_ms):,.0f} ms")
        print(f"GET /health round trip in the same runs: {h:.2f} ms")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
