"""test_hotlinectl - hotlinectl, the command-line client, against the real stack.

The binary (HOTLINE_BUILD_DIR/tools/hotlinectl/hotlinectl) is run with --env RUN_DIR/stack.env
as a user would run it: dev tokens it mints (claims and signature checked here), the whole life
of a ticket with Chinese text (create, get, list by keyword, amend, reveal, by-phone, the public
status query, the audit trail and its verification) in JSON (parsed with json.loads, text
compared byte for byte) and in "key: value" text with masked caller data, the outbox commands of
a tenant_admin on a planted dead letter, tenancy options, and the error contract: one stderr line
"hotlinectl: <gRPC code>: <message>" and exit 1 for a failed call, exit 2 for a usage error.
"""
import base64
import hashlib
import hmac
import json
import os
import random
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

import hotline_test as ht
from hotline.intake.v1 import intake_pb2

BUILD = os.environ.get("HOTLINE_BUILD_DIR") or os.path.join(ht.REPO, "build")
BIN = os.path.join(BUILD, "tools", "hotlinectl", "hotlinectl")
ENV_FILE = os.path.join(ht.ENV["HOTLINE_RUN_DIR"], "stack.env")
INTAKE = "hotline.intake.v1.IntakeService"

# Settings come from --env only: nothing of the test runner's environment may leak in.
CHILD_ENV = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}


def ctl(*args, env_file=ENV_FILE, extra_env=None):
    """Run hotlinectl; returns (exit status, stdout bytes, stderr text)."""
    cmd = [BIN] + (["--env", env_file] if env_file else []) + list(args)
    env = dict(CHILD_ENV, **(extra_env or {}))
    p = subprocess.run(cmd, capture_output=True, timeout=60, env=env, cwd=tempfile.gettempdir())
    return p.returncode, p.stdout, p.stderr.decode("utf-8")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def chinese_tag(n=6):
    return "".join(random.choice("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥") for _ in range(n))


def random_phone():
    return "139" + "".join(random.choice("0123456789") for _ in range(8))


def masked(phone):
    return phone[:3] + "****" + phone[-4:]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HotlinectlCase(unittest.TestCase):
    def ok(self, *args, **kw):
        """Run a command that must succeed; returns stdout as text (strict UTF-8)."""
        rc, out, err = ctl(*args, **kw)
        self.assertEqual(rc, 0, "hotlinectl %s failed: %s" % (" ".join(args), err))
        self.assertEqual(err, "")
        return out.decode("utf-8")

    def ok_json(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw))

    def call_error(self, code, *args, **kw):
        """A call that must fail with the gRPC code: exit 1, one stderr line, nothing on stdout."""
        rc, out, err = ctl(*args, **kw)
        self.assertEqual(rc, 1, err)
        self.assertEqual(out, b"")
        self.assertRegex(err, r"\Ahotlinectl: %s: [^\n]+\n\Z" % code)
        return err

    def usage_error(self, *args, **kw):
        """A command line that must be refused: exit 2, one stderr line, nothing on stdout."""
        rc, out, err = ctl(*args, **kw)
        self.assertEqual(rc, 2, err)
        self.assertEqual(out, b"")
        self.assertRegex(err, r"\Ahotlinectl: [^\n]+\n\Z")
        return err


AGENT = ("--as", "agent-ctl", "--roles", "agent")
AUDITOR = ("--as", "auditor-ctl", "--roles", "auditor")
PII = ("--as", "pii-ctl", "--roles", "pii_reader,supervisor")  # the life-cycle ticket is confidential (security.md §3.1)


class TestToken(HotlinectlCase):
    def test_token_claims_and_signature(self):
        before = int(time.time())
        tok = self.ok("token", "--as", "agent-7", "--roles", "agent, pii_reader", "--tenant", "sub-east",
                      "--tenants", "sub-west,hq", "--ttl", "120").strip()
        head, body, sig = tok.split(".")
        self.assertEqual(json.loads(b64url_decode(head))["alg"], "HS256")
        claims = json.loads(b64url_decode(body))
        self.assertEqual(claims["sub"], "agent-7")
        self.assertEqual(claims["tenant"], "sub-east")
        self.assertEqual(claims["tenants"], ["sub-west", "hq"])
        self.assertEqual(claims["roles"], ["agent", "pii_reader"])
        self.assertEqual(claims["iss"], ht.ENV["HOTLINE_JWT_ISSUER"])
        self.assertEqual(claims["aud"], ht.ENV["HOTLINE_JWT_AUDIENCE"])
        self.assertLessEqual(abs(claims["iat"] - before), 60)
        self.assertEqual(claims["exp"] - claims["iat"], 120)
        want = hmac.new(ht.ENV["HOTLINE_JWT_SECRET"].encode(), (head + "." + body).encode(), hashlib.sha256).digest()
        self.assertEqual(b64url_decode(sig), want)

        # default tenant demo, no tenants claim; --json wraps the token
        tok = self.ok_json("token", "--as", "agent-8", "--roles", "agent")["token"]
        claims = json.loads(b64url_decode(tok.split(".")[1]))
        self.assertEqual((claims["tenant"], claims["roles"]), ("demo", ["agent"]))
        self.assertNotIn("tenants", claims)

    def test_minted_token_is_accepted_and_token_option(self):
        tok = self.ok("token", *AGENT).strip()
        out = self.ok("--token", tok, "ticket", "list", "--page-size", "1")
        self.assertTrue(out == "" or out.startswith("tickets:\n"), out)
        self.call_error("UNAUTHENTICATED", "--token", "not.a.token", "ticket", "list")
        # a token signed with another secret is refused by the service
        forged = ht.hs256_token(secret="x" * 40)
        self.call_error("UNAUTHENTICATED", "--token", forged, "ticket", "list")

    def test_env_from_environment_variable(self):
        rc, out, err = ctl("token", "--as", "a-1", env_file=None, extra_env={"HOTLINE_ENV": ENV_FILE})
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(len(out.decode().strip().split(".")), 3)
        # without any settings there is no secret to mint with: exit 1, one line
        rc, out, err = ctl("token", "--as", "a-1", env_file=None)
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"\Ahotlinectl: [^\n]*HOTLINE_JWT_SECRET[^\n]*\n\Z")


class TestTicketFlow(HotlinectlCase):
    def test_ticket_life_cycle(self):
        # a tenant of its own: the audit chains and lists below hold only what this test did
        tenant = "ctl-" + uuid.uuid4().hex[:8]
        agent, auditor, pii = (r + ("--tenant", tenant) for r in (AGENT, AUDITOR, PII))
        tag = chinese_tag()
        topic = "小区夜间施工噪音扰民·" + tag
        desc = "每晚十点后仍在施工，影响休息，希望尽快处理。\n第二行：“引号”与 emoji 🚧"
        area = "朝阳区"
        phone = random_phone()

        # --- create (JSON)
        raw = self.ok("--json", *agent, "ticket", "create", "--channel", "phone", "--category", "complaint",
                      "--priority", "urgent", "--confidentiality", "confidential", "--topic", topic,
                      "--description", desc, "--area", area, "--caller-name", "张三", "--caller-phone", phone,
                      "--caller-email", "zhangsan@example.com")
        self.assertIn(topic, raw)  # UTF-8 as is, not \u escapes
        created = json.loads(raw)
        t = created["ticket"]
        tid, no, code = t["id"], t["ticket_no"], created["query_code"]
        self.assertTrue(uuid.UUID(tid))
        self.assertRegex(no, r"^\d{8,}$")
        self.assertTrue(code)
        self.assertEqual((t["topic"], t["description"], t["area"]), (topic, desc, area))
        self.assertEqual(t["status"], "TICKET_STATUS_REGISTERED")
        self.assertEqual(t["channel"], "CHANNEL_PHONE")
        self.assertEqual(t["category"], "CATEGORY_COMPLAINT")
        self.assertEqual(t["priority"], "PRIORITY_URGENT")
        self.assertEqual(t["confidentiality"], "CONFIDENTIALITY_CONFIDENTIAL")
        self.assertEqual(t["status_version"], "1")  # int64 as a string
        self.assertEqual(t["registered_by"], "agent-ctl")
        self.assertEqual(t["caller"]["name"], "张*")
        self.assertEqual(t["caller"]["phone"], masked(phone))
        self.assertNotIn(phone, raw)
        self.assertNotIn("张三", raw)
        self.assertNotIn("zhangsan@example.com", raw)
        # what the service stored, read back by an independent client: the bytes hotlinectl sent
        got = ht.rpc(ht.channel(), INTAKE, "GetTicket", intake_pb2.GetTicketRequest(id=tid),
                     intake_pb2.GetTicketResponse, ht.auth(sub="agent-ctl", tenant=tenant)).ticket
        self.assertEqual((got.topic, got.description, got.area), (topic, desc, area))

        # --- get (text): key: value lines, masked caller data, multi-line text under its column
        text = self.ok(*agent, "ticket", "get", tid)
        for line in ("ticket:", "  id: " + tid, "  ticket_no: " + no, "  channel: phone",
                     "  category: complaint", "  priority: urgent", "  confidentiality: confidential",
                     "  topic: " + topic, "  area: " + area, "  caller:", "    name: 张*",
                     "    phone: " + masked(phone), "  registered_by: agent-ctl", "  tenant: " + tenant):
            self.assertIn(line, text.splitlines())
        self.assertRegex(text, r"\n  status: (registered|in_handling)\n")
        self.assertIn("  description: 每晚十点后仍在施工，影响休息，希望尽快处理。\n"
                      "               第二行：“引号”与 emoji 🚧\n", text)
        self.assertRegex(text, r"\n  created_at: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n")
        self.assertNotIn(phone, text)
        self.assertNotIn("张三", text)
        by_no = self.ok_json(*agent, "ticket", "get", "--no", no)["ticket"]
        self.assertEqual(by_no["id"], tid)
        self.assertEqual(by_no["topic"], topic)

        # --- list --keyword (Chinese); control: a keyword nobody wrote finds nothing
        found = self.ok_json(*agent, "ticket", "list", "--keyword", "噪音扰民·" + tag)["tickets"]
        self.assertEqual([x["id"] for x in found], [tid])
        self.assertEqual(found[0]["topic"], topic)
        self.assertEqual(self.ok_json(*agent, "ticket", "list", "--keyword", "噪音扰民·" + tag + "无")["tickets"], [])
        listed = self.ok(*agent, "ticket", "list", "--keyword", tag, "--category", "complaint",
                         "--channel", "phone")
        self.assertTrue(listed.startswith("tickets:\n  - id: %s\n    ticket_no: %s\n" % (tid, no)), listed)
        self.assertEqual(self.ok_json(*agent, "ticket", "list", "--keyword", tag, "--category", "praise")["tickets"],
                         [])

        # --- amend: appended with reason and author; an enum field takes the short name
        new_topic = "小区夜间施工噪音·" + tag
        am = self.ok_json(*agent, "ticket", "amend", tid, "--field", "topic", "--value", new_topic,
                          "--reason", "来电人补充说明")
        self.assertEqual(am["amendment"]["field"], "topic")
        self.assertEqual(am["amendment"]["old_value"], topic)
        self.assertEqual(am["amendment"]["new_value"], new_topic)
        self.assertEqual(am["amendment"]["reason"], "来电人补充说明")
        self.assertEqual(am["amendment"]["author"], "agent-ctl")
        self.assertEqual(am["ticket"]["topic"], new_topic)
        am = self.ok(*agent, "ticket", "amend", tid, "--field", "priority", "--value", "major", "--reason", "升级")
        self.assertIn("amendment:\n", am)
        self.assertIn("  old_value: PRIORITY_URGENT\n  new_value: PRIORITY_MAJOR\n", am)
        self.assertIn("  priority: major\n", am)
        after = self.ok_json(*agent, "ticket", "get", tid)["ticket"]
        self.assertEqual([a["field"] for a in after["amendments"]], ["topic", "priority"])
        self.assertEqual(after["priority"], "PRIORITY_MAJOR")

        # --- reveal: pii_reader only; the clear data in both forms
        self.assertIn("pii_reader", self.call_error("PERMISSION_DENIED", *agent, "ticket", "reveal", tid,
                                                    "--reason", "回访核实"))
        clear = self.ok_json(*pii, "ticket", "reveal", tid, "--reason", "回访核实")["caller"]
        self.assertEqual((clear["name"], clear["phone"], clear["email"]), ("张三", phone, "zhangsan@example.com"))
        text = self.ok(*pii, "ticket", "reveal", tid, "--reason", "回访核实")
        self.assertIn("caller:\n  name: 张三\n  phone: %s\n" % phone, text)

        # --- by-phone (blind index, pii_reader); control: another number finds nothing
        self.assertEqual([x["id"] for x in self.ok_json(*pii, "ticket", "by-phone", phone)["tickets"]], [tid])
        self.assertEqual(self.ok_json(*pii, "ticket", "by-phone", random_phone())["tickets"], [])

        # --- public-status: number + query code, no token, no personal data
        pub_raw = self.ok("--json", "--tenant", tenant, "public-status", no, code)
        pub = json.loads(pub_raw)
        self.assertEqual(pub["ticket_no"], no)
        self.assertIn(pub["status"], ("TICKET_STATUS_REGISTERED", "TICKET_STATUS_IN_HANDLING"))
        self.assertEqual(pub["category"], "CATEGORY_COMPLAINT")
        self.assertTrue(pub["public_notes"])
        for secret in (phone, masked(phone), "张", topic, new_topic):
            self.assertNotIn(secret, pub_raw)
        text = self.ok("--tenant", tenant, "public-status", no, code)
        self.assertRegex(text, r"\Aticket_no: %s\nstatus: (registered|in_handling)\ncategory: complaint\n" % no)
        self.call_error("NOT_FOUND", "--tenant", tenant, "public-status", no, "WRONGCODE")
        # the same number and code in another tenant: not found (the tenant is part of the query)
        self.call_error("NOT_FOUND", "--tenant", "demo", "public-status", no, code)
        # no token is needed: it works with settings that have no JWT secret, where a user call cannot mint one
        with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as f:
            for k, v in ht.load_env(ENV_FILE).items():
                if not k.startswith("HOTLINE_JWT_"):
                    f.write("%s=%s\n" % (k, v))
        try:
            pub = json.loads(self.ok("--json", "--tenant", tenant, "public-status", no, code, env_file=f.name))
            self.assertEqual(pub["ticket_no"], no)
            rc, out, err = ctl(*agent, "ticket", "get", tid, env_file=f.name)
            self.assertEqual(rc, 1)
            self.assertIn("HOTLINE_JWT_SECRET", err)
        finally:
            os.unlink(f.name)

        # --- audit: the chain of the ticket, linked hash by hash, and its verification
        self.call_error("PERMISSION_DENIED", *agent, "audit", "list", tid)
        entries = self.ok_json(*auditor, "audit", "list", tid)["entries"]
        # status changes reported by dispatch/followup (ticket.status) may interleave once they run
        mine = [e for e in entries if e["action"] != "ticket.status"]
        self.assertEqual([e["action"] for e in mine],
                         ["ticket.create", "ticket.amend", "ticket.amend", "caller.reveal", "caller.reveal"])
        self.assertEqual([e["actor"] for e in mine], ["agent-ctl"] * 3 + ["pii-ctl"] * 2)
        self.assertEqual([e["seq"] for e in entries], [str(i + 1) for i in range(len(entries))])
        prev = bytes(32)
        for e in entries:
            self.assertEqual(e["subject_id"], tid)
            self.assertEqual(base64.b64decode(e["prev_hash"]), prev)
            prev = base64.b64decode(e["hash"])
            self.assertEqual(len(prev), 32)
            self.assertRegex(e["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertEqual(json.loads(mine[4]["details"])["reason"], "回访核实")
        text = self.ok(*auditor, "audit", "list", tid)
        self.assertTrue(text.startswith("entries:\n  - tenant: %s\n    subject_type: ticket\n" % tenant +
                                        "    subject_id: %s\n    seq: 1\n" % tid), text)
        self.assertIn("    action: caller.reveal\n", text)
        self.assertIn("    hash: " + prev.hex() + "\n", text)  # bytes in hex
        v = self.ok_json(*auditor, "audit", "verify", tid)
        self.assertEqual((v["ok"], v["chains_checked"], v["bad_subject_id"]), (True, "1", ""))
        self.assertGreaterEqual(int(v["entries_checked"]), len(entries))
        self.assertNotIn("first_bad", v)  # an unset message is left out
        v = self.ok_json(*auditor, "audit", "verify", "--service", "intake")
        self.assertTrue(v["ok"])
        self.assertGreaterEqual(int(v["chains_checked"]), 1)
        text = self.ok(*auditor, "audit", "verify", tid)
        self.assertRegex(text, r"\Aok: true\nchains_checked: 1\nentries_checked: \d+\n")

    def test_request_id_makes_create_idempotent(self):
        rid = "ctl-" + uuid.uuid4().hex
        args = AGENT + ("ticket", "create", "--channel", "web", "--category", "consultation", "--topic", "咨询办理时间",
                        "--anonymous", "--request-id", rid)
        first = self.ok_json(*args)["ticket"]
        again = self.ok_json(*args)["ticket"]
        self.assertEqual(again["id"], first["id"])
        self.assertTrue(first["anonymous"])
        # without --request-id every call gets a fresh one: two tickets
        args = AGENT + ("ticket", "create", "--channel", "web", "--category", "consultation", "--topic", "咨询办理时间",
                        "--anonymous")
        self.assertNotEqual(self.ok_json(*args)["ticket"]["id"], self.ok_json(*args)["ticket"]["id"])

    def test_answer_on_spot(self):
        t = self.ok_json(*AGENT, "ticket", "create", "--channel", "walk-in", "--category", "consultation",
                         "--topic", "营业时间", "--anonymous", "--answer-on-spot", "--answer", "工作日九点至五点")["ticket"]
        self.assertEqual(t["status"], "TICKET_STATUS_ANSWERED_ON_SPOT")
        self.assertEqual(t["channel"], "CHANNEL_WALK_IN")
        self.assertEqual(t["answer"], "工作日九点至五点")


class TestTenancy(HotlinectlCase):
    def test_act_as_and_tenants(self):
        tenant = "ctl-" + uuid.uuid4().hex[:8]
        # a group principal of tenant hq may act in the subsidiary it lists
        t = self.ok_json("--as", "hq-agent", "--roles", "agent", "--tenant", "hq", "--tenants", tenant,
                         "--act-as", tenant, "ticket", "create", "--channel", "email", "--category", "suggestion",
                         "--topic", "建议增设夜间热线", "--caller-phone", random_phone())["ticket"]
        self.assertEqual(t["tenant"], tenant)
        # visible in that tenant, not in the principal's home tenant
        mine = self.ok_json(*AGENT, "--tenant", tenant, "ticket", "list")["tickets"]
        self.assertEqual([x["id"] for x in mine], [t["id"]])
        self.call_error("NOT_FOUND", *AGENT, "--tenant", "hq", "ticket", "get", t["id"])
        # acting in a tenant the token does not list is refused
        self.call_error("PERMISSION_DENIED", *AGENT, "--act-as", tenant, "ticket", "list")


class TestOutbox(HotlinectlCase):
    """On rows planted in a tenant of their own for a target without an address: the relay keeps
    them waiting (UNAVAILABLE is retried), so the figures do not depend on which services run."""

    def plant(self, tenant, dead):
        row = ht.psql(
            "INSERT INTO intake.outbox (tenant_id, subject_id, target, method, idempotency_key, actor, payload, "
            "dead_at, last_error) VALUES ('%s', '%s', 'ctlnowhere', '/hotline.testing.v1.Nowhere/Call', '%s', "
            "'test_hotlinectl', '\\x'::bytea, %s, %s) RETURNING id"
            % (tenant, uuid.uuid4(), uuid.uuid4(), "now()" if dead else "NULL",
               "'planted by test_hotlinectl'" if dead else "NULL"))
        return row[0][0]

    def test_stats_dead_letters_redrive(self):
        tenant = "ctl-" + uuid.uuid4().hex[:8]
        admin = ("--as", "admin-ctl", "--roles", "tenant_admin", "--tenant", tenant)
        self.call_error("PERMISSION_DENIED", *AGENT, "--tenant", tenant, "outbox", "stats")
        self.assertEqual(self.ok_json(*admin, "outbox", "stats"),
                         {"pending": "0", "dead_letters": "0", "oldest_pending_seconds": 0, "delivered": "0"})

        self.plant(tenant, dead=False)
        self.plant(tenant, dead=False)
        dead_id = self.plant(tenant, dead=True)
        stats = self.ok_json(*admin, "outbox", "stats")
        self.assertEqual((stats["pending"], stats["dead_letters"], stats["delivered"]), ("2", "1", "0"))
        self.assertIsInstance(stats["oldest_pending_seconds"], (int, float))
        text = self.ok(*admin, "outbox", "stats", "--service", "intake")
        self.assertTrue(text.startswith("pending: 2\ndead_letters: 1\noldest_pending_seconds: "), text)
        # tenant-scoped: another tenant's admin sees none of it
        other = ("--as", "admin-ctl", "--roles", "tenant_admin", "--tenant", "ctl-" + uuid.uuid4().hex[:8])
        self.assertEqual(self.ok_json(*other, "outbox", "stats")["pending"], "0")
        self.assertEqual(self.ok_json(*other, "outbox", "dead-letters")["dead_letters"], [])

        dead = self.ok_json(*admin, "outbox", "dead-letters")["dead_letters"]
        self.assertEqual([(d["id"], d["target"], d["method"], d["last_error"]) for d in dead],
                         [(dead_id, "ctlnowhere", "/hotline.testing.v1.Nowhere/Call", "planted by test_hotlinectl")])
        self.assertIn("dead_letters:\n  - id: %s\n" % dead_id, self.ok(*admin, "outbox", "dead-letters"))

        # re-drive by id (an unknown id counts nothing), then everything with --all
        self.assertEqual(self.ok_json(*admin, "outbox", "redrive", "999999999")["redriven"], 0)
        self.assertEqual(self.ok(*admin, "outbox", "redrive", dead_id, "999999998"), "redriven: 1\n")
        self.assertEqual(self.ok_json(*admin, "outbox", "dead-letters")["dead_letters"], [])
        stats = self.ok_json(*admin, "outbox", "stats")
        self.assertEqual((stats["pending"], stats["dead_letters"]), ("3", "0"))
        self.plant(tenant, dead=True)
        self.plant(tenant, dead=True)
        self.assertEqual(self.ok_json(*admin, "outbox", "redrive", "--all")["redriven"], 2)
        self.assertEqual(self.ok_json(*admin, "outbox", "stats")["dead_letters"], "0")
        self.usage_error(*admin, "outbox", "redrive")
        self.usage_error(*admin, "outbox", "redrive", "1", "--all")
        self.usage_error(*admin, "outbox", "redrive", "one")


class TestErrors(HotlinectlCase):
    def test_usage_errors_exit_2(self):
        self.assertIn("unknown command 'frobnicate'", self.usage_error("frobnicate"))
        self.assertIn("unknown ticket command 'frob'", self.usage_error("ticket", "frob"))
        self.assertIn("unknown option --frob", self.usage_error(*AGENT, "ticket", "list", "--frob"))
        self.assertIn("unknown option --keyword", self.usage_error(*AGENT, "ticket", "get", "x", "--keyword", "a"))
        self.assertIn("missing ID", self.usage_error(*PII, "ticket", "reveal"))
        self.assertIn("--reason", self.usage_error(*PII, "ticket", "reveal", str(uuid.uuid4())))
        self.assertIn("--channel: needs a value", self.usage_error(*AGENT, "ticket", "create", "--channel"))
        self.usage_error(*AGENT, "ticket", "get")
        self.usage_error(*AGENT, "ticket", "by-phone", "1", "2")
        self.usage_error(*AGENT, "ticket", "list", "--page-size", "many")
        self.usage_error(*AGENT, "ticket", "list", "--from", "2025-02-30")
        self.usage_error("--timeout", "0", *AGENT, "ticket", "list")
        self.usage_error(*AUDITOR, "audit", "verify", "--service", "nowhere")
        self.usage_error("ticket")
        rc, out, err = ctl()
        self.assertEqual((rc, out), (2, b""))
        self.assertIn("Commands:", err)

    def test_bad_enum_names_the_accepted_values(self):
        err = self.usage_error(*AGENT, "ticket", "create", "--channel", "fax", "--topic", "x")
        self.assertIn("--channel: 'fax' is not one of phone, web, wechat, email, walk_in, open311", err)
        err = self.usage_error(*AGENT, "ticket", "list", "--status", "done")
        self.assertIn("registered, answered_on_spot, in_handling, replied, reopened, closed, archived", err)
        err = self.usage_error(*AGENT, "ticket", "amend", str(uuid.uuid4()), "--field", "category",
                               "--value", "rumour", "--reason", "r")
        self.assertIn("consultation, complaint, report, suggestion, help, praise", err)
        # full names and '-' for '_' are accepted (the call then reaches the service)
        out = self.ok_json(*AGENT, "ticket", "list", "--status", "TICKET_STATUS_ANSWERED_ON_SPOT", "--channel",
                           "walk-in", "--page-size", "5")
        self.assertTrue(all(t["status"] == "TICKET_STATUS_ANSWERED_ON_SPOT" for t in out["tickets"]))

    def test_call_errors_exit_1(self):
        self.assertIn("role", self.call_error("PERMISSION_DENIED", "--as", "nobody", "ticket", "list"))
        self.call_error("NOT_FOUND", *AGENT, "ticket", "get", str(uuid.uuid4()))
        self.call_error("INVALID_ARGUMENT", *AGENT, "ticket", "get", "not-a-uuid")
        self.call_error("INVALID_ARGUMENT", *AGENT, "ticket", "create", "--channel", "phone", "--category", "help")
        self.call_error("UNAVAILABLE", "--addr", "127.0.0.1:%d" % free_port(), "--timeout", "3000", *AGENT,
                        "ticket", "list")
        # --addr pointing at the real service works (control for the line above)
        self.ok(*AGENT, "--addr", ht.ENV["HOTLINE_INTAKE_ADDR"], "ticket", "list", "--page-size", "1")

    def test_help_at_every_level(self):
        top = self.ok("--help")
        for words in ("token", "ticket create", "ticket by-phone", "public-status", "audit verify",
                      "outbox dead-letters", "outbox redrive", "outbox stats"):
            self.assertIn("  " + words + " ", top)
        for opt in ("--env FILE", "--as SUB", "--roles A,B", "--tenant T", "--tenants X,Y", "--act-as T",
                    "--token JWT", "--addr HOST:PORT", "--timeout MS", "--json"):
            self.assertIn(opt, top)
        self.assertIn("  ticket amend ", self.ok("ticket", "--help"))
        create = self.ok("ticket", "create", "--help")
        for opt in ("--channel NAME", "--category NAME", "--priority NAME", "--confidentiality NAME", "--topic TEXT",
                    "--description TEXT", "--area TEXT", "--caller-name TEXT", "--caller-phone TEXT",
                    "--caller-id-number TEXT", "--caller-address TEXT", "--caller-email TEXT", "--anonymous",
                    "--answer-on-spot", "--answer TEXT", "--request-id TEXT"):
            self.assertIn("  " + opt, create)
        self.assertIn("phone, web, wechat, email, walk_in, open311", create)
        self.assertIn("Usage: hotlinectl ticket get [options] [ID]", self.ok("ticket", "get", "-h"))
        self.assertIn("--service NAME", self.ok("outbox", "stats", "--help"))
        self.assertIn("Usage: hotlinectl public-status [options] TICKET_NO QUERY_CODE",
                      self.ok("public-status", "--help"))


if __name__ == "__main__":
    unittest.main()
