"""test_intake_review - the intake defects found in security review, each proven against the real
stack (PostgreSQL, Redis, intake and dispatch over mutual TLS, python3-grpcio clients).

- Limits: every free-text field that intake sends to dispatch has one limit (hl/limits.h) on
  both sides: the longest value intake accepts (4-byte characters, the worst case on the wire)
  reaches dispatch and becomes a case (no dead letter); one character more is refused by intake
  with INVALID_ARGUMENT naming the field.
- Request ids: a repeated request_id with the same request replays the first result; with a
  different request (CreateTicket or AmendTicket) it is INVALID_ARGUMENT "request_id: already
  used for a different request", nothing is written, and the stored digest is keyed per tenant
  (not a plain hash that would confirm a guessed phone).
- Visibility: a principal whose JWT dept is implicated by a report gets NOT_FOUND on GetTicket,
  RevealCaller and AmendTicket and does not find it in ListTickets or FindTicketsByPhone (even an
  inspector); confidential tickets are seen by their registrant, supervisor, auditor,
  tenant_admin and inspector only, secret ones by their registrant and inspector only.
- Phone lookups: FindTicketsByPhone needs pii_reader (agent, supervisor, tenant_admin are
  refused); every lookup leaves a `phone.lookup` audit entry without the phone; the 31st lookup
  of a user in a tenant within a minute is RESOURCE_EXHAUSTED (other users and tenants unaffected);
  with Redis down lookups fail closed (UNAVAILABLE) and work again when it is back; a restarted Redis
  (every worker's connection closed) refuses no lookup.
"""
import concurrent.futures
import hashlib
import random
import unittest

import grpc

import hotline_test as ht
from hotline.audit.v1 import audit_pb2
from hotline.common.v1 import common_pb2 as cm
from hotline.intake.v1 import intake_pb2 as pb

INTAKE = "hotline.intake.v1.IntakeService"
INVALID = grpc.StatusCode.INVALID_ARGUMENT
WIDE = "\U00020000"  # 𠀀: 4 bytes of UTF-8, the longest a character can be

RESPONSES = {
    "CreateTicket": pb.CreateTicketResponse,
    "GetTicket": pb.GetTicketResponse,
    "ListTickets": pb.ListTicketsResponse,
    "AmendTicket": pb.AmendTicketResponse,
    "RevealCaller": pb.RevealCallerResponse,
    "FindTicketsByPhone": pb.FindTicketsByPhoneResponse,
}

# field -> the limit in characters (hl/limits.h)
LIMITS = {"topic": 200, "description": 5000, "area": 100}


def phone():
    return "137" + "".join(random.choice("0123456789") for _ in range(8))


class Review(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ch = ht.channel("intake")
        grpc.channel_ready_future(cls.ch).result(timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    def call(self, method, req, tenant="demo", roles=("agent",), sub="agent-1", **claims):
        md = ht.auth(roles=roles, tenant=tenant, sub=sub, **claims)
        return ht.rpc(self.ch, INTAKE, method, req, RESPONSES[method], metadata=md, timeout=20)

    def fails(self, method, req, **kw):
        return ht.code_of(self.call, method, req, **kw)

    @staticmethod
    def request(**kw):
        fields = dict(request_id=ht.request_id(), channel=cm.CHANNEL_PHONE, category=cm.CATEGORY_COMPLAINT,
                      topic="复核测试工单", description="市民来电反映问题。", area="朝阳区",
                      caller=pb.Caller(name="张三", phone=phone()))
        fields.update(kw)
        return pb.CreateTicketRequest(**fields)

    def create(self, tenant="demo", **kw):
        return self.call("CreateTicket", self.request(**kw), tenant=tenant)


class Limits(Review):

    def delivered(self, ticket_id):
        """The SubmitTicket row of the ticket was delivered (not dead-lettered) and dispatch has a case."""
        sql = ("SELECT coalesce(bool_or(delivered_at IS NOT NULL), false), coalesce(bool_or(dead_at IS NOT NULL), false) "
               "FROM intake.outbox WHERE subject_id = '%s' AND target = 'dispatch'" % ticket_id)

        def done():
            row = ht.psql(sql)[0]
            return row if "t" in row else None

        delivered, dead = ht.wait_for(done, timeout=60, what="SubmitTicket delivery of " + ticket_id)
        self.assertEqual((delivered, dead), ("t", "f"), "SubmitTicket dead-lettered")
        self.assertEqual(ht.count_rows("dispatch.cases", "ticket_id = '%s'" % ticket_id), 1, "no case at dispatch")

    def test_longest_accepted_values_reach_dispatch(self):
        tenant = ht.new_tenant("lim")
        t = self.create(tenant=tenant, topic=WIDE * LIMITS["topic"], description=WIDE * LIMITS["description"],
                        area=WIDE * LIMITS["area"]).ticket
        self.delivered(t.id)

    def test_one_character_over_is_refused_naming_the_field(self):
        tenant = ht.new_tenant("lim")
        for field, n in LIMITS.items():
            code, details = self.fails("CreateTicket", self.request(**{field: WIDE * (n + 1)}), tenant=tenant)
            self.assertEqual(code, INVALID, field)
            self.assertIn(field, details)
        answer = dict(category=cm.CATEGORY_CONSULTATION, answer_on_spot=True)
        self.create(tenant=tenant, answer=WIDE * 5000, **answer)
        code, details = self.fails("CreateTicket", self.request(answer=WIDE * 5001, **answer), tenant=tenant)
        self.assertEqual((code, "answer" in details), (INVALID, True))
        self.assertEqual(ht.count_rows("intake.tickets", "tenant_id = '%s'" % tenant), 1)

    def test_amended_text_has_the_same_limits(self):
        tenant = ht.new_tenant("lim")
        t = self.create(tenant=tenant).ticket
        for field, n in LIMITS.items():
            amend = lambda v: pb.AmendTicketRequest(id=t.id, field=field, new_value=v, reason="更正",
                                                    request_id=ht.request_id())
            self.call("AmendTicket", amend(WIDE * n), tenant=tenant)
            code, details = self.fails("AmendTicket", amend(WIDE * (n + 1)), tenant=tenant)
            self.assertEqual((code, "new_value" in details), (INVALID, True), field)


class RequestIds(Review):
    REUSED = "request_id: already used for a different request"

    def test_same_request_replays_different_request_is_refused(self):
        tenant = ht.new_tenant("rid")
        req = self.request()
        first = self.call("CreateTicket", req, tenant=tenant)
        again = self.call("CreateTicket", req, tenant=tenant)
        self.assertEqual((again.ticket.id, again.query_code), (first.ticket.id, first.query_code))
        changes = [dict(description="另一件事"), dict(caller=pb.Caller(name="张三", phone=phone())),
                   dict(category=cm.CATEGORY_HELP), dict(anonymous=True)]
        for change in changes:
            other = pb.CreateTicketRequest()
            other.CopyFrom(req)
            for k, v in change.items():
                if isinstance(v, pb.Caller):
                    other.caller.CopyFrom(v)
                else:
                    setattr(other, k, v)
            code, details = self.fails("CreateTicket", other, tenant=tenant)
            self.assertEqual((code, details), (INVALID, self.REUSED), change)
        self.assertEqual(ht.count_rows("intake.tickets", "tenant_id = '%s'" % tenant), 1)

    def test_digest_is_keyed_per_tenant(self):
        a, b = ht.new_tenant("rid"), ht.new_tenant("rid")
        req = self.request()
        ta = self.call("CreateTicket", req, tenant=a).ticket
        tb = self.call("CreateTicket", req, tenant=b).ticket
        da = ht.psql("SELECT request_digest FROM intake.tickets WHERE id = '%s'" % ta.id)[0][0]
        db = ht.psql("SELECT request_digest FROM intake.tickets WHERE id = '%s'" % tb.id)[0][0]
        self.assertRegex(da, "^[0-9a-f]{64}$")
        self.assertNotEqual(da, db, "the same request in another tenant has another digest")
        plain = pb.CreateTicketRequest()
        plain.CopyFrom(req)
        plain.request_id = ""
        self.assertNotEqual(da, hashlib.sha256(plain.SerializeToString()).hexdigest(), "not a plain hash")

    def test_amendment_request_id_reused_for_another_change(self):
        tenant = ht.new_tenant("rid")
        t = self.create(tenant=tenant).ticket
        rid = ht.request_id()
        req = pb.AmendTicketRequest(id=t.id, field="caller.phone", new_value=phone(), reason="来电人更正",
                                    request_id=rid)
        first = self.call("AmendTicket", req, tenant=tenant)
        self.assertEqual(self.call("AmendTicket", req, tenant=tenant).amendment.id, first.amendment.id)
        other = pb.AmendTicketRequest(id=t.id, field="caller.phone", new_value=phone(), reason="来电人更正",
                                      request_id=rid)
        code, details = self.fails("AmendTicket", other, tenant=tenant)
        self.assertEqual((code, details), (INVALID, self.REUSED))
        self.assertEqual(ht.count_rows("intake.amendments", "tenant_id = '%s'" % tenant), 1)


NOT_FOUND = grpc.StatusCode.NOT_FOUND


class Visibility(Review):
    """One tenant; tickets registered by agent-1; every reader another principal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tenant = ht.new_tenant("vis")
        cls.marker = "可见性" + ht.request_id()[-10:]

    def register(self, **kw):
        p = phone()
        kw.setdefault("topic", self.marker + " " + ht.request_id()[-6:])
        t = self.call("CreateTicket", self.request(caller=pb.Caller(name="李四", phone=p), **kw),
                      tenant=self.tenant).ticket
        return t, p

    def sees(self, t, p, roles, dept=None, sub="reader-1"):
        """What the principal gets: (GetTicket ok, listed, found by phone, revealed) for ticket t."""
        claims = dict(roles=roles, sub=sub, tenant=self.tenant)
        if dept:
            claims["dept"] = dept
        got = self.fails("GetTicket", pb.GetTicketRequest(id=t.id), **claims)[0]
        listed = t.id in [x.id for x in self.call("ListTickets", pb.ListTicketsRequest(keyword=self.marker,
                                                                                        page_size=100),
                                                   **claims).tickets]
        found = t.id in [x.id for x in self.call("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=p),
                                                  **dict(claims, roles=list(roles) + ["pii_reader"])).tickets]
        revealed = self.fails("RevealCaller", pb.RevealCallerRequest(id=t.id, reason="核实"),
                              **dict(claims, roles=list(roles) + ["pii_reader"]))[0]
        self.assertIn(got, (None, NOT_FOUND))
        self.assertIn(revealed, (None, NOT_FOUND))
        return got is None, listed, found, revealed is None

    ALL = (True, True, True, True)
    NONE = (False, False, False, False)

    def test_implicated_department_does_not_see_the_report(self):
        t, p = self.register(category=cm.CATEGORY_REPORT, implicated_department_ids=["housing", "police"])
        self.assertEqual(self.sees(t, p, ["handler"], dept="housing"), self.NONE)
        self.assertEqual(self.sees(t, p, ["inspector"], dept="police"), self.NONE, "recusal beats clearance")
        self.assertEqual(self.sees(t, p, ["inspector"], dept="water"), self.ALL)
        self.assertEqual(self.sees(t, p, ["inspector"]), self.ALL)
        code, _ = self.fails("AmendTicket", pb.AmendTicketRequest(id=t.id, field="area", new_value="海淀区",
                                                                  reason="更正"),
                             roles=["supervisor"], sub="sup-1", dept="housing", tenant=self.tenant)
        self.assertEqual(code, NOT_FOUND)

    def test_confidential_ticket_is_seen_by_cleared_roles_and_its_registrant(self):
        t, p = self.register(category=cm.CATEGORY_REPORT)  # reports default to confidential
        self.assertEqual(t.confidentiality, cm.CONFIDENTIALITY_CONFIDENTIAL)
        for roles in (["handler"], ["agent"], ["dept_head", "analyst"]):
            self.assertEqual(self.sees(t, p, roles), self.NONE, roles)
        for roles in (["supervisor"], ["auditor"], ["tenant_admin"], ["inspector"]):
            self.assertEqual(self.sees(t, p, roles), self.ALL, roles)
        self.assertEqual(self.sees(t, p, ["agent"], sub="agent-1"), self.ALL, "the registering agent")

    def test_secret_ticket_is_seen_by_inspector_and_its_registrant(self):
        t, p = self.register(category=cm.CATEGORY_REPORT, confidentiality=cm.CONFIDENTIALITY_SECRET)
        for roles in (["handler"], ["supervisor"], ["auditor", "tenant_admin"]):
            self.assertEqual(self.sees(t, p, roles), self.NONE, roles)
        self.assertEqual(self.sees(t, p, ["inspector"]), self.ALL)
        self.assertEqual(self.sees(t, p, ["agent"], sub="agent-1"), self.ALL, "the registering agent")

    def test_internal_ticket_is_seen_by_all_staff(self):
        t, p = self.register(category=cm.CATEGORY_COMPLAINT)
        self.assertEqual(t.confidentiality, cm.CONFIDENTIALITY_INTERNAL)
        self.assertEqual(self.sees(t, p, ["handler"], dept="water"), self.ALL)


EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
DENIED = grpc.StatusCode.PERMISSION_DENIED
PII = ["pii_reader"]


class PhoneLookup(Review):

    def find(self, p, tenant, sub, roles=PII):
        return self.fails("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=p), tenant=tenant, roles=roles,
                          sub=sub)

    def test_only_pii_reader_may_look_up(self):
        tenant = ht.new_tenant("ph")
        for roles in (["agent"], ["supervisor"], ["tenant_admin"], ["agent", "supervisor", "tenant_admin"]):
            code, details = self.find(phone(), tenant, "agent-1", roles=roles)
            self.assertEqual(code, DENIED, roles)
            self.assertIn("pii_reader", details)
        self.assertEqual(self.find(phone(), tenant, "agent-1")[0], None)

    def test_every_lookup_is_audited_without_the_phone(self):
        tenant = ht.new_tenant("ph")
        p = phone()
        t = self.create(tenant=tenant, caller=pb.Caller(name="王五", phone=p)).ticket
        self.assertEqual(self.find(p, tenant, "pii-7"), (None, None))
        self.assertEqual(self.find(phone(), tenant, "pii-7"), (None, None))
        rows = ht.psql("SELECT subject_id, actor, action, details FROM intake.audit_log WHERE tenant_id = '%s' "
                       "AND action = 'phone.lookup' ORDER BY seq" % tenant)
        self.assertEqual([(r[0], r[1], r[2]) for r in rows], [("phone-lookup:pii-7", "pii-7", "phone.lookup")] * 2)
        self.assertIn(t.id, rows[0][3])
        self.assertIn('"found":0', rows[1][3])
        index = ht.psql("SELECT phone_index FROM intake.tickets WHERE id = '%s'" % t.id)[0][0]
        for r in rows:
            self.assertNotIn(p[-8:], r[3])
            self.assertNotIn(index, r[3])
        chain = ht.rpc(self.ch, "hotline.audit.v1.AuditService", "VerifyAuditChain",
                       audit_pb2.VerifyAuditChainRequest(subject_id="phone-lookup:pii-7"),
                       audit_pb2.VerifyAuditChainResponse, metadata=ht.auth(roles=("auditor",), tenant=tenant))
        self.assertTrue(chain.ok)

    def test_lookups_are_rate_limited_per_user_and_tenant(self):
        tenant, other_tenant = ht.new_tenant("ph"), ht.new_tenant("ph")
        sub = "pii-" + ht.request_id()[-8:]
        for i in range(30):
            self.assertEqual(self.find(phone(), tenant, sub)[0], None, "lookup %d" % (i + 1))
        code, details = self.find(phone(), tenant, sub)
        self.assertEqual(code, EXHAUSTED)
        self.assertTrue(details.startswith("FindTicketsByPhone: rate limit"), details)
        self.assertEqual(self.find(phone(), tenant, sub + "-b")[0], None, "another user")
        self.assertEqual(self.find(phone(), other_tenant, sub)[0], None, "another tenant")
        self.assertEqual(ht.count_rows("intake.audit_log", "tenant_id = '%s' AND actor = '%s'" % (tenant, sub)), 30,
                         "refused lookups are not performed")

    def test_redis_down_fails_closed(self):
        tenant = ht.new_tenant("ph")
        ht.stack("stop-redis")
        try:
            code, details = self.find(phone(), tenant, "pii-r")
            self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, details)
            self.assertIn("FindTicketsByPhone", details)
        finally:
            ht.stack("start-redis")
        ht.wait_for(lambda: self.find(phone(), tenant, "pii-r")[0] is None, timeout=30, what="lookups after Redis")

    def test_redis_restart_is_not_an_outage(self):
        """A restarted Redis closes every worker's connection; the next lookup on each reconnects and succeeds."""
        tenant = ht.new_tenant("ph")

        def warm():  # give every worker a Redis connection (after an earlier outage's backoff has run out)
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                return list(pool.map(lambda i: self.find(phone(), tenant, "pii-w%d" % i)[0], range(16))) == [None] * 16
        ht.wait_for(warm, timeout=20, interval=1, what="every worker reaching Redis")
        ht.stack("restart-redis")
        after = [self.find(phone(), tenant, "pii-a%d" % (i % 4)) for i in range(24)]
        self.assertEqual(after, [(None, None)] * 24, "no lookup after the restart is refused")


if __name__ == "__main__":
    unittest.main()
