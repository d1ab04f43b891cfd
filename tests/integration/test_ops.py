"""Operations of a running service: the plain HTTP ops port (/healthz,
/readyz, /metrics in Prometheus text format), serving through a Redis outage
(degraded, still ready) and through a PostgreSQL restart (no ticket lost, no call failed once it is back), and
a graceful SIGTERM.  Real stack: PostgreSQL, Redis, intake over mTLS."""
import concurrent.futures
import os
import re
import signal
import time
import unittest
import urllib.error
import urllib.request

import grpc

import hotline_test as ht
from hotline.common.v1 import common_pb2
from hotline.intake.v1 import intake_pb2

INTAKE = "hotline.intake.v1.IntakeService"
OPS = "http://" + ht.ENV["HOTLINE_INTAKE_OPS"]
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$')


def http_get(path):
    """(status, body text) of GET on intake's ops port."""
    try:
        with urllib.request.urlopen(OPS + path, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metrics():
    """{series line without value: float value} of /metrics; every line must parse."""
    code, body = http_get("/metrics")
    assert code == 200, code
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not Prometheus text format: %r" % line
        series, value = line.rsplit(" ", 1)
        out[series] = float(value)
    return out


def series_value(ms, name, *needles):
    """Sum of the samples of metric `name` whose labels contain every needle."""
    total = 0.0
    for k, v in ms.items():
        if (k == name or k.startswith(name + "{")) and all(n in k for n in needles):
            total += v
    return total


def postgres_pids():
    """The stack's postmaster and its children (backends and helpers), from /proc."""
    with open(os.path.join(ht.ENV["HOTLINE_RUN_DIR"], "pgdata.path")) as f:
        base = f.readline().strip()
    with open(os.path.join(base, "data", "postmaster.pid")) as f:
        master = int(f.readline())
    pids = [master]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == master:
                pids.append(int(d))
    return pids


def signal_all(pids, sig):
    """Send sig to each pid; one that has exited meanwhile (a backend whose client just left, reaped
    once the postmaster runs again) is skipped."""
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def timed_get(path):
    """(status, body, seconds) of GET on intake's ops port."""
    t0 = time.monotonic()
    code, body = http_get(path)
    return code, body, time.monotonic() - t0


class Ops(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ch = ht.channel("intake")

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    def create(self, **over):
        req = intake_pb2.CreateTicketRequest(
            request_id=ht.request_id(), channel=common_pb2.CHANNEL_PHONE, category=common_pb2.CATEGORY_HELP,
            priority=common_pb2.PRIORITY_GENERAL, topic="路灯不亮", description="小区门口路灯连续三天不亮。",
            area="海淀区", caller=intake_pb2.Caller(name="王五", phone="13900001111"))
        for k, v in over.items():
            setattr(req, k, v)
        return ht.rpc(self.ch, INTAKE, "CreateTicket", req, intake_pb2.CreateTicketResponse, ht.auth())

    def get(self, tid):
        return ht.rpc(self.ch, INTAKE, "GetTicket", intake_pb2.GetTicketRequest(id=tid),
                      intake_pb2.GetTicketResponse, ht.auth()).ticket

    def test_healthz_and_readyz(self):
        self.assertEqual(http_get("/healthz")[0], 200)
        code, body = http_get("/readyz")
        self.assertEqual(code, 200)
        for line in ("db ok", "redis ok", "migrations ok"):
            self.assertIn(line, body)
        self.assertEqual(http_get("/nope")[0], 404)

    def test_no_tenant_id_column_collects_statistics(self):
        """After its migrations each service sets every tenant_id column of its schema to collect no
        statistics (common/src/migrate.c): a plan cached for one tenant must not read another's rows."""
        rows = ht.psql("SELECT n.nspname, c.relname, a.attstattarget FROM pg_attribute a "
                       "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE a.attname = 'tenant_id' AND NOT a.attisdropped AND c.relkind = 'r' AND n.nspname IN "
                       "('intake', 'dispatch', 'followup', 'compliance', 'reporting') ORDER BY 1, 2")
        self.assertEqual({r[0] for r in rows}, {"intake", "dispatch", "followup", "compliance", "reporting"})
        self.assertGreater(len(rows), 40)  # control: the tables of every service are there
        self.assertEqual([r for r in rows if r[2] != "0"], [], "tenant_id columns that collect statistics")

    def test_queue_tables_sample_little_and_seldom(self):
        """The outbox and the timers of every service analyze a small sample (statistics target 10,
        tenant_id none) after a fifth of the table changed (common/migrations/008_queue_analyze.sql)."""
        rows = ht.psql("SELECT n.nspname, c.relname, a.attname, a.attstattarget FROM pg_attribute a "
                       "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE c.relname IN ('outbox', 'timers') AND a.attnum > 0 AND NOT a.attisdropped AND "
                       "n.nspname IN ('intake', 'dispatch', 'followup', 'compliance', 'reporting')")
        self.assertEqual({(r[0], r[1]) for r in rows},
                         {(s, t) for s in ("intake", "dispatch", "followup", "compliance", "reporting")
                          for t in ("outbox", "timers")})
        self.assertIn(("intake", "outbox", "payload", "10"), [tuple(r) for r in rows])  # control
        self.assertEqual([r for r in rows if r[3] != ("0" if r[2] == "tenant_id" else "10")], [],
                         "queue columns with another statistics target")
        opts = ht.psql("SELECT n.nspname, c.relname, c.reloptions::text FROM pg_class c "
                       "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname IN ('outbox', 'timers') "
                       "AND n.nspname IN ('intake', 'dispatch', 'followup', 'compliance', 'reporting')")
        self.assertEqual(len(opts), 10)
        self.assertEqual([r for r in opts if "autovacuum_analyze_scale_factor=0.2" not in r[2]], [])

    def test_metrics_count_calls_by_method_and_code(self):
        before = metrics()
        self.create()
        code, _ = ht.code_of(ht.rpc, self.ch, INTAKE, "GetTicket",
                             intake_pb2.GetTicketRequest(id="00000000-0000-7000-8000-000000000000"),
                             intake_pb2.GetTicketResponse, ht.auth())
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        calls = "hotline_rpc_calls_total"
        # the driver counts a call as it ends, which may be just after the client has its answer
        after = ht.wait_for(lambda: (lambda m: m if series_value(m, calls, "GetTicket", "NOT_FOUND") >
                                     series_value(before, calls, "GetTicket", "NOT_FOUND") else None)(metrics()),
                            timeout=5, interval=0.1, what="the NOT_FOUND call counted")
        self.assertEqual(series_value(after, calls, "CreateTicket", '"OK"') -
                         series_value(before, calls, "CreateTicket", '"OK"'), 1)
        self.assertEqual(series_value(after, calls, "GetTicket", "NOT_FOUND") -
                         series_value(before, calls, "GetTicket", "NOT_FOUND"), 1)
        # latency histogram: the +Inf bucket and the count agree, and grew
        inf = series_value(after, "hotline_rpc_duration_seconds_bucket", "CreateTicket", 'le="+Inf"')
        count = series_value(after, "hotline_rpc_duration_seconds_count", "CreateTicket")
        self.assertGreaterEqual(inf, 1)
        self.assertEqual(inf, count)
        self.assertGreater(series_value(after, "hotline_rpc_duration_seconds_sum", "CreateTicket"), 0)
        self.assertGreater(series_value(after, "hotline_worker_pool_size"), 0)
        for name in ("hotline_outbox_backlog", "hotline_outbox_dead_letters", "hotline_worker_busy"):
            self.assertTrue(any(k == name or k.startswith(name + "{") for k in after), name)

    def test_calls_one_at_a_time_go_to_the_same_warm_worker(self):
        """A call is taken by the worker that has been idle the shortest time (rpc_server.c): 40
        GetTickets one after another run on one or two of intake's 24 PostgreSQL connections, warm,
        not on each in turn (the stack's background work, status updates delivered to intake, may
        take a few others meanwhile)."""
        tid = self.create().ticket.id
        (t0,) = ht.psql("SELECT now()")[0]
        for _ in range(40):
            self.assertEqual(self.get(tid).id, tid)
        (used,) = ht.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'intake_runtime' "
                          "AND state_change > '%s'" % t0)[0]
        self.assertLessEqual(int(used), 6, "intake_runtime backends that ran a statement during 40 calls")

    def test_postgres_backends_keep_their_heap(self):
        """The dev stack starts PostgreSQL with glibc's malloc keeping freed heap (scripts/stack, PG_MALLOC):
        a backend does not hand its query memory back to the kernel after each statement."""
        master = postgres_pids()[0]
        with open("/proc/%d/environ" % master, "rb") as f:
            env = f.read()
        self.assertIn(b"GLIBC_TUNABLES=glibc.malloc.trim_threshold=33554432", env)
        self.assertIn(b"glibc.malloc.top_pad=1048576", env)

    def test_serves_reads_and_writes_while_redis_is_down(self):
        ht.stack("stop-redis")
        try:
            code, body = http_get("/readyz")
            self.assertEqual(code, 200, body)  # degraded, still ready
            self.assertIn("redis degraded", body)
            t = self.create().ticket
            self.assertEqual(self.get(t.id).ticket_no, t.ticket_no)
        finally:
            ht.stack("start-redis")
        ht.wait_for(lambda: "redis ok" in http_get("/readyz")[1], timeout=15, what="redis ok in /readyz")

    def test_healthz_answers_while_postgres_is_stopped(self):
        """PostgreSQL SIGSTOPped (every process: it accepts TCP, never answers): /healthz still
        answers at once, /readyz answers at once too and says not ready within a bounded time."""
        ht.wait_for(lambda: http_get("/readyz")[0] == 200, timeout=15, what="ready before")
        pids = postgres_pids()
        signal_all(pids, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            not_ready = None
            while time.monotonic() - t0 < 12:
                code, _, took = timed_get("/healthz")
                self.assertEqual(code, 200)
                self.assertLess(took, 1.0, "/healthz waited for the readiness check")
                code, body, took = timed_get("/readyz")
                self.assertLess(took, 1.0, "/readyz waited for the readiness check")
                if code == 503:
                    not_ready = time.monotonic() - t0
                    break
                time.sleep(0.2)
            self.assertIsNotNone(not_ready, "/readyz still ready 12 s after PostgreSQL stopped")
            print("  /readyz not ready %.1f s after PostgreSQL stopped: %s" % (not_ready, body.strip()))
        finally:
            signal_all(pids, signal.SIGCONT)
        ht.wait_for(lambda: http_get("/readyz")[0] == 200, timeout=30, what="ready again after SIGCONT")

    def test_postgres_restart_loses_no_ticket(self):
        t = self.create().ticket
        ht.stack("restart-postgres")

        def created():
            try:
                return self.create().ticket
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE, e.details())
                return None
        t2 = ht.wait_for(created, timeout=30, what="CreateTicket after the PostgreSQL restart")
        self.assertEqual(self.get(t.id).ticket_no, t.ticket_no)
        self.assertEqual(self.get(t2.id).ticket_no, t2.ticket_no)
        ht.wait_for(lambda: http_get("/readyz")[0] == 200, timeout=15, what="ready again")
        # every worker's connection died with the server; each reconnects on its next call
        # instead of failing it (32 calls at once reach all of them)
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            nos = list(ex.map(lambda _: self.get(t.id).ticket_no, range(32)))
        self.assertEqual(set(nos), {t.ticket_no})

    def test_sigterm_is_a_clean_shutdown(self):
        log = ht.ENV["HOTLINE_RUN_DIR"] + "/logs/intake.log"
        start = len(ht.read_bytes(log))
        t0 = time.time()
        ht.stack("restart-service", "intake")
        self.assertLess(time.time() - t0, 30)
        tail = ht.read_bytes(log)[start:].decode("utf-8", "replace")
        self.assertRegex(tail, r"stopping.*signal=15")
        self.assertRegex(tail, r"stopped.*clean=yes")
        # the restart ran the migrations again (schema_migrations "already exists, skipping"): the
        # server's notices are log events, never raw libpq lines
        self.assertNotRegex(tail, r"(?m)^(NOTICE|WARNING):")
        ch = ht.channel("intake")
        try:
            r = ht.rpc(ch, INTAKE, "GetTicket", intake_pb2.GetTicketRequest(id=self.create().ticket.id),
                       intake_pb2.GetTicketResponse, ht.auth())
            self.assertTrue(r.ticket.ticket_no)
        finally:
            ch.close()


if __name__ == "__main__":
    unittest.main()
