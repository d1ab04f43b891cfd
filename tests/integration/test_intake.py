"""test_intake - the intake service against the real stack (foundation issue).

PostgreSQL, Redis and hotline-intake over mutual TLS, called with the
generated Python classes (hotline.intake.v1.intake_pb2 and friends).  What is
proven: registration with its number at once, GetTicket by id and number,
ListTickets filters and page tokens, appended amendments, idempotency by
request_id (also under concurrency), 1,000 concurrent registrations, the
query code and the citizen's public status query, on-the-spot answers, masked
caller data and its audited reveal, repeat callers across phone formats,
UNIMPLEMENTED for unknown methods, INVALID_ARGUMENT / RESOURCE_EXHAUSTED for
bad input with nothing written, and the outbox rows written by the
registration's own transaction without caller data.

Most tests work in a tenant of their own (tenants are slugs created on first
use), so that lists and row counts are exact whatever else ran before.
"""
import base64
import random
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import grpc

import hotline_test as ht
from hotline.audit.v1 import audit_pb2
from hotline.common.v1 import common_pb2 as cm
from hotline.dispatch.v1 import dispatch_pb2
from hotline.followup.v1 import followup_pb2
from hotline.intake.v1 import intake_pb2 as pb
from hotline.reporting.v1 import reporting_pb2

INTAKE = "hotline.intake.v1.IntakeService"
AUDIT = "hotline.audit.v1.AuditService"
CREATE_PATH = "/%s/CreateTicket" % INTAKE
AMEND_PATH = "/%s/AmendTicket" % INTAKE
SHANGHAI = timezone(timedelta(hours=8))  # no daylight saving time
PII = ("pii_reader",)  # FindTicketsByPhone's role

RESPONSES = {
    "CreateTicket": pb.CreateTicketResponse,
    "GetTicket": pb.GetTicketResponse,
    "ListTickets": pb.ListTicketsResponse,
    "AmendTicket": pb.AmendTicketResponse,
    "RevealCaller": pb.RevealCallerResponse,
    "FindTicketsByPhone": pb.FindTicketsByPhoneResponse,
    "GetPublicStatus": pb.GetPublicStatusResponse,
}


def han(n):
    """n random CJK ideographs: a keyword no other ticket contains."""
    return "".join(chr(random.randint(0x4E00, 0x9FA5)) for _ in range(n))


def phone():
    return "139" + "".join(random.choice("0123456789") for _ in range(8))


def masked_phone(p):
    return p[:3] + "****" + p[-4:]


class IntakeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ch = ht.channel("intake")
        grpc.channel_ready_future(cls.ch).result(timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    # ---- helpers -----------------------------------------------------------------------------

    def call(self, method, req, tenant="demo", roles=("agent",), sub="agent-1", md=None, ch=None):
        metadata = md if md is not None else ht.auth(roles=roles, tenant=tenant, sub=sub)
        return ht.rpc(ch or self.ch, INTAKE, method, req, RESPONSES[method], metadata=metadata, timeout=20)

    def fails(self, method, req, **kw):
        """(code, details) of a call expected to fail."""
        return ht.code_of(self.call, method, req, **kw)

    def audit(self, method, req, tenant="demo", roles=("auditor",)):
        resp_cls = {"ListAuditEntries": audit_pb2.ListAuditEntriesResponse,
                    "VerifyAuditChain": audit_pb2.VerifyAuditChainResponse}[method]
        return ht.rpc(self.ch, AUDIT, method, req, resp_cls, metadata=ht.auth(roles=roles, tenant=tenant))

    @staticmethod
    def request(**kw):
        fields = dict(
            request_id=ht.request_id(),
            channel=cm.CHANNEL_PHONE,
            category=cm.CATEGORY_COMPLAINT,
            topic="小区夜间施工噪音扰民",
            description="每晚十点后仍在施工，影响休息，希望尽快处理。",
            area="朝阳区",
            caller=pb.Caller(name="张三", phone=phone()),
        )
        fields.update(kw)
        return pb.CreateTicketRequest(**{k: v for k, v in fields.items() if v is not None})

    def create(self, tenant="demo", **kw):
        return self.call("CreateTicket", self.request(**kw), tenant=tenant)

    def list_all(self, tenant, **filters):
        """Every ticket of a listing, page by page (asserting the page size is honoured)."""
        size = filters.pop("page_size", 50)
        out, token, pages = [], "", 0
        while True:
            resp = self.call("ListTickets", pb.ListTicketsRequest(page_size=size, page_token=token, **filters),
                             tenant=tenant)
            self.assertLessEqual(len(resp.tickets), size)
            out.extend(resp.tickets)
            pages += 1
            token = resp.next_page_token
            if not token:
                return out
            self.assertEqual(len(resp.tickets), size, "only the last page may be short")
            self.assertLess(pages, 1000)

    @staticmethod
    def counts(tenant):
        """Rows written by registrations: tickets and registrations of every tenant (nothing but
        CreateTicket adds them), and every intake table of `tenant` - a tenant of the test's own, so
        that nothing asynchronous (relay, status reports) writes there."""
        out = {t: ht.count_rows("intake." + t) for t in ("tickets", "registrations")}
        for t in ("tickets", "registrations", "outbox", "audit_log", "audit_heads", "public_notes", "amendments"):
            out[tenant + ":" + t] = ht.count_rows("intake." + t, "tenant_id = %s" % ht.sql_literal(tenant))
        return out

    @staticmethod
    def registration_outbox(ticket_id):
        """The outbox rows written by the ticket's registration transaction: now() is the start of
        the transaction, so they carry exactly the ticket's created_at (rows written later do not)."""
        return ht.psql(
            "SELECT o.target, o.method, o.idempotency_key, o.actor, encode(o.payload, 'hex'), o.tenant_id "
            "FROM intake.outbox o JOIN intake.tickets t ON t.tenant_id = o.tenant_id AND t.id::text = o.subject_id "
            "WHERE o.subject_id = '%s' AND o.created_at = t.created_at ORDER BY o.id" % ticket_id)

    @staticmethod
    def audit_actions(ticket_id, action):
        return ht.count_rows("intake.audit_log", "subject_id = '%s' AND action = '%s'" % (ticket_id, action))

    def assert_fresh_status(self, status, version):
        """A ticket just registered: registered, unless dispatch (when deployed) has already
        reported it in handling through UpdateTicketStatus."""
        if status == cm.TICKET_STATUS_REGISTERED:
            self.assertEqual(version, 1)
        else:
            self.assertEqual(status, cm.TICKET_STATUS_IN_HANDLING)
            self.assertGreater(version, 1)

    def pin_status(self, tenant, ticket_id, status):
        """Set a ticket's status as dispatch does (internal call, service certificate), with a
        version above any real one (dispatch's are microseconds now), so nothing overrides it."""
        ch = ht.channel("intake", cert="dispatch")
        try:
            r = ht.rpc(ch, INTAKE, "UpdateTicketStatus",
                       pb.UpdateTicketStatusRequest(ticket_id=ticket_id, status=status, version=2 ** 62),
                       pb.UpdateTicketStatusResponse, metadata=[("x-tenant-id", tenant), ("x-actor", "dispatcher-1")])
        finally:
            ch.close()
        self.assertTrue(r.applied)

    def assert_invalid(self, code, details, field):
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, details)
        self.assertTrue(details.startswith(field), "%r does not name %s" % (details, field))

    # ---- create / get / list / amend -----------------------------------------------------------

    def test_create_then_get_by_id_and_by_ticket_no(self):
        tenant = ht.new_tenant("in-get")
        req = self.request(channel=cm.CHANNEL_WEB, category=cm.CATEGORY_SUGGESTION, priority=cm.PRIORITY_URGENT,
                           confidentiality=cm.CONFIDENTIALITY_CONFIDENTIAL, topic="建议增设公交线路" + han(4),
                           description="希望在建国路增设一条夜间公交线路。😀 mixed ASCII", area="北京市朝阳区")
        created = self.call("CreateTicket", req, tenant=tenant, sub="agent-7")
        t = created.ticket
        # confidential: seen by a supervisor (docs/security.md §3.1), not by another agent
        by_id = self.call("GetTicket", pb.GetTicketRequest(id=t.id), tenant=tenant, roles=("supervisor",)).ticket
        by_no = self.call("GetTicket", pb.GetTicketRequest(ticket_no=t.ticket_no), tenant=tenant,
                          roles=("supervisor",)).ticket
        self.assertEqual(self.fails("GetTicket", pb.GetTicketRequest(id=t.id), tenant=tenant)[0],
                         grpc.StatusCode.NOT_FOUND)
        for got in (by_id, by_no):
            self.assertEqual((got.id, got.ticket_no, got.tenant), (t.id, t.ticket_no, tenant))
            self.assertEqual((got.channel, got.category, got.priority, got.confidentiality),
                             (cm.CHANNEL_WEB, cm.CATEGORY_SUGGESTION, cm.PRIORITY_URGENT,
                              cm.CONFIDENTIALITY_CONFIDENTIAL))
            self.assertEqual((got.topic, got.description, got.area), (req.topic, req.description, req.area))
            self.assert_fresh_status(got.status, got.status_version)
            self.assertEqual(got.registered_by, "agent-7")
            self.assertEqual(got.created_at, t.created_at)
            self.assertEqual(got.public_notes[0].text, "已受理 registered")
            self.assertEqual(got.public_notes[0].status, cm.TICKET_STATUS_REGISTERED)
            self.assertEqual(len(got.amendments), 0)
        # unknown id and number, another tenant's ticket, no key at all
        code, _ = self.fails("GetTicket", pb.GetTicketRequest(id="01234567-89ab-7def-8123-456789abcdef"),
                             tenant=tenant)
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        code, _ = self.fails("GetTicket", pb.GetTicketRequest(ticket_no="209901019999999"), tenant=tenant)
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        for key in (pb.GetTicketRequest(id=t.id), pb.GetTicketRequest(ticket_no=t.ticket_no)):
            code, _ = self.fails("GetTicket", key, tenant=ht.new_tenant("in-other"))
            self.assertEqual(code, grpc.StatusCode.NOT_FOUND, "another tenant's ticket does not exist")
        self.assert_invalid(*self.fails("GetTicket", pb.GetTicketRequest(), tenant=tenant), "id or ticket_no")
        self.assert_invalid(*self.fails("GetTicket", pb.GetTicketRequest(id="not-a-uuid"), tenant=tenant), "id")

    def test_list_filters_status_category_channel_keyword(self):
        tenant = ht.new_tenant("in-list")
        kw = han(3)
        a = self.create(tenant, channel=cm.CHANNEL_PHONE, category=cm.CATEGORY_COMPLAINT,
                        description="楼下餐馆油烟" + kw + "严重").ticket
        b = self.create(tenant, channel=cm.CHANNEL_WEB, category=cm.CATEGORY_CONSULTATION, topic="社保卡补办流程",
                        answer_on_spot=True, answer="携带身份证到任一网点办理。").ticket
        c = self.create(tenant, channel=cm.CHANNEL_WECHAT, category=cm.CATEGORY_SUGGESTION,
                        topic="建议" + kw + "增设路灯").ticket
        d = self.create(tenant, channel=cm.CHANNEL_EMAIL, category=cm.CATEGORY_COMPLAINT, topic="物业收费不透明").ticket
        e = self.create(tenant, channel=cm.CHANNEL_PHONE, category=cm.CATEGORY_HELP, topic="老人走失求助").ticket
        # statuses set as dispatch and followup report them, whatever the real ones report meanwhile
        for x, status in ((a, cm.TICKET_STATUS_IN_HANDLING), (c, cm.TICKET_STATUS_CLOSED),
                          (d, cm.TICKET_STATUS_REPLIED), (e, cm.TICKET_STATUS_IN_HANDLING)):
            self.pin_status(tenant, x.id, status)

        def ids(**f):
            return [x.id for x in self.list_all(tenant, **f)]

        self.assertEqual(ids(), [e.id, d.id, c.id, b.id, a.id], "newest first")
        self.assertEqual(ids(status=cm.TICKET_STATUS_ANSWERED_ON_SPOT), [b.id])
        self.assertEqual(ids(status=cm.TICKET_STATUS_IN_HANDLING), [e.id, a.id])
        self.assertEqual(ids(status=cm.TICKET_STATUS_CLOSED), [c.id])
        self.assertEqual(ids(status=cm.TICKET_STATUS_REPLIED), [d.id])
        self.assertEqual(ids(status=cm.TICKET_STATUS_REGISTERED), [])
        self.assertEqual(ids(status=cm.TICKET_STATUS_IN_HANDLING, category=cm.CATEGORY_HELP), [e.id])
        self.assertEqual(ids(category=cm.CATEGORY_COMPLAINT), [d.id, a.id])
        self.assertEqual(ids(channel=cm.CHANNEL_WECHAT), [c.id])
        self.assertEqual(ids(channel=cm.CHANNEL_EMAIL, category=cm.CATEGORY_COMPLAINT), [d.id])
        self.assertEqual(ids(keyword=kw), [c.id, a.id], "keyword in topic or description")
        self.assertEqual(ids(keyword=kw, category=cm.CATEGORY_COMPLAINT), [a.id])
        self.assertEqual(ids(keyword="油烟"), [a.id], "a Chinese substring in the middle of the text")
        self.assertEqual(ids(keyword="社保卡补办"), [b.id])
        self.assertEqual(ids(keyword=han(6)), [])
        self.assertEqual(ids(keyword="%"), [], "wildcards are literal")
        self.assertEqual(ids(keyword="_"), [])
        self.assertEqual(ids(registered_by="agent-1"), [e.id, d.id, c.id, b.id, a.id])
        self.assertEqual(ids(registered_by="agent-2"), [])
        listed = self.list_all(tenant)
        self.assertTrue(all(len(x.amendments) == 0 and len(x.public_notes) == 0 for x in listed))
        self.assertEqual(len(self.list_all(ht.new_tenant("in-empty"))), 0, "another tenant sees none of them")
        self.assert_invalid(*self.fails("ListTickets", pb.ListTicketsRequest(page_size=501), tenant=tenant),
                            "page_size")
        self.assert_invalid(*self.fails("ListTickets", pb.ListTicketsRequest(page_token="!!garbage"),
                                        tenant=tenant), "page_token")

    def test_list_page_tokens_give_each_ticket_exactly_once(self):
        tenant = ht.new_tenant("in-page")
        kw = han(3)
        created = [self.create(tenant, topic=("带关键词" + kw) if i % 2 else "普通工单%d" % i).ticket.id
                   for i in range(23)]
        with_kw = [x for i, x in enumerate(created) if i % 2]
        got = [x.id for x in self.list_all(tenant, page_size=5)]
        self.assertEqual(len(got), 23)
        self.assertEqual(len(set(got)), 23, "no duplicates")
        self.assertEqual(got, list(reversed(created)))
        got_kw = [x.id for x in self.list_all(tenant, page_size=4, keyword=kw)]
        self.assertEqual(got_kw, list(reversed(with_kw)), "the filter holds across pages")
        # tickets registered while a client pages are neither repeated nor break the walk
        first = self.call("ListTickets", pb.ListTicketsRequest(page_size=5), tenant=tenant)
        seen = [x.id for x in first.tickets]
        late = {self.create(tenant).ticket.id for _ in range(3)}
        token = first.next_page_token
        while token:
            resp = self.call("ListTickets", pb.ListTicketsRequest(page_size=5, page_token=token), tenant=tenant)
            seen.extend(x.id for x in resp.tickets)
            token = resp.next_page_token
        self.assertEqual(seen, list(reversed(created)))
        self.assertFalse(late & set(seen))
        # page_size 0 is the default (50): one page
        resp = self.call("ListTickets", pb.ListTicketsRequest(), tenant=tenant)
        self.assertEqual(len(resp.tickets), 26)
        self.assertEqual(resp.next_page_token, "")

    def test_amend_appends_and_keeps_the_registration(self):
        tenant = ht.new_tenant("in-amend")
        req = self.request(topic="小区夜间施工噪音扰民", description="原始描述：每晚施工。")
        t = self.call("CreateTicket", req, tenant=tenant).ticket
        steps = [("topic", "小区夜间施工噪音（已核实地址）", "来电人补充说明", "agent-2"),
                 ("description", "更正描述：每晚十点后施工。", "核实后更正", "agent-3"),
                 ("category", "CATEGORY_HELP", "诉求类别改为求助", "supervisor-1")]
        old = {"topic": req.topic, "description": req.description, "category": "CATEGORY_COMPLAINT"}
        for i, (field, value, reason, author) in enumerate(steps):
            roles = ("supervisor",) if author.startswith("supervisor") else ("agent",)
            resp = self.call("AmendTicket", pb.AmendTicketRequest(id=t.id, field=field, new_value=value,
                                                                  reason=reason, request_id=ht.request_id()),
                             tenant=tenant, roles=roles, sub=author)
            am = resp.amendment
            self.assertEqual((am.field, am.old_value, am.new_value, am.reason, am.author),
                             (field, old[field], value, reason, author))
            self.assertTrue(am.id and am.created_at.seconds > 0)
            got = self.call("GetTicket", pb.GetTicketRequest(id=t.id), tenant=tenant).ticket
            self.assertEqual(len(got.amendments), i + 1, "the list of amendments grows")
            self.assertEqual(got.amendments[i], am)
        self.assertEqual((got.topic, got.description, got.category),
                         (steps[0][1], steps[1][1], cm.CATEGORY_HELP))
        self.assertEqual([(a.field, a.old_value) for a in got.amendments],
                         [("topic", req.topic), ("description", req.description), ("category", "CATEGORY_COMPLAINT")])
        # the registration record still says what was first said
        reg = ht.psql("SELECT topic, description, category FROM intake.registrations WHERE ticket_id = '%s'" % t.id)
        self.assertEqual(reg, [[req.topic, req.description, str(cm.CATEGORY_COMPLAINT)]])
        self.assertEqual(ht.count_rows("intake.amendments", "ticket_id = '%s'" % t.id), 3)
        # a repeated request_id appends nothing
        again = pb.AmendTicketRequest(id=t.id, field="area", new_value="海淀区", reason="地址更正",
                                      request_id=ht.request_id())
        first = self.call("AmendTicket", again, tenant=tenant).amendment
        self.assertEqual(self.call("AmendTicket", again, tenant=tenant).amendment.id, first.id)
        self.assertEqual(ht.count_rows("intake.amendments", "ticket_id = '%s'" % t.id), 4)
        # every amendment is in the ticket's audit chain
        entries = self.audit("ListAuditEntries", audit_pb2.ListAuditEntriesRequest(subject_id=t.id),
                             tenant=tenant).entries
        self.assertEqual([(e.action, e.actor) for e in entries if e.action != "ticket.status"],
                         [("ticket.create", "agent-1"), ("ticket.amend", "agent-2"), ("ticket.amend", "agent-3"),
                          ("ticket.amend", "supervisor-1"), ("ticket.amend", "agent-1")])
        # no reason, an unknown field, a bad enum value: refused, nothing appended
        n = ht.count_rows("intake.amendments")
        for req_, field in ((pb.AmendTicketRequest(id=t.id, field="topic", new_value="x"), "reason"),
                            (pb.AmendTicketRequest(id=t.id, field="status", new_value="x", reason="r"), "field"),
                            (pb.AmendTicketRequest(id=t.id, field="category", new_value="CATEGORY_NOPE", reason="r"),
                             "new_value"),
                            (pb.AmendTicketRequest(id=t.id, field="topic", new_value="", reason="r"), "new_value")):
            self.assert_invalid(*self.fails("AmendTicket", req_, tenant=tenant), field)
        code, _ = self.fails("AmendTicket", pb.AmendTicketRequest(id=t.id, field="topic", new_value="x", reason="r"),
                             tenant=ht.new_tenant("in-other"))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        code, _ = self.fails("AmendTicket", pb.AmendTicketRequest(id=t.id, field="topic", new_value="x", reason="r"),
                             tenant=tenant, roles=("analyst",))
        self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(ht.count_rows("intake.amendments"), n)

    def test_amending_caller_fields_keeps_them_masked(self):
        tenant = ht.new_tenant("in-amc")
        p1, p2 = phone(), phone()
        t = self.create(tenant, caller=pb.Caller(name="张三", phone=p1)).ticket
        resp = self.call("AmendTicket", pb.AmendTicketRequest(id=t.id, field="caller.phone", new_value=p2,
                                                              reason="来电人更换号码", request_id=ht.request_id()),
                         tenant=tenant)
        self.assertEqual((resp.amendment.old_value, resp.amendment.new_value), (masked_phone(p1), masked_phone(p2)))
        self.assertEqual(resp.ticket.caller.phone, masked_phone(p2))
        resp2 = self.call("AmendTicket", pb.AmendTicketRequest(id=t.id, field="caller.name", new_value="李四四",
                                                               reason="姓名听错"), tenant=tenant)
        self.assertEqual((resp2.amendment.old_value, resp2.amendment.new_value), ("张*", "李**"))
        got = self.call("GetTicket", pb.GetTicketRequest(id=t.id), tenant=tenant)
        self.assertEqual((got.ticket.caller.name, got.ticket.caller.phone), ("李**", masked_phone(p2)))
        for raw in (resp.SerializeToString(), resp2.SerializeToString(), got.SerializeToString()):
            for clear in (p1, p2, "张三", "李四四"):
                self.assertNotIn(clear.encode(), raw)
        self.assertIn(masked_phone(p2).encode(), got.SerializeToString())  # control: the scan sees values
        stored = ht.psql("SELECT old_value || '|' || new_value || '|' || encode(new_cipher, 'hex') "
                         "FROM intake.amendments WHERE ticket_id = '%s' ORDER BY created_at" % t.id)
        self.assertEqual(len(stored), 2)
        for (row,) in stored:
            for clear in (p1, p2, "张三", "李四四"):
                self.assertNotIn(clear, row)
                self.assertNotIn(clear.encode().hex(), row)
        # the clear values moved with the amendment: reveal and the blind index follow it
        clear = self.call("RevealCaller", pb.RevealCallerRequest(id=t.id, reason="回访"), tenant=tenant,
                          roles=("pii_reader",)).caller
        self.assertEqual((clear.name, clear.phone), ("李四四", p2))
        found = self.call("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=p2), tenant=tenant, roles=PII)
        self.assertEqual([x.id for x in found.tickets], [t.id])
        found = self.call("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=p1), tenant=tenant, roles=PII)
        self.assertEqual(len(found.tickets), 0)

    # ---- idempotency ---------------------------------------------------------------------------

    def test_same_request_id_twice_creates_one_ticket(self):
        tenant = ht.new_tenant("in-idem")
        req = self.request()
        before = self.counts(tenant)
        first = self.call("CreateTicket", req, tenant=tenant)
        again = self.call("CreateTicket", req, tenant=tenant)
        self.assertEqual((again.ticket.id, again.ticket.ticket_no, again.query_code),
                         (first.ticket.id, first.ticket.ticket_no, first.query_code))
        self.assertEqual(again.ticket.created_at, first.ticket.created_at)
        after = self.counts(tenant)
        self.assertEqual(after["tickets"], before["tickets"] + 1, "intake.tickets grew by one")
        self.assertEqual(after["registrations"], before["registrations"] + 1)
        self.assertEqual(after[tenant + ":tickets"], 1)
        self.assertEqual(ht.count_rows("intake.tickets", "request_id = %s" % ht.sql_literal(req.request_id)), 1)
        self.assertEqual(len(self.registration_outbox(first.ticket.id)), 2, "one SubmitTicket, one event")
        self.assertEqual(ht.count_rows("intake.outbox", "subject_id = '%s' AND method LIKE '%%/SubmitTicket'"
                                       % first.ticket.id), 1)
        self.assertEqual(self.audit_actions(first.ticket.id, "ticket.create"), 1)

    def test_same_request_id_with_another_body_is_refused(self):
        # A repeated request_id must carry the same request (its keyed digest is stored with the
        # ticket): another body is INVALID_ARGUMENT and nothing is changed or written.
        tenant = ht.new_tenant("in-idem2")
        req = self.request(topic="第一次的主题" + han(3))
        first = self.call("CreateTicket", req, tenant=tenant)
        before = self.counts(tenant)
        other = pb.CreateTicketRequest()
        other.CopyFrom(req)
        other.topic = "完全不同的主题"
        other.category = cm.CATEGORY_PRAISE
        other.caller.phone = phone()
        code, details = self.fails("CreateTicket", other, tenant=tenant)
        self.assertEqual((code, details),
                         (grpc.StatusCode.INVALID_ARGUMENT, "request_id: already used for a different request"))
        again = self.call("GetTicket", pb.GetTicketRequest(id=first.ticket.id), tenant=tenant).ticket
        self.assertEqual((again.topic, again.category), (req.topic, cm.CATEGORY_COMPLAINT))
        self.assertEqual(again.caller.phone, masked_phone(req.caller.phone))
        after = self.counts(tenant)
        for table in ("tickets", "registrations", tenant + ":tickets", tenant + ":amendments"):
            self.assertEqual(after[table], before[table], "nothing written for the repeat: " + table)
        self.assertEqual(len(self.registration_outbox(first.ticket.id)), 2)
        self.assertEqual(ht.count_rows("intake.outbox", "subject_id = '%s' AND method LIKE '%%/SubmitTicket'"
                                       % first.ticket.id), 1)
        self.assertEqual(self.audit_actions(first.ticket.id, "ticket.create"), 1)
        got = self.call("GetTicket", pb.GetTicketRequest(id=first.ticket.id), tenant=tenant).ticket
        self.assertEqual((got.topic, got.category), (req.topic, cm.CATEGORY_COMPLAINT))
        # request ids are per tenant: the same one elsewhere is a new ticket
        elsewhere = self.call("CreateTicket", req)
        self.assertNotEqual(elsewhere.ticket.id, first.ticket.id)

    def test_same_request_id_concurrently_creates_one_ticket(self):
        tenant = ht.new_tenant("in-race")
        req = self.request()
        barrier = threading.Barrier(16)

        def one(_):
            ch = ht.channel("intake")
            try:
                grpc.channel_ready_future(ch).result(timeout=30)
                barrier.wait(30)
                r = self.call("CreateTicket", req, tenant=tenant, ch=ch)
                return r.ticket.id, r.ticket.ticket_no, r.query_code
            finally:
                ch.close()

        with ThreadPoolExecutor(16) as ex:
            answers = set(ex.map(one, range(16)))
        self.assertEqual(len(answers), 1, answers)
        self.assertEqual(ht.count_rows("intake.tickets", "tenant_id = %s" % ht.sql_literal(tenant)), 1)

    def test_1000_concurrent_creates_give_1000_distinct_numbers(self):
        tenant = ht.new_tenant("in-bulk")
        total, threads = 1000, 32
        results, errors = [], []
        lock = threading.Lock()

        def worker(k):
            ch = ht.channel("intake")
            md = ht.auth(tenant=tenant, sub="agent-%d" % k)
            mine = []
            try:
                # connected first: the subject is numbering under load, not 32 simultaneous handshakes
                grpc.channel_ready_future(ch).result(timeout=30)
                for i in range(k, total, threads):
                    req = self.request(topic="并发登记 %d" % i)
                    r = ht.rpc(ch, INTAKE, "CreateTicket", req, pb.CreateTicketResponse, metadata=md, timeout=60)
                    mine.append((req.request_id, r.ticket.id, r.ticket.ticket_no))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
            finally:
                ch.close()
            with lock:
                results.extend(mine)

        ths = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        t0 = time.time()
        for th in ths:
            th.start()
        for th in ths:
            th.join(300)
        elapsed = time.time() - t0
        self.assertEqual(errors, [])
        self.assertEqual(len(results), total)
        self.assertEqual(len({r[1] for r in results}), total, "distinct ids")
        self.assertEqual(len({r[2] for r in results}), total, "distinct ticket numbers")
        rows = ht.psql("SELECT count(*), count(DISTINCT ticket_no), count(DISTINCT request_id) FROM intake.tickets "
                       "WHERE tenant_id = %s" % ht.sql_literal(tenant))
        self.assertEqual(rows, [[str(total)] * 3])
        db_nos = {r[0] for r in ht.psql("SELECT ticket_no FROM intake.tickets WHERE tenant_id = %s"
                                        % ht.sql_literal(tenant))}
        self.assertEqual(db_nos, {r[2] for r in results}, "every number answered is the stored one")
        # registered together (group commit) or not, each ticket has exactly its own companions from its
        # registration transaction (dispatch, running, adds notes, audit entries and events later): one
        # registration record, one first note, one first audit entry, its SubmitTicket row keyed by its id,
        # and one event row, each payload naming the ticket and its number
        lit = ht.sql_literal(tenant)
        companions = ht.psql(
            "SELECT t.ticket_no, (SELECT count(*) FROM intake.registrations r WHERE r.tenant_id = t.tenant_id "
            "AND r.ticket_id = t.id), (SELECT string_agg(n.note, ',') FROM intake.public_notes n "
            "WHERE n.tenant_id = t.tenant_id AND n.ticket_id = t.id AND n.created_at = t.created_at), "
            "(SELECT string_agg(l.seq || ' ' || l.action, ',') FROM intake.audit_log l WHERE l.tenant_id = t.tenant_id "
            "AND l.subject_id = t.id::text AND l.seq = 1), "
            "(SELECT string_agg(o.idempotency_key, ',') FROM intake.outbox o WHERE o.tenant_id = t.tenant_id "
            "AND o.subject_id = t.id::text AND o.method LIKE '%%/SubmitTicket'), "
            "(SELECT count(*) FROM intake.outbox o WHERE o.tenant_id = t.tenant_id AND o.subject_id = t.id::text "
            "AND o.target = 'reporting' AND o.created_at = t.created_at) FROM intake.tickets t WHERE t.tenant_id = %s" % lit)
        by_no = {r[2]: r[1] for r in results}
        self.assertEqual(len(companions), total)
        for no, regs, notes, first_audit, submit, events in companions:
            self.assertEqual((regs, notes, first_audit, submit, events),
                             ("1", "已受理 registered", "1 ticket.create", "%s:submit" % by_no[no], "1"), no)
        id_to_no = {r[1]: r[2] for r in results}
        payloads = ht.psql("SELECT o.subject_id, o.target, encode(o.payload, 'hex') FROM intake.outbox o "
                           "JOIN intake.tickets t ON t.tenant_id = o.tenant_id AND t.id::text = o.subject_id "
                           "WHERE o.tenant_id = %s AND o.created_at = t.created_at" % lit)
        self.assertEqual(len(payloads), 2 * total)
        for subject, target, hexed in payloads:  # each payload is its own ticket's, number and all
            if target == "reporting":
                ev = reporting_pb2.RecordEventsRequest.FromString(bytes.fromhex(hexed)).events[0]
                got = (ev.ticket_id, ev.ticket_registered.ticket_no)
            else:
                submit = dispatch_pb2.SubmitTicketRequest.FromString(bytes.fromhex(hexed))
                got = (submit.ticket_id, submit.ticket_no)
            self.assertEqual(got, (subject, id_to_no[subject]))
        print("\n1000 concurrent CreateTicket over %d threads: %.1f s" % (threads, elapsed))

    # ---- numbers, query codes, public status, on-the-spot answers ------------------------------

    def test_ticket_number_is_issued_at_once(self):
        created = self.create()
        t = created.ticket
        self.assertRegex(t.ticket_no, r"^\d{15,}$")
        day = datetime.fromtimestamp(t.created_at.seconds, SHANGHAI).strftime("%Y%m%d")
        self.assertEqual(t.ticket_no[:8], day, "the date part is the registration day in Asia/Shanghai")
        self.assertEqual(t.status, cm.TICKET_STATUS_REGISTERED)
        stored = ht.psql("SELECT ticket_no FROM intake.tickets WHERE tenant_id = 'demo' AND id = '%s'" % t.id)
        self.assertEqual(stored, [[t.ticket_no]], "the answered number is the committed one")

    def test_query_code_is_returned_only_by_create(self):
        ph = phone()
        created = self.create(caller=pb.Caller(name="王五", phone=ph))
        code, t = created.query_code, created.ticket
        self.assertRegex(code, r"^[2-9A-HJ-NP-Z]{8}$")
        self.assertNotIn("query_code", pb.Ticket.DESCRIPTOR.fields_by_name)
        self.assertIn(code.encode(), created.SerializeToString())  # control: the scan finds it here
        answers = [
            self.call("GetTicket", pb.GetTicketRequest(id=t.id)),
            self.call("GetTicket", pb.GetTicketRequest(ticket_no=t.ticket_no)),
            self.call("ListTickets", pb.ListTicketsRequest(page_size=500)),
            self.call("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=ph), roles=PII),
            self.call("AmendTicket", pb.AmendTicketRequest(id=t.id, field="area", new_value="东城区", reason="更正")),
        ]
        listed = [x for x in answers[2].tickets if x.id == t.id]
        self.assertEqual(len(listed), 1, "the new ticket is on the first list page")
        self.assertEqual([x.id for x in answers[3].tickets], [t.id])
        for resp in answers:
            self.assertNotIn(code.encode(), resp.SerializeToString())
        # stored encrypted only
        self.assertEqual(ht.psql("SELECT position(convert_to(%s, 'UTF8') in query_code) FROM intake.tickets "
                                 "WHERE id = '%s'" % (ht.sql_literal(code), t.id)), [["0"]])

    def test_public_status_with_query_code_and_no_jwt(self):
        name, ph = "赵六", phone()
        created = self.create(caller=pb.Caller(name=name, phone=ph, address="北京市朝阳区建国路88号"))
        t = created.ticket
        md = [("x-tenant-id", "demo")]  # no authorization header at all
        resp = self.call("GetPublicStatus", pb.GetPublicStatusRequest(ticket_no=t.ticket_no,
                                                                      query_code=created.query_code), md=md)
        self.assertEqual((resp.ticket_no, resp.category), (t.ticket_no, cm.CATEGORY_COMPLAINT))
        self.assertIn(resp.status, (cm.TICKET_STATUS_REGISTERED, cm.TICKET_STATUS_IN_HANDLING))
        self.assertEqual(resp.created_at, t.created_at)
        self.assertEqual(resp.public_notes[0].text, "已受理 registered")
        raw = resp.SerializeToString()
        for clear in (name, ph, masked_phone(ph), "建国路", t.id):
            self.assertNotIn(clear.encode(), raw, "no personal data, no internal id")
        self.assertIn(t.ticket_no.encode(), raw)  # control
        # a wrong code, an unknown number, another tenant: the same NOT_FOUND (no existence leak)
        wrong = created.query_code[1:] + ("2" if created.query_code[0] != "2" else "3")
        refusals = [
            self.fails("GetPublicStatus", pb.GetPublicStatusRequest(ticket_no=t.ticket_no, query_code=wrong), md=md),
            self.fails("GetPublicStatus", pb.GetPublicStatusRequest(ticket_no=t.ticket_no,
                                                                    query_code=created.query_code.lower()), md=md),
            self.fails("GetPublicStatus", pb.GetPublicStatusRequest(ticket_no="209901019999999",
                                                                    query_code=created.query_code), md=md),
            self.fails("GetPublicStatus", pb.GetPublicStatusRequest(ticket_no=t.ticket_no,
                                                                    query_code=created.query_code),
                       md=[("x-tenant-id", ht.new_tenant("in-pub"))]),
        ]
        self.assertEqual(refusals, [(grpc.StatusCode.NOT_FOUND, refusals[0][1])] * 4, refusals)
        code, details = self.fails("GetPublicStatus", pb.GetPublicStatusRequest(ticket_no=t.ticket_no,
                                                                                query_code=created.query_code), md=[])
        self.assert_invalid(code, details, "x-tenant-id")

    def test_answer_on_spot_consultation_is_closed_at_once(self):
        answer = "社保卡补办请携带身份证原件到任一社保网点办理，当场可取。"
        created = self.create(category=cm.CATEGORY_CONSULTATION, topic="咨询社保卡补办", answer_on_spot=True,
                              answer=answer)
        t = created.ticket
        self.assertEqual((t.status, t.answer), (cm.TICKET_STATUS_ANSWERED_ON_SPOT, answer))
        got = self.call("GetTicket", pb.GetTicketRequest(id=t.id)).ticket
        self.assertEqual((got.status, got.answer), (cm.TICKET_STATUS_ANSWERED_ON_SPOT, answer))
        self.assertEqual([n.status for n in got.public_notes], [cm.TICKET_STATUS_ANSWERED_ON_SPOT])
        pub = self.call("GetPublicStatus", pb.GetPublicStatusRequest(ticket_no=t.ticket_no,
                                                                     query_code=created.query_code),
                        md=[("x-tenant-id", "demo")])
        self.assertEqual((pub.status, pub.answer), (cm.TICKET_STATUS_ANSWERED_ON_SPOT, answer))
        # nothing to dispatch; followup may draw it for a satisfaction visit; reporting hears
        # "answered on the spot"
        rows = ht.psql("SELECT target, encode(payload, 'hex') FROM intake.outbox WHERE subject_id = '%s' "
                       "ORDER BY id" % t.id)
        self.assertEqual([r[0] for r in rows], ["followup", "reporting"])
        sample = followup_pb2.SampleTicketRequest.FromString(bytes.fromhex(rows[0][1]))
        self.assertEqual((sample.ticket_id, sample.ticket_no, sample.category, sample.reason),
                         (t.id, t.ticket_no, cm.CATEGORY_CONSULTATION, "answered_on_spot"))
        ev = reporting_pb2.RecordEventsRequest.FromString(bytes.fromhex(rows[1][1])).events[0]
        self.assertEqual((ev.type, ev.ticket_registered.status), ("ticket.answered_on_spot",
                                                                  cm.TICKET_STATUS_ANSWERED_ON_SPOT))
        entries = self.audit("ListAuditEntries", audit_pb2.ListAuditEntriesRequest(subject_id=t.id)).entries
        self.assertEqual([e.action for e in entries], ["ticket.answer_on_spot"])
        # only consultations, and only with an answer
        self.assert_invalid(*self.fails("CreateTicket", self.request(answer_on_spot=True, answer="答复")),
                            "answer_on_spot")
        self.assert_invalid(*self.fails("CreateTicket", self.request(category=cm.CATEGORY_CONSULTATION,
                                                                     answer_on_spot=True)), "answer")

    # ---- personal data -----------------------------------------------------------------------

    def test_caller_data_is_masked_in_every_response(self):
        tenant = ht.new_tenant("in-mask")
        ph = phone()
        caller = pb.Caller(name="张三", phone=ph, id_number="110101199003071234",
                           address="北京市朝阳区建国路88号", email="zhangsan@example.com")
        want = pb.Caller(name="张*", phone=masked_phone(ph), id_number="110***********1234",
                         address="北京市朝阳区****", email="z***@example.com")
        created = self.create(tenant, caller=caller)
        t = created.ticket
        answers = [created,
                   self.call("GetTicket", pb.GetTicketRequest(id=t.id), tenant=tenant),
                   self.call("ListTickets", pb.ListTicketsRequest(), tenant=tenant),
                   self.call("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=ph), tenant=tenant, roles=PII)]
        shown = [answers[0].ticket, answers[1].ticket, answers[2].tickets[0], answers[3].tickets[0]]
        for x in shown:
            self.assertEqual(x.caller, want)
        clears = ("张三", ph, ph[3:7], "110101199003071234", "19900307", "建国路88号", "zhangsan")
        for resp in answers:
            raw = resp.SerializeToString()
            for clear in clears:
                self.assertNotIn(clear.encode(), raw)
            self.assertIn(want.phone.encode(), raw)  # control: the scan does see caller fields
        # at rest only ciphertexts and the blind index: masks are derived at read time (migration 004)
        row = ht.psql("SELECT concat_ws('|', encode(caller_name, 'hex'), encode(caller_phone, 'hex'), "
                      "encode(caller_id_number, 'hex'), encode(caller_address, 'hex'), encode(caller_email, 'hex'), "
                      "substr(phone_index, 4), masked_phone) FROM intake.tickets WHERE id = '%s'" % t.id)[0][0]
        *stored, masked = row.split("|")  # five ciphertexts and the blind index (hex), the emptied mask column
        self.assertEqual(len(stored), 6)
        for clear in clears:  # no clear bytes anywhere (byte-aligned: a short digit run can occur in hex)
            h = clear.encode().hex()
            for col in stored:
                self.assertFalse(any(col.startswith(h, i) for i in range(0, len(col), 2)), (clear, col))
        self.assertEqual(masked, "", "no mask is stored")

    def test_reveal_caller_needs_pii_reader_and_a_reason_and_is_audited(self):
        tenant = ht.new_tenant("in-reveal")
        ph = phone()
        caller = pb.Caller(name="欧阳娜娜", phone=ph, address="北京市朝阳区建国路88号")
        t = self.create(tenant, caller=caller).ticket

        def n_entries():
            return self.audit_actions(t.id, "caller.reveal")

        code, details = self.fails("RevealCaller", pb.RevealCallerRequest(id=t.id, reason="回访核实"), tenant=tenant,
                                   roles=("agent", "supervisor", "tenant_admin", "auditor"))
        self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("pii_reader", details)
        code, _ = self.fails("RevealCaller", pb.RevealCallerRequest(id=t.id, reason="回访核实"),
                             md=[("x-tenant-id", tenant)])
        self.assertEqual(code, grpc.StatusCode.UNAUTHENTICATED)
        self.assert_invalid(*self.fails("RevealCaller", pb.RevealCallerRequest(id=t.id), tenant=tenant,
                                        roles=("pii_reader",)), "reason")
        code, _ = self.fails("RevealCaller", pb.RevealCallerRequest(id=t.id, reason="回访核实"),
                             tenant=ht.new_tenant("in-other"), roles=("pii_reader",))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        self.assertEqual(n_entries(), 0, "refused reveals leave no trace and reveal nothing")
        reason = "回访核实身份 " + han(4)
        clear = self.call("RevealCaller", pb.RevealCallerRequest(id=t.id, reason=reason), tenant=tenant,
                          roles=("pii_reader",), sub="reader-9").caller
        self.assertEqual((clear.name, clear.phone, clear.address, clear.id_number, clear.email),
                         (caller.name, ph, caller.address, "", ""))
        every = self.audit("ListAuditEntries", audit_pb2.ListAuditEntriesRequest(subject_id=t.id),
                           tenant=tenant).entries
        entries = [e for e in every if e.action != "ticket.status"]  # status reports may come in between
        self.assertEqual([e.action for e in entries], ["ticket.create", "caller.reveal"])
        reveal = entries[1]
        self.assertEqual(reveal.actor, "reader-9")
        self.assertIn(reason, reveal.details)  # control: the details hold what was planted
        for e in entries:
            for pii in (caller.name, "欧阳", ph, ph[3:], "建国路"):
                self.assertNotIn(pii, e.details)
        v = self.audit("VerifyAuditChain", audit_pb2.VerifyAuditChainRequest(subject_id=t.id), tenant=tenant)
        self.assertTrue(v.ok, v.problem)
        # dispatch's status report may be appended between the calls: the chain checked holds what was
        # listed before it, and no more than is listed after it
        after = self.audit("ListAuditEntries", audit_pb2.ListAuditEntriesRequest(subject_id=t.id),
                           tenant=tenant).entries
        self.assertTrue(len(every) <= v.entries_checked <= len(after), (len(every), v.entries_checked, len(after)))

    def test_the_repeat_caller_check_probes_the_phone_index_for_every_tenant(self):
        """A registration looks its callers' phones up in tickets_phone, whichever tenant's call made
        the look-up's plan on that connection. A plan made for a tenant the statistics did not know
        (where its rows look like one) read, for each phone, every ticket of each later tenant on
        that connection through another index, and got slower with every ticket the tenant had."""
        big, small, n = ht.new_tenant("in-big"), ht.new_tenant("in-small"), 300

        def reads():
            time.sleep(11)  # PostgreSQL reports a backend's index statistics within 10 s of its last call
            rows = ht.psql("SELECT indexrelname, idx_scan, idx_tup_read FROM pg_stat_user_indexes "
                           "WHERE schemaname = 'intake' AND indexrelname IN ('tickets_phone', 'tickets_status', "
                           "'tickets_recent')")
            return {name: (int(scans), int(tuples)) for name, scans, tuples in rows}
        # no ANALYZE but ours in between, which would have every connection make its plan again
        ht.psql("ALTER TABLE intake.tickets SET (autovacuum_enabled = false)")
        try:
            for _ in range(n):
                self.create(big, caller=pb.Caller(name="张三", phone=phone()))
            ht.psql("ANALYZE intake.tickets")  # the big tenant is in the statistics; plans are made again
            for _ in range(40):  # one at a time, on every worker's connection: plans made for a new tenant
                self.create(small, caller=pb.Caller(name="李四", phone=phone()))
            before = reads()
            self.assertFalse(self.create(big, caller=pb.Caller(name="王五", phone=phone())).ticket.repeat_caller)
            after = reads()
        finally:
            ht.psql("ALTER TABLE intake.tickets RESET (autovacuum_enabled)")
        self.assertGreaterEqual(after["tickets_phone"][0] - before["tickets_phone"][0], 1, "probed by phone")
        for other in ("tickets_status", "tickets_recent"):
            self.assertLess(after[other][1] - before[other][1], n // 2,
                            "the tenant's tickets were read one by one through " + other)

    def test_find_tickets_by_phone_across_formats(self):
        tenant = ht.new_tenant("in-phone")
        p = phone()
        formats = [p, "+86 %s %s %s" % (p[:3], p[3:7], p[7:]), "0086-%s-%s-%s" % (p[:3], p[3:7], p[7:]),
                   "(%s) %s %s" % (p[:3], p[3:7], p[7:]), "86" + p]
        mine = [self.create(tenant, caller=pb.Caller(name="张三", phone=f)).ticket for f in formats]
        other = self.create(tenant, caller=pb.Caller(name="李四", phone=phone())).ticket
        self.assertEqual([x.repeat_caller for x in mine], [False] + [True] * (len(formats) - 1))
        self.assertFalse(other.repeat_caller)
        want = [x.id for x in reversed(mine)]
        for f in formats:
            got = self.call("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=f), tenant=tenant, roles=PII)
            self.assertEqual([x.id for x in got.tickets], want, f)
            self.assertTrue(all(x.caller.phone == masked_phone(p) for x in got.tickets))
        got = self.call("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=p, page_size=2), tenant=tenant, roles=PII)
        self.assertEqual([x.id for x in got.tickets], want[:2])
        got = self.call("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=phone()), tenant=tenant, roles=PII)
        self.assertEqual(len(got.tickets), 0)
        # the blind index is per tenant: the same phone elsewhere finds nothing here
        elsewhere = ht.new_tenant("in-phone2")
        e = self.create(elsewhere, caller=pb.Caller(name="张三", phone=p)).ticket
        self.assertFalse(e.repeat_caller)
        got = self.call("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone=p), tenant=elsewhere, roles=PII)
        self.assertEqual([x.id for x in got.tickets], [e.id])
        idx = ht.psql("SELECT DISTINCT phone_index FROM intake.tickets WHERE id IN ('%s', '%s')"
                      % (mine[0].id, e.id))
        self.assertEqual(len(idx), 2)
        self.assertNotIn(p, idx[0][0] + idx[1][0])
        self.assert_invalid(*self.fails("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(phone="abc"),
                                        tenant=tenant, roles=PII), "caller.phone")
        self.assert_invalid(*self.fails("FindTicketsByPhone", pb.FindTicketsByPhoneRequest(), tenant=tenant, roles=PII),
                            "phone")

    # ---- protocol and input errors -----------------------------------------------------------

    def test_unknown_method_is_unimplemented_at_once(self):
        for path in ("/hotline.intake.v1.IntakeService/NoSuchMethod", "/no.such.v1.Service/Call",
                     "/hotline.intake.v1.IntakeService/createticket"):
            t0 = time.time()
            code, _ = ht.code_of(ht.raw_rpc, self.ch, path, b"", ht.auth(), timeout=10)
            self.assertEqual(code, grpc.StatusCode.UNIMPLEMENTED, path)
            self.assertLess(time.time() - t0, 3, "answered, not left to the deadline")
        self.create()  # and the server is fine

    def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(self):
        def ser(**kw):
            return self.request(**kw).SerializeToString()

        def patched(marker, bad, **kw):
            """A valid request whose marker bytes are replaced by bad bytes of the same length."""
            raw = ser(**kw)
            self.assertEqual(raw.count(marker.encode()), 1)
            self.assertEqual(len(marker.encode()), len(bad))
            return raw.replace(marker.encode(), bad)

        ph = phone()
        no_caller = self.request()
        no_caller.ClearField("caller")
        cases = [
            ("missing channel", ser(channel=0), "channel"),
            ("unknown channel", ser(channel=99), "channel"),
            ("missing category", ser(category=0), "category"),
            ("unknown category", ser(category=42), "category"),
            ("unknown priority", ser(priority=9), "priority"),
            ("unknown confidentiality", ser(confidentiality=77), "confidentiality"),
            ("missing topic", ser(topic=""), "topic"),
            ("topic too long", ser(topic="长" * 201), "topic"),
            ("description too long", ser(description="长" * 5001), "description"),
            ("area too long", ser(area="区" * 101), "area"),
            ("missing caller", no_caller.SerializeToString(), "caller"),
            ("caller without name or phone", ser(caller=pb.Caller(address="北京")), "caller"),
            ("malformed phone", ser(caller=pb.Caller(name="张三", phone="138-abc-" + ph[-4:])), "caller.phone"),
            ("malformed e-mail", ser(caller=pb.Caller(name="张三", email="zhangsan.example.com")), "caller.email"),
            ("malformed id number", ser(caller=pb.Caller(name="张三", id_number="11010119900307ABCD")),
             "caller.id_number"),
            ("request_id not ASCII", ser(request_id="请求-1"), "request_id"),
            ("request_id too long", ser(request_id="r" * 129), "request_id"),
            ("answer without answer_on_spot", ser(answer="答复"), "answer"),
            ("invalid UTF-8 in topic", patched("MARKTOPIC", b"MARK\xffOPIC", topic="MARKTOPIC"), "topic"),
            ("overlong UTF-8 in topic", patched("MARKTOPIC", b"MARK\xc0\xafPIC", topic="MARKTOPIC"), "topic"),
            ("truncated UTF-8 in description",
             patched("XYZ", b"\xe6\x8f\x8f"[:2] + b"Z", description="描述XYZ"), "description"),
            ("surrogate in caller.address", patched("ADR", b"\xed\xa0\x80", caller=pb.Caller(name="张三", address="ADR")),
             "caller.address"),
            ("NUL in topic", patched("MARKTOPIC", b"MARK\x00OPIC", topic="MARKTOPIC"), "topic"),
            ("NUL in caller.name", patched("NAMEMARK", b"NAME\x00ARK", caller=pb.Caller(name="NAMEMARK", phone=ph)),
             "caller.name"),
            ("NUL in request_id", patched("req-nulmark", b"req-\x00ulmark", request_id="req-nulmark"),
             "request_id"),
            ("truncated message", ser()[:-3], "caller"),
            ("wrong wire type for topic", b"\x25\x01\x02\x03\x04", "topic"),
        ]
        tenant = ht.new_tenant("in-bad")
        md = ht.auth(tenant=tenant)
        before = self.counts(tenant)
        for name, raw, field in cases:
            with self.subTest(name):
                code, details = ht.code_of(ht.raw_rpc, self.ch, CREATE_PATH, raw, md)
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, "%s: %s" % (name, details))
                self.assertTrue(details.startswith(field), "%s: %r does not name %s" % (name, details, field))
                for clear in (ph, "张三", "北京"):
                    self.assertNotIn(clear, details, "errors never carry personal data")
        self.assertEqual(self.counts(tenant), before, "nothing written")
        self.assertEqual(before[tenant + ":audit_log"], 0)
        # the boundaries themselves are accepted (and this is the one write of the test)
        ok = self.create(tenant, topic="长" * 200, area="区" * 100)
        self.assertEqual(len(ok.ticket.topic), 200)

    def test_bad_amend_and_reveal_input_writes_nothing(self):
        # an on-the-spot answer goes to no other service: nothing asynchronous writes about it
        tenant = ht.new_tenant("in-bad2")
        t = self.create(tenant, category=cm.CATEGORY_CONSULTATION, answer_on_spot=True, answer="当场答复").ticket
        base = pb.AmendTicketRequest(id=t.id, field="topic", new_value="MARKVALUE", reason="MARKREASON",
                                     request_id=ht.request_id()).SerializeToString()
        cases = [
            (AMEND_PATH, base.replace(b"MARKVALUE", b"MARK\x00ALUE"), "new_value"),
            (AMEND_PATH, base.replace(b"MARKREASON", b"MARK\xffEASON"), "reason"),
            (AMEND_PATH, pb.AmendTicketRequest(id="x", field="topic", new_value="v", reason="r").SerializeToString(),
             "id"),
            (AMEND_PATH, pb.AmendTicketRequest(id=t.id, field="topic", new_value="长" * 201,
                                               reason="r").SerializeToString(), "new_value"),
            ("/%s/RevealCaller" % INTAKE, pb.RevealCallerRequest(id=t.id, reason="MARKZREASON")
             .SerializeToString().replace(b"MARKZREASON", b"MARK\x00REASON"), "reason"),
        ]
        before = self.counts(tenant)
        for path, raw, field in cases:
            code, details = ht.code_of(ht.raw_rpc, self.ch, path, raw,
                                       ht.auth(roles=("agent", "pii_reader"), tenant=tenant))
            self.assert_invalid(code, details, field)
        self.assertEqual(self.counts(tenant), before)
        got = self.call("GetTicket", pb.GetTicketRequest(id=t.id), tenant=tenant).ticket
        self.assertEqual((got.topic, len(got.amendments)), (t.topic, 0))

    def test_long_chinese_description_within_its_bound_is_accepted(self):
        # description: up to 5000 characters (rpc_create.c); Chinese text is 3 bytes a character
        text = ("市民反映小区夜间施工噪音严重影响休息" * 300)[:5000]
        created = self.create(description=text)
        got = self.call("GetTicket", pb.GetTicketRequest(id=created.ticket.id)).ticket
        self.assertEqual(got.description, text)
        code, details = self.fails("CreateTicket", self.request(description=text + "长"))
        self.assert_invalid(code, details, "description")
        answer = ("请携带身份证原件到任一社保网点办理" * 300)[:5000]
        on_spot = self.create(category=cm.CATEGORY_CONSULTATION, answer_on_spot=True, answer=answer)
        self.assertEqual(on_spot.ticket.answer, answer)
        amended = self.call("AmendTicket", pb.AmendTicketRequest(id=created.ticket.id, field="description",
                                                                 new_value=text[::-1], reason="核实后更正"))
        self.assertEqual(amended.ticket.description, text[::-1])

    def test_oversize_message_is_resource_exhausted(self):
        tenant = ht.new_tenant("in-big")
        before = self.counts(tenant)
        raw = self.request(description="x" * (1024 * 1024 + 100)).SerializeToString()
        self.assertGreater(len(raw), 1048576)  # HOTLINE_MAX_MESSAGE_BYTES default
        code, details = ht.code_of(ht.raw_rpc, self.ch, CREATE_PATH, raw, ht.auth(tenant=tenant), timeout=20)
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED, details)
        self.assertEqual(self.counts(tenant), before)
        self.create(tenant)  # the connection and the server are fine afterwards
        self.assertEqual(self.counts(tenant)[tenant + ":tickets"], 1)

    # ---- outbox --------------------------------------------------------------------------------

    def test_registration_writes_its_outbox_rows_in_the_same_transaction_without_caller_data(self):
        ph, name = phone(), "司马" + han(2)
        caller = pb.Caller(name=name, phone=ph, id_number="110101199003071234", address="北京市海淀区中关村大街1号",
                           email="sima%s@example.com" % ph[-4:])
        topic = "道路破损" + han(3)
        created = self.create(topic=topic, caller=caller, area="海淀区")
        t = created.ticket
        rows = self.registration_outbox(t.id)
        self.assertEqual([(r[0], r[1]) for r in rows],
                         [("dispatch", "/hotline.dispatch.v1.DispatchService/SubmitTicket"),
                          ("reporting", "/hotline.reporting.v1.ReportingService/RecordEvents")])
        first_rows = ht.psql("SELECT target FROM intake.outbox WHERE subject_id = '%s' ORDER BY id LIMIT 2" % t.id)
        self.assertEqual(first_rows, [["dispatch"], ["reporting"]], "no earlier row for this ticket")
        for r in rows:
            self.assertEqual((r[3], r[5]), ("agent-1", "demo"))
        self.assertEqual(rows[0][2], t.id + ":submit")
        submit = dispatch_pb2.SubmitTicketRequest.FromString(bytes.fromhex(rows[0][4]))
        self.assertEqual((submit.ticket_id, submit.ticket_no, submit.topic, submit.area, submit.channel,
                          submit.category, submit.registered_by),
                         (t.id, t.ticket_no, topic, "海淀区", cm.CHANNEL_PHONE, cm.CATEGORY_COMPLAINT, "agent-1"))
        events = reporting_pb2.RecordEventsRequest.FromString(bytes.fromhex(rows[1][4])).events
        self.assertEqual(len(events), 1)
        ev = events[0]
        self.assertEqual((ev.type, ev.tenant, ev.ticket_id, ev.version, ev.WhichOneof("payload")),
                         ("ticket.registered", "demo", t.id, 1, "ticket_registered"))
        self.assertEqual(rows[1][2], ev.event_id)
        self.assertEqual((ev.ticket_registered.ticket_no, ev.ticket_registered.status),
                         (t.ticket_no, cm.TICKET_STATUS_REGISTERED))
        payloads = [bytes.fromhex(r[4]) for r in rows]
        clears = [name, ph, ph[3:], caller.id_number, "中关村大街", caller.email, masked_phone(ph),
                  name[0] + "*"]
        for payload in payloads:
            self.assertEqual(self._scan(payload, clears), [], "no caller data in outbox payloads")
        self.assertEqual(self._scan(payloads[0], [topic]), [topic])  # control: the scan finds a planted value

    @staticmethod
    def _scan(payload, values):
        """Values found in payload raw (UTF-8), as hex text or as base64 text."""
        found = []
        for v in values:
            b = v.encode()
            if b in payload or b.hex().encode() in payload or base64.b64encode(b) in payload:
                found.append(v)
        return found


if __name__ == "__main__":
    unittest.main()
