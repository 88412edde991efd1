#!/usr/bin/env python3
"""Crash-consistency harness for kruispunt (issue 6 §1). Python 3 standard library only.

Runs the release `kruispunt serve` on a store (a fresh SQLite file, or a fresh PostgreSQL
database), drives Dimona IN declarations (employer token) and hub `identification`
messages (institution token) from several concurrent clients, kills the server with
SIGKILL at a random moment, restarts it on the same store, and repeats. After each crash
`kruispunt audit verify` must pass; at the end it checks that

  * every declaration answered 201 is present and gets processed (GET 200 with a result),
  * every declaration accepted (A/W) has its period in the personnel file, and no
    (worker, start, end) has more than one period, although declarations whose answer was
    lost in a crash are sent again (at-least-once from the client's side),
  * every hub message answered (200 or 403) has its audit entry: its ticket is in the
    person's access log (read with the operator token),
  * the notification feeds of the demo institutions (CPAS-LIEGE, ONEM) hold each
    employment change once: no two items with the same cursor or the same payload,
  * the audit chain verifies,
  * with --nats URL: every notification of those feeds was published to NATS JetStream at
    least once, under its message id (Nats-Msg-Id <institution>-<cursor>) and subject, with
    the feed's payload (read back with a JetStream pull consumer on a stream of this run's
    own, deleted at the end).

Usage:
    python3 tests/crash/crash.py [--cycles 6] [--clients 4] [--seed N] [--budget 120] [--nodes 2]
                                 [--database postgres://postgres@127.0.0.1:5432]
                                 [--nats nats://127.0.0.1:4222] [--bin PATH] [--no-build]

With --database postgres://…/ (a server URL) a database kp_crash_<random> is created
there and dropped at the end. With --nodes 2 (PostgreSQL), two `serve` processes share the
database, the clients are spread over both, and each cycle kills one of them while the
other goes on under load: the same checks then show that the two nodes' Dimona workers
never process a declaration twice and that the audit chain stays one. Exit status 0 when every check passes, 1 otherwise.
"""
import argparse, datetime, http.client, http.server, json, os, random, re, shutil, signal, socket, sqlite3
import subprocess, sys, tempfile, threading, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def log(msg):
    print(f"[crash {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Failure(Exception):
    pass


# ---------------------------------------------------------------- the server


class Server:
    def __init__(self, binary, env, workdir, name="n0"):
        self.binary, self.env, self.workdir, self.name = binary, env, workdir, name
        self.proc, self.port, self.starts = None, None, 0

    def start(self, demo=False):
        self.port = free_port()
        args = [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}"] + (["--demo"] if demo else [])
        self.starts += 1
        self.stdout_path = os.path.join(self.workdir, f"serve-{self.name}-{self.starts}.out")
        self.stderr = open(os.path.join(self.workdir, f"serve-{self.name}-{self.starts}.err"), "w")
        self.proc = subprocess.Popen(args, env=self.env, stdout=open(self.stdout_path, "w"), stderr=self.stderr)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"serve exited with {self.proc.returncode}; see {self.stderr.name}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    c.close()
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise Failure("serve did not answer /health within 60 s")

    def output(self):
        with open(self.stdout_path) as f:
            return f.read()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- webhooks


class WebhookReceiver:
    """Records every webhook POST by Idempotency-Key; refuses one in ten with 503 so that
    the hub's retries are exercised too."""

    def __init__(self, seed):
        self.lock, self.deliveries, self.refused = threading.Lock(), {}, 0
        rng, receiver = random.Random(seed), self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                signed = bool(self.headers.get("Kruispunt-Signature"))
                with receiver.lock:
                    refuse = rng.random() < 0.1
                    if refuse:
                        receiver.refused += 1
                    else:
                        receiver.deliveries.setdefault(key, []).append((body, signed))
                self.send_response(503 if refuse else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            # socketserver's default listen backlog is 5: the hub posts up to 32
            # deliveries at once, the SYNs beyond the backlog were dropped and
            # retried by the kernel (1 s, 3 s, ...), and whole delivery passes
            # waited for POSTs that timed out (10 s), which no real receiver does.
            request_queue_size = 128

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


# ---------------------------------------------------------------- NATS


class Nats:
    """Just enough of the NATS text protocol (INFO, CONNECT, PING/PONG, SUB, PUB, MSG,
    HMSG) for JetStream's request/reply API: stream info and delete, and a pull consumer."""

    def __init__(self, url, timeout=5.0):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 4222), timeout=timeout)
        self.buf, self.n = b"", 0
        line = self._line()
        if not line.startswith(b"INFO "):
            raise Failure(f"NATS at {url}: no INFO line")
        if not json.loads(line[5:]).get("jetstream"):
            raise Failure(f"NATS at {url} has no JetStream")
        self.inbox = f"_INBOX.kpcrash{random.SystemRandom().randrange(16**12):012x}"
        self._send(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,'
                   b'"lang":"python","version":"crash.py"}\r\n' + f"SUB {self.inbox}.> 1\r\nPING\r\n".encode())
        while self.message(time.time() + timeout) != "PONG":
            pass

    def _send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not chunk:
            raise Failure("NATS closed the connection")
        self.buf += chunk
        return True

    def _line(self, deadline=None):
        deadline = deadline or time.time() + 5
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n, deadline):
        while len(self.buf) < n + 2:
            if not self._fill(deadline + 5):
                raise Failure("NATS: truncated message")
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def message(self, deadline):
        """The next protocol message: "PONG", None on timeout, or a dict with subject,
        reply, status (e.g. "404"), headers and data."""
        while True:
            line = self._line(deadline)
            if line is None:
                return None
            op, _, rest = line.partition(b" ")
            if op == b"PING":
                self._send(b"PONG\r\n")
            elif op == b"PONG":
                return "PONG"
            elif op == b"-ERR":
                raise Failure(f"NATS: {line.decode(errors='replace')}")
            elif op in (b"MSG", b"HMSG"):
                parts = rest.decode().split()
                subject, reply = parts[0], (parts[2] if len(parts) == (5 if op == b"HMSG" else 4) else None)
                raw = self._take(int(parts[-1]), deadline)
                hsize = int(parts[-2]) if op == b"HMSG" else 0
                head, data = raw[:hsize].decode(errors="replace"), raw[hsize:]
                lines = head.split("\r\n")
                status = lines[0].split()[1] if op == b"HMSG" and len(lines[0].split()) > 1 else None
                headers = {}
                for h in lines[1:]:
                    if ":" in h:
                        k, v = h.split(":", 1)
                        headers[k.strip()] = v.strip()
                return {"subject": subject, "reply": reply, "status": status, "headers": headers, "data": data}

    def publish(self, subject, data=b"", reply=None):
        self._send(f"PUB {subject} {reply + ' ' if reply else ''}{len(data)}\r\n".encode() + data + b"\r\n")

    def request(self, subject, body, timeout=5.0):
        self.n += 1
        reply = f"{self.inbox}.r{self.n}"
        self.publish(subject, json.dumps(body).encode(), reply)
        deadline = time.time() + timeout
        while True:
            m = self.message(deadline)
            if m is None:
                raise Failure(f"NATS: no answer to {subject}")
            if isinstance(m, dict) and m["subject"] == reply:
                if m["status"] == "503":
                    raise Failure(f"NATS: no responder for {subject} (JetStream off?)")
                answer = json.loads(m["data"] or b"{}")
                if "error" in answer:
                    raise Failure(f"NATS {subject}: {answer['error']}")
                return answer

    def consumer(self, stream):
        """An ephemeral pull consumer on the whole stream, from its first message."""
        answer = self.request(f"$JS.API.CONSUMER.CREATE.{stream}", {
            "stream_name": stream,
            "config": {"deliver_policy": "all", "ack_policy": "explicit", "inactive_threshold": 120 * 10**9}})
        return answer["name"]

    def fetch(self, stream, consumer, batch=256):
        """Up to `batch` messages now (no waiting); each is acknowledged."""
        self.n += 1
        reply = f"{self.inbox}.f{self.n}"
        self.publish(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}",
                     json.dumps({"batch": batch, "no_wait": True}).encode(), reply)
        out, deadline = [], time.time() + 5
        while len(out) < batch:
            m = self.message(deadline)
            if m is None:
                break
            if not isinstance(m, dict):
                continue
            # Status answers (404 no messages, 408 expired) come on the request's reply
            # subject; the stream's messages keep their own subject, with an ack subject.
            if m["subject"] == reply and m["status"] is not None:
                break
            if not (m["reply"] or "").startswith("$JS.ACK."):
                continue
            out.append(m)
            if m["reply"]:
                self.publish(m["reply"])  # ack
        return out

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- HTTP


class Client:
    """One keep-alive connection; any transport error means "no answer"."""

    def __init__(self, port, token):
        self.port, self.token, self.conn = port, token, None

    def request(self, method, path, body=None, timeout=10):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            res = self.conn.getresponse()
            raw = res.read()
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = None
            return res.status, dict(res.getheaders()), payload
        except (OSError, http.client.HTTPException):
            self.close()
            return None, {}, None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------- state


class Ledger:
    """What the clients were told, shared by the threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.declarations = {}  # (ssin, day) -> {"ids": [declarationId…], "unanswered": n}
        self.doubtful = []  # (ssin, day) whose POST got no answer: sent again later
        self.messages = {}  # ticket -> (ssin, status)
        self.messages_unanswered = 0
        self.message_seconds = []  # latency of each answered message
        self.other_answers = {}  # status -> count (neither success nor expected refusal)

    def other(self, what, status):
        with self.lock:
            key = f"{what} {status}"
            self.other_answers[key] = self.other_answers.get(key, 0) + 1


def dimona_body(employer, ssin, day):
    return {"employer": {"employerId": employer}, "worker": {"ssin": ssin},
            "dimonaIn": {"startDate": day, "endDate": day,
                         "features": {"jointCommissionNumber": "XXX", "workerType": "OTH"}}}


def declare(client, ledger, employer, key):
    ssin, day = key
    status, headers, body = client.request("POST", "/REST/dimona/v2/declarations", dimona_body(employer, ssin, day))
    with ledger.lock:
        entry = ledger.declarations.setdefault(key, {"ids": [], "unanswered": 0})
        if status == 201:
            location = headers.get("Location") or headers.get("location") or ""
            entry["ids"].append(location.rsplit("/", 1)[-1])
        elif status is None:
            entry["unanswered"] += 1
            ledger.doubtful.append(key)
    if status not in (201, None):
        ledger.other("dimona", status)
    return status


def message(client, ledger, ssin):
    t0 = time.monotonic()
    status, _, body = client.request("POST", "/hub/v1/messages",
                                     {"service": "identification", "ssin": ssin, "purpose": "2"})
    if status in (200, 403) and isinstance(body, dict) and body.get("ticket"):
        with ledger.lock:
            ledger.messages[body["ticket"]] = (ssin, status)
            ledger.message_seconds.append(time.monotonic() - t0)
    elif status is None:
        with ledger.lock:
            ledger.messages_unanswered += 1
    else:
        ledger.other("hub", status)
    return status


# ---------------------------------------------------------------- the run


def store_exec(database, statement):
    if database.startswith("postgres"):
        subprocess.run(["psql", database, "-qc", statement], check=True, capture_output=True)
        return
    con = sqlite3.connect(database)
    try:
        con.execute(statement)
        con.commit()
    finally:
        con.close()


def store_rows(database, query):
    if database.startswith("postgres"):
        out = subprocess.run(["psql", database, "-At", "-F", "|", "-c", query], check=True,
                             capture_output=True, text=True).stdout
        return [tuple(line.split("|")) for line in out.splitlines() if line]
    con = sqlite3.connect(database)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def parse_demo(output):
    env = dict(re.findall(r"^export (\w+)=(\S+)", output, re.M))
    m = re.search(r"^export EMPLOYER=\S+\s+# employer (\d+)", output, re.M)
    if not m or not {"CPAS", "EMPLOYER", "OPERATOR"} <= env.keys():
        raise Failure("serve --demo did not print the demo tokens:\n" + output)
    return env, int(m.group(1))


def audit_verify(binary, env):
    r = subprocess.run([binary, "audit", "verify"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"audit verify failed after a crash: {r.stdout}{r.stderr}")
    m = re.search(r"(\d+) entries", r.stdout)
    return int(m.group(1)) if m else 0


def run(args):
    rng = random.Random(args.seed)
    started = time.time()
    binary = args.bin
    workdir = tempfile.mkdtemp(prefix="kruispunt-crash-")
    database, dropdb = args.database, None
    if database and database.startswith("postgres"):
        base = database.rstrip("/")
        if base.count("/") > 2:  # a database is named: use the server, our own database
            base = base.rsplit("/", 1)[0]
        name = f"kp_crash_{rng.randrange(16**8):08x}"
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
        database, dropdb = f"{base}/{name}", (f"{base}/postgres", name)
    elif not database:
        database = os.path.join(workdir, "crash.db")
    env = dict(os.environ, KRUISPUNT_DATABASE_URL=database, RUST_LOG="warn",
               KRUISPUNT_RATE_LIMIT_PER_SECOND="0")
    for k in ("KRUISPUNT_NATS_URL", "KRUISPUNT_NATS_SUBJECT_PREFIX", "KRUISPUNT_NATS_STREAM"):
        env.pop(k, None)
    if args.nats:
        # A stream and subjects of this run's own: message ids repeat across stores.
        unique = f"{random.SystemRandom().randrange(16**10):010x}"
        args.nats_prefix, args.nats_stream = f"kpcrash{unique}", f"KPCRASH_{unique}"
        env.update(KRUISPUNT_NATS_URL=args.nats, KRUISPUNT_NATS_SUBJECT_PREFIX=args.nats_prefix,
                   KRUISPUNT_NATS_STREAM=args.nats_stream)
    servers = [Server(binary, env, workdir, f"n{i}") for i in range(args.nodes)]
    server = servers[0]
    ledger = Ledger()
    figures = {"cycles": 0, "audit_entries": 0}
    try:
        server.start(demo=True)
        tokens, employer = parse_demo(server.output())
        # The operator gives the two demo institutions a webhook (as `institution add
        # --webhook` would): every notification is then also POSTed, at least once.
        hooks = WebhookReceiver(rng.random())
        store_exec(database, f"UPDATE institutions SET webhook_url = '{hooks.url}' "
                             "WHERE code IN ('CPAS-LIEGE', 'ONEM')")
        for other in servers[1:]:
            other.start()
        today = datetime.date.today().isoformat()
        # Persons CPAS-LIEGE may ask about (200) and others (403 not-integrated).
        integrated = [r[0] for r in store_rows(database, (
            "SELECT r.ssin FROM person_references r WHERE r.institution = 'CPAS-LIEGE' "
            f"AND r.capacity = 2 AND r.unregistered_at IS NULL AND r.start_date <= '{today}' "
            f"AND (r.end_date IS NULL OR r.end_date >= '{today}') ORDER BY r.ssin"))]
        everyone = [r[0] for r in store_rows(database, "SELECT ssin FROM persons WHERE death_date IS NULL ORDER BY ssin")]
        if not integrated or not everyone:
            raise Failure("the demo population has no usable persons")
        askable = integrated[:40] + rng.sample(everyone, min(40, len(everyone)))
        workers = rng.sample(everyone, min(300, len(everyone)))
        log(f"store {database.split('@')[-1]}; employer {employer}; {len(integrated)} integrated persons")
        # Declaration keys: one-day periods, distinct (worker, day), in the future.
        first_day = datetime.date.today() + datetime.timedelta(days=7)
        keys = [(w, (first_day + datetime.timedelta(days=d)).isoformat())
                for d in range(100) for w in workers]
        rng.shuffle(keys)
        next_key = iter(keys)
        key_lock = threading.Lock()

        def take_key():
            with key_lock:
                return next(next_key, None)

        for cycle in range(1, args.cycles + 1):
            stop = threading.Event()

            def dimona_client(port):
                c = Client(port, tokens["EMPLOYER"])
                while not stop.is_set():
                    key = take_key()
                    if key is None or declare(c, ledger, employer, key) is None:
                        break
                c.close()

            def hub_client(port, seed):
                r = random.Random(seed)
                c = Client(port, tokens["CPAS"])
                while not stop.is_set():
                    if message(c, ledger, r.choice(askable)) is None:
                        break
                c.close()

            # Declarations whose answer was lost are sent again, as a payroll package would.
            with ledger.lock:
                resend, ledger.doubtful = ledger.doubtful, []
                # …and a few that were acknowledged, as a client that missed the
                # answer (a proxy timeout) would: they must not make a second period.
                acked = [k for k, e in ledger.declarations.items() if e["ids"]]
                resend += rng.sample(acked, min(5, len(acked)))
            if resend:
                c = Client(server.port, tokens["EMPLOYER"])
                for key in resend:
                    declare(c, ledger, employer, key)
                c.close()
            # Clients spread over the nodes, so each node is loaded from its side.
            threads = [threading.Thread(target=dimona_client, args=(servers[i % len(servers)].port,))
                       for i in range(args.clients)]
            threads += [threading.Thread(target=hub_client, args=(servers[i % len(servers)].port, rng.random()))
                        for i in range(args.clients)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.3, 2.5))
            victim = rng.choice(servers)
            victim.kill9()
            if len(servers) > 1:
                # The other node goes on under load for a while, alone.
                time.sleep(rng.uniform(0.5, 1.5))
            stop.set()
            for t in threads:
                t.join(timeout=30)
            figures["cycles"] = cycle
            figures["audit_entries"] = audit_verify(binary, env)
            with ledger.lock:
                acked = sum(len(e["ids"]) for e in ledger.declarations.values())
                log(f"cycle {cycle}: killed {victim.name}; {acked} declarations acknowledged, {len(ledger.messages)} messages "
                    f"answered so far; audit chain intact ({figures['audit_entries']} entries)")
            victim.start()
            if time.time() - started > args.budget * 0.6:
                log("time budget: no more cycles")
                break

        # Last round: what was in doubt, sent once more, on a running server.
        with ledger.lock:
            resend, ledger.doubtful = ledger.doubtful, []
        c = Client(server.port, tokens["EMPLOYER"])
        for key in resend:
            declare(c, ledger, employer, key)
        c.close()
        check(server, tokens, employer, ledger, figures, args, started, hooks)
        for s in servers:
            s.stop()
        figures["nodes"] = len(servers)
        figures["audit_entries"] = audit_verify(binary, env)
        figures["seconds"] = round(time.time() - started, 1)
        print(json.dumps({"result": "pass", **figures}))
        log(f"PASS in {figures['seconds']} s: {figures['cycles']} kill -9 cycles on {len(servers)} node(s), "
            f"{figures['declarations_checked']} acknowledged declarations checked ({figures['accepted']} periods, "
            f"{figures['resent']} sent again after a lost answer, "
            f"{figures['declared_twice']} worker-days acknowledged twice and accepted once), {figures['messages_checked']} answered messages "
            f"found in the access logs (p50 {figures['message_p50_ms']} ms, max {figures['message_max_ms']} ms), "
            f"{figures['notifications_checked']} notifications without duplicates, each delivered to its webhook "
            f"({figures['webhook_posts']} POSTs for {figures['webhook_keys']} idempotency keys, "
            f"{figures['webhook_refused_by_receiver']} refused and retried), "
            f"audit chain of {figures['audit_entries']} entries verified"
            + (f"; NATS: all {figures['nats_ids_checked']} published ({figures['nats_stream_messages']} messages "
               f"in the run's stream, {figures['nats_ids_kept_twice']} ids kept twice)" if args.nats else ""))
        return 0
    except Failure as f:
        log(f"FAIL: {f}")
        log(f"server logs kept in {workdir}")
        workdir = None
        return 1
    finally:
        for s in servers:
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
        if dropdb:
            subprocess.run(["psql", dropdb[0], "-qc", f"DROP DATABASE IF EXISTS {dropdb[1]}"])
        if args.nats:
            try:
                n = Nats(args.nats)
                n.request(f"$JS.API.STREAM.DELETE.{args.nats_stream}", {})
                n.close()
            except (OSError, Failure) as e:
                log(f"could not delete the NATS stream {args.nats_stream}: {e}")
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def check(server, tokens, employer, ledger, figures, args, started, hooks):
    problems = []
    emp = Client(server.port, tokens["EMPLOYER"])
    op = Client(server.port, tokens["OPERATOR"])
    # 1. Every acknowledged declaration is there and gets processed.
    pending = {i: key for key, e in ledger.declarations.items() for i in e["ids"]}
    results, deadline = {}, time.time() + max(30.0, args.budget - (time.time() - started))
    while pending and time.time() < deadline:
        for i in list(pending):
            status, _, body = emp.request("GET", f"/REST/dimona/v2/declarations/{i}")
            if status == 200:
                results[i] = body["declarationStatus"]
                del pending[i]
            elif status == 404 and isinstance(body, dict) and body.get("error", {}).get("code") == "not_processed_yet":
                continue
            else:
                problems.append(f"declaration {i} acknowledged with 201 but answers {status} {body}")
                del pending[i]
        if pending:
            time.sleep(0.2)
    for i in pending:
        problems.append(f"declaration {i} acknowledged with 201 was not processed in time")
    # 2. Personnel file: accepted declarations have their period; no duplicates.
    periods, after = [], None
    while True:
        q = f"/REST/dimona/v2/periods?employerId={employer}&limit=1000" + (f"&after={after}" if after else "")
        status, _, body = emp.request("GET", q)
        if status != 200:
            raise Failure(f"personnel file: {status} {body}")
        periods += body["items"]
        if len(body["items"]) < 1000:
            break
        after = body["next"]
    by_key = {}
    for p in periods:
        by_key.setdefault((p["ssin"], p["startDate"], p.get("endDate")), []).append(p)
    for k, ps in by_key.items():
        if len(ps) > 1:
            problems.append(f"{len(ps)} periods for one worker and day {k[1]}: {[p['periodId'] for p in ps]}")
    period_ids = {p["periodId"] for p in periods}
    accepted = 0
    for i, st in results.items():
        if st.get("result") in ("A", "W"):
            accepted += 1
            pid = (st.get("period") or {}).get("id")
            if pid is None or pid not in period_ids:
                problems.append(f"declaration {i} accepted but its period {pid} is not in the personnel file")
        elif st.get("result") not in ("B", "S"):
            problems.append(f"declaration {i}: unexpected result {st}")
    # A worker-day declared twice (answer lost, sent again) has one period and the
    # other declaration refused as a duplicate.
    for key, e in ledger.declarations.items():
        ok = [i for i in e["ids"] if results.get(i, {}).get("result") in ("A", "W")]
        if len(ok) > 1:
            problems.append(f"worker-day {key[1]} accepted {len(ok)} times: {ok}")
    # 3. Every answered message has its audit entry in the person's access log.
    by_person = {}
    for ticket, (ssin, _) in ledger.messages.items():
        by_person.setdefault(ssin, set()).add(ticket)
    for ssin, tickets in by_person.items():
        status, _, body = op.request("GET", f"/hub/v1/persons/{ssin}/access-log")
        if status != 200:
            raise Failure(f"access log: {status} {body}")
        logged = {item["ticket"] for item in body["items"]}
        for t in sorted(tickets - logged):
            problems.append(f"message {t} was answered but has no audit entry")
    # 4. Notifications: each change once per entitled institution, in the feed and
    # POSTed to the webhook at least once, always under the same idempotency key.
    notifications, expected_keys = 0, set()
    for who, code in (("CPAS", "CPAS-LIEGE"), ("ONEM", "ONEM")):
        c = Client(server.port, tokens[who])
        seen_cursors, seen_payloads, after = set(), {}, 0
        while True:
            status, _, body = c.request("GET", f"/hub/v1/notifications?after={after}&limit=1000")
            if status != 200:
                raise Failure(f"notification feed of {who}: {status} {body}")
            for item in body["items"]:
                if item["cursor"] in seen_cursors:
                    problems.append(f"{who}: cursor {item['cursor']} twice in the feed")
                seen_cursors.add(item["cursor"])
                payload = json.dumps([item["kind"], item["ssin"], item["data"]], sort_keys=True)
                if payload in seen_payloads:
                    problems.append(f"{who}: the same {item['kind']} notified twice "
                                    f"(cursors {seen_payloads[payload]} and {item['cursor']})")
                seen_payloads[payload] = item["cursor"]
                expected_keys.add((f"{code}-{item['cursor']}", payload))
            if not body["items"] or body.get("next") in (None, after):
                break
            after = body["next"]
        notifications += len(seen_cursors)
        c.close()
    # At least 60 s: the receiver refuses one POST in ten, and the hub backs off 1, 2, 4,
    # 8, 16 s between attempts, so with ~1,000 deliveries one refused four or five times
    # in a row (15-31 s of backoff) is likely in some run; and after the last kill the
    # deliveries the killed node had leased wait for their 30 s lease to expire.
    deadline = time.time() + max(60.0, args.budget - (time.time() - started))
    while time.time() < deadline:
        with hooks.lock:
            missing = [k for k, _ in expected_keys if k not in hooks.deliveries]
        if not missing:
            break
        time.sleep(0.5)
    with hooks.lock:
        deliveries = {k: list(v) for k, v in hooks.deliveries.items()}
        refused = hooks.refused
    for key, payload in sorted(expected_keys):
        got = deliveries.get(key)
        if not got:
            problems.append(f"notification {key} was never delivered to its webhook")
            continue
        for body, signed in got:
            item = json.loads(body)
            if json.dumps([item["kind"], item["ssin"], item["data"]], sort_keys=True) != payload:
                problems.append(f"webhook {key} delivered a different payload than the feed")
            if not signed:
                problems.append(f"webhook {key} delivered without Kruispunt-Signature")
    unexpected = set(deliveries) - {k for k, _ in expected_keys}
    if unexpected:
        problems.append(f"{len(unexpected)} webhook deliveries for no feed item, e.g. {sorted(unexpected)[:3]}")
    if args.nats:
        check_nats(args, expected_keys, problems, figures, deadline)
    figures.update(webhook_keys=len(deliveries),
                   webhook_posts=sum(len(v) for v in deliveries.values()) + refused,
                   webhook_refused_by_receiver=refused)
    emp.close()
    op.close()
    lat = sorted(ledger.message_seconds)
    refused = {}
    for st in results.values():
        if st.get("result") == "B":
            for a in st.get("anomalies") or []:
                refused[a.get("errorId")] = refused.get(a.get("errorId"), 0) + 1
    figures.update(
        notifications_checked=notifications,
        refused_anomalies=refused,
        message_p50_ms=round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        message_max_ms=round(lat[-1] * 1000, 1) if lat else None,
        declarations_checked=len(results) + len(pending),
        accepted=accepted,
        resent=sum(e["unanswered"] for e in ledger.declarations.values()),
        declared_twice=sum(1 for e in ledger.declarations.values() if len(e["ids"]) > 1),
        messages_checked=len(ledger.messages),
        messages_unanswered=ledger.messages_unanswered,
        unexpected_answers=ledger.other_answers,
    )
    if ledger.other_answers:
        log(f"answers other than 201/200/403: {ledger.other_answers}")
    if problems:
        raise Failure(f"{len(problems)} problems:\n  " + "\n  ".join(problems[:50]))


def check_nats(args, expected_keys, problems, figures, deadline):
    """Every feed item published to JetStream at least once: its message id
    (<institution>-<cursor>, as the hub sets Nats-Msg-Id), on <prefix>.<institution>,
    with the feed's payload; and nothing published for those institutions that is not in
    their feeds. Publication is asynchronous, so the consumer reads until the deadline."""
    expected = dict(expected_keys)
    watched = {f"{args.nats_prefix}.{k.rsplit('-', 1)[0]}" for k in expected}
    n = Nats(args.nats)
    try:
        consumer = n.consumer(args.nats_stream)
        got, read = {}, 0
        while True:
            batch = n.fetch(args.nats_stream, consumer)
            read += len(batch)
            for m in batch:
                key = m["headers"].get("Nats-Msg-Id", "")
                got.setdefault(key, []).append((m["subject"], m["data"]))
            missing = [k for k in expected if k not in got]
            if not batch and (not missing or time.time() > deadline):
                break
            if not batch:
                time.sleep(0.5)
        stream = n.request(f"$JS.API.STREAM.INFO.{args.nats_stream}", {})
    finally:
        n.close()
    for key in missing:
        problems.append(f"notification {key} was never published to NATS")
    for key, copies in got.items():
        if key not in expected:
            if any(subject in watched for subject, _ in copies):
                problems.append(f"NATS message {key} on a watched subject is in no feed")
            continue
        code = key.rsplit("-", 1)[0]
        for subject, data in copies:
            item = json.loads(data)
            if subject != f"{args.nats_prefix}.{code}":
                problems.append(f"NATS message {key} published on another subject")
            if json.dumps([item["kind"], item["ssin"], item["data"]], sort_keys=True) != expected[key] \
                    or item.get("cursor") != key.rsplit("-", 1)[1]:
                problems.append(f"NATS message {key} has a different payload than the feed")
    figures.update(nats_messages_read=read, nats_stream_messages=stream["state"]["messages"],
                   nats_ids=len(got), nats_ids_checked=len(expected) - len(missing),
                   nats_ids_kept_twice=sum(1 for v in got.values() if len(v) > 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=6, help="kill -9 cycles (default 6)")
    ap.add_argument("--clients", type=int, default=4, help="Dimona clients and as many hub clients (default 4)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    ap.add_argument("--budget", type=float, default=120, help="seconds the whole run may take (default 120)")
    ap.add_argument("--database", default=None, help="default: a fresh SQLite file; postgres://… for PostgreSQL")
    ap.add_argument("--nodes", type=int, default=1,
                    help="serve processes on the one store (PostgreSQL only for more than 1); "
                         "each cycle kills one of them while the others go on")
    ap.add_argument("--nats", default=None, metavar="URL",
                    help="NATS server with JetStream (nats://127.0.0.1:4222): the servers publish there, "
                         "on a stream of this run's own, and every feed item must be found in it")
    ap.add_argument("--bin", default=None, help="the kruispunt binary (default: build the release one)")
    ap.add_argument("--no-build", action="store_true", help="do not run cargo build")
    args = ap.parse_args()
    if args.nodes > 1 and not (args.database or "").startswith("postgres"):
        sys.exit("--nodes > 1 needs --database postgres://…")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**32)
    log(f"seed {args.seed}")
    if args.bin is None:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        args.bin = os.path.join(target, "release", "kruispunt")
        if not args.no_build:
            subprocess.run(["cargo", "build", "--release", "-q", "-p", "kruispunt"], cwd=ROOT, check=True)
    if not os.path.exists(args.bin):
        sys.exit(f"no binary at {args.bin}")
    sys.exit(run(args))


if __name__ == "__main__":
    main()
