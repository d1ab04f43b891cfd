"""test_retention - nothing of a caller survives the destruction of its retention-period key (R28,
docs/security.md §5.1-§5.2), against the real stack (PostgreSQL, Redis, intake over mutual TLS).

A fresh tenant gets tickets in two retention periods: the stack's intake registers under
<year + 10> (HOTLINE_RETENTION_YEARS default), a second intake process on the same database and
key directory under <year + 11>. The same phone is used in both periods, another phone only in
the first; a caller name of the first period is amended. Then the first period is destroyed the
way an operator does it (`hotline-intake destroy-period TENANT PERIOD`, with the service's own
environment) while both intakes keep running, and:

- GetTicket and ListTickets still answer; the destroyed period's tickets show no mask at all
  (caller fields empty, `caller_destroyed` set), neither do their caller-field amendments; the
  live period's tickets still show their masks;
- FindTicketsByPhone finds the live period's tickets only, and a new registration with a phone
  seen only in the destroyed period is not a repeat caller (one seen in the live period is);
- no masked value is stored in clear: the ticket and amendment rows hold no mask, before and after;
- rows indexed under the former tenant-wide blind-index key (before migration 004) are still
  found while their period lives, and not once it is destroyed (their old index is cleared).
"""
import base64
import datetime
import os
import random
import subprocess
import time
import unittest
import uuid
import hmac
import hashlib

import grpc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import hotline_test as ht
from hotline.common.v1 import common_pb2 as cm
from hotline.intake.v1 import intake_pb2 as pb

INTAKE = "hotline.intake.v1.IntakeService"
BIN = os.path.join(ht.ENV["HOTLINE_BUILD_DIR"], "services", "intake", "hotline-intake")


def phone():
    return "139" + "".join(random.choice("0123456789") for _ in range(8))


def masked_phone(p):
    return p[:3] + "****" + p[-4:]


def intake_env(port, ops_port, retention_years):
    """The environment scripts/stack gives intake, on other ports, without relay or timers."""
    e, cert = ht.ENV, ht.ENV["HOTLINE_CERT_DIR"]
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "HOTLINE_LISTEN": "127.0.0.1:%d" % port,
        "HOTLINE_OPS_LISTEN": "127.0.0.1:%d" % ops_port,
        "HOTLINE_TLS_CERT": os.path.join(cert, "intake.pem"),
        "HOTLINE_TLS_KEY": os.path.join(cert, "intake.key"),
        "HOTLINE_TLS_CA": os.path.join(cert, "ca.pem"),
        "HOTLINE_DB_DSN": e["HOTLINE_INTAKE_DSN"],
        "HOTLINE_DB_OWNER_DSN": e["HOTLINE_INTAKE_OWNER_DSN"],
        "HOTLINE_DB_SYSTEM_DSN": e["HOTLINE_INTAKE_SYSTEM_DSN"],
        "HOTLINE_REDIS_URL": e["HOTLINE_REDIS_URL"],
        "HOTLINE_JWT_SECRET": e["HOTLINE_JWT_SECRET"],
        "HOTLINE_JWT_ISSUER": e["HOTLINE_JWT_ISSUER"],
        "HOTLINE_JWT_AUDIENCE": e["HOTLINE_JWT_AUDIENCE"],
        "HOTLINE_MASTER_KEY_FILE": e["HOTLINE_MASTER_KEY_FILE"],
        "HOTLINE_KEY_DIR": e["HOTLINE_KEY_DIR"],
        "HOTLINE_RETENTION_YEARS": str(retention_years),
        "HOTLINE_RELAY_THREADS": "0",
        "HOTLINE_TIMER_THREADS": "0",
        "HOTLINE_WORKERS": "2",
    }


def legacy_index(tenant, p):
    """The phone's blind index under the former tenant-wide key (docs/security.md §5.1 before
    migration 004): HMAC-SHA-256 keyed by HKDF(lowest master version, "hotline/blind-index/v1/<t>")."""
    keys = {}
    with open(ht.ENV["HOTLINE_MASTER_KEY_FILE"], encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                ver, b64 = line[1:].split(":", 1) if line.startswith("v") else ("1", line)
                keys[int(ver)] = base64.b64decode(b64)
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
             info=("hotline/blind-index/v1/" + tenant).encode()).derive(keys[min(keys)])
    return hmac.new(k, p.encode(), hashlib.sha256).hexdigest()


class Retention(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ch = ht.channel("intake")
        grpc.channel_ready_future(cls.ch).result(timeout=30)
        port, ops = ht.free_port(), ht.free_port()
        cls.proc = subprocess.Popen([BIN], env=intake_env(port, ops, 11), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.ch2 = grpc.secure_channel("localhost:%d" % port, grpc.ssl_channel_credentials(
            ht.read_bytes(os.path.join(ht.ENV["HOTLINE_CERT_DIR"], "ca.pem")),
            ht.read_bytes(ht.cert_paths()[1]), ht.read_bytes(ht.cert_paths()[0])))
        try:
            grpc.channel_ready_future(cls.ch2).result(timeout=30)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.ch2.close()
        if cls.proc.poll() is None:
            cls.proc.terminate()
            try:
                cls.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait()

    def setUp(self):
        # a tenant of its own per test: a destroyed period is never created again
        self.tenant = ht.new_tenant("ret")
        self.tag = "留存测试 " + uuid.uuid4().hex

    def call(self, method, req, resp_cls, ch=None, roles=("agent",), sub="agent-1"):
        return ht.rpc(ch or self.ch, INTAKE, method, req, resp_cls,
                      metadata=ht.auth(roles=roles, tenant=self.tenant, sub=sub), timeout=20)

    def create(self, ch, name, ph):
        req = pb.CreateTicketRequest(request_id=ht.request_id(), channel=cm.CHANNEL_PHONE,
                                     category=cm.CATEGORY_COMPLAINT, topic=self.tag, description="市民来电。",
                                     area="朝阳区", caller=pb.Caller(name=name, phone=ph))
        return self.call("CreateTicket", req, pb.CreateTicketResponse, ch=ch).ticket

    def get(self, tid):
        return self.call("GetTicket", pb.GetTicketRequest(id=tid), pb.GetTicketResponse).ticket

    def listed(self):
        r = self.call("ListTickets", pb.ListTicketsRequest(keyword=self.tag, page_size=100), pb.ListTicketsResponse)
        return {t.id: t for t in r.tickets}

    def by_phone(self, p):
        r = self.call("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=p), pb.FindTicketsByPhoneResponse,
                      roles=("pii_reader",), sub="pii-" + uuid.uuid4().hex[:8])
        return {t.id for t in r.tickets}

    def period_of(self, tid):
        return ht.psql("SELECT key_period FROM intake.tickets WHERE id = '%s'" % tid)[0][0]

    def destroy(self, period):
        """Destroy (tenant, period) as an operator does, with the service's environment."""
        # the compliance gate in front of it (an approved review first) is test_compliance_gates' subject
        env = dict(intake_env(0, 0, 10), HOTLINE_DESTROY_GATE="off")
        out = subprocess.run([BIN, "destroy-period", self.tenant, period], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout[-2000:] + out.stderr[-2000:])
        return out

    def row_text(self, table, where):
        """Every column of the rows as text (superuser: no row-level security)."""
        return "\n".join("\t".join(r) for r in ht.psql("SELECT t::text FROM intake.%s t WHERE %s" % (table, where)))

    def test_destroyed_period_keeps_no_mask_and_no_index(self):
        shared, only_old, name, new_name = phone(), phone(), "欧阳" + "峰", "欧阳" + "锋"
        a1 = self.create(self.ch, name, shared)
        a2 = self.create(self.ch, "张三", only_old)
        b1 = self.create(self.ch2, "李四", shared)
        period_a, period_b = self.period_of(a1.id), self.period_of(b1.id)
        year = datetime.datetime.now(datetime.timezone.utc).year
        self.assertEqual((period_a, period_b), (str(year + 10), str(year + 11)))
        self.assertEqual(self.period_of(a2.id), period_a)
        self.assertTrue(b1.repeat_caller, "the same phone in another live period is a repeat caller")
        am = self.call("AmendTicket", pb.AmendTicketRequest(id=a1.id, field="caller.name", new_value=new_name,
                                                            reason="来电人更正", request_id=ht.request_id()),
                       pb.AmendTicketResponse).amendment
        self.assertEqual((am.old_value, am.new_value), ("欧**", "欧**"))

        # before: masks shown, found by phone in both periods
        got = self.get(a1.id)
        self.assertEqual((got.caller.name, got.caller.phone), ("欧**", masked_phone(shared)))
        self.assertFalse(getattr(got, "caller_destroyed", False))
        self.assertEqual([(x.field, x.old_value, x.new_value) for x in got.amendments],
                         [("caller.name", "欧**", "欧**")])
        self.assertEqual(self.by_phone(shared), {a1.id, b1.id})
        self.assertEqual(self.by_phone(only_old), {a2.id})

        self.destroy(period_a)

        # after: the destroyed period shows no mask, the live one does; reading still works
        for tid in (a1.id, a2.id):
            t = self.get(tid)
            self.assertEqual((t.caller.name, t.caller.phone, t.caller.id_number, t.caller.address,
                              t.caller.email), ("", "", "", "", ""), tid)
            self.assertTrue(getattr(t, "caller_destroyed", False), "the ticket says its caller data is destroyed")
            self.assertEqual(t.topic, self.tag, "the rest of the ticket is still there")
        self.assertEqual([(x.field, x.old_value, x.new_value) for x in self.get(a1.id).amendments],
                         [("caller.name", "", "")])
        t = self.get(b1.id)
        self.assertEqual((t.caller.name, t.caller.phone), ("李*", masked_phone(shared)))
        self.assertFalse(getattr(t, "caller_destroyed", False))
        listed = self.listed()
        self.assertEqual(set(listed), {a1.id, a2.id, b1.id})
        self.assertEqual(listed[a1.id].caller.phone, "")
        self.assertEqual(listed[a2.id].caller.name, "")
        self.assertEqual(listed[b1.id].caller.phone, masked_phone(shared))
        self.assertTrue(getattr(listed[a1.id], "caller_destroyed", False))
        self.assertFalse(getattr(listed[b1.id], "caller_destroyed", False))

        # phone lookups and the repeat-caller check see the live period only
        self.assertEqual(self.by_phone(shared), {b1.id})
        self.assertEqual(self.by_phone(only_old), set())
        again_old = self.create(self.ch2, "王五", only_old)
        again_shared = self.create(self.ch2, "赵六", shared)
        self.assertFalse(again_old.repeat_caller, "a phone seen only in a destroyed period is not a repeat caller")
        self.assertTrue(again_shared.repeat_caller)
        # the second intake process, which had the destroyed key cached, sees the same
        r = ht.rpc(self.ch2, INTAKE, "GetTicket", pb.GetTicketRequest(id=a1.id), pb.GetTicketResponse,
                   metadata=ht.auth(tenant=self.tenant), timeout=20).ticket
        self.assertEqual((r.caller.name, r.caller.phone), ("", ""))
        code, _ = ht.code_of(self.call, "RevealCaller", pb.RevealCallerRequest(id=a1.id, reason="核实"),
                             pb.RevealCallerResponse, roles=("pii_reader",))
        self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION)

    def test_no_mask_stored_in_clear(self):
        p, q = phone(), phone()
        t = self.create(self.ch, "欧阳峰", p)
        self.assertEqual((t.caller.name, t.caller.phone), ("欧**", masked_phone(p)), "CreateTicket answers masks")
        am = self.call("AmendTicket", pb.AmendTicketRequest(id=t.id, field="caller.phone", new_value=q,
                                                            reason="来电人更正", request_id=ht.request_id()),
                       pb.AmendTicketResponse)
        self.assertEqual((am.amendment.old_value, am.amendment.new_value), (masked_phone(p), masked_phone(q)))
        self.assertEqual(am.ticket.caller.phone, masked_phone(q))
        stored = self.row_text("tickets", "id = '%s'" % t.id) + self.row_text("amendments", "ticket_id = '%s'" % t.id)
        for mask in (masked_phone(p), masked_phone(q), "欧**"):
            self.assertNotIn(mask, stored, "a mask stored in clear")
        self.assertEqual(self.by_phone(q), {t.id})
        self.assertEqual(self.by_phone(p), set())

    def test_older_replica_masks_are_blanked(self):
        """A clear mask written by an older replica during a rolling upgrade is blanked (004's trigger,
        called only for such rows since 005)."""
        t = self.create(self.ch, "欧阳峰", phone())
        ht.psql("UPDATE intake.tickets SET masked_phone = '139****0000', masked_name = '欧**' WHERE id = '%s'" % t.id)
        self.assertEqual(ht.psql("SELECT masked_phone, masked_name FROM intake.tickets WHERE id = '%s'" % t.id),
                         [["", ""]])

    def test_legacy_tenant_wide_indexes(self):
        """Rows indexed under the former tenant-wide key: found while their period lives, not after."""
        live_p, dead_p = phone(), phone()
        live = self.create(self.ch2, "孙七", live_p)
        dead = self.create(self.ch, "周八", dead_p)
        for t, p in ((live, live_p), (dead, dead_p)):
            ht.psql("UPDATE intake.tickets SET phone_index = '%s' WHERE id = '%s'"
                    % (legacy_index(self.tenant, p), t.id))
        self.assertEqual(self.by_phone(live_p), {live.id})
        self.assertEqual(self.by_phone(dead_p), {dead.id})
        self.destroy(self.period_of(dead.id))
        self.assertEqual(self.by_phone(live_p), {live.id})
        self.assertEqual(self.by_phone(dead_p), set())
        idx = ht.psql("SELECT phone_index IS NULL FROM intake.tickets WHERE id = '%s'" % dead.id)[0][0]
        self.assertEqual(idx, "t", "the destroyed period's old-key index is cleared")
        self.assertTrue(self.create(self.ch2, "吴九", live_p).repeat_caller)
        self.assertFalse(self.create(self.ch2, "郑十", dead_p).repeat_caller)


if __name__ == "__main__":
    unittest.main()
