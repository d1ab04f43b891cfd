"""test_dispatch_access - who sees and changes what at dispatch, and bad inputs (DESIGN §5.1, §5.8, R9, R13).

Against the real stack:

- the inspector role (纪检监察) sees complaints and misconduct reports but not consultations or
  other categories (GetCase NOT_FOUND, ListCases leaves them out) and may supervise what it sees;
  a first-contact agent sees the cases of the tickets they registered only; a dispatcher sees all
  (the control);
- tenant isolation: two tenants with the same department slugs and staff ids; another tenant's
  case id is NOT_FOUND for every method (read, change, lock, sign-off, supervision, internal
  reopen), lists show only the acting tenant's rows, and x-tenant-id outside the token's tenants is
  PERMISSION_DENIED, while the owner tenant's callers do reach the case (the control);
- bad inputs are INVALID_ARGUMENT with a message naming the field, and write nothing: a battery
  on a fresh tenant leaves every dispatch table without a row of it (not even the tenant's
  defaults), and a battery on a live case leaves every table of the tenant unchanged.
"""
import unittest
import uuid

import dispatch_harness as H
from dispatch_harness import dpb, cpb

HANDLER = ("handler",)
DISPATCHER = ("dispatcher",)

TABLES = ("tenant_setup", "departments", "staff", "routing_rules", "sla_policies", "calendars", "cases",
          "case_steps", "pauses", "extensions", "deadlines", "notices", "timers", "outbox", "inbox", "audit_log",
          "audit_heads")


def snapshot(t):
    """Rows of the tenant in every dispatch table, and every case's version (one query)."""
    counts = ", ".join("(SELECT count(*) FROM dispatch.%s WHERE tenant_id = $T)" % x for x in TABLES)
    return t.rows("SELECT %s, (SELECT string_agg(id || ':' || version, ',' ORDER BY id) FROM dispatch.cases "
                  "WHERE tenant_id = $T)" % counts)[0]


def everything(t):
    """Every category routed to housing, with two handlers."""
    t.dept("housing", head="head-h")
    t.staff("head-h", "housing")
    t.staff("h1", "housing")
    t.rule("housing", position=1)


class InspectorTest(unittest.TestCase):
    def test_inspector_sees_complaints_and_reports_only(self):
        t = H.Tenant("insp")
        everything(t)
        cases = {cat: t.submit(category=cat, registered_by="agent-7")[1] for cat in (
            cpb.CATEGORY_CONSULTATION, cpb.CATEGORY_COMPLAINT, cpb.CATEGORY_REPORT, cpb.CATEGORY_HELP,
            cpb.CATEGORY_SUGGESTION)}
        visible = {cpb.CATEGORY_COMPLAINT, cpb.CATEGORY_REPORT}
        insp = dict(sub="insp-1", roles=("inspector",))
        for cat, cid in cases.items():
            code, _ = t.code("GetCase", dpb.GetCaseRequest(id=cid), **insp)
            self.assertEqual(code, None if cat in visible else H.NOT_FOUND, "category %d" % cat)
        self.assertEqual({c.id for c in t.list(**insp)}, {cases[c] for c in visible})
        self.assertEqual({c.id for c in t.list(sub="disp-1", roles=DISPATCHER)}, set(cases.values()),
                         "control: a dispatcher sees them all")
        # the inspector supervises what it sees, and cannot handle it
        n = t.call("SuperviseCase", dpb.SuperviseCaseRequest(case_id=cases[cpb.CATEGORY_REPORT], note="纪检督办"),
                   **insp).notice
        self.assertEqual((n.kind, n.issued_by), (dpb.NOTICE_KIND_SUPERVISION, "insp-1"))
        code, _ = t.code("SuperviseCase", dpb.SuperviseCaseRequest(case_id=cases[cpb.CATEGORY_CONSULTATION],
                                                                   note="督办"), **insp)
        self.assertEqual(code, H.NOT_FOUND)
        code, _ = t.code("AcceptCase", dpb.AcceptCaseRequest(case_id=cases[cpb.CATEGORY_COMPLAINT]), **insp)
        self.assertEqual(code, H.DENIED)

        # R13: the registering agent follows their own tickets, nobody else's
        agent = {c.id for c in t.list(sub="agent-7", roles=("agent",))}
        self.assertEqual(agent, set(cases.values()))
        self.assertEqual(t.list(sub="agent-8", roles=("agent",)), [])
        code, _ = t.code("GetCase", dpb.GetCaseRequest(id=cases[cpb.CATEGORY_HELP]), sub="agent-8", roles=("agent",))
        self.assertEqual(code, H.NOT_FOUND)
        # a role that has no business with cases
        code, details = t.code("GetCase", dpb.GetCaseRequest(id=cases[cpb.CATEGORY_HELP]), sub="x", roles=("analyst",))
        self.assertEqual(code, H.DENIED, details)


class TenantIsolationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a, cls.b = H.Tenant("iso-a"), H.Tenant("iso-b")
        for t in (cls.a, cls.b):
            everything(t)
            t.staff("sup-1", "housing", supervisor=True)
        cls.tid_a, cls.case_a = cls.a.submit(topic="A 的工单")
        cls.tid_b, cls.case_b = cls.b.submit(topic="B 的工单")
        cls.a.call("SuperviseCase", dpb.SuperviseCaseRequest(case_id=cls.case_a, note="A 督办"), sub="sup-1",
                   roles=("supervisor",))

    def test_another_tenants_case_is_not_found(self):
        a, b, cid = self.a, self.b, self.case_a
        # control: in tenant a, the same names reach it
        self.assertEqual(a.get(cid, sub="h1", roles=HANDLER).id, cid)
        before = snapshot(a)
        for sub, roles, method, req in (
                ("admin-1", ("tenant_admin",), "GetCase", dpb.GetCaseRequest(id=cid)),
                ("h1", HANDLER, "GetCase", dpb.GetCaseRequest(id=cid)),
                ("h1", HANDLER, "AcceptCase", dpb.AcceptCaseRequest(case_id=cid)),
                ("h1", HANDLER, "AddCaseNote", dpb.AddCaseNoteRequest(case_id=cid, note="越权")),
                ("h1", HANDLER, "ReturnCase", dpb.ReturnCaseRequest(case_id=cid, reason_code=1, note="x")),
                ("h1", HANDLER, "PauseCase", dpb.PauseCaseRequest(case_id=cid, reason="x")),
                ("h1", HANDLER, "LockCase", dpb.LockCaseRequest(case_id=cid)),
                ("head-h", ("dept_head",), "ApproveResult", dpb.ApproveResultRequest(case_id=cid)),
                ("disp-1", DISPATCHER, "AssignCase", dpb.AssignCaseRequest(case_id=cid, department_id="housing",
                                                                          reason="x")),
                ("disp-1", DISPATCHER, "TransferCase", dpb.TransferCaseRequest(case_id=cid, department_id="housing",
                                                                              reason="x")),
                ("sup-1", ("supervisor",), "SuperviseCase", dpb.SuperviseCaseRequest(case_id=cid, note="x"))):
            code, details = b.code(method, req, sub=sub, roles=roles)
            self.assertEqual(code, H.NOT_FOUND, "%s as %s of tenant b: %s" % (method, sub, details))
        code, _ = H.ht.code_of(b.internal, "ReopenCase", dpb.ReopenCaseRequest(ticket_id=self.tid_a, reopen_no=1,
                                                                               reason="x"), "followup")
        self.assertEqual(code, H.NOT_FOUND)
        self.assertEqual(snapshot(a), before, "tenant a unchanged")

    def test_lists_show_the_acting_tenant_only(self):
        a, b = self.a, self.b
        self.assertEqual([c.id for c in b.list(sub="disp-1", roles=DISPATCHER)], [self.case_b])
        self.assertEqual([c.id for c in b.list(sub="disp-1", roles=DISPATCHER, ticket_id=self.tid_a)], [])
        self.assertEqual([c.id for c in a.list(sub="disp-1", roles=DISPATCHER)], [self.case_a], "control")
        self.assertEqual(b.notices(sub="sup-1", roles=("supervisor",)), [])
        self.assertEqual(len(a.notices(sub="sup-1", roles=("supervisor",))), 2, "control: handler and head of a")
        self.assertEqual(b.notices(sub="sup-1", roles=("supervisor",), case_id=self.case_a), [])

    def test_acting_tenant_must_be_in_the_token(self):
        md = H.ht.auth(roles=["dispatcher"], tenant=self.b.id, sub="disp-1", act_as=self.a.id)
        code, details = H.ht.code_of(H.ht.rpc, H.channel(), H.DISPATCH, "GetCase", dpb.GetCaseRequest(id=self.case_a),
                                     dpb.GetCaseResponse, metadata=md)
        self.assertEqual(code, H.DENIED, details)
        md = H.ht.auth(roles=["dispatcher"], tenant=self.b.id, sub="disp-1", act_as=self.a.id,
                       tenants=[self.a.id, self.b.id])
        got = H.ht.rpc(H.channel(), H.DISPATCH, "GetCase", dpb.GetCaseRequest(id=self.case_a), dpb.GetCaseResponse,
                       metadata=md)
        self.assertEqual(got.case.id, self.case_a, "control: a group token that lists tenant a acts there")


class InternalCallersTest(unittest.TestCase):
    def test_internal_methods_take_their_callers_only(self):
        t = H.Tenant("int")
        everything(t)
        req = submit(ticket_no="T-int")
        md = [("x-tenant-id", t.id), ("x-actor", "agent-1")]
        for cert in ("client", "followup", "dispatch", "compliance"):
            code, details = H.ht.code_of(H.ht.rpc, H.channel("dispatch", cert), H.DISPATCH, "SubmitTicket", req,
                                         dpb.SubmitTicketResponse, metadata=md)
            self.assertEqual(code, H.DENIED, "SubmitTicket with the %s certificate: %s" % (cert, details))
        code, _ = H.ht.code_of(H.ht.rpc, H.channel("dispatch", "client"), H.DISPATCH, "SubmitTicket", req,
                               dpb.SubmitTicketResponse, metadata=t.md("admin-1", ("tenant_admin", "dispatcher")))
        self.assertEqual(code, H.DENIED, "a user token does not make a client an internal caller")
        self.assertEqual(t.count("cases"), 0)
        cid = t.internal("SubmitTicket", req, "intake").case_id
        self.assertEqual(t.count("cases"), 1, "control: intake's certificate submits")
        # a user method still needs a user token, whoever the peer is
        code, _ = H.ht.code_of(H.ht.rpc, H.channel("dispatch", "intake"), H.DISPATCH, "GetCase",
                               dpb.GetCaseRequest(id=cid), dpb.GetCaseResponse, metadata=md)
        self.assertEqual(code, H.grpc.StatusCode.UNAUTHENTICATED)


def wd(amount=1, unit=dpb.DURATION_UNIT_WORKING_HOURS):
    return dpb.WorkingDuration(amount=amount, unit=unit)


def policy(**over):
    p = dict(category=cpb.CATEGORY_COMPLAINT, priority=cpb.PRIORITY_GENERAL, accept_within=wd(), complete_within=wd(),
             reply_within=wd(), warning_permille=800)
    p.update(over)
    return dpb.PutSlaPolicyRequest(policy=dpb.SlaPolicy(**p))


def calendar(week=None, **over):
    week = week if week is not None else [dpb.WorkingDay(weekday=1, intervals=[dpb.WorkingInterval(
        start_minute=540, end_minute=1050)])]
    return dpb.PutCalendarRequest(calendar=dpb.Calendar(time_zone=over.pop("time_zone", "Asia/Shanghai"), week=week,
                                                        **over))


def submit(**over):
    r = dict(ticket_id=str(uuid.uuid4()), ticket_no="T1", channel=cpb.CHANNEL_PHONE, category=cpb.CATEGORY_COMPLAINT,
             topic="主题", priority=cpb.PRIORITY_GENERAL)
    r.update(over)
    return dpb.SubmitTicketRequest(**r)


def dept(**over):
    d = dict(id="ok", name="部门", active=True)
    d.update(over)
    return dpb.PutDepartmentRequest(department=dpb.Department(**d))


def staff(**over):
    s = dict(id="s1", name="员工", department_id="ok", active=True)
    s.update(over)
    return dpb.PutStaffRequest(staff=dpb.Staff(**s))


def rule(**over):
    r = dict(name="规则", position=1, target_department_id="ok", active=True)
    r.update(over)
    return dpb.PutRoutingRuleRequest(rule=dpb.RoutingRule(**r))


ANY = str(uuid.uuid4())

# (method, request, field named in the message): validated before anything is read or written
FRESH = [
    ("SubmitTicket", submit(ticket_id="not-a-uuid"), "ticket_id"),
    ("SubmitTicket", submit(ticket_no=""), "ticket_no"),
    ("SubmitTicket", submit(ticket_no="N" * 33), "ticket_no"),
    ("SubmitTicket", submit(channel=0), "channel"),
    ("SubmitTicket", submit(category=99), "category"),
    ("SubmitTicket", submit(priority=0), "priority"),
    ("SubmitTicket", submit(topic=""), "topic"),
    ("SubmitTicket", submit(topic="长" * 201), "topic"),
    ("SubmitTicket", submit(description="长" * 5001), "description"),
    ("SubmitTicket", submit(implicated_department_ids=["d%d" % i for i in range(17)]), "implicated_department_ids"),
    ("PutDepartment", dpb.PutDepartmentRequest(), "department"),
    ("PutDepartment", dept(id="Bad Id"), "department.id"),
    ("PutDepartment", dept(name=""), "department.name"),
    ("PutDepartment", dept(parent_id="ok"), "department.parent_id"),
    ("PutDepartment", dept(head_id="a b"), "department.head_id"),
    ("PutDepartment", dept(deputy_ids=[""]), "department.deputy_ids"),
    ("PutStaff", dpb.PutStaffRequest(), "staff"),
    ("PutStaff", staff(id=""), "staff.id"),
    ("PutStaff", staff(department_id=""), "staff.department_id"),
    ("PutStaff", staff(skills=["s%d" % i for i in range(33)]), "staff.skills"),
    ("PutRoutingRule", dpb.PutRoutingRuleRequest(), "rule"),
    ("PutRoutingRule", rule(id="x"), "rule.id"),
    ("PutRoutingRule", rule(name=""), "rule.name"),
    ("PutRoutingRule", rule(categories=[99]), "rule.categories"),
    ("PutRoutingRule", rule(channels=[0]), "rule.channels"),
    ("PutRoutingRule", rule(target_department_id=""), "rule.target_department_id"),
    ("PutRoutingRule", rule(position=-1), "rule.position"),
    ("PutSlaPolicy", dpb.PutSlaPolicyRequest(), "policy"),
    ("PutSlaPolicy", policy(category=0), "category"),
    ("PutSlaPolicy", policy(priority=9), "priority"),
    ("PutSlaPolicy", policy(warning_permille=1000), "policy.warning_permille"),
    ("PutSlaPolicy", policy(accept_within=wd(unit=0)), "policy.accept_within"),
    ("PutSlaPolicy", policy(complete_within=wd(amount=0)), "policy.complete_within"),
    ("PutSlaPolicy", policy(reply_within=None), "policy.reply_within"),
    ("PutCalendar", dpb.PutCalendarRequest(), "calendar"),
    ("PutCalendar", calendar(week=[dpb.WorkingDay(weekday=8)]), "week[0].weekday"),
    ("PutCalendar", calendar(week=[dpb.WorkingDay(weekday=1), dpb.WorkingDay(weekday=1)]), "weekday 1"),
    ("PutCalendar", calendar(week=[dpb.WorkingDay(weekday=2, intervals=[dpb.WorkingInterval(
        start_minute=540, end_minute=1500)])]), "week[0].intervals[0]"),
    ("PutCalendar", calendar(holidays=["2025-02-30"]), "holidays[0]"),
    ("PutCalendar", calendar(makeup_workdays=["2025-1-5"]), "makeup_workdays[0]"),
    ("GetCase", dpb.GetCaseRequest(id="x"), "case_id"),
    ("ListCases", dpb.ListCasesRequest(page_size=500), "page_size"),
    ("ListCases", dpb.ListCasesRequest(status=99), "status"),
    ("ListCases", dpb.ListCasesRequest(ticket_id="x"), "ticket_id"),
    ("ListCases", dpb.ListCasesRequest(page_token="x"), "page_token"),
    ("AssignCase", dpb.AssignCaseRequest(case_id=ANY, reason="r"), "department_id"),
    ("AssignCase", dpb.AssignCaseRequest(case_id=ANY, department_id="ok"), "reason"),
    ("TransferCase", dpb.TransferCaseRequest(case_id=ANY, department_id="ok"), "reason"),
    ("ReopenCase", dpb.ReopenCaseRequest(ticket_id="x", reopen_no=1, reason="r"), "ticket_id"),
    ("ReopenCase", dpb.ReopenCaseRequest(ticket_id=ANY, reopen_no=0, reason="r"), "reopen_no"),
    ("ReopenCase", dpb.ReopenCaseRequest(ticket_id=ANY, reopen_no=1), "reason"),
    ("ListNotices", dpb.ListNoticesRequest(page_size=-1), "page_size"),
    ("RequestExtension", dpb.RequestExtensionRequest(case_id=ANY, extra=wd(), reason="r"), "deadline_kind"),
    ("RequestExtension", dpb.RequestExtensionRequest(case_id=ANY, deadline_kind=2, extra=wd(unit=9), reason="r"),
     "extra"),
    ("RequestExtension", dpb.RequestExtensionRequest(case_id=ANY, deadline_kind=2, extra=wd(), reason="r",
                                                     request_id="含空格 id"), "request_id"),
]

ROLES = {"SubmitTicket": None, "ReopenCase": None, "AssignCase": DISPATCHER, "TransferCase": DISPATCHER,
         "RequestExtension": HANDLER, "GetCase": DISPATCHER, "ListCases": DISPATCHER}


class BadInputTest(unittest.TestCase):
    def call(self, t, method, req, roles=None):
        if method in ("SubmitTicket", "ReopenCase"):
            return H.ht.code_of(t.internal, method, req, "intake" if method == "SubmitTicket" else "followup")
        roles = roles or ROLES.get(method) or ("tenant_admin",)
        return t.code(method, req, sub="h1" if roles == HANDLER else "u-1", roles=roles)

    def assert_invalid(self, t, method, req, field, roles=None):
        code, details = self.call(t, method, req, roles)
        self.assertEqual(code, H.INVALID, "%s %s: %s" % (method, field, details))
        self.assertIn(field, details, "%s names the field" % method)

    def test_bad_inputs_on_a_fresh_tenant_write_nothing(self):
        t = H.Tenant("bad")
        for method, req, field in FRESH:
            self.assert_invalid(t, method, req, field)
        # an unknown time zone is refused too (the calendar is built before it is stored)
        code, details = self.call(t, "PutCalendar", calendar(time_zone="Mars/Olympus_Mons"))
        self.assertEqual(code, H.INVALID, details)
        self.assertIn("calendar", details)
        self.assertEqual(snapshot(t), ["0"] * len(TABLES) + [""], "not a single row, not even the defaults")
        # control: the same snapshot sees what a valid call writes
        t.call("PutDepartment", dept())
        self.assertNotEqual(snapshot(t), ["0"] * len(TABLES) + [""])

    def test_bad_inputs_on_a_live_case_change_nothing(self):
        t = H.Tenant("bad")
        everything(t)
        _, cid = t.submit()
        t.call("AcceptCase", dpb.AcceptCaseRequest(case_id=cid), sub="h1", roles=HANDLER)
        before = snapshot(t)
        for method, req, field, roles in (
                ("AddCaseNote", dpb.AddCaseNoteRequest(case_id=cid), "note", HANDLER),
                ("AddCaseNote", dpb.AddCaseNoteRequest(case_id=cid, note="长" * 2001), "note", HANDLER),
                ("AddCaseNote", dpb.AddCaseNoteRequest(case_id=cid, note="x", lock_token="garbage"), "lock_token",
                 HANDLER),
                ("ReturnCase", dpb.ReturnCaseRequest(case_id=cid, note="x"), "reason_code", HANDLER),
                ("ReturnCase", dpb.ReturnCaseRequest(case_id=cid, reason_code=99, note="x"), "reason_code", HANDLER),
                ("ReturnCase", dpb.ReturnCaseRequest(case_id=cid, reason_code=dpb.RETURN_REASON_OTHER), "note",
                 HANDLER),
                ("SubmitResult", dpb.SubmitResultRequest(case_id=cid), "text", HANDLER),
                ("PauseCase", dpb.PauseCaseRequest(case_id=cid), "reason", HANDLER),
                ("RequestExtension", dpb.RequestExtensionRequest(case_id=cid, deadline_kind=2, reason="r"), "extra",
                 HANDLER),
                ("AssignCase", dpb.AssignCaseRequest(case_id=cid, department_id="housing", reason="r",
                                                     assisting_department_ids=["d%d" % i for i in range(9)]),
                 "assisting_department_ids", DISPATCHER),
                ("SuperviseCase", dpb.SuperviseCaseRequest(case_id=cid, note="长" * 1001), "note", ("supervisor",)),
                ("PutStaff", staff(id="h1", department_id="housing", name=""), "staff.name", ("tenant_admin",))):
            self.assert_invalid(t, method, req, field, roles)
        # invalid UTF-8 and an embedded NUL are refused on the wire (protobuf-c would not notice)
        for bad in (b"\xff\xfe", b"ab\x00cd"):
            payload = dpb.AddCaseNoteRequest(case_id=cid, note="PLACEHOLDER").SerializeToString()
            payload = payload.replace("PLACEHOLDER".encode(), bad.ljust(len("PLACEHOLDER"), b"x"))
            code, details = H.ht.code_of(H.ht.raw_rpc, H.channel(), "/%s/AddCaseNote" % H.DISPATCH, payload,
                                         metadata=t.md("h1", HANDLER))
            self.assertEqual(code, H.INVALID, details)
            self.assertIn("note", details)
        self.assertEqual(snapshot(t), before, "the tenant's rows are unchanged")
        # control: a valid note changes the snapshot
        t.call("AddCaseNote", dpb.AddCaseNoteRequest(case_id=cid, note="有效"), sub="h1", roles=HANDLER)
        self.assertNotEqual(snapshot(t), before)


if __name__ == "__main__":
    unittest.main()
