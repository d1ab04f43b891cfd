"""test_dispatch_handling - the handling workflow of a case at dispatch (DESIGN §4.1, R10-R12, R33).

Against the real stack, in a tenant of its own whose calendar works around the clock (UTC), so
that working time is clock time and pause and extension arithmetic is exact:

- the life of a case, assigned → accepted → in_progress (first note) → result_submitted →
  result_approved, with every step recorded (and in the case's audit chain, which verifies), and the transitions outside §4.1 refused with
  FAILED_PRECONDITION and nothing written (submit before accept, approve before submit, accept
  twice, submit twice, and return, note, accept, transfer, reject or pause after approval);
- sign-off: only the head of the case's department or a listed deputy approves (a dept_head of the
  same department who is neither → PERMISSION_DENIED; a handler → PERMISSION_DENIED; the head of
  another department does not even see the case → NOT_FOUND); the approval records the approver
  and the SHA-256 of the text, a digest of another text is refused (ABORTED), the result's author
  (a head who handled the case) cannot sign it off (four eyes), a rejected result
  goes back to in_progress; approval queues ScheduleReply to followup;
- transfer by a dispatcher with a reason (basis transfer, the load and deadlines move), refused to
  handlers, to the same department and without a reason; another handler of the same department
  (AssignCase by its head) takes the load but not new deadlines: the department's clock runs on;
- co-handling: AssignCase with assisting_department_ids creates assisting cases (role assist,
  lead_case_id, basis co_handling) assigned in those departments, each seen by its own department;
- pause/resume: the paused flag and steps, the clock stops (no due instant while paused) and the
  due instant moves later by exactly the pause; timers of the new due instant replace the old;
- extensions: requested by the department (idempotent by request_id), decided by a supervisor who
  is not the requester; an approved one moves the due instant later by the extra working time; a
  rejected one changes nothing; on the default Shanghai calendar the move is measured in working
  time (checked with an independent working-time computation);
- supervision notices (督办) to the handler and the department head, listed for them;
- ReopenCase (followup's certificate only) returns an approved case to the same department and
  handler with reopen_count incremented, idempotent by reopen_no, and to another handler of the
  department with the routing rule's required skill when the first is no longer active.
"""
import datetime
import hashlib
import time
import unittest

import dispatch_harness as H
import hotline_test as ht
from dispatch_harness import dpb, cpb
from hotline.audit.v1 import audit_pb2 as apb

AUDIT = "hotline.audit.v1.AuditService"

HANDLER = ("handler",)
HEAD = ("dept_head",)
DISPATCHER = ("dispatcher",)
SUPERVISOR = ("supervisor",)


def ts(m):
    """A Timestamp message as float seconds (None when unset)."""
    return m.seconds + m.nanos / 1e9 if m.ByteSize() else None


def deadline(case, kind):
    [d] = [d for d in case.deadlines if d.kind == kind]
    return d


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


class World(unittest.TestCase):
    """A tenant with housing (head, deputy, a second dept_head, two handlers), roads and water
    (a head and a handler each) and a supervision office; complaints route to housing."""

    calendar = "around_the_clock"

    @classmethod
    def setUpClass(cls):
        t = cls.t = H.Tenant("hand")
        t.dept("housing", head="head-h", deputies=["dep-h"])
        for s in ("head-h", "dep-h", "head2-h"):
            t.staff(s, "housing")
        for s in ("h1", "h2"):
            t.staff(s, "housing", skills=["casework"])
        for d in ("roads", "water"):
            t.dept(d, head="head-" + d[0])
            t.staff("head-" + d[0], d)
            t.staff(d[0] + "1", d)
        t.dept("office", head="sup-1")
        t.staff("sup-1", "office", supervisor=True)
        t.staff("sup-2", "office", supervisor=True)
        # only h1 and h2 do housing's casework (head2-h, a second dept_head, is staff without the skill)
        t.rule("housing", position=10, categories=[cpb.CATEGORY_COMPLAINT], skill="casework")
        if cls.calendar == "around_the_clock":
            t.around_the_clock()

    def new_case(self, **kw):
        """A complaint routed to housing: (case, its handler, the other housing handler)."""
        _, cid = self.t.submit(**kw)
        case = self.t.get(cid)
        self.assertEqual((case.status, case.department_id), (H.ASSIGNED, "housing"))
        h = case.handler_id
        return case, h, {"h1": "h2", "h2": "h1"}[h]

    def call(self, method, req, sub, roles):
        return self.t.call(method, req, sub=sub, roles=roles)

    def code(self, method, req, sub, roles):
        return self.t.code(method, req, sub=sub, roles=roles)

    def refused(self, want, method, req, sub, roles, field=None):
        """The call fails with `want` and writes nothing (steps, audit entries, outbox rows, case version)."""
        before = self.snapshot()
        code, details = self.code(method, req, sub, roles)
        self.assertEqual(code, want, "%s by %s: %s" % (method, sub, details))
        if field:
            self.assertIn(field, details)
        self.assertEqual(self.snapshot(), before, "%s by %s wrote nothing" % (method, sub))
        return details

    def snapshot(self):
        """Row counts of the tables a change writes, and every case's version and status (one query)."""
        counts = ", ".join("(SELECT count(*) FROM dispatch.%s WHERE tenant_id = $T)" % table for table in (
            "case_steps", "audit_log", "audit_heads", "outbox", "notices", "extensions", "pauses", "deadlines",
            "timers"))
        return self.t.rows("SELECT %s, (SELECT string_agg(id || ':' || version || ':' || status, ',' ORDER BY id) "
                           "FROM dispatch.cases WHERE tenant_id = $T)" % counts)

    def load(self):
        return {s.id: s.open_cases for s in self.call("ListStaff", dpb.ListStaffRequest(), "admin-1",
                                                      ("tenant_admin",)).staff}


class WorkflowTest(World):
    def test_life_of_a_case_and_illegal_transitions(self):
        t = self.t
        case, h, other = self.new_case()
        cid = case.id
        load0 = self.load()[h]
        self.refused(H.PRECONDITION, "SubmitResult", dpb.SubmitResultRequest(case_id=cid, text="办结"), h, HANDLER)
        self.refused(H.PRECONDITION, "ApproveResult", dpb.ApproveResultRequest(case_id=cid), "head-h", HEAD)
        self.refused(H.PRECONDITION, "AddCaseNote", dpb.AddCaseNoteRequest(case_id=cid, note="先记一笔"), h, HANDLER)
        self.refused(H.DENIED, "AcceptCase", dpb.AcceptCaseRequest(case_id=cid), other, HANDLER)
        self.refused(H.NOT_FOUND, "AcceptCase", dpb.AcceptCaseRequest(case_id=cid), "r1", HANDLER)

        r = self.call("AcceptCase", dpb.AcceptCaseRequest(case_id=cid), h, HANDLER).case
        self.assertEqual((r.status, r.handler_id), (H.ACCEPTED, h))
        self.assertTrue(deadline(r, H.DL_ACCEPT).met)
        self.assertFalse(deadline(r, H.DL_COMPLETE).met)
        self.refused(H.PRECONDITION, "AcceptCase", dpb.AcceptCaseRequest(case_id=cid), h, HANDLER)

        step = self.call("AddCaseNote", dpb.AddCaseNoteRequest(case_id=cid, note="已联系物业"), h, HANDLER).step
        self.assertEqual((step.action, step.actor, step.note, step.department_id), ("note", h, "已联系物业", "housing"))
        self.assertEqual(step.seq, 4, "created, assigned, accepted, note")
        self.assertEqual((step.seq, ts(step.at)), (t.get(cid).steps[3].seq, ts(t.get(cid).steps[3].at)),
                         "the answer is the recorded step")
        self.assertEqual(t.get(cid).status, H.IN_PROGRESS, "the first recorded step starts the work")

        text = "已督促物业于三日内修复，来电人认可。"
        r = self.call("SubmitResult", dpb.SubmitResultRequest(case_id=cid, text=text), h, HANDLER).case
        self.assertEqual((r.status, r.result.text, r.result.submitted_by), (H.SUBMITTED, text, h))
        self.refused(H.PRECONDITION, "SubmitResult", dpb.SubmitResultRequest(case_id=cid, text="再交"), h, HANDLER)

        # sign-off: the head of housing or a listed deputy only
        self.refused(H.DENIED, "ApproveResult", dpb.ApproveResultRequest(case_id=cid), "head2-h", HEAD)
        self.refused(H.DENIED, "ApproveResult", dpb.ApproveResultRequest(case_id=cid), h, HANDLER)
        self.refused(H.NOT_FOUND, "ApproveResult", dpb.ApproveResultRequest(case_id=cid), "head-r", HEAD)
        self.refused(H.ABORTED, "ApproveResult", dpb.ApproveResultRequest(case_id=cid, digest=sha256(text + "改")),
                     "dep-h", HEAD, "digest")
        r = self.call("ApproveResult", dpb.ApproveResultRequest(case_id=cid, digest=sha256(text).upper()), "dep-h",
                      HEAD).case
        self.assertEqual(r.status, H.APPROVED)
        self.assertEqual((r.result.approved_by, r.result.digest), ("dep-h", sha256(text)))
        self.assertTrue(deadline(r, H.DL_COMPLETE).met)
        self.assertEqual([s.action for s in r.steps],
                         ["created", "assigned", "accepted", "note", "result_submitted", "result_approved"])
        self.assertEqual(self.load()[h], load0 - 1, "an approved case no longer counts as the handler's load")
        self.assertEqual(t.count("outbox", "target = 'followup' AND subject_id = %s" % H.lit(case.ticket_id)), 1,
                         "ScheduleReply to followup")
        # every step is in the case's audit chain, in order, and the chain verifies
        md = t.md("aud-1", ("auditor",))
        entries = ht.rpc(H.channel(), AUDIT, "ListAuditEntries", apb.ListAuditEntriesRequest(subject_id=cid),
                         apb.ListAuditEntriesResponse, metadata=md).entries
        self.assertEqual([(e.seq, e.action) for e in entries], list(enumerate(
            ["created", "assigned", "accepted", "note", "result_submitted", "result_approved"], start=1)))
        self.assertEqual([e.prev_hash for e in entries[1:]], [e.hash for e in entries[:-1]], "each links the last")
        ok = ht.rpc(H.channel(), AUDIT, "VerifyAuditChain", apb.VerifyAuditChainRequest(subject_id=cid),
                    apb.VerifyAuditChainResponse, metadata=md)
        self.assertEqual((ok.ok, ok.entries_checked, ok.problem), (True, 6, ""))

        # nothing moves an approved case but a reopen
        for method, req, sub, roles in (
                ("ReturnCase", dpb.ReturnCaseRequest(case_id=cid, reason_code=dpb.RETURN_REASON_OTHER, note="退"),
                 h, HANDLER),
                ("AddCaseNote", dpb.AddCaseNoteRequest(case_id=cid, note="补记"), h, HANDLER),
                ("AcceptCase", dpb.AcceptCaseRequest(case_id=cid), h, HANDLER),
                ("SubmitResult", dpb.SubmitResultRequest(case_id=cid, text="再交"), h, HANDLER),
                ("ApproveResult", dpb.ApproveResultRequest(case_id=cid), "head-h", HEAD),
                ("RejectResult", dpb.RejectResultRequest(case_id=cid, reason="重办"), "head-h", HEAD),
                ("PauseCase", dpb.PauseCaseRequest(case_id=cid, reason="等材料"), h, HANDLER),
                ("TransferCase", dpb.TransferCaseRequest(case_id=cid, department_id="roads", reason="转"), "disp-1",
                 DISPATCHER),
                ("AssignCase", dpb.AssignCaseRequest(case_id=cid, department_id="roads", reason="派"), "disp-1",
                 DISPATCHER)):
            self.refused(H.PRECONDITION, method, req, sub, roles)

    def test_another_handler_of_the_same_department_keeps_its_deadlines(self):
        t = self.t
        case, h, other = self.new_case()
        cid = case.id
        clock = sorted((d.kind, ts(d.due_at), ts(d.warn_at)) for d in case.deadlines)
        rows = t.rows("SELECT id FROM dispatch.deadlines WHERE tenant_id = $T AND case_id = %s ORDER BY id" % H.lit(cid))
        load = self.load()
        time.sleep(0.05)  # a restarted clock would show in the due instants
        r = self.call("AssignCase", dpb.AssignCaseRequest(case_id=cid, department_id="housing", handler_id=other,
                                                          reason="换人办理"), "head-h", HEAD).case
        self.assertEqual((r.status, r.handler_id, r.basis.kind, r.steps[-1].action),
                         (H.ASSIGNED, other, dpb.BASIS_KIND_MANUAL, "assigned"))
        self.assertEqual(sorted((d.kind, ts(d.due_at), ts(d.warn_at)) for d in r.deadlines), clock,
                         "the department's deadlines run on")
        self.assertEqual(t.rows("SELECT id FROM dispatch.deadlines WHERE tenant_id = $T AND case_id = %s "
                                "AND cancelled_at IS NULL ORDER BY id" % H.lit(cid)), rows, "no deadline replaced")
        now = self.load()
        self.assertEqual((now[h], now[other]), (load[h] - 1, load[other] + 1), "the load moved with the case")

    def test_a_head_who_handled_the_case_does_not_sign_off_their_own_result(self):
        case, _, _ = self.new_case()
        cid = case.id
        r = self.call("AssignCase", dpb.AssignCaseRequest(case_id=cid, department_id="housing", handler_id="head-h",
                                                          reason="主任亲办"), "disp-1", DISPATCHER).case
        self.assertEqual(r.handler_id, "head-h")
        self.call("AcceptCase", dpb.AcceptCaseRequest(case_id=cid), "head-h", HEAD)
        self.call("SubmitResult", dpb.SubmitResultRequest(case_id=cid, text="主任亲自答复"), "head-h", HEAD)
        details = self.refused(H.DENIED, "ApproveResult", dpb.ApproveResultRequest(case_id=cid), "head-h", HEAD)
        self.assertIn("author", details)
        r = self.call("ApproveResult", dpb.ApproveResultRequest(case_id=cid), "dep-h", HEAD).case
        self.assertEqual((r.status, r.result.submitted_by, r.result.approved_by), (H.APPROVED, "head-h", "dep-h"))

    def test_rejected_result_goes_back_to_work(self):
        case, h, _ = self.new_case()
        cid = case.id
        self.call("AcceptCase", dpb.AcceptCaseRequest(case_id=cid), h, HANDLER)
        self.call("SubmitResult", dpb.SubmitResultRequest(case_id=cid, text="初稿"), h, HANDLER)
        self.refused(H.INVALID, "RejectResult", dpb.RejectResultRequest(case_id=cid), "head-h", HEAD, "reason")
        self.refused(H.DENIED, "RejectResult", dpb.RejectResultRequest(case_id=cid, reason="x"), "head2-h", HEAD)
        r = self.call("RejectResult", dpb.RejectResultRequest(case_id=cid, reason="答复不完整"), "head-h", HEAD).case
        self.assertEqual(r.status, H.IN_PROGRESS)
        self.assertEqual(r.steps[-1].action, "result_rejected")
        self.assertEqual(r.steps[-1].note, "答复不完整")
        self.call("SubmitResult", dpb.SubmitResultRequest(case_id=cid, text="终稿"), h, HANDLER)
        r = self.call("ApproveResult", dpb.ApproveResultRequest(case_id=cid, digest=sha256("终稿")), "head-h",
                      HEAD).case
        self.assertEqual((r.status, r.result.text, r.result.approved_by), (H.APPROVED, "终稿", "head-h"))

    def test_transfer(self):
        t = self.t
        case, h, _ = self.new_case()
        cid = case.id
        self.call("AcceptCase", dpb.AcceptCaseRequest(case_id=cid), h, HANDLER)
        load = self.load()
        self.refused(H.DENIED, "TransferCase", dpb.TransferCaseRequest(case_id=cid, department_id="roads",
                                                                       reason="转"), h, HANDLER)
        self.refused(H.INVALID, "TransferCase", dpb.TransferCaseRequest(case_id=cid, department_id="roads"), "disp-1",
                     DISPATCHER, "reason")
        self.refused(H.PRECONDITION, "TransferCase", dpb.TransferCaseRequest(case_id=cid, department_id="housing",
                                                                             reason="转"), "disp-1", DISPATCHER)
        self.refused(H.PRECONDITION, "TransferCase", dpb.TransferCaseRequest(case_id=cid, department_id="nowhere",
                                                                             reason="转"), "disp-1", DISPATCHER,
                     "department_id")
        r = self.call("TransferCase", dpb.TransferCaseRequest(case_id=cid, department_id="roads", reason="属道路养护"),
                      "disp-1", DISPATCHER).case
        self.assertEqual((r.status, r.department_id, r.handler_id), (H.ASSIGNED, "roads", "r1"))
        self.assertEqual(r.basis.kind, dpb.BASIS_KIND_TRANSFER)
        self.assertEqual((r.basis.reason, r.basis.actor, r.basis.rule_id), ("属道路养护", "disp-1", ""))
        self.assertEqual([s.action for s in r.steps][-2:], ["transferred", "assigned"])
        after = self.load()
        self.assertEqual((after[h], after["r1"]), (load[h] - 1, load["r1"] + 1))
        self.assertEqual(t.count("deadlines", "case_id = %s AND met_at IS NULL AND cancelled_at IS NULL" % H.lit(cid)),
                         2, "the new department's accept and complete deadlines")
        self.assertFalse(deadline(r, H.DL_ACCEPT).met, "accepting again is due in the new department")
        self.assertEqual(t.rows("SELECT transfer_count FROM dispatch.cases WHERE id = %s" % H.lit(cid)), [["1"]])
        self.assertEqual(t.code("GetCase", dpb.GetCaseRequest(id=cid), sub=h, roles=HANDLER)[0], H.NOT_FOUND)
        self.assertEqual(t.get(cid, sub="r1", roles=HANDLER).id, cid)

    def test_co_handling_creates_assisting_cases(self):
        t = self.t
        tid, lead = t.submit(category=cpb.CATEGORY_HELP, topic="小区积水 协办")
        self.assertEqual(t.get(lead).status, H.PENDING)
        self.refused(H.PRECONDITION, "AssignCase", dpb.AssignCaseRequest(
            case_id=lead, department_id="housing", reason="协办", assisting_department_ids=["roads", "nowhere"]),
            "disp-1", DISPATCHER, "department_id")
        r = self.call("AssignCase", dpb.AssignCaseRequest(
            case_id=lead, department_id="housing", reason="积水涉及道路与供水",
            assisting_department_ids=["roads", "water", "housing"]), "disp-1", DISPATCHER).case
        self.assertEqual((r.role, r.lead_case_id, r.department_id), (H.LEAD, "", "housing"))
        cases = t.list(sub="disp-1", roles=DISPATCHER, ticket_id=tid)
        self.assertEqual(len(cases), 3, "the lead case and two assisting cases (the lead's own department skipped)")
        assist = {c.department_id: c for c in cases if c.id != lead}
        self.assertEqual(sorted(assist), ["roads", "water"])
        for dept, c in assist.items():
            self.assertEqual((c.role, c.lead_case_id, c.ticket_id, c.status), (H.ASSIST, lead, tid, H.ASSIGNED))
            self.assertEqual(c.handler_id, dept[0] + "1")
            self.assertEqual(c.basis.kind, dpb.BASIS_KIND_CO_HANDLING)
            self.assertEqual(sorted(d.kind for d in c.deadlines), [H.DL_ACCEPT, H.DL_COMPLETE])
            # each department sees its own case, not the lead's
            self.assertEqual(t.get(c.id, sub=dept[0] + "1", roles=HANDLER).lead_case_id, lead)
            self.assertEqual(t.code("GetCase", dpb.GetCaseRequest(id=lead), sub=dept[0] + "1", roles=HANDLER)[0],
                             H.NOT_FOUND)
        acc = self.call("AcceptCase", dpb.AcceptCaseRequest(case_id=assist["roads"].id), "r1", HANDLER).case
        self.assertEqual((acc.status, acc.role), (H.ACCEPTED, H.ASSIST))
        self.assertEqual(t.count("cases", "ticket_id = %s AND role = 1" % H.lit(tid)), 1, "one lead case per ticket")
        self.assertEqual(t.count("outbox", "target = 'intake' AND subject_id = %s" % H.lit(tid)), 1,
                         "only the lead case reports the ticket status")


class PauseExtensionTest(World):
    def accepted(self):
        case, h, other = self.new_case()
        r = self.call("AcceptCase", dpb.AcceptCaseRequest(case_id=case.id), h, HANDLER).case
        return r, h, other

    def pending_timers(self, deadline_id):
        return self.t.rows("SELECT timer_key, due_ms FROM dispatch.timers WHERE tenant_id = $T AND done_at IS NULL "
                           "AND subject_id = %s ORDER BY timer_key" % H.lit(deadline_id))

    def deadline_row(self, cid, kind):
        [[did, gen]] = self.t.rows("SELECT id, generation FROM dispatch.deadlines WHERE case_id = %s AND kind = %d "
                                   "AND met_at IS NULL AND cancelled_at IS NULL" % (H.lit(cid), kind))
        return did, int(gen)

    def test_pause_stops_the_clock_and_resume_moves_the_due_instant(self):
        t = self.t
        case, h, other = self.accepted()
        cid = case.id
        due0 = ts(deadline(case, H.DL_COMPLETE).due_at)
        did, gen = self.deadline_row(cid, H.DL_COMPLETE)
        self.assertEqual([k for k, _ in self.pending_timers(did)], ["dl:%s:due:%d" % (did, gen),
                                                                    "dl:%s:warn:%d" % (did, gen)])
        self.refused(H.INVALID, "PauseCase", dpb.PauseCaseRequest(case_id=cid), h, HANDLER, "reason")
        self.refused(H.PRECONDITION, "ResumeCase", dpb.ResumeCaseRequest(case_id=cid), h, HANDLER)
        self.refused(H.NOT_FOUND, "PauseCase", dpb.PauseCaseRequest(case_id=cid, reason="等"), "r1", HANDLER)

        r = self.call("PauseCase", dpb.PauseCaseRequest(case_id=cid, reason="等待来电人补充材料"), other, HANDLER).case
        self.assertTrue(r.paused)
        self.assertIsNone(ts(deadline(r, H.DL_COMPLETE).due_at), "no due instant while the clock stands")
        self.assertEqual(r.steps[-1].action, "paused")
        self.assertEqual(self.pending_timers(did), [], "no timer runs while paused")
        self.refused(H.PRECONDITION, "PauseCase", dpb.PauseCaseRequest(case_id=cid, reason="再停"), h, HANDLER)
        self.refused(H.PRECONDITION, "SubmitResult", dpb.SubmitResultRequest(case_id=cid, text="结果"), h, HANDLER)
        time.sleep(1.5)
        r = self.call("ResumeCase", dpb.ResumeCaseRequest(case_id=cid), h, HANDLER).case
        self.assertFalse(r.paused)
        self.assertEqual([s.action for s in r.steps][-2:], ["paused", "resumed"])
        [[p_ms]] = t.rows("SELECT extract(epoch FROM ended_at - started_at) * 1000 FROM dispatch.pauses "
                          "WHERE case_id = %s" % H.lit(cid))
        due1 = ts(deadline(r, H.DL_COMPLETE).due_at)
        self.assertGreater(float(p_ms), 1400)
        self.assertAlmostEqual((due1 - due0) * 1000, float(p_ms), delta=2, msg="moved by exactly the pause")
        did1, gen1 = self.deadline_row(cid, H.DL_COMPLETE)
        self.assertEqual((did1, gen1), (did, gen + 2))
        timers = self.pending_timers(did)
        self.assertEqual([k for k, _ in timers], ["dl:%s:due:%d" % (did, gen1), "dl:%s:warn:%d" % (did, gen1)])
        self.assertAlmostEqual(int(timers[0][1]) / 1000, due1, delta=0.002)
        outcomes = dict(t.rows("SELECT coalesce(outcome, 'pending'), count(*) FROM dispatch.timers "
                               "WHERE tenant_id = $T AND subject_id = %s GROUP BY 1" % H.lit(did)))
        self.assertEqual(outcomes, {"cancelled": "2", "pending": "2"}, "the first timers cancelled, none lost")
        self.call("SubmitResult", dpb.SubmitResultRequest(case_id=cid, text="结果"), h, HANDLER)

    def test_extension_is_decided_by_another_supervisor_and_moves_the_due_instant(self):
        t = self.t
        case, h, other = self.accepted()
        cid = case.id
        due0 = ts(deadline(case, H.DL_COMPLETE).due_at)
        extra = dpb.WorkingDuration(amount=2, unit=dpb.DURATION_UNIT_WORKING_HOURS)
        self.refused(H.INVALID, "RequestExtension", dpb.RequestExtensionRequest(case_id=cid, extra=extra, reason="x"),
                     h, HANDLER, "deadline_kind")
        self.refused(H.INVALID, "RequestExtension", dpb.RequestExtensionRequest(
            case_id=cid, deadline_kind=H.DL_COMPLETE, extra=dpb.WorkingDuration(amount=0, unit=1), reason="x"),
            h, HANDLER, "extra")
        self.refused(H.PRECONDITION, "RequestExtension", dpb.RequestExtensionRequest(
            case_id=cid, deadline_kind=H.DL_ACCEPT, extra=extra, reason="已受理"), h, HANDLER)
        self.refused(H.NOT_FOUND, "RequestExtension", dpb.RequestExtensionRequest(
            case_id=cid, deadline_kind=H.DL_COMPLETE, extra=extra, reason="x"), "r1", HANDLER)
        req = dpb.RequestExtensionRequest(case_id=cid, deadline_kind=H.DL_COMPLETE, extra=extra, reason="需现场勘查",
                                          request_id=H.ht.request_id())
        x = self.call("RequestExtension", req, h, ("handler", "supervisor")).extension
        self.assertEqual((x.state, x.requested_by, x.case_id), (dpb.EXTENSION_STATE_PENDING, h, cid))
        again = self.call("RequestExtension", req, h, ("handler", "supervisor")).extension
        self.assertEqual(again.id, x.id, "a retry with the same request_id returns the first request")
        self.assertEqual(t.count("extensions", "case_id = %s" % H.lit(cid)), 1)
        # the same request_id for another case is refused, and reveals nothing of the first request
        another, h2, _ = self.new_case()
        self.call("AcceptCase", dpb.AcceptCaseRequest(case_id=another.id), h2, HANDLER)
        details = self.refused(H.INVALID, "RequestExtension", dpb.RequestExtensionRequest(
            case_id=another.id, deadline_kind=H.DL_COMPLETE, extra=extra, reason="别的件", request_id=req.request_id),
            h2, HANDLER, "request_id")
        self.assertNotIn("需现场勘查", details)

        decide = dpb.DecideExtensionRequest(extension_id=x.id, approve=True, opinion="同意")
        self.refused(H.DENIED, "DecideExtension", decide, h, ("handler", "supervisor"), "own")
        self.refused(H.DENIED, "DecideExtension", decide, "head-h", HEAD)
        r = self.call("DecideExtension", decide, "sup-1", SUPERVISOR)
        self.assertEqual((r.extension.state, r.extension.decided_by), (dpb.EXTENSION_STATE_APPROVED, "sup-1"))
        due1 = ts(deadline(r.case, H.DL_COMPLETE).due_at)
        self.assertAlmostEqual(due1 - due0, 7200, delta=0.002, msg="2 working hours later (working time = clock time)")
        self.assertEqual(ts(deadline(t.get(cid), H.DL_COMPLETE).due_at), due1)
        self.assertEqual([s.action for s in t.get(cid).steps][-2:], ["extension_requested", "extension_approved"])
        self.refused(H.PRECONDITION, "DecideExtension", decide, "sup-2", SUPERVISOR)

        # a rejected one needs an opinion and changes nothing
        y = self.call("RequestExtension", dpb.RequestExtensionRequest(
            case_id=cid, deadline_kind=H.DL_COMPLETE, extra=extra, reason="再延"), other, HANDLER).extension
        self.refused(H.INVALID, "DecideExtension", dpb.DecideExtensionRequest(extension_id=y.id, approve=False),
                     "sup-1", SUPERVISOR, "opinion")
        r = self.call("DecideExtension", dpb.DecideExtensionRequest(extension_id=y.id, approve=False, opinion="不同意"),
                      "sup-1", SUPERVISOR)
        self.assertEqual(r.extension.state, dpb.EXTENSION_STATE_REJECTED)
        self.assertEqual(ts(deadline(r.case, H.DL_COMPLETE).due_at), due1)

    def test_supervision_notices(self):
        t = self.t
        case, h, other = self.new_case()
        cid = case.id
        self.refused(H.DENIED, "SuperviseCase", dpb.SuperviseCaseRequest(case_id=cid, note="快办"), "head-h", HEAD)
        self.refused(H.INVALID, "SuperviseCase", dpb.SuperviseCaseRequest(case_id=cid), "sup-1", SUPERVISOR, "note")
        n = self.call("SuperviseCase", dpb.SuperviseCaseRequest(case_id=cid, note="请于今日办结"), "sup-1",
                      SUPERVISOR).notice
        self.assertEqual((n.kind, n.case_id, n.ticket_no, n.issued_by, n.department_id),
                         (dpb.NOTICE_KIND_SUPERVISION, cid, case.ticket_no, "sup-1", "housing"))
        rows = t.rows("SELECT recipient_id, kind FROM dispatch.notices WHERE case_id = %s ORDER BY 1" % H.lit(cid))
        self.assertEqual(rows, sorted([[h, "3"], ["head-h", "3"]]))
        mine = t.notices(sub=h, roles=HANDLER)
        self.assertEqual([(x.case_id, x.recipient_id, x.note) for x in mine], [(cid, h, "请于今日办结")])
        self.assertEqual(t.notices(sub=other, roles=HANDLER), [], "the other handler has none")
        head = t.notices(sub="head-h", roles=HEAD, department_id="housing", case_id=cid)
        self.assertEqual(sorted(x.recipient_id for x in head), sorted([h, "head-h"]))
        self.assertEqual(t.get(cid).steps[-1].action, "supervised")
        # the discipline inspection also supervises complaints
        self.call("SuperviseCase", dpb.SuperviseCaseRequest(case_id=cid, note="纪检督办"), "insp-1", ("inspector",))
        self.assertEqual(len(t.notices(sub=h, roles=HANDLER)), 2)
        # a case nobody handles yet has nobody to notify
        _, queued = t.submit(category=cpb.CATEGORY_HELP)
        self.refused(H.PRECONDITION, "SuperviseCase", dpb.SuperviseCaseRequest(case_id=queued, note="催"), "sup-1",
                     SUPERVISOR)


class ReopenTest(World):
    def approve(self, cid, h):
        self.call("AcceptCase", dpb.AcceptCaseRequest(case_id=cid), h, HANDLER)
        self.call("SubmitResult", dpb.SubmitResultRequest(case_id=cid, text="处理完毕"), h, HANDLER)
        return self.call("ApproveResult", dpb.ApproveResultRequest(case_id=cid), "head-h", HEAD).case

    def reopen(self, tid, no, cert="followup", idem=None):
        return self.t.internal("ReopenCase", dpb.ReopenCaseRequest(ticket_id=tid, reopen_no=no, reason="来电人不满意"),
                               cert, actor="agent-9", idem=idem)

    def test_reopen_returns_to_the_same_handler_once_per_reopen_no(self):
        t = self.t
        case, h, other = self.new_case()
        cid, tid = case.id, case.ticket_id
        code, _ = H.ht.code_of(self.reopen, tid, 1, cert="intake")
        self.assertEqual(code, H.DENIED, "only followup reopens")
        code, _ = H.ht.code_of(self.reopen, tid, 1, idem="early")
        self.assertEqual(code, H.PRECONDITION, "a case that is still being handled is not reopened")
        self.approve(cid, h)

        self.assertEqual(self.reopen(tid, 1, idem="reopen-1").case_id, cid)
        r = t.get(cid)
        self.assertEqual((r.status, r.department_id, r.handler_id, r.reopen_count), (H.ASSIGNED, "housing", h, 1))
        self.assertEqual((r.basis.kind, r.basis.reason, r.basis.actor), (dpb.BASIS_KIND_REOPEN, "来电人不满意", "agent-9"))
        self.assertFalse(r.HasField("result"), "the approved result is cleared for the re-handling")
        self.assertEqual([s.action for s in r.steps][-2:], ["reopened", "assigned"])
        self.assertEqual(sorted((d.kind, d.met) for d in r.deadlines), [(H.DL_ACCEPT, False), (H.DL_COMPLETE, False)])
        before = self.snapshot()
        self.assertEqual(self.reopen(tid, 1, idem="reopen-1").case_id, cid, "a redelivery")
        self.assertEqual(self.reopen(tid, 1, idem="reopen-1-other-key").case_id, cid, "the same reopen_no again")
        self.assertEqual(self.snapshot(), before, "repeats change nothing")
        self.assertEqual(t.get(cid).version, r.version)

        # handled again; the handler left in the meantime: the department's other handler gets it
        self.approve(cid, h)
        t.staff(h, "housing", active=False)
        try:
            self.reopen(tid, 2)
            r = t.get(cid)
            self.assertEqual((r.status, r.department_id, r.reopen_count), (H.ASSIGNED, "housing", 2))
            self.assertEqual(r.handler_id, other, "the other active handler of housing with the rule's skill "
                             "(head2-h, idle staff of housing without it, is not picked)")
        finally:
            t.staff(h, "housing", skills=["casework"])
        self.assertEqual(t.count("outbox", "target = 'followup' AND subject_id = %s" % H.lit(tid)), 2,
                         "one ScheduleReply per approval")
        self.assertEqual(t.count("cases", "ticket_id = %s" % H.lit(tid)), 1)


def shanghai_working_ms(a, b):
    """Working time between instants a < b (Unix seconds) on the default calendar: Mon-Fri
    09:00-12:00 and 13:30-17:30 in Asia/Shanghai (UTC+8, no daylight saving), no holidays."""
    tz = datetime.timezone(datetime.timedelta(hours=8))
    day = datetime.datetime.fromtimestamp(a, tz).date()
    total = 0.0
    while True:
        start = datetime.datetime.combine(day, datetime.time(0), tz).timestamp()
        if start > b:
            return round(total * 1000)
        if day.isoweekday() <= 5:
            for h0, m0, h1, m1 in ((9, 0, 12, 0), (13, 30, 17, 30)):
                lo, hi = start + h0 * 3600 + m0 * 60, start + h1 * 3600 + m1 * 60
                total += max(0.0, min(hi, b) - max(lo, a))
        day += datetime.timedelta(days=1)


class DefaultCalendarExtensionTest(World):
    calendar = "default"

    def test_extension_is_working_time_on_the_default_calendar(self):
        t = self.t
        cal = t.call("GetCalendar", dpb.GetCalendarRequest()).calendar
        self.assertEqual(cal.time_zone, "Asia/Shanghai")
        self.assertEqual([(d.weekday, [(i.start_minute, i.end_minute) for i in d.intervals]) for d in cal.week],
                         [(w, [(540, 720), (810, 1050)]) for w in range(1, 6)])
        sla = t.call("GetSlaPolicy", dpb.GetSlaPolicyRequest(category=cpb.CATEGORY_COMPLAINT,
                                                             priority=cpb.PRIORITY_GENERAL)).policy
        self.assertEqual((sla.accept_within.amount, sla.accept_within.unit, sla.complete_within.amount,
                          sla.complete_within.unit, sla.reply_within.amount, sla.warning_permille),
                         (4, dpb.DURATION_UNIT_WORKING_HOURS, 3, dpb.DURATION_UNIT_WORKING_DAYS, 3, 800),
                         "the tenant's default: general complaints answered within 3 working days (R14)")
        major = t.call("GetSlaPolicy", dpb.GetSlaPolicyRequest(category=cpb.CATEGORY_REPORT,
                                                               priority=cpb.PRIORITY_MAJOR)).policy
        self.assertEqual((major.category, major.priority), (cpb.CATEGORY_REPORT, cpb.PRIORITY_GENERAL),
                         "no major report policy: the category's general one applies")
        case, h, _ = self.new_case()
        cid = case.id
        [[started, warn_at, due_at]] = t.rows("SELECT extract(epoch FROM started_at), extract(epoch FROM warn_at), "
                                              "extract(epoch FROM due_at) FROM dispatch.deadlines WHERE case_id = %s "
                                              "AND kind = 1" % H.lit(cid))
        # (deadlines are computed in milliseconds from the start's microseconds: 1 ms of slack)
        self.assertAlmostEqual(shanghai_working_ms(float(started), float(due_at)), 4 * 3600 * 1000, delta=1,
                               msg="accept within 4 working hours")
        self.assertAlmostEqual(shanghai_working_ms(float(started), float(warn_at)), 4 * 3600 * 800, delta=1,
                               msg="warned when 80% of them are used")
        self.call("AcceptCase", dpb.AcceptCaseRequest(case_id=cid), h, HANDLER)
        d0 = deadline(t.get(cid), H.DL_COMPLETE)
        due0 = ts(d0.due_at)
        # the default general complaint policy: 3 working days, ending at the close of a working day
        self.assertEqual(datetime.datetime.fromtimestamp(due0, datetime.timezone(datetime.timedelta(hours=8)))
                         .strftime("%H:%M"), "17:30")
        x = self.call("RequestExtension", dpb.RequestExtensionRequest(
            case_id=cid, deadline_kind=H.DL_COMPLETE, reason="需协调",
            extra=dpb.WorkingDuration(amount=4, unit=dpb.DURATION_UNIT_WORKING_HOURS)), h, HANDLER).extension
        r = self.call("DecideExtension", dpb.DecideExtensionRequest(extension_id=x.id, approve=True, opinion="同意"),
                      "sup-1", SUPERVISOR)
        due1 = ts(deadline(r.case, H.DL_COMPLETE).due_at)
        self.assertGreater(due1 - due0, 12 * 3600, "4 working hours after a close of day: the next working day")
        self.assertEqual(shanghai_working_ms(due0, due1), 4 * 3600 * 1000, "exactly 4 working hours later")
        self.assertEqual(datetime.datetime.fromtimestamp(due1, datetime.timezone(datetime.timedelta(hours=8)))
                         .strftime("%H:%M"), "14:30", "09:00-12:00 then 13:30-14:30")


if __name__ == "__main__":
    unittest.main()
