#!/usr/bin/env python3
"""API fuzzing with schemathesis (issue 6 §2).

Starts the release `kruispunt serve --demo` on a fresh SQLite store and runs schemathesis
against its `/openapi.json` once per kind of caller (anonymous, two institutions, an
employer, a citizen, the operator) with the demo tokens, bounded in examples and time.
Checks: no 5xx (`not_a_server_error`) and every answer matches the schema documented for
its status (`response_schema_conformance`). Afterwards the server must still answer and
`kruispunt audit verify` must pass.

schemathesis is installed from PyPI into a virtual environment (default
/tmp/kruispunt-schemathesis, or $KRUISPUNT_SCHEMATHESIS_VENV) on first use.

Usage:
    python3 tests/api-fuzz/run.py [--max-examples 25] [--max-time 30] [--seed N]
                                  [--bin PATH] [--no-build] [--only CPAS,ME]
Exit status 0 when no check failed.
"""
import argparse, http.client, json, os, re, shutil, socket, subprocess, sys, tempfile, time, venv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMATHESIS = "schemathesis==4.32.5"
CALLERS = ["anonymous", "CPAS", "ONEM", "EMPLOYER", "ME", "OPERATOR"]


def log(msg):
    print(f"[api-fuzz {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ensure_schemathesis():
    env_dir = os.environ.get("KRUISPUNT_SCHEMATHESIS_VENV", "/tmp/kruispunt-schemathesis")
    exe = os.path.join(env_dir, "bin", "schemathesis")
    if os.path.exists(exe):
        return exe
    log(f"installing {SCHEMATHESIS} into {env_dir}")
    venv.create(env_dir, with_pip=True)
    subprocess.run([os.path.join(env_dir, "bin", "pip"), "install", "-q", SCHEMATHESIS], check=True)
    return exe


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-examples", type=int, default=25)
    ap.add_argument("--max-time", type=int, default=30, help="seconds per caller")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--bin", default=None)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated callers (default: all)")
    args = ap.parse_args()
    if args.bin is None:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        args.bin = os.path.join(target, "release", "kruispunt")
        if not args.no_build:
            subprocess.run(["cargo", "build", "--release", "-q", "-p", "kruispunt"], cwd=ROOT, check=True)
    st = ensure_schemathesis()
    work = tempfile.mkdtemp(prefix="kruispunt-api-fuzz-")
    env = dict(os.environ, KRUISPUNT_DATABASE_URL=os.path.join(work, "fuzz.db"), RUST_LOG="warn",
               KRUISPUNT_RATE_LIMIT_PER_SECOND="0")
    port = free_port()
    out_path = os.path.join(work, "serve.out")
    server = subprocess.Popen([args.bin, "serve", "--demo", "--listen", f"127.0.0.1:{port}"], env=env,
                              stdout=open(out_path, "w"), stderr=open(os.path.join(work, "serve.err"), "w"))
    base = f"http://127.0.0.1:{port}"
    failed, totals = [], {"operations": 0, "cases": 0}
    try:
        for _ in range(600):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("the server did not start")
        time.sleep(0.5)
        tokens = dict(re.findall(r"^export (\w+)=(\S+)", open(out_path).read(), re.M))
        callers = args.only.split(",") if args.only else CALLERS
        for who in callers:
            cmd = [st, "run", f"{base}/openapi.json",
                   "--checks", "not_a_server_error,response_schema_conformance",
                   "--phases", "examples,coverage,fuzzing", "--max-examples", str(args.max_examples),
                   "--max-time", str(args.max_time), "-w", "1", "--no-color",
                   "--generation-database", "none"]
            if args.seed is not None:
                cmd += ["--seed", str(args.seed)]
            if who != "anonymous":
                cmd += ["-H", f"Authorization: Bearer {tokens[who]}"]
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
            text = r.stdout + r.stderr
            tested = re.search(r"Tested: (\d+)", text)
            cases = re.search(r"(\d+) generated", text)
            ops, n = int(tested.group(1)) if tested else 0, int(cases.group(1)) if cases else 0
            totals["operations"] = max(totals["operations"], ops)
            totals["cases"] += n
            summary = text.strip().splitlines()[-1] if text.strip() else "(no output)"
            log(f"{who}: {ops} operations, {n} test cases: {summary.strip('= ')}")
            if "=== FAILURES" in text:
                failed.append(who)
                print(text[text.find("=== FAILURES"):][:6000])
            elif "=== ERRORS" in text:
                errors = text[text.find("=== ERRORS"):]
                # A crash inside schemathesis itself ("Runtime Error") is not a finding about
                # the API; anything else (e.g. a connection error) is.
                if re.search(r"^(?!Runtime Error)[A-Z][a-z]+ Error$", errors, re.M) or "Runtime Error" not in errors:
                    failed.append(who)
                    print(errors[:6000])
                else:
                    log(f"{who}: schemathesis had an internal error on some operation (ignored)")
            elif r.returncode != 0:
                failed.append(who)
                print(text[-3000:])
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/health")
        if c.getresponse().status != 200:
            failed.append("server no longer healthy")
    finally:
        server.terminate()
        server.wait(timeout=30)
    v = subprocess.run([args.bin, "audit", "verify"], env=env, capture_output=True, text=True)
    if v.returncode != 0:
        failed.append(f"audit verify: {v.stdout}{v.stderr}")
    print(json.dumps({"result": "fail" if failed else "pass", "callers": len(callers), **totals,
                      "failed": failed}))
    if failed:
        log(f"FAIL: {failed}; logs in {work}")
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    log(f"PASS: {totals['operations']} operations x {len(callers)} callers, {totals['cases']} test cases, "
        "no 5xx, every answer as documented")


if __name__ == "__main__":
    main()
