"""test_audit_migrate - tamper evidence of the audit chain, and concurrent migration.

Audit (DESIGN §5.4): VerifyAuditChain is ok for fresh tickets and a whole
tenant; entries altered, re-hashed, truncated or deleted by the PostgreSQL
superuser with the append-only triggers switched off
(session_replication_role = replica) are reported, naming the subject and the
sequence number; the runtime and owner roles cannot UPDATE, DELETE or
TRUNCATE the audit log at all.  The tampering happens in a tenant of its own
and every change is undone (and verified undone), so the tenant-wide
verification of other test files is not disturbed.

Migration (DESIGN §5.2): three hotline-intake processes started at the same
instant against a fresh database (bootstrapped with scripts/db-init) apply
each migration exactly once and all serve.
"""
import hashlib
import os
import signal
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request
import uuid

import grpc

import hotline_test as ht
from hotline.audit.v1 import audit_pb2
from hotline.common.v1 import common_pb2 as cm
from hotline.intake.v1 import intake_pb2 as pb

INTAKE = "hotline.intake.v1.IntakeService"
AUDIT = "hotline.audit.v1.AuditService"
COLS = "tenant_id, subject_type, subject_id, seq, actor, action, at_us, details, prev_hash, hash"


def lp(s):
    b = s.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def audit_hash(prev, tenant, subject_type, subject_id, seq, actor, action, at_us, details):
    """SHA-256(prev_hash || canonical entry), as docs/audit.md defines it: what a forger computes."""
    canon = (b"hotline.audit.v1\x00" + lp(tenant) + lp(subject_type) + lp(subject_id) + struct.pack(">q", seq)
             + lp(actor) + lp(action) + struct.pack(">q", at_us) + lp(details))
    return hashlib.sha256(prev + canon).digest()


def superuser(sql):
    """SQL as the superuser with the append-only triggers off for this session only."""
    return ht.psql("SET session_replication_role = replica; " + sql + "; RESET session_replication_role")


class AuditTamperTest(unittest.TestCase):
    """Everything here happens in a tenant of its own (created on first use)."""

    @classmethod
    def setUpClass(cls):
        cls.ch = ht.channel("intake")
        grpc.channel_ready_future(cls.ch).result(timeout=30)
        cls.tenant = ht.new_tenant("au-tamper")
        cls.t = ht.sql_literal(cls.tenant)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    def setUp(self):
        self.addCleanup(self.assert_tenant_ok)

    # ---- helpers -----------------------------------------------------------------------------

    def md(self, roles=("agent",), tenant=None):
        return ht.auth(roles=roles, tenant=tenant or self.tenant, sub="agent-1")

    def ticket(self, amend=2, reveal=True):
        """A ticket with a chain of exactly 1 + amend (+ 1) entries: answered on the spot, so that no
        other service ever reports a status for it (which would append to its chain meanwhile)."""
        req = pb.CreateTicketRequest(request_id=ht.request_id(), channel=cm.CHANNEL_PHONE,
                                     category=cm.CATEGORY_CONSULTATION, topic="咨询噪音投诉渠道",
                                     description="夜间施工如何投诉", answer_on_spot=True, answer="可拨打本热线登记。",
                                     caller=pb.Caller(name="张三", phone="13912345678"))
        t = ht.rpc(self.ch, INTAKE, "CreateTicket", req, pb.CreateTicketResponse, metadata=self.md()).ticket
        for i in range(amend):
            ht.rpc(self.ch, INTAKE, "AmendTicket",
                   pb.AmendTicketRequest(id=t.id, field="topic", new_value="噪音扰民（更正%d）" % i, reason="补充说明"),
                   pb.AmendTicketResponse, metadata=self.md())
        if reveal:
            ht.rpc(self.ch, INTAKE, "RevealCaller", pb.RevealCallerRequest(id=t.id, reason="回访核实"),
                   pb.RevealCallerResponse, metadata=self.md(roles=("pii_reader",)))
        return t.id

    def verify(self, subject_id="", tenant=None):
        return ht.rpc(self.ch, AUDIT, "VerifyAuditChain", audit_pb2.VerifyAuditChainRequest(subject_id=subject_id),
                      audit_pb2.VerifyAuditChainResponse, metadata=self.md(roles=("auditor",), tenant=tenant))

    def entries(self, subject_id):
        return ht.rpc(self.ch, AUDIT, "ListAuditEntries", audit_pb2.ListAuditEntriesRequest(subject_id=subject_id),
                      audit_pb2.ListAuditEntriesResponse, metadata=self.md(roles=("auditor",))).entries

    def where(self, subject_id, seq=None):
        w = "tenant_id = %s AND subject_id = %s" % (self.t, ht.sql_literal(subject_id))
        return w if seq is None else w + " AND seq = %d" % seq

    def save(self, table, where):
        """The rows of an audit table as INSERT statements that put them back."""
        cols = COLS if table == "audit_log" else "tenant_id, subject_id, subject_type, entries, head_hash"
        sel = ", ".join("encode(%s, 'hex')" % c if c in ("prev_hash", "hash", "head_hash") else "%s::text" % c
                        for c in cols.split(", "))
        rows = ht.psql("SELECT %s FROM intake.%s WHERE %s" % (sel, table, where))
        self.assertTrue(rows)
        out = []
        for r in rows:
            vals = ["decode(%s, 'hex')" % ht.sql_literal(v) if c in ("prev_hash", "hash", "head_hash")
                    else ht.sql_literal(v) for c, v in zip(cols.split(", "), r)]
            out.append("INSERT INTO intake.%s (%s) VALUES (%s)" % (table, cols, ", ".join(vals)))
        return out

    @staticmethod
    def restore(statements):
        superuser("; ".join(statements))

    def assert_tenant_ok(self):
        v = self.verify()
        self.assertTrue(v.ok, "tenant %s left with a bad chain: %s %s" % (self.tenant, v.bad_subject_id, v.problem))

    def assert_bad(self, v, subject_id, problem, seq=None):
        self.assertFalse(v.ok)
        self.assertEqual(v.bad_subject_id, subject_id)
        self.assertIn(problem, v.problem)
        if seq is None:
            self.assertEqual(v.first_bad.seq, 0, "no entry to name")
        else:
            self.assertEqual((v.first_bad.subject_id, v.first_bad.seq), (subject_id, seq))

    # ---- tests ----------------------------------------------------------------------------------

    def test_verify_is_ok_for_a_fresh_ticket_and_the_whole_tenant(self):
        ids = [self.ticket(amend=i, reveal=bool(i % 2)) for i in range(3)]
        for i, sid in enumerate(ids):
            v = self.verify(sid)
            self.assertTrue(v.ok, v.problem)
            self.assertEqual((v.chains_checked, v.entries_checked), (1, 1 + i + (i % 2)))
        v = self.verify()
        self.assertTrue(v.ok, v.problem)
        n = ht.count_rows("intake.audit_heads", "tenant_id = %s" % self.t)
        self.assertGreaterEqual(n, 3)
        self.assertEqual(v.chains_checked, n, "every chain of the tenant was checked")
        self.assertEqual(v.entries_checked, ht.count_rows("intake.audit_log", "tenant_id = %s" % self.t))
        # the shared demo tenant verifies too, and on its own chains only
        d = self.verify(tenant="demo")
        self.assertTrue(d.ok, "%s %s" % (d.bad_subject_id, d.problem))
        self.assertEqual(d.chains_checked, ht.count_rows("intake.audit_heads", "tenant_id = 'demo'"))
        # an unknown subject has no chain; only auditors and tenant admins verify
        unknown = str(uuid.uuid4())
        self.assert_bad(self.verify(unknown), unknown, "chain missing")
        code, _ = ht.code_of(ht.rpc, self.ch, AUDIT, "VerifyAuditChain", audit_pb2.VerifyAuditChainRequest(),
                             audit_pb2.VerifyAuditChainResponse, metadata=self.md(roles=("agent", "pii_reader")))
        self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)

    def test_altered_entry_is_reported_with_its_sequence_number(self):
        sid = self.ticket(amend=2, reveal=True)  # seq 1 create, 2-3 amend, 4 reveal
        other = self.ticket(amend=0, reveal=False)
        orig = ht.psql("SELECT details FROM intake.audit_log WHERE " + self.where(sid, 2))[0]
        # without switching the triggers off even the superuser cannot change an entry
        with self.assertRaisesRegex(RuntimeError, "append-only"):
            ht.psql("UPDATE intake.audit_log SET details = '{}' WHERE " + self.where(sid, 2))
        superuser("UPDATE intake.audit_log SET details = %s WHERE %s"
                  % (ht.sql_literal(orig[0].replace("topic", "area")), self.where(sid, 2)))
        try:
            self.assertNotEqual(self.entries(sid)[1].details, orig[0], "the tampering took effect")
            self.assert_bad(self.verify(sid), sid, "hash mismatch", seq=2)
            v = self.verify()
            self.assert_bad(v, sid, "hash mismatch", seq=2)
            self.assertTrue(self.verify(other).ok, "the other chains are fine")
            d = self.verify(tenant="demo")
            self.assertTrue(d.ok, "another tenant is not affected: %s" % d.problem)
        finally:
            superuser("UPDATE intake.audit_log SET details = %s WHERE %s" % (ht.sql_literal(orig[0]),
                                                                               self.where(sid, 2)))
        self.assertTrue(self.verify(sid).ok)

    def test_rehashed_entry_breaks_the_link_to_the_next_one_and_to_the_head(self):
        sid = self.ticket(amend=2, reveal=True)
        e = {x.seq: x for x in self.entries(sid)}
        self.assertEqual(sorted(e), [1, 2, 3, 4])
        # the forger recomputes the hash of the entry they changed: the next entry names the old one
        for seq, problem in ((2, "prev_hash does not match"), (4, "chain head hash does not match")):
            x = e[seq]
            fields = (x.tenant, x.subject_type, x.subject_id, x.seq, x.actor, x.action, x.at_us)
            self.assertEqual(audit_hash(bytes(x.prev_hash), *fields, x.details), bytes(x.hash),
                             "the forger hashes exactly as the service does")
            self.assertTrue(x.details.endswith("}"))
            forged = x.details[:-1] + ',"note":"forged"}'
            h = audit_hash(bytes(x.prev_hash), *fields, forged)
            superuser("UPDATE intake.audit_log SET details = %s, hash = decode('%s', 'hex') WHERE %s"
                      % (ht.sql_literal(forged), h.hex(), self.where(sid, seq)))
            try:
                v = self.verify(sid)
                if seq == 2:
                    self.assert_bad(v, sid, problem, seq=3)
                else:
                    self.assert_bad(v, sid, problem)
                self.assertFalse(self.verify().ok)
            finally:
                superuser("UPDATE intake.audit_log SET details = %s, hash = decode('%s', 'hex') WHERE %s"
                          % (ht.sql_literal(x.details), bytes(x.hash).hex(), self.where(sid, seq)))
            self.assertTrue(self.verify(sid).ok)

    def test_deleted_chain_is_reported(self):
        sid = self.ticket(amend=1, reveal=True)
        saved = self.save("audit_log", self.where(sid))
        self.assertEqual(len(saved), 3)
        # every entry of the subject, head kept
        superuser("DELETE FROM intake.audit_log WHERE " + self.where(sid))
        try:
            self.assertEqual(ht.count_rows("intake.audit_log", self.where(sid)), 0)
            v = self.verify(sid)
            self.assert_bad(v, sid, "chain missing")
            self.assertEqual(v.chains_checked, 1)
            self.assert_bad(self.verify(), sid, "chain missing")
        finally:
            self.restore(saved)
        self.assertTrue(self.verify(sid).ok)
        # only the last entry: the head still counts it
        superuser("DELETE FROM intake.audit_log WHERE " + self.where(sid, 3))
        try:
            self.assert_bad(self.verify(sid), sid, "chain truncated")
            self.assert_bad(self.verify(), sid, "chain truncated")
        finally:
            self.restore(saved[2:])
        self.assertTrue(self.verify(sid).ok)
        # entries and head: the ticket itself has no audit trail any more
        head = self.save("audit_heads", self.where(sid))
        superuser("DELETE FROM intake.audit_log WHERE %s; DELETE FROM intake.audit_heads WHERE %s"
                  % (self.where(sid), self.where(sid)))
        try:
            self.assert_bad(self.verify(), sid, "no audit trail")
            self.assert_bad(self.verify(sid), sid, "chain missing")
        finally:
            self.restore(saved + head)
        # the head alone
        superuser("DELETE FROM intake.audit_heads WHERE " + self.where(sid))
        try:
            self.assert_bad(self.verify(), sid, "chain head missing")
        finally:
            self.restore(head)
        v = self.verify(sid)
        self.assertTrue(v.ok, v.problem)
        self.assertEqual(v.entries_checked, 3)

    def test_runtime_and_owner_roles_cannot_change_the_audit_log(self):
        sid = self.ticket(amend=1, reveal=False)
        before = ht.psql("SELECT seq, details, encode(hash, 'hex') FROM intake.audit_log WHERE %s ORDER BY seq"
                         % self.where(sid))
        scope = "SELECT set_config('hotline.tenant', %s, false); " % self.t
        runtime, owner = ht.ENV["HOTLINE_INTAKE_DSN"], ht.ENV["HOTLINE_INTAKE_OWNER_DSN"]
        # control: the runtime role does see the rows it may not change
        seen = ht.psql(scope + "SELECT count(*) FROM intake.audit_log WHERE subject_id = %s" % ht.sql_literal(sid),
                       dsn=runtime)
        self.assertEqual(seen[-1], ["2"])
        refused = [
            (runtime, "UPDATE intake.audit_log SET details = '{}' WHERE subject_id = %s" % ht.sql_literal(sid),
             "permission denied"),
            (runtime, "DELETE FROM intake.audit_log WHERE subject_id = %s" % ht.sql_literal(sid), "permission denied"),
            (runtime, "TRUNCATE intake.audit_log", "permission denied"),
            (runtime, "DELETE FROM intake.audit_heads WHERE subject_id = %s" % ht.sql_literal(sid),
             "permission denied"),
            (runtime, "SET session_replication_role = replica", "permission denied"),
            (runtime, "ALTER TABLE intake.audit_log DISABLE TRIGGER ALL", "must be owner"),
            (owner, "UPDATE intake.audit_log SET details = '{}' WHERE subject_id = %s" % ht.sql_literal(sid),
             "append-only"),
            (owner, "DELETE FROM intake.audit_log WHERE subject_id = %s" % ht.sql_literal(sid), "append-only"),
            (owner, "TRUNCATE intake.audit_log", "append-only"),
            (owner, "DELETE FROM intake.audit_heads WHERE subject_id = %s" % ht.sql_literal(sid), "append-only"),
        ]
        for dsn, sql, why in refused:
            with self.subTest(sql=sql, role=dsn.split(":")[1].lstrip("/")):
                with self.assertRaisesRegex(RuntimeError, why):
                    ht.psql(scope + sql, dsn=dsn)
        after = ht.psql("SELECT seq, details, encode(hash, 'hex') FROM intake.audit_log WHERE %s ORDER BY seq"
                        % self.where(sid))
        self.assertEqual(after, before)
        self.assertTrue(self.verify(sid).ok)


class ConcurrentMigrationTest(unittest.TestCase):
    """Three intake replicas start together on a fresh database."""

    def setUp(self):
        self.base = int(ht.ENV["HOTLINE_BASE_PORT"])
        self.db = "hl_migrate_" + uuid.uuid4().hex[:10]
        su = urllib.parse.urlsplit(ht.ENV["HOTLINE_PG_SUPERUSER_DSN"])
        self.su_dsn = urllib.parse.urlunsplit(su._replace(path="/" + self.db))
        ht.psql("CREATE DATABASE %s" % self.db)
        self.addCleanup(lambda: ht.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.db))
        self.tmp = tempfile.TemporaryDirectory(prefix="hl-migrate-")
        self.addCleanup(self.tmp.cleanup)
        self.procs = []
        self.addCleanup(self.stop_all)

    def stop_all(self):
        for p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, log in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            log.close()

    def ports(self, n):
        """n gRPC/ops port pairs: base+30.. when free, else any free ports."""
        wanted = [self.base + 30 + i for i in range(2 * n)]
        if not all(self.port_free(p) for p in wanted):
            wanted = [ht.free_port() for _ in range(2 * n)]
        return [(wanted[i], wanted[n + i]) for i in range(n)]

    @staticmethod
    def port_free(port):
        import socket
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
        return True

    def db_init(self):
        """scripts/db-init against the fresh database. The roles are cluster-wide: the env file starts
        with the stack's DSNs so that db-init keeps the roles' passwords (a fresh file would give
        them new ones and lock the running stack out of new connections)."""
        env_file = os.path.join(self.tmp.name, "db.env")
        with open(env_file, "w") as f:
            for k, v in sorted(ht.ENV.items()):
                if k.endswith("_DSN") and k != "HOTLINE_PG_SUPERUSER_DSN":
                    f.write("%s=%s\n" % (k, v))
        env = dict(os.environ, HOTLINE_DB_ENV_FILE=env_file)
        out = subprocess.run(["bash", os.path.join(ht.REPO, "scripts", "db-init"), self.su_dsn], env=env,
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        dsns = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        for kind in ("", "_OWNER", "_SYSTEM"):
            key = "HOTLINE_INTAKE%s_DSN" % kind
            new, old = urllib.parse.urlsplit(dsns[key]), urllib.parse.urlsplit(ht.ENV[key])
            self.assertEqual(new.path, "/" + self.db)
            self.assertEqual((new.username, new.password), (old.username, old.password))
        # the running stack still logs in
        self.assertEqual(ht.psql("SELECT 1", dsn=ht.ENV["HOTLINE_INTAKE_DSN"]), [["1"]])
        return dsns

    def service_env(self, dsns, port, ops):
        """What scripts/stack (svc_env) gives intake, on other ports and the fresh database."""
        certs = ht.ENV["HOTLINE_CERT_DIR"]
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR", "TZ") if k in os.environ}
        env.update({
            "HOTLINE_LISTEN": "127.0.0.1:%d" % port,
            "HOTLINE_OPS_LISTEN": "127.0.0.1:%d" % ops,
            "HOTLINE_TLS_CERT": os.path.join(certs, "intake.pem"),
            "HOTLINE_TLS_KEY": os.path.join(certs, "intake.key"),
            "HOTLINE_TLS_CA": os.path.join(certs, "ca.pem"),
            "HOTLINE_DB_DSN": dsns["HOTLINE_INTAKE_DSN"],
            "HOTLINE_DB_OWNER_DSN": dsns["HOTLINE_INTAKE_OWNER_DSN"],
            "HOTLINE_DB_SYSTEM_DSN": dsns["HOTLINE_INTAKE_SYSTEM_DSN"],
            "HOTLINE_REDIS_URL": ht.ENV["HOTLINE_REDIS_URL"],
            "HOTLINE_REDIS_PREFIX": self.db,  # its own keys in the shared Redis
            "HOTLINE_JWT_SECRET": ht.ENV["HOTLINE_JWT_SECRET"],
            "HOTLINE_JWT_ISSUER": ht.ENV["HOTLINE_JWT_ISSUER"],
            "HOTLINE_JWT_AUDIENCE": ht.ENV["HOTLINE_JWT_AUDIENCE"],
            "HOTLINE_MASTER_KEY_FILE": ht.ENV["HOTLINE_MASTER_KEY_FILE"],
            "HOTLINE_KEY_DIR": ht.ENV["HOTLINE_KEY_DIR"],
            "HOTLINE_LOG_LEVEL": "info",
        })
        for svc in ht.SERVICES:
            env["HOTLINE_%s_ADDR" % svc.upper()] = ht.ENV["HOTLINE_%s_ADDR" % svc.upper()]
        return env

    @staticmethod
    def ready(ops):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % ops, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def log_text(self, i):
        with open(os.path.join(self.tmp.name, "intake-%d.log" % i), encoding="utf-8", errors="replace") as f:
            return f.read()

    def test_three_processes_migrate_once_and_all_serve(self):
        dsns = self.db_init()
        binary = os.path.join(ht.ENV["HOTLINE_BUILD_DIR"], "services", "intake", "hotline-intake")
        self.assertTrue(os.access(binary, os.X_OK), binary)
        ports = self.ports(3)
        envs = [self.service_env(dsns, p, o) for p, o in ports]
        barrier = threading.Barrier(3)
        started = [None] * 3

        def start(i):
            log = open(os.path.join(self.tmp.name, "intake-%d.log" % i), "wb")
            barrier.wait(10)
            started[i] = (subprocess.Popen([binary], env=envs[i], stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True), log)

        ths = [threading.Thread(target=start, args=(i,)) for i in range(3)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(20)
        self.procs.extend(x for x in started if x)
        self.assertEqual(len(self.procs), 3)
        deadline = time.time() + 90
        for i, (_, ops) in enumerate(ports):
            while not self.ready(ops):
                p = self.procs[i][0]
                self.assertIsNone(p.poll(), "replica %d exited:\n%s" % (i, self.log_text(i)[-3000:]))
                self.assertLess(time.time(), deadline, "replica %d not ready:\n%s" % (i, self.log_text(i)[-3000:]))
                time.sleep(0.2)
        # each migration is recorded once, with the checksum the stack's database has
        repo_migrations = sorted(
            [f[:-4] for f in os.listdir(os.path.join(ht.REPO, "common", "migrations")) if f.endswith(".sql")]
            + [f[:-4] for f in os.listdir(os.path.join(ht.REPO, "services", "intake", "migrations"))
               if f.endswith(".sql")])
        rows = ht.psql("SELECT name, checksum FROM intake.schema_migrations ORDER BY name", dsn=self.su_dsn)
        self.assertEqual([r[0] for r in rows], repo_migrations)
        stack_rows = ht.psql("SELECT name, checksum FROM intake.schema_migrations ORDER BY name")
        self.assertEqual(rows, stack_rows)
        # ... and applied once: one migration_applied line per file over the three logs
        applied = [line for i in range(3) for line in self.log_text(i).splitlines()
                   if "event=migration_applied" in line]
        names = sorted(line.split("name=")[1].split()[0] for line in applied)
        self.assertEqual(names, repo_migrations, "\n".join(applied))
        # every replica serves
        ca = ht.read_bytes(ht.ENV["HOTLINE_CA"])
        cert, key = ht.cert_paths("client")
        creds = grpc.ssl_channel_credentials(ca, ht.read_bytes(key), ht.read_bytes(cert))
        tenant = ht.new_tenant("mig")
        numbers = []
        for port, _ in ports:
            ch = grpc.secure_channel("127.0.0.1:%d" % port, creds)
            try:
                req = pb.CreateTicketRequest(request_id=ht.request_id(), channel=cm.CHANNEL_WEB,
                                             category=cm.CATEGORY_HELP, topic="迁移后登记",
                                             caller=pb.Caller(name="张三", phone="13912345678"))
                r = ht.rpc(ch, INTAKE, "CreateTicket", req, pb.CreateTicketResponse,
                           metadata=ht.auth(tenant=tenant), timeout=20)
                numbers.append(r.ticket.ticket_no)
            finally:
                ch.close()
        self.assertEqual(len(set(numbers)), 3)
        self.assertEqual(ht.count_rows("intake.tickets", "tenant_id = %s" % ht.sql_literal(tenant), dsn=self.su_dsn),
                         3)
        self.assertEqual(ht.count_rows("intake.tickets", "tenant_id = %s" % ht.sql_literal(tenant)), 0,
                         "written to the fresh database, not the stack's")
        # a clean stop on SIGTERM
        for p, _ in self.procs:
            p.send_signal(signal.SIGTERM)
        for i, (p, _) in enumerate(self.procs):
            self.assertEqual(p.wait(30), 0, self.log_text(i)[-2000:])


if __name__ == "__main__":
    unittest.main()
