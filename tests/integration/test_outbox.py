"""test_outbox - the transactional outbox relay and the inbox, end to end (DESIGN §5.6).

The test peer (tests/peer/, hotline-testpeer) is built on the same runtime as the services:
program life, method table, per-call arenas, its own schema with embedded migrations, and the
outbox relay running as its schema's system role. This file starts peers as subprocesses:

  sender A (schema testpeer_a)    Enqueue commits N outbox rows; its relay delivers them
  receiver B (schema testpeer_b)  Apply records (subject, version, payload) through the inbox,
                                  ignores versions that are not newer, records arrival order
  late pair C -> D                a target that answers UNIMPLEMENTED for five minutes; its
                                  clock starts in setUpClass so that the other tests run
                                  meanwhile, and test_9 (last) waits out the rest
  dispatch/reporting stand-ins    peers on the stack's dispatch and reporting addresses, so
                                  that intake's own outbox rows find a target that answers

BatchApplyTest calls hotline.batch.v1.BatchService/Apply on a receiver directly (items in one
transaction, told apart by the xmin of the effects they wrote; a failing item; refused items) and
through the relay.

The roles come from scripts/db-init (HOTLINE_DB_INIT_SERVICES, into a temporary env file).
Faults are real: SIGKILL of receivers and senders between commit and delivery. Every wait is
bounded; every peer is killed in the cleanups, even when a test fails.
"""
import collections
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

import grpc

import hotline_test as ht
from hotline.batch.v1 import batch_pb2
from hotline.common.v1 import common_pb2
from hotline.intake.v1 import intake_pb2
from hotline.outbox.v1 import outbox_pb2
from hotline.testing.v1 import peer_pb2

ENV = ht.ENV
BASE = int(ENV["HOTLINE_BASE_PORT"])
RUN = ENV["HOTLINE_RUN_DIR"]
PEER_BIN = os.path.join(ENV["HOTLINE_BUILD_DIR"], "tests", "peer", "hotline-testpeer")
PEER = "hotline.testing.v1.PeerService"
OUTBOX = "hotline.outbox.v1.OutboxService"
BATCH = "hotline.batch.v1.BatchService"
OK = grpc.StatusCode.OK
INTAKE = "hotline.intake.v1.IntakeService"
APPLY = "/hotline.testing.v1.PeerService/Apply"
SCHEMAS = ("testpeer_a", "testpeer_b", "testpeer_c")
ACTOR = "agent-outbox"
HOST_VARS = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "TZ")

# Ports of the peers: base+40 .. base+49 (gRPC, ops).
SENDER_PORTS = (BASE + 40, BASE + 41)
RECEIVER_PORTS = (BASE + 42, BASE + 43)
LATE_SENDER_PORTS = (BASE + 44, BASE + 45)
LATE_RECEIVER_PORTS = (BASE + 46, BASE + 47)
DISPATCH_OPS, REPORTING_OPS = BASE + 48, BASE + 49

# The late target: five minutes of UNIMPLEMENTED under the relay's default backoff cap
# (HOTLINE_RELAY_BACKOFF_MAX_MS = 60 s, +-20% jitter: outbox.c hl_relay_backoff_ms), so after
# the "deployment" each subject's first row is tried again within 72 s.
LATE_SECONDS = 300
LATE_CAP_S = 60
# A target that was unreachable and comes back: the relay's channel reconnects within 2 s
# (rpc_client.c), a new row's backoff is still short (0.1, 0.2, 0.4, ... s).
INTAKE_BOUND_S = 20
# Tests that kill a peer while a claim is half applied: Apply calls of 4 rows, committed one after
# the other at the receiver (4 workers), so that a claim has applied rows that are not marked yet.
SMALL_APPLIES = {"HOTLINE_RELAY_APPLY_ITEMS": "4"}


def new_tenant():
    return "ob-" + secrets.token_hex(4)


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def sql_text(s):
    """A SQL string literal for values made here (tenant slugs, subjects)."""
    assert re.fullmatch(r"[A-Za-z0-9_./:-]*", s), s
    return "'" + s + "'"


def outbox_state(schema, tenant):
    """total, delivered, dead, max attempts of a tenant's rows in schema.outbox."""
    (row,) = ht.psql("SELECT count(*), count(delivered_at), count(dead_at), coalesce(max(attempts), 0) "
                     "FROM %s.outbox WHERE tenant_id = %s" % (schema, sql_text(tenant)))
    return dict(zip(("total", "delivered", "dead", "max_attempts"), map(int, row)))


def effects(tenant, stream="apply"):
    """The receiver's effects of a tenant in arrival order: (subject, version, key, actor, payload)."""
    rows = ht.psql("SELECT subject_id, version, coalesce(idempotency_key, ''), actor, payload "
                   "FROM testpeer_b.effects WHERE tenant_id = %s AND stream = %s ORDER BY seq"
                   % (sql_text(tenant), sql_text(stream)))
    return [(r[0], int(r[1]), r[2], r[3], r[4]) for r in rows]


def effect_transactions(tenant):
    """{subject: the id of the transaction that recorded its effects} at the receiver."""
    rows = ht.psql("SELECT subject_id, xmin::text FROM testpeer_b.effects WHERE tenant_id = %s"
                   % sql_text(tenant))
    return {r[0]: r[1] for r in rows}


def batch_item(subject, version, key, method=APPLY, payload=None, actor=ACTOR):
    """One item of a BatchService/Apply call: the receiver's Apply of (subject, version)."""
    if payload is None:
        payload = peer_pb2.ApplyRequest(subject_id=subject, version=version, payload="b").SerializeToString()
    return batch_pb2.Item(method=method, payload=payload, idempotency_key=key, actor=actor)


def in_flight(tenant, at):
    """(effects, rows marked delivered) once at least `at` effects exist and the sender's batch
    in hand has delivered some rows it has not marked yet (marks come at the end of a batch)."""
    (row,) = ht.psql("SELECT (SELECT count(*) FROM testpeer_b.effects WHERE tenant_id = %s), "
                     "(SELECT count(delivered_at) FROM testpeer_a.outbox WHERE tenant_id = %s)"
                     % (sql_text(tenant), sql_text(tenant)))
    applied, marked = int(row[0]), int(row[1])
    return (applied, marked) if applied >= at and applied > marked else None


def effect_count(tenant):
    return int(ht.psql("SELECT count(*) FROM testpeer_b.effects WHERE tenant_id = %s" % sql_text(tenant))[0][0])


def metric(text, name, **labels):
    """The value of one series in Prometheus text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return 0.0


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def secure_channel(port, cert="client"):
    c, k = ht.cert_paths(cert)
    creds = grpc.ssl_channel_credentials(read_bytes(ENV["HOTLINE_CA"]), read_bytes(k), read_bytes(c))
    return grpc.secure_channel("127.0.0.1:%d" % port, creds)


class Peer:
    """One hotline-testpeer process, started and killed by the tests."""

    def __init__(self, name, schema, ports, cert, db, relay=False, targets=None, env=None):
        self.name, self.schema, self.cert, self.db, self.relay = name, schema, cert, db, relay
        self.port, self.ops_port = ports
        self.targets = dict(targets or {})
        self.env = dict(env or {})
        self.proc = None
        self.first_offset = None
        self.log_path = os.path.join(RUN, "logs", "testpeer-%s.log" % name)

    def environ(self, overrides):
        up = self.schema.upper()
        cert, key = ht.cert_paths(self.cert)
        env = {k: os.environ[k] for k in HOST_VARS if k in os.environ}
        env.update({
            "HOTLINE_LISTEN": "127.0.0.1:%d" % self.port,
            "HOTLINE_OPS_LISTEN": "127.0.0.1:%d" % self.ops_port,
            "HOTLINE_TLS_CERT": cert,
            "HOTLINE_TLS_KEY": key,
            "HOTLINE_TLS_CA": ENV["HOTLINE_CA"],
            "HOTLINE_DB_DSN": self.db["HOTLINE_%s_DSN" % up],
            "HOTLINE_DB_OWNER_DSN": self.db["HOTLINE_%s_OWNER_DSN" % up],
            "HOTLINE_DB_SYSTEM_DSN": self.db["HOTLINE_%s_SYSTEM_DSN" % up] if self.relay else "",
            "HOTLINE_DB_SCHEMA": self.schema,
            "HOTLINE_DB_RUNTIME_ROLE": self.schema + "_runtime",
            "HOTLINE_DB_SYSTEM_ROLE": self.schema + "_system",
            "HOTLINE_REDIS_URL": ENV["HOTLINE_REDIS_URL"],
            "HOTLINE_JWT_SECRET": ENV["HOTLINE_JWT_SECRET"],
            "HOTLINE_JWT_ISSUER": ENV["HOTLINE_JWT_ISSUER"],
            "HOTLINE_JWT_AUDIENCE": ENV["HOTLINE_JWT_AUDIENCE"],
            "HOTLINE_WORKERS": "4",
            "HOTLINE_GRACE_MS": "2s",
            "HOTLINE_LOG_LEVEL": "info",
            # the tests look at delivered rows; test_13 runs the default, which deletes them
            "HOTLINE_OUTBOX_KEEP_DELIVERED": "10m",
        })
        for target, port in self.targets.items():
            env["HOTLINE_%s_ADDR" % target.upper()] = "127.0.0.1:%d" % port
        env.update(self.env)
        env.update(overrides)
        return {k: v for k, v in env.items() if v is not None}

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, **overrides):
        """Start with the peer's environment (overrides: more HOTLINE_* values); wait for /readyz."""
        assert not self.running(), self.name + " already runs"
        for port in (self.port, self.ops_port):
            if port_open(port):
                raise AssertionError("port %d (%s) is in use by another program" % (port, self.name))
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self.log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        if self.first_offset is None:
            self.first_offset = self.log_offset
        with open(self.log_path, "ab") as log:
            log.write(("=== %s test_outbox starts %s %s\n" % (time.strftime("%H:%M:%S"), self.name, overrides))
                      .encode())
            log.flush()
            self.proc = subprocess.Popen([PEER_BIN], env=self.environ(overrides), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.time() + 30
        while time.time() < end:
            if self.proc.poll() is not None:
                raise AssertionError("%s exited during start-up (code %s):\n%s"
                                     % (self.name, self.proc.returncode, self.log_tail()))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.ops_port, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError("%s not ready within 30 s:\n%s" % (self.name, self.log_tail()))

    def kill(self):
        """SIGKILL: no shutdown, no last marks."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        """SIGTERM and a graceful shutdown (SIGKILL after 15 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_since_start(self, first=False):
        """The log of this run (first: of every run since the first start)."""
        with open(self.log_path, "rb") as f:
            f.seek(self.first_offset if first else self.log_offset)
            return f.read().decode(errors="replace")

    def log_tail(self, n=30):
        try:
            return "\n".join(self.log_since_start().splitlines()[-n:])
        except OSError:
            return "(no log)"

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.ops_port, timeout=5) as r:
            return r.read().decode()

    def channel(self, cert="client"):
        return secure_channel(self.port, cert)


class PeerCase(unittest.TestCase):
    """Test peers on schemas of their own (scripts/db-init), killed after every test."""

    @classmethod
    def setUpClass(cls):
        if not os.access(PEER_BIN, os.X_OK):  # built with everything else: missing is a failure
            raise AssertionError("no test peer binary %s (tests/peer)" % PEER_BIN)
        cls.peers = []
        cls.addClassCleanup(cls.kill_peers, cls.peers)
        cls.tmp = tempfile.mkdtemp(prefix="test-outbox.", dir=RUN)
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        db_file = os.path.join(cls.tmp, "db.env")
        env = dict(os.environ, HOTLINE_PG_SUPERUSER_DSN=ENV["HOTLINE_PG_SUPERUSER_DSN"],
                   HOTLINE_DB_INIT_SERVICES=" ".join(SCHEMAS), HOTLINE_DB_ENV_FILE=db_file)
        subprocess.run(["bash", os.path.join(ht.REPO, "scripts", "db-init")], env=env, check=True,
                       capture_output=True, timeout=60)
        cls.db = ht.load_env(db_file)

    @staticmethod
    def kill_peers(peers):
        for p in peers:
            p.kill()

    @classmethod
    def new_peer(cls, *args, **kw):
        p = Peer(*args, db=cls.db, **kw)
        cls.peers.append(p)
        return p

    # ---- helpers ----------------------------------------------------------------------------

    def setUp(self):
        self.t_start = time.time()
        self.tenant = new_tenant()

    def tearDown(self):
        for p in self.own_peers():
            p.kill()
        print("  [%s: %.1f s]" % (self._testMethodName, time.time() - self.t_start), flush=True)

    def own_peers(self):
        return [p for p in self.peers if p.name.startswith("t-")]

    def sender(self, backoff="1s", **env):
        p = self.new_peer("t-sender", "testpeer_a", SENDER_PORTS, "followup", relay=True,
                          targets={"receiver": RECEIVER_PORTS[0]}, env=dict(env, HOTLINE_RELAY_BACKOFF_MAX_MS=backoff))
        self.addCleanup(self.peers.remove, p)
        return p

    def receiver(self, **env):
        p = self.new_peer("t-receiver", "testpeer_b", RECEIVER_PORTS, "compliance", env=env)
        self.addCleanup(self.peers.remove, p)
        return p

    def wait_delivered(self, schema, tenant, total, timeout, what="delivery"):
        def done():
            s = outbox_state(schema, tenant)
            return s if s["total"] == total and s["delivered"] == total else None
        try:
            return ht.wait_for(done, timeout=timeout, interval=0.2, what=what)
        except AssertionError:
            raise AssertionError("%s: %s after %.0f s" % (what, outbox_state(schema, tenant), timeout))

    def assert_ordered(self, rows, subjects, versions, first=1):
        """Per subject, the versions arrived in increasing order, each once."""
        per = collections.defaultdict(list)
        for subject, version, *_ in rows:
            per[subject].append(version)
        self.assertEqual(sorted(per), sorted(subjects))
        for s in subjects:
            self.assertEqual(per[s], list(range(first, first + versions)), "arrival order of " + s)

    def assert_exactly_once(self, tenant, subjects, versions):
        rows = effects(tenant)
        self.assertEqual(len(rows), len(subjects) * versions, "effects")
        self.assertEqual(len({(r[0], r[1]) for r in rows}), len(rows), "an effect was doubled")
        self.assertEqual(len({r[2] for r in rows}), len(rows), "an idempotency-key was applied twice")
        self.assertEqual({(r[0], r[1]) for r in rows}, {(s, v) for s in subjects for v in range(1, versions + 1)})
        self.assertEqual({r[3] for r in rows}, {ACTOR}, "x-actor carries the enqueuing user")
        (n,) = ht.psql("SELECT count(*) FROM testpeer_b.inbox WHERE tenant_id = %s AND method = %s"
                       % (sql_text(tenant), sql_text(APPLY)))
        self.assertEqual(int(n[0]), len(rows), "one inbox entry per idempotency-key")
        self.assert_ordered(rows, subjects, versions)

    def dead_letters(self, sender, tenant, roles=("tenant_admin",)):
        with sender.channel() as ch:
            return ht.rpc(ch, OUTBOX, "ListDeadLetters", outbox_pb2.ListDeadLettersRequest(page_size=100),
                          outbox_pb2.ListDeadLettersResponse, metadata=ht.auth(roles=roles, tenant=tenant)).dead_letters

    def apply(self, receiver, tenant, subject, version, key=None, cert="followup", payload="direct"):
        md = [("x-tenant-id", tenant), ("x-actor", ACTOR)]
        if key:
            md.append(("idempotency-key", key))
        with receiver.channel(cert) as ch:
            return ht.rpc(ch, PEER, "Apply", peer_pb2.ApplyRequest(subject_id=subject, version=version,
                                                                    payload=payload),
                          peer_pb2.ApplyResponse, metadata=md)

    def batch(self, receiver, tenant, items, cert="followup"):
        with receiver.channel(cert) as ch:
            return ht.rpc(ch, BATCH, "Apply", batch_pb2.ApplyRequest(items=items), batch_pb2.ApplyResponse,
                          metadata=[("x-tenant-id", tenant)]).results

    def assert_applied(self, results, n):
        self.assertEqual([r.code for r in results[:n]], [0] * n, [r.message for r in results])
        answers = [peer_pb2.ApplyResponse.FromString(r.payload) for r in results[:n]]
        self.assertTrue(all(a.applied and a.latest_version == 1 for a in answers), answers)
        return answers



class OutboxTest(PeerCase):
    """The relay and the inbox (every test but test_9 runs while the late scenario waits)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_late_scenario()

    @classmethod
    def start_late_scenario(cls):
        """The five-minute UNIMPLEMENTED target: rows committed now, checked by test_9."""
        cls.late_tenant = new_tenant()
        cls.late_receiver = cls.new_peer("late-receiver", "testpeer_b", LATE_RECEIVER_PORTS, "compliance")
        cls.late_receiver.start(HOTLINE_TESTPEER_FAIL="unimplemented")
        cls.late_sender = cls.new_peer("late-sender", "testpeer_c", LATE_SENDER_PORTS, "followup", relay=True,
                                       targets={"late": LATE_RECEIVER_PORTS[0]})
        cls.late_sender.start()  # the default backoff cap
        cls.late_subjects = ["late-%d" % i for i in range(4)]
        cls.late_rows = enqueue(cls.late_sender, cls.late_tenant, cls.late_subjects, 3, target="late")
        cls.late_t0 = time.time()

    # ---- tests ------------------------------------------------------------------------------

    def test_1_exactly_once_while_the_receiver_is_killed_twice(self):
        """500 rows delivered while the receiver is SIGKILLed and restarted twice: 500 effects."""
        # each row its own call, answered 100 ms after its commit: a kill lands in that window, leaving
        # changes applied whose answers the sender never saw (an Apply of several items sleeps inside
        # its one transaction, so a kill there only rolls back)
        receiver = self.receiver(HOTLINE_TESTPEER_APPLY_DELAY_MS="100ms").start()
        sender = self.sender(HOTLINE_RELAY_APPLY_ITEMS="1").start()
        subjects = ["s%03d" % i for i in range(50)]
        enqueue(sender, self.tenant, subjects, 10)
        kills = []
        for at in (110, 320):
            # kill while a batch is in flight: effects applied that the sender has not marked yet
            seen = ht.wait_for(lambda: in_flight(self.tenant, at), timeout=60, interval=0.02,
                               what="%d effects with a batch in flight" % at)
            receiver.kill()
            kills.append(seen)
            time.sleep(0.5)
            receiver.start()
        for n_effects, n_marked in kills:
            self.assertLess(n_effects, 500, "the receiver was killed before the end")
            self.assertGreater(n_effects, n_marked, "killed in the middle of a batch")
        self.wait_delivered("testpeer_a", self.tenant, 500, 120)
        state = outbox_state("testpeer_a", self.tenant)
        self.assertEqual(state["dead"], 0)
        self.assertEqual(len(self.dead_letters(sender, self.tenant)), 0)
        self.assert_exactly_once(self.tenant, subjects, 10)
        replays = receiver.log_since_start(first=True).count("event=inbox_replayed")
        self.assertGreater(replays, 0, "redeliveries of changes applied before a kill answered from the inbox")
        print("  kills at (effects, marked delivered) %s; redeliveries answered from the inbox: %d"
              % (kills, replays))

    def test_10_no_row_lock_while_a_delivery_is_in_flight(self):
        """The relay leases rows in a short transaction and delivers with none open: while a call
        is in flight (the receiver answers 4 s after its commit) another session takes the row
        FOR UPDATE NOWAIT; the row is marked delivered afterwards."""
        self.receiver().start(HOTLINE_TESTPEER_APPLY_DELAY_MS="4s")
        sender = self.sender().start()
        enqueue(sender, self.tenant, ["lock-1"], 1)
        ht.wait_for(lambda: effect_count(self.tenant) >= 1, timeout=20, interval=0.05, what="the effect")
        self.assertEqual(outbox_state("testpeer_a", self.tenant)["delivered"], 0, "the call is in flight")
        # the lease is its own column (in no index: a HOT update); the row keeps its due time
        (lease,) = ht.psql("SELECT leased_until > now(), next_attempt_at <= now() FROM testpeer_a.outbox "
                           "WHERE tenant_id = %s" % sql_text(self.tenant))
        self.assertEqual(lease, ["t", "t"], "leased, with its due time where it was")
        rows = ht.psql("SELECT id FROM testpeer_a.outbox WHERE tenant_id = %s FOR UPDATE NOWAIT"
                       % sql_text(self.tenant))  # raises "could not obtain lock" if the relay holds it
        self.assertEqual(len(rows), 1)
        self.assertEqual(outbox_state("testpeer_a", self.tenant)["delivered"], 0, "still in flight")
        self.wait_delivered("testpeer_a", self.tenant, 1, 20)
        self.assert_exactly_once(self.tenant, ["lock-1"], 1)

    def test_12_a_claim_probes_each_subject_whatever_the_statistics(self):
        """2,000 rows of 100 subjects wait while the outbox's statistics say it is empty (taken at a
        moment the queue was): each claim still probes the subjects of its due rows by index, a few
        pages per row, instead of rescanning every waiting row for each one (outbox.c, SQL_CLAIM)."""
        self.receiver().start()
        sender = self.sender().start(HOTLINE_RELAY_THREADS="0")
        subjects = ["st%03d" % i for i in range(100)]
        enqueue(sender, self.tenant, subjects, 20)
        sender.stop()
        ht.psql("ALTER TABLE testpeer_a.outbox SET (autovacuum_enabled = false)")
        self.addCleanup(ht.psql, "ALTER TABLE testpeer_a.outbox RESET (autovacuum_enabled)")
        ht.psql("UPDATE pg_class SET reltuples = 0 WHERE oid = 'testpeer_a.outbox'::regclass")
        ht.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        ht.psql("SELECT pg_stat_statements_reset((SELECT oid FROM pg_roles WHERE rolname = 'testpeer_a_system'))")
        sender.start()
        self.wait_delivered("testpeer_a", self.tenant, 2000, 120)
        (calls, rows, pages), = ht.psql(
            "SELECT sum(calls), sum(rows), sum(shared_blks_hit + shared_blks_read) FROM pg_stat_statements s "
            "JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = 'testpeer_a_system' AND s.query LIKE 'WITH due AS%'")
        self.assertGreaterEqual(int(rows), 2000, "the claims leased every row")  # control
        self.assert_exactly_once(self.tenant, subjects, 20)
        print("  %s claims, %s rows, %.1f pages per row" % (calls, rows, int(pages) / int(rows)))
        self.assertLess(int(pages) / int(rows), 30, "pages read by the claims per row leased")

    def test_2_sender_killed_between_commit_and_delivery(self):
        """A sender killed after its commit (receiver down), and one killed while delivering."""
        receiver = self.receiver()
        sender = self.sender(**SMALL_APPLIES).start()
        # 1. committed, not deliverable (receiver down), sender killed: delivered after the restart
        subjects = ["k%02d" % i for i in range(10)]
        enqueue(sender, self.tenant, subjects, 3)
        ht.wait_for(lambda: outbox_state("testpeer_a", self.tenant)["max_attempts"] >= 1, timeout=10,
                    what="a failed attempt")
        (err,) = ht.psql("SELECT last_error FROM testpeer_a.outbox WHERE tenant_id = %s AND attempts > 0 LIMIT 1"
                         % sql_text(self.tenant))[0]
        self.assertTrue(err.startswith("UNAVAILABLE"), err)
        sender.kill()
        receiver.start()
        time.sleep(1.5)
        self.assertEqual(outbox_state("testpeer_a", self.tenant)["delivered"], 0, "nobody relays while A is dead")
        self.assertEqual(effect_count(self.tenant), 0)
        sender.start()
        self.wait_delivered("testpeer_a", self.tenant, 30, 30, "delivery after the sender's restart")
        self.assert_exactly_once(self.tenant, subjects, 3)

        # 2. killed in the middle of a batch: the receiver has committed effects that the sender
        # never marked delivered; the restarted sender delivers them again, the inbox answers
        receiver.stop()
        receiver.start(HOTLINE_TESTPEER_APPLY_DELAY_MS="100ms")
        tenant = new_tenant()
        subjects = ["m%02d" % i for i in range(32)]  # one batch (HOTLINE_RELAY_BATCH 32)
        enqueue(sender, tenant, subjects, 1)
        ht.wait_for(lambda: effect_count(tenant) >= 3, timeout=20, interval=0.05, what="3 effects")
        sender.kill()
        time.sleep(0.5)  # the call in flight at the receiver finishes
        applied, marked = effect_count(tenant), outbox_state("testpeer_a", tenant)["delivered"]
        self.assertGreater(applied, marked, "effects committed by the receiver, not marked by the sender")
        sender.start()
        self.wait_delivered("testpeer_a", tenant, 32, 30, "delivery after the sender's restart")
        self.assert_exactly_once(tenant, subjects, 1)
        replays = receiver.log_since_start().count("event=inbox_replayed")
        self.assertGreaterEqual(replays, applied - marked, "redeliveries answered from the inbox")

    def test_3_order_per_subject_and_out_of_order_versions(self):
        """Updates of one subject arrive in order; older versions sent directly are ignored."""
        receiver = self.receiver().start()
        sender = self.sender().start()
        subjects = ["o%d" % i for i in range(10)]
        enqueue(sender, self.tenant, subjects, 20)
        self.wait_delivered("testpeer_a", self.tenant, 200, 60)
        self.assert_exactly_once(self.tenant, subjects, 20)

        tenant = new_tenant()
        answers = [(v, self.apply(receiver, tenant, "ooo", v)) for v in (3, 1, 2, 5, 4, 5)]
        self.assertEqual([(v, a.applied, a.latest_version) for v, a in answers],
                         [(3, True, 3), (1, False, 3), (2, False, 3), (5, True, 5), (4, False, 5), (5, False, 5)])
        self.assertEqual([a.effect_seq > 0 for _, a in answers], [True, False, False, True, False, False])
        self.assertEqual([(r[0], r[1]) for r in effects(tenant)], [("ooo", 3), ("ooo", 5)])

    def test_4_inbox_replays_the_first_answer(self):
        """A repeated idempotency-key gets the first answer back, whatever it carries now."""
        receiver = self.receiver().start()
        key = "key-" + secrets.token_hex(8)
        first = self.apply(receiver, self.tenant, "idem", 1, key=key)
        self.assertTrue(first.applied)
        self.assertGreater(first.effect_seq, 0)
        again = self.apply(receiver, self.tenant, "idem", 1, key=key)
        self.assertEqual(again, first)
        newer = self.apply(receiver, self.tenant, "idem", 9, key=key)  # same key, other content
        self.assertEqual(newer, first, "answered from the inbox, not applied")
        # control: the same change under another key is judged by its version
        other = self.apply(receiver, self.tenant, "idem", 1, key=key + "-other")
        self.assertFalse(other.applied)
        self.assertEqual(other.latest_version, 1)
        self.assertEqual([(r[0], r[1], r[2]) for r in effects(self.tenant)], [("idem", 1, key)])
        rows = ht.psql("SELECT method FROM testpeer_b.inbox WHERE tenant_id = %s AND idempotency_key = %s"
                       % (sql_text(self.tenant), sql_text(key)))
        self.assertEqual(rows, [[APPLY]])
        self.assertIn("event=inbox_replayed", receiver.log_since_start())
        # Apply is internal: only the allowed sender services
        for cert in ("compliance", "intake", "client"):
            code, _ = ht.code_of(self.apply, receiver, self.tenant, "idem", 2, cert=cert)
            self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED, cert)
        code, _ = ht.code_of(self.apply, receiver, "Not A Slug", "idem", 2)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        # Enqueue is user-facing: a JWT is required
        with receiver.channel() as ch:
            code, _ = ht.code_of(ht.rpc, ch, PEER, "Enqueue", peer_pb2.EnqueueRequest(
                subject_ids=["x"], versions=1, target="receiver"), peer_pb2.EnqueueResponse)
        self.assertEqual(code, grpc.StatusCode.UNAUTHENTICATED)
        self.assertEqual(len(effects(self.tenant)), 1)

    def test_5_invalid_argument_dead_letters_and_redrive(self):
        """INVALID_ARGUMENT: dead letters (listed, counted), re-driven once the receiver is fixed."""
        receiver = self.receiver().start(HOTLINE_TESTPEER_FAIL="invalid_argument")
        sender = self.sender().start()
        (dead_before,) = ht.psql("SELECT count(*) FROM testpeer_a.outbox WHERE dead_at IS NOT NULL "
                                 "AND delivered_at IS NULL")[0]
        dead_before = int(dead_before)
        subjects = ["d0", "d1", "d2"]
        enqueue(sender, self.tenant, subjects, 2)  # v1 of each subject, then v2 of each
        ht.wait_for(lambda: outbox_state("testpeer_a", self.tenant)["dead"] == 6, timeout=20,
                    what="6 dead letters")
        (leased,) = ht.psql("SELECT count(*) FROM testpeer_a.outbox WHERE tenant_id = %s AND leased_until IS NOT NULL"
                            % sql_text(self.tenant))[0]
        self.assertEqual(int(leased), 0, "a dead letter's lease ended with its attempt: re-driven, it is due at once")
        dead = self.dead_letters(sender, self.tenant)
        ids = sorted(d.id for d in dead)  # in the order of the Enqueue: the v1 rows first
        self.assertEqual(len(ids), 6)
        self.assertEqual([d.subject_id for d in sorted(dead, key=lambda d: d.id)], subjects * 2)
        for d in dead:
            self.assertEqual((d.target, d.method, d.attempts), ("receiver", APPLY, 1))
            self.assertTrue(d.last_error.startswith("INVALID_ARGUMENT"), d.last_error)
            self.assertIn(d.subject_id, subjects)
        self.assertEqual(len(self.dead_letters(sender, new_tenant())), 0, "another tenant sees none")
        with sender.channel() as ch:
            code, _ = ht.code_of(ht.rpc, ch, OUTBOX, "ListDeadLetters", outbox_pb2.ListDeadLettersRequest(),
                                 outbox_pb2.ListDeadLettersResponse, metadata=ht.auth(roles=("agent",),
                                                                                      tenant=self.tenant))
        self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
        ht.wait_for(lambda: metric(sender.metrics(), "hotline_outbox_dead_letters") == dead_before + 6,
                    timeout=10, what="the dead-letter gauge")
        text = sender.metrics()
        self.assertGreaterEqual(metric(text, "hotline_outbox_deliveries_total", target="receiver", result="dead"), 6)
        self.assertEqual(metric(text, "hotline_outbox_deliveries_total", target="receiver", result="delivered"), 0)
        with sender.channel() as ch:
            stats = ht.rpc(ch, OUTBOX, "GetOutboxStats", outbox_pb2.GetOutboxStatsRequest(),
                           outbox_pb2.GetOutboxStatsResponse, metadata=ht.auth(roles=("tenant_admin",),
                                                                               tenant=self.tenant))
        self.assertEqual((stats.pending, stats.dead_letters, stats.delivered), (0, 6, 0))
        time.sleep(2)
        self.assertEqual(outbox_state("testpeer_a", self.tenant)["max_attempts"], 1, "dead letters are not retried")
        self.assertEqual(effect_count(self.tenant), 0)

        receiver.stop()
        receiver.start()  # fixed
        admin = ht.auth(roles=("tenant_admin",), tenant=self.tenant)
        with sender.channel() as ch:
            r = ht.rpc(ch, OUTBOX, "RedriveDeadLetters", outbox_pb2.RedriveDeadLettersRequest(ids=ids[:3]),
                       outbox_pb2.RedriveDeadLettersResponse, metadata=admin)
        self.assertEqual(r.redriven, 3)
        ht.wait_for(lambda: outbox_state("testpeer_a", self.tenant)["delivered"] == 3, timeout=20,
                    what="the re-driven v1 rows")
        self.assertEqual(sorted(d.id for d in self.dead_letters(sender, self.tenant)), sorted(ids[3:]))
        self.assertEqual(sorted((r[0], r[1]) for r in effects(self.tenant)), [(s, 1) for s in subjects])
        with sender.channel() as ch:
            r = ht.rpc(ch, OUTBOX, "RedriveDeadLetters", outbox_pb2.RedriveDeadLettersRequest(all=True),
                       outbox_pb2.RedriveDeadLettersResponse, metadata=admin)
        self.assertEqual(r.redriven, 3)
        self.wait_delivered("testpeer_a", self.tenant, 6, 20, "the re-driven v2 rows")
        self.assertEqual(len(self.dead_letters(sender, self.tenant)), 0)
        self.assert_exactly_once(self.tenant, subjects, 2)
        ht.wait_for(lambda: metric(sender.metrics(), "hotline_outbox_dead_letters") == dead_before,
                    timeout=10, what="the dead-letter gauge back")

    def test_6_intake_rows_flow_to_targets_that_answer(self):
        """Intake's own outbox rows reach targets that answer (stand-ins for what is not deployed)."""
        addr = {s: int(ENV["HOTLINE_%s_ADDR" % s.upper()].rsplit(":", 1)[1]) for s in ("dispatch", "reporting")}
        ops = {"dispatch": DISPATCH_OPS, "reporting": REPORTING_OPS}
        standins = [s for s, port in addr.items() if not port_open(port)]
        if not standins:
            self.skipTest("dispatch and reporting are deployed: no stand-in needed")
        for s in standins:
            p = self.new_peer("t-" + s, "testpeer_b", (addr[s], ops[s]), s)
            self.addCleanup(self.peers.remove, p)
            p.start()
        t0 = time.time()
        with ht.channel("intake") as ch:
            resp = ht.rpc(ch, INTAKE, "CreateTicket", intake_pb2.CreateTicketRequest(
                request_id=ht.request_id(), channel=common_pb2.CHANNEL_PHONE,
                category=common_pb2.CATEGORY_COMPLAINT, topic="outbox flow", anonymous=True),
                intake_pb2.CreateTicketResponse, metadata=ht.auth(roles=("agent",), tenant=self.tenant, sub=ACTOR))
        ticket = resp.ticket
        if "dispatch" not in standins:
            # the real dispatch answers SubmitTicket and reports in_handling back: the registration's
            # two rows and the status event that follows, all delivered, in order
            self.wait_delivered("intake", self.tenant, 3, INTAKE_BOUND_S, "intake's rows and the status event")
            took = time.time() - t0
            rows = ht.psql("SELECT target, method, delivered_at IS NOT NULL FROM intake.outbox WHERE tenant_id = %s "
                           "ORDER BY id" % sql_text(self.tenant))
            self.assertEqual(rows, [["dispatch", "/hotline.dispatch.v1.DispatchService/SubmitTicket", "t"],
                                    ["reporting", "/hotline.reporting.v1.ReportingService/RecordEvents", "t"],
                                    ["reporting", "/hotline.reporting.v1.ReportingService/RecordEvents", "t"]])
            # (the stand-in keeps only the newest version per subject, and dispatch's case.* events of the
            # same ticket reach it too, so ticket.registered (version 1) may come after one of those)
            ev = [r[4] for r in effects(self.tenant, "reporting")]
            self.assertIn("ticket.status_changed", ev, "the status event reached reporting")
        else:
            took = self.stand_in_dispatch_flow(ticket, standins)
        self.assertEqual(outbox_state("intake", self.tenant)["dead"], 0)
        print("  stand-ins for %s; intake's first two rows delivered %.1f s after they started"
              % ("+".join(standins), took))

    def stand_in_dispatch_flow(self, ticket, standins):
        """With a stand-in for dispatch: the registration's rows, then a status change reported by
        "dispatch" that yields a newer event, delivered after the first. Returns the first delay."""
        t0 = time.time()
        # intake's channels to these addresses have been failing until now: a target that comes
        # back is used within seconds (client reconnect <= 2 s, then the row's own backoff)
        self.wait_delivered("intake", self.tenant, 2, INTAKE_BOUND_S, "intake's rows to dispatch and reporting")
        took = time.time() - t0
        sub = effects(self.tenant, "dispatch")
        self.assertEqual([(r[0], r[1], r[3], r[4]) for r in sub], [(ticket.id, 1, ACTOR, ticket.ticket_no)])
        if "reporting" in standins:
            ev = effects(self.tenant, "reporting")
            self.assertEqual([(r[0], r[1], r[4]) for r in ev], [(ticket.id, 1, "ticket.registered")])
        with ht.channel("intake", cert="dispatch") as ch:
            up = ht.rpc(ch, INTAKE, "UpdateTicketStatus", intake_pb2.UpdateTicketStatusRequest(
                ticket_id=ticket.id, status=common_pb2.TICKET_STATUS_IN_HANDLING, version=2),
                intake_pb2.UpdateTicketStatusResponse, metadata=[("x-tenant-id", self.tenant)])
        self.assertTrue(up.applied)
        self.wait_delivered("intake", self.tenant, 3, INTAKE_BOUND_S, "the status event")
        if "reporting" in standins:
            ev = effects(self.tenant, "reporting")
            self.assertEqual([(r[1], r[4]) for r in ev], [(1, "ticket.registered"), (2, "ticket.status_changed")])
        self.assertEqual(len(effects(self.tenant, "dispatch")), 1)
        return took

    def test_7_system_role_reads_only_the_outbox(self):
        """The relay's system role reads the outbox of every tenant and no business table."""
        receiver = self.receiver().start()
        sender = self.sender().start()
        tx, ty = self.tenant, new_tenant()
        enqueue(sender, tx, ["r0", "r1"], 1)
        enqueue(sender, ty, ["r0", "r1", "r2"], 1)
        self.wait_delivered("testpeer_a", ty, 3, 20)
        self.wait_delivered("testpeer_a", tx, 2, 20)
        for t in (tx, ty):
            with ht.channel("intake") as ch:
                ht.rpc(ch, INTAKE, "CreateTicket", intake_pb2.CreateTicketRequest(
                    request_id=ht.request_id(), channel=common_pb2.CHANNEL_WEB,
                    category=common_pb2.CATEGORY_SUGGESTION, topic="roles", anonymous=True),
                    intake_pb2.CreateTicketResponse, metadata=ht.auth(roles=("agent",), tenant=t))
        both = "tenant_id IN (%s, %s)" % (sql_text(tx), sql_text(ty))
        per_tenant = "SELECT tenant_id, count(*) FROM %s.outbox WHERE " + both + " GROUP BY 1 ORDER BY 1"
        expect = sorted([[tx, "2"], [ty, "3"]])

        # the peer's system role: every tenant's outbox ...
        system = self.db["HOTLINE_TESTPEER_A_SYSTEM_DSN"]
        self.assertEqual(ht.psql(per_tenant % "testpeer_a", dsn=system), expect)
        # ... while its runtime role sees one tenant at a time (row-level security)
        runtime = self.db["HOTLINE_TESTPEER_A_DSN"]
        self.assertEqual(ht.psql(per_tenant % "testpeer_a", dsn=runtime), [])
        self.assertEqual(ht.psql("SET hotline.tenant = %s; " % sql_text(ty) + per_tenant % "testpeer_a",
                                 dsn=runtime), [[ty, "3"]])
        # the receiver's business tables and inbox: refused to its system role (control: they hold rows)
        self.assertGreater(effect_count(tx), 0)
        recv_system = self.db["HOTLINE_TESTPEER_B_SYSTEM_DSN"]
        for table in ("effects", "subjects", "inbox", "audit_log"):
            with self.assertRaisesRegex(RuntimeError, "permission denied"):
                ht.psql("SELECT count(*) FROM testpeer_b.%s" % table, dsn=recv_system)
        ht.psql("SELECT count(*) FROM testpeer_b.outbox", dsn=recv_system)  # allowed: no error

        # intake's system role: its outbox across both tenants, none of its tickets
        intake_system = ENV["HOTLINE_INTAKE_SYSTEM_DSN"]
        rows = dict(ht.psql(per_tenant % "intake", dsn=intake_system))
        self.assertEqual(sorted(rows), sorted([tx, ty]))
        self.assertTrue(all(int(n) >= 1 for n in rows.values()))
        (n,) = ht.psql("SELECT count(*) FROM intake.tickets WHERE " + both)[0]
        self.assertEqual(int(n), 2, "control: the superuser sees both tickets")
        for table in ("tickets", "registrations", "amendments", "public_notes", "inbox", "audit_log"):
            with self.assertRaisesRegex(RuntimeError, "permission denied"):
                ht.psql("SELECT count(*) FROM intake.%s" % table, dsn=intake_system)
        with self.assertRaisesRegex(RuntimeError, "permission denied"):
            ht.psql("INSERT INTO intake.outbox (tenant_id, subject_id, target, method, idempotency_key, actor, "
                    "payload) VALUES ('demo', 'x', 'x', '/x', 'x', 'x', '')", dsn=intake_system)

        # the catalogue says the same: each system role has SELECT, UPDATE on outbox and timers only,
        # and DELETE on the outbox restricted to delivered rows (the purge: test_11)
        for schema, role in (("intake", "intake_system"), ("testpeer_a", "testpeer_a_system"),
                             ("testpeer_b", "testpeer_b_system")):
            grants = ht.psql(
                "SELECT c.relname, string_agg(p, ',' ORDER BY p) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm') "
                "AND has_table_privilege(%s, c.oid, p) GROUP BY 1 ORDER BY 1" % (sql_text(schema), sql_text(role)))
            self.assertEqual(grants, [["outbox", "DELETE,SELECT,UPDATE"], ["timers", "SELECT,UPDATE"]], role)
            policies = ht.psql("SELECT tablename, policyname, permissive, cmd FROM pg_policies WHERE schemaname = %s "
                               "AND %s = ANY(roles) ORDER BY 1, 2" % (sql_text(schema), sql_text(role)))
            self.assertEqual(policies, [["outbox", "delete_delivered_only", "RESTRICTIVE", "DELETE"],
                                        ["outbox", "relay_rows", "PERMISSIVE", "ALL"],
                                        ["timers", "timer_rows", "PERMISSIVE", "ALL"]], role)
            (attrs,) = ht.psql("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s" % sql_text(role))
            self.assertEqual(attrs, ["f", "f"], role)

    def test_11_delivered_rows_are_purged_rows_still_owed_are_kept(self):
        """Delivered rows are deleted after HOTLINE_OUTBOX_KEEP_DELIVERED; rows still owed stay, and the
        system role cannot delete them."""
        self.receiver().start()
        sender = self.sender(HOTLINE_OUTBOX_KEEP_DELIVERED="2s").start()
        enqueue(sender, self.tenant, ["p0", "p1", "p2"], 4)
        enqueue(sender, self.tenant, ["q0", "q1"], 1, target="nowhere")  # no address: owed, retried
        ht.wait_for(lambda: outbox_state("testpeer_a", self.tenant)["delivered"] == 12, timeout=20,
                    what="12 rows delivered")
        self.assertEqual(effect_count(self.tenant), 12)
        state = ht.wait_for(lambda: (lambda s: s if s["total"] == 2 else None)(outbox_state("testpeer_a", self.tenant)),
                            timeout=40, interval=0.5, what="the delivered rows purged")
        self.assertEqual((state["delivered"], state["dead"]), (0, 0), "the two owed rows are what is left")
        self.assertGreaterEqual(metric(sender.metrics(), "hotline_outbox_purged_total"), 12)
        self.assertEqual(effect_count(self.tenant), 12, "the effects stay (the receiver's records)")
        # the relay's credentials cannot remove an effect still owed (restrictive policy)
        system = self.db["HOTLINE_TESTPEER_A_SYSTEM_DSN"]
        (gone,) = ht.psql("WITH d AS (DELETE FROM testpeer_a.outbox WHERE tenant_id = %s RETURNING 1) "
                          "SELECT count(*) FROM d" % sql_text(self.tenant), dsn=system)[0]
        self.assertEqual(int(gone), 0)
        self.assertEqual(outbox_state("testpeer_a", self.tenant)["total"], 2)

    def test_13_delivered_rows_are_deleted_as_they_are_delivered(self):
        """By default (HOTLINE_OUTBOX_KEEP_DELIVERED 0) the relay deletes the rows it delivered in the
        transaction that records the delivery, not marked and purged later: the outbox holds what is
        still owed, every effect arrives once, and the system role still cannot delete a row owed."""
        self.receiver().start()
        sender = self.sender(HOTLINE_OUTBOX_KEEP_DELIVERED=None).start()
        # the relay's first purge (rows other tests left delivered) runs as it starts; the next in 10 s
        time.sleep(1)
        purged = metric(sender.metrics(), "hotline_outbox_purged_total")
        enqueue(sender, self.tenant, ["p0", "p1", "p2"], 4)
        enqueue(sender, self.tenant, ["q0", "q1"], 1, target="nowhere")  # no address: owed, retried
        ht.wait_for(lambda: effect_count(self.tenant) == 12, timeout=20, what="12 effects")
        state = ht.wait_for(lambda: (lambda s: s if s["total"] == 2 else None)(outbox_state("testpeer_a", self.tenant)),
                            timeout=20, interval=0.2, what="the delivered rows gone")
        self.assertEqual((state["delivered"], state["dead"]), (0, 0), "the two owed rows are what is left")
        text = sender.metrics()
        self.assertEqual(metric(text, "hotline_outbox_deliveries_total", target="receiver", result="delivered"), 12)
        self.assertEqual(metric(text, "hotline_outbox_purged_total"), purged, "deleted as delivered, not by the purge")
        self.assertEqual([e[:2] for e in effects(self.tenant) if e[0] == "p1"], [("p1", v) for v in range(1, 5)], "in order")
        system = self.db["HOTLINE_TESTPEER_A_SYSTEM_DSN"]
        (gone,) = ht.psql("WITH d AS (DELETE FROM testpeer_a.outbox WHERE tenant_id = %s RETURNING 1) "
                          "SELECT count(*) FROM d" % sql_text(self.tenant), dsn=system)[0]
        self.assertEqual(int(gone), 0, "rows still owed are not the relay's to delete")
        self.assertEqual(outbox_state("testpeer_a", self.tenant)["total"], 2)

    def test_9_unimplemented_for_five_minutes_then_deployed(self):
        """A target answering UNIMPLEMENTED for 5 minutes, then deployed: all delivered, none dead."""
        tenant, sender, late = self.late_tenant, self.late_sender, self.late_receiver
        total = self.late_rows
        while True:
            elapsed = time.time() - self.late_t0
            state = outbox_state("testpeer_c", tenant)
            self.assertEqual((state["total"], state["delivered"], state["dead"]), (total, 0, 0),
                             "at %.0f s" % elapsed)
            self.assertEqual(effect_count(tenant), 0)
            self.assertTrue(sender.running() and late.running())
            if elapsed >= LATE_SECONDS:
                break
            time.sleep(min(15, LATE_SECONDS - elapsed))
        rows = ht.psql("SELECT subject_id, attempts, coalesce(last_error, '') FROM testpeer_c.outbox "
                       "WHERE tenant_id = %s ORDER BY id" % sql_text(tenant))
        heads, rest = rows[:4], rows[4:]
        for subject, attempts, err in heads:
            self.assertGreaterEqual(int(attempts), 8, "retried all along: %s" % subject)
            self.assertRegex(err, r"^(UNIMPLEMENTED|UNAVAILABLE: target unavailable earlier in this batch)")
        self.assertTrue(any(err.startswith("UNIMPLEMENTED") for _, _, err in heads))
        self.assertEqual([int(a) for _, a, _ in rest], [0] * len(rest), "later versions wait behind the first")
        text = late.metrics()
        self.assertGreaterEqual(metric(text, "hotline_rpc_calls_total", method=APPLY, code="UNIMPLEMENTED"), 8)
        self.assertGreaterEqual(metric(sender.metrics(), "hotline_outbox_deliveries_total", target="late",
                                       result="retry"), 8)

        # "deploy" when no first row is due within 5 s: an attempt during the restart would be
        # answered UNAVAILABLE and wait another full backoff
        def quiet_schedule():
            rows = ht.psql("SELECT id, attempts, extract(epoch FROM next_attempt_at - now()), leased_until IS NULL "
                           "FROM testpeer_c.outbox "
                           "WHERE tenant_id = %s AND attempts > 0 AND delivered_at IS NULL ORDER BY id"
                           % sql_text(tenant))
            return rows if len(rows) == 4 and min(float(r[2]) for r in rows) > 5 else None
        heads = ht.wait_for(quiet_schedule, timeout=120, interval=0.5, what="5 quiet seconds in the retries")
        attempts = {r[0]: int(r[1]) for r in heads}
        self.assertEqual([r[3] for r in heads], ["t"] * 4, "a retry's lease ends with its attempt")
        wait = max(float(r[2]) for r in heads)
        self.assertLessEqual(wait, 1.2 * LATE_CAP_S + 1, "the backoff stays under its cap after 5 minutes")
        late.stop()
        t_deploy = time.time()
        late.start()  # deployed: no failure mode
        after = dict(ht.psql("SELECT id, attempts FROM testpeer_c.outbox WHERE tenant_id = %s AND attempts > 0"
                             % sql_text(tenant)))
        self.assertEqual({k: int(v) for k, v in after.items()}, attempts, "no attempt during the restart")
        bound = wait + 20
        self.wait_delivered("testpeer_c", tenant, total, bound, "delivery after the deployment")
        took = time.time() - t_deploy
        final = dict(ht.psql("SELECT id, attempts FROM testpeer_c.outbox WHERE tenant_id = %s" % sql_text(tenant)))
        for i, n in attempts.items():
            self.assertEqual(int(final[i]), n + 1, "delivered at the first attempt after the deployment")
        self.assertEqual(outbox_state("testpeer_c", tenant)["dead"], 0)
        self.assertEqual(len(self.dead_letters(sender, tenant)), 0)
        self.assert_ordered(effects(tenant), self.late_subjects, 3)
        print("  delivered %.1f s after the deployment; the last first row was due in %.1f s "
              "(cap %d s + 20%% jitter: at most %.0f s)" % (took, wait, LATE_CAP_S, 1.2 * LATE_CAP_S))


class BatchApplyTest(PeerCase):
    """hotline.batch.v1.BatchService/Apply, which every server offers: many internal calls in
    one transaction, each item with the outcome its own call would have had."""

    def test_1_items_share_one_transaction_and_replays_answer_from_the_inbox(self):
        receiver = self.receiver().start()
        subjects = ["b-%d" % i for i in range(5)]
        items = [batch_item(s, 1, "bk-" + s) for s in subjects]
        first = self.assert_applied(self.batch(receiver, self.tenant, items), 5)
        txs = effect_transactions(self.tenant)
        self.assertEqual(sorted(txs), subjects)
        self.assertEqual(len(set(txs.values())), 1, "one transaction for the batch: %s" % txs)
        self.assertEqual({r[3] for r in effects(self.tenant)}, {ACTOR}, "each item's actor")
        # the same items again (a relay retry): the first answers, from the inbox, nothing doubled
        again = self.batch(receiver, self.tenant, items)
        self.assertEqual([peer_pb2.ApplyResponse.FromString(r.payload) for r in again], first)
        self.assertEqual(effect_count(self.tenant), 5)
        self.assertNotIn("batch_unbatched", receiver.log_since_start(), "a replay keeps the batch whole")
        # replays (answered from the answers looked up for the whole call) next to a new item, and one
        # new key twice in the call: every key's effect once, the repeat answered like the first
        mixed = items[:2] + [batch_item("b-new", 1, "bk-b-new"), batch_item("b-new", 1, "bk-b-new")]
        answers = self.assert_applied(self.batch(receiver, self.tenant, mixed), 4)
        self.assertEqual(answers[:2], first[:2])
        self.assertEqual(answers[2], answers[3])
        self.assertEqual(effect_count(self.tenant), 6)

    def test_2_an_item_whose_handler_fails_fails_alone(self):
        receiver = self.receiver().start()
        items = [batch_item("g-1", 1, "gk-1"), batch_item("bad", 0, "gk-bad"), batch_item("g-2", 1, "gk-2")]
        results = self.batch(receiver, self.tenant, items)
        self.assertEqual([r.code for r in results], [0, grpc.StatusCode.INVALID_ARGUMENT.value[0], 0],
                         [r.message for r in results])
        self.assertIn("version: must be positive", results[1].message)
        txs = effect_transactions(self.tenant)
        self.assertEqual(sorted(txs), ["g-1", "g-2"], "the good items are applied, once each")
        self.assertEqual(len(set(txs.values())), 2, "after the failure every item ran on its own")
        self.assertIn("batch_unbatched", receiver.log_since_start())
        (n,) = ht.psql("SELECT count(*) FROM testpeer_b.inbox WHERE tenant_id = %s" % sql_text(self.tenant))
        self.assertEqual(int(n[0]), 2, "no inbox entry of the failed item, none of the rolled back batch")

    def test_3_items_refused_before_they_run_leave_the_others_in_one_transaction(self):
        receiver = self.receiver().start()
        items = [batch_item("r-1", 1, "rk-1"),
                 batch_item("r-x", 1, "rk-x", method="/hotline.testing.v1.PeerService/Nope"),
                 batch_item("r-y", 1, "rk-y", method="/%s/Enqueue" % PEER),
                 batch_item("r-z", 1, "rk-z", method="/%s/Apply" % BATCH),
                 batch_item("r-w", 1, "rk-w", payload=b"\x0a\xff\xff"),
                 batch_item("r-v", 1, "rk-v", actor="bad actor"),
                 batch_item("r-2", 1, "rk-2")]
        results = self.batch(receiver, self.tenant, items)
        want = [OK, grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.INVALID_ARGUMENT, OK]
        self.assertEqual([r.code for r in results], [w.value[0] for w in want], [r.message for r in results])
        self.assertIn("not served here", results[1].message)
        self.assertIn("cannot be batched", results[2].message)
        txs = effect_transactions(self.tenant)
        self.assertEqual(sorted(txs), ["r-1", "r-2"])
        self.assertEqual(len(set(txs.values())), 1, "refused items do not break the batch")

    def test_4_access_and_size(self):
        receiver = self.receiver().start()
        # each item is checked like its own call: PeerService/Apply is open to followup only
        results = self.batch(receiver, self.tenant, [batch_item("a-1", 1, "ak-1"), batch_item("a-2", 1, "ak-2")],
                             cert="compliance")
        self.assertEqual({r.code for r in results}, {grpc.StatusCode.PERMISSION_DENIED.value[0]})
        self.assertEqual(effect_count(self.tenant), 0)
        # Apply itself is internal: a client certificate is refused, as is a call without a tenant
        code, _ = ht.code_of(self.batch, receiver, self.tenant, [batch_item("a-1", 1, "ak-1")], cert="client")
        self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
        code, details = ht.code_of(self.batch, receiver, "", [batch_item("a-1", 1, "ak-1")])
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, details)
        for n in (0, 257):
            items = [batch_item("s-%d" % i, 1, "sk-%d" % i) for i in range(n)]
            code, details = ht.code_of(self.batch, receiver, self.tenant, items)
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, n)
            self.assertIn("items: 1 to 256", details)
        self.assertEqual(effect_count(self.tenant), 0)
        self.assert_applied(self.batch(receiver, self.tenant, [batch_item("s-%d" % i, 1, "sk-%d" % i)
                                                               for i in range(256)]), 256)
        self.assertEqual(len(set(effect_transactions(self.tenant).values())), 1)

    def test_5_the_relay_sends_a_claim_as_apply_calls(self):
        """A claim's rows to one target and tenant go as one Apply: fewer receiver transactions
        than rows, every row applied once, in order per subject."""
        receiver = self.receiver().start()
        sender = self.sender().start()
        subjects = ["p-%d" % i for i in range(40)]
        total = enqueue(sender, self.tenant, subjects, 3)
        self.wait_delivered("testpeer_a", self.tenant, total, 60)
        self.assert_exactly_once(self.tenant, subjects, 3)
        (n,) = ht.psql("SELECT count(DISTINCT xmin::text) FROM testpeer_b.effects WHERE tenant_id = %s"
                       % sql_text(self.tenant))
        self.assertLess(int(n[0]), total // 2, "rows applied in shared transactions")
        self.assertGreater(metric(receiver.metrics(), "hotline_rpc_calls_total",
                                  method="/%s/Apply" % BATCH, code="OK"), 0)



def enqueue(sender, tenant, subjects, versions, target="receiver", first_version=0):
    """Commit len(subjects) * versions outbox rows at the sender; how many it wrote."""
    with sender.channel() as ch:
        resp = ht.rpc(ch, PEER, "Enqueue", peer_pb2.EnqueueRequest(
            subject_ids=subjects, versions=versions, first_version=first_version, target=target, payload="p"),
            peer_pb2.EnqueueResponse, metadata=ht.auth(roles=("agent",), tenant=tenant, sub=ACTOR), timeout=60)
    assert resp.enqueued == len(subjects) * versions, resp
    return resp.enqueued


if __name__ == "__main__":
    unittest.main()
