"""test_compliance - accountability and risk events at compliance (DESIGN R21, R22), on the real stack.

- RecordViolation is an internal method of dispatch, followup and intake: a repeated delivery (same
  idempotency key) records one violation, with its source, default points, audit entry, event to
  reporting (violation.recorded) and notices to the person and the department; other peers are
  refused; bad input is INVALID_ARGUMENT naming the field and writes nothing;
- FileViolation (inspector, supervisor, reviewer) is safe to retry by request_id; ListViolations
  shows oversight roles everything, a department head their department's, staff their own; one
  appeal by the person or their head; another tenant sees nothing and finds nothing;
- a missed follow-up that followup queued while compliance was stopped arrives once compliance is
  up (the outbox row waits, retrying, and is then applied once);
- ReportRiskEvent (internal) and RaiseRiskEvent (staff): a major event is due 2 h after it
  occurred and escalated to the supervisors at once; a report made after its deadline is a
  late-risk-report violation; the compliance office accepts and closes events (risk_event.closed
  to reporting, on time or not);
- with the deadlines shortened (HOTLINE_RISK_*_REPORT_WITHIN), events not accepted in time are
  marked overdue exactly once after a Redis FLUSHALL, with one violation each, while an event
  accepted in time has no effect.
"""
import time
import unittest

from google.protobuf import timestamp_pb2

import compliance_harness as C
import dispatch_harness as H
import hotline_test as ht
from compliance_harness import pb
from test_followup_replies import Followup, schedule_request

INSPECTOR = ("inspector",)
SUP = ("supervisor",)


def ts(seconds):
    t = timestamp_pb2.Timestamp()
    t.FromSeconds(int(seconds))
    return t


def violation(**kw):
    base = dict(kind=pb.VIOLATION_KIND_LATE_HANDLING, subject_type="case", subject_id="c-1",
                department_id="housing", person_id="h1", description="超期办理")
    base.update(kw)
    return pb.RecordViolationRequest(**base)


class ViolationTest(unittest.TestCase):
    def setUp(self):
        self.c = C.Comp("cv")

    def test_repeated_delivery_records_once_with_its_effects(self):
        c = self.c
        key = C.idem()
        first = c.internal("RecordViolation", violation(), cert="dispatch", idem=key).violation_id
        again = c.internal("RecordViolation", violation(), cert="dispatch", idem=key).violation_id
        self.assertEqual(first, again)
        self.assertEqual(c.count("violations"), 1)
        [v] = c.call("ListViolations", pb.ListViolationsRequest(), roles=INSPECTOR, sub="insp-1").violations
        self.assertEqual((v.id, v.source, v.points, v.kind, v.person_id), (first, "dispatch.case", 2,
                                                                          pb.VIOLATION_KIND_LATE_HANDLING, "h1"))
        self.assertEqual(c.audit_actions(first), ["violation.recorded"])
        [(etype, p)] = c.events()
        self.assertEqual((etype, p.subject_id, p.department_id, p.level), ("violation.recorded", first, "housing", 2))
        mine = c.call("ListNotices", pb.ListNoticesRequest(), sub="h1", roles=("handler",)).notices
        self.assertEqual([(n.kind, n.subject_id) for n in mine], [("violation.recorded", first)])
        dept = c.call("ListNotices", pb.ListNoticesRequest(), sub="head-x", roles=("dept_head",),
                      dept="housing").notices
        self.assertEqual(len(dept), 1)
        # another key is another violation (the senders' keys are unique per overdue deadline)
        c.internal("RecordViolation", violation(), cert="followup", idem=C.idem())
        self.assertEqual(c.count("violations"), 2)

    def test_only_the_services_record_violations(self):
        c = self.c
        for cert in ("client", "reporting"):
            code, _ = c.internal_code("RecordViolation", violation(), cert=cert, idem=C.idem())
            self.assertEqual(code, C.DENIED, cert)
        code, _ = c.code("RecordViolation", violation())
        self.assertEqual(code, C.DENIED, "a user token does not make an internal call")
        self.assertEqual(c.count("violations"), 0)

    def test_bad_input_writes_nothing(self):
        c = self.c
        for req, field in ((violation(kind=0), "kind"), (violation(kind=99), "kind"),
                           (violation(department_id="", person_id=""), "department_id"),
                           (violation(ticket_id="nope"), "ticket_id"),
                           (violation(description="x" * 2001), "description")):
            code, details = c.internal_code("RecordViolation", req, idem=C.idem())
            self.assertEqual(code, C.INVALID, details)
            self.assertIn(field, details)
        for req, field in ((pb.FileViolationRequest(kind=pb.VIOLATION_KIND_DATA_LEAK, department_id="d"),
                            "description"),
                           (pb.FileViolationRequest(kind=pb.VIOLATION_KIND_DATA_LEAK, department_id="d",
                                                    description="泄露", points=101), "points"),
                           (pb.FileViolationRequest(kind=0, department_id="d", description="x"), "kind")):
            code, details = c.code("FileViolation", req, roles=INSPECTOR)
            self.assertEqual(code, C.INVALID, details)
            self.assertIn(field, details)
        code, details = c.code("ListViolations", pb.ListViolationsRequest(page_size=500), roles=INSPECTOR)
        self.assertEqual(code, C.INVALID)
        self.assertEqual((c.count("violations"), c.count("audit_log"), c.count("outbox"), c.count("inbox")),
                         (0, 0, 0, 0))

    def test_filed_appealed_and_scoped(self):
        c = self.c
        req = pb.FileViolationRequest(request_id=ht.request_id(), kind=pb.VIOLATION_KIND_DATA_LEAK,
                                      department_id="housing", person_id="h1", description="违规查询来电人信息")
        self.assertEqual(c.code("FileViolation", req, roles=("agent",))[0], C.DENIED)
        v = c.call("FileViolation", req, roles=INSPECTOR, sub="insp-1").violation
        self.assertEqual(c.call("FileViolation", req, roles=INSPECTOR, sub="insp-1").violation.id, v.id)
        self.assertEqual((v.points, v.source, v.recorded_by), (5, "manual", "insp-1"))
        c.internal("RecordViolation", violation(department_id="parks", person_id="p1"), idem=C.idem())
        # scopes
        self.assertEqual(len(c.call("ListViolations", pb.ListViolationsRequest(), roles=("auditor",)).violations), 2)
        own = c.call("ListViolations", pb.ListViolationsRequest(), sub="h1", roles=("handler",)).violations
        self.assertEqual([x.id for x in own], [v.id])
        self.assertEqual(c.code("ListViolations", pb.ListViolationsRequest(person_id="p1"), sub="h1",
                                roles=("handler",))[0], C.DENIED)
        dept = c.call("ListViolations", pb.ListViolationsRequest(), sub="head-p", roles=("dept_head",),
                      dept="parks").violations
        self.assertEqual([x.person_id for x in dept], ["p1"])
        # the appeal
        self.assertEqual(c.code("AppealViolation", pb.AppealViolationRequest(violation_id=v.id, note="申诉"),
                                sub="p1", roles=("handler",))[0], C.DENIED)
        got = c.call("AppealViolation", pb.AppealViolationRequest(violation_id=v.id, note="系工作需要"),
                     sub="h1", roles=("handler",)).violation
        self.assertEqual((got.appeal_note, got.appealed_by), ("系工作需要", "h1"))
        self.assertEqual(c.code("AppealViolation", pb.AppealViolationRequest(violation_id=v.id, note="again"),
                                sub="h1", roles=("handler",))[0], C.PRECONDITION)
        self.assertEqual(c.audit_actions(v.id), ["violation.recorded", "violation.appealed"])
        # another tenant
        other = C.Comp("cx")
        self.assertEqual(len(other.call("ListViolations", pb.ListViolationsRequest(), roles=("auditor",)).violations),
                         0)
        self.assertEqual(other.code("AppealViolation", pb.AppealViolationRequest(violation_id=v.id, note="x"),
                                    sub="h1", roles=("handler",))[0], C.NOT_FOUND)

    def test_a_missed_follow_up_waits_for_compliance_and_arrives_once(self):
        t = H.Tenant("cw")
        f = Followup(t)
        ht.stack("stop-service", "compliance")
        try:
            late = schedule_request()
            late.reply_due_at.FromSeconds(int(time.time()) + 1)
            task = f.schedule(late, idem=C.idem()).reply_task_id

            def attempts():
                r = ht.psql("SELECT attempts, delivered_at IS NOT NULL FROM followup.outbox WHERE tenant_id = %s "
                            "AND target = 'compliance' AND subject_id = %s" % (H.lit(t.id), H.lit(task)))
                return r and int(r[0][0]) > 0 and r[0]
            got = H.wait_for(attempts, timeout=40, what="a delivery attempt to the stopped compliance")
            self.assertEqual(got[1], "f", "not delivered while compliance is down")
        finally:
            ht.stack("start-service", "compliance")
            H.reset_channels()
        c = C.Comp()
        c.id = t.id
        H.wait_for(lambda: c.count("violations") == 1, timeout=90, interval=1, what="the violation at compliance")
        [v] = c.call("ListViolations", pb.ListViolationsRequest(), roles=INSPECTOR).violations
        self.assertEqual((v.kind, v.source, v.subject_id), (pb.VIOLATION_KIND_MISSED_FOLLOW_UP,
                                                            "followup.reply_task", task))
        H.wait_for(lambda: ht.psql("SELECT delivered_at IS NOT NULL FROM followup.outbox WHERE tenant_id = %s AND "
                                   "target = 'compliance'" % H.lit(t.id)) == [["t"]], what="marked delivered")
        time.sleep(1)
        self.assertEqual(c.count("violations"), 1)


class RiskEventTest(unittest.TestCase):
    def setUp(self):
        self.c = C.Comp("cr")

    def report(self, level=1, idem=None, **kw):
        req = pb.ReportRiskEventRequest(level=level, source="followup.visit", subject_type="visit",
                                        subject_id="v-1", department_id="housing", description="回访发现问题", **kw)
        return self.c.internal("ReportRiskEvent", req, cert="followup", idem=idem or C.idem()).risk_event_id

    def test_reported_major_event_is_escalated_once(self):
        c = self.c
        key = C.idem()
        occurred = int(time.time()) - 60
        eid = self.report(1, idem=key, occurred_at=ts(occurred))
        self.assertEqual(self.report(1, idem=key, occurred_at=ts(occurred)), eid)
        self.assertEqual(c.count("risk_events"), 1)
        [e] = c.call("ListRiskEvents", pb.ListRiskEventsRequest()).risk_events
        self.assertEqual((e.level, e.status, e.reported_late, e.source), (C.MAJOR, pb.RISK_EVENT_STATUS_REPORTED,
                                                                         False, "followup.visit"))
        self.assertEqual(e.due_at.seconds - e.occurred_at.seconds, 2 * 3600)
        sup = c.call("ListNotices", pb.ListNoticesRequest(), sub="sup-1", roles=SUP).notices
        self.assertEqual([n.kind for n in sup], ["risk_event.escalated"])
        rev = c.call("ListNotices", pb.ListNoticesRequest(), sub="rev-1", roles=("reviewer",)).notices
        self.assertEqual([n.kind for n in rev], ["risk_event.reported"])
        self.assertEqual([t for t, _ in c.events()], ["risk_event.reported"])
        self.assertEqual(c.rows("SELECT count(*) FROM compliance.timers WHERE tenant_id = $T AND subject_id = %s"
                                % H.lit(eid)), [["1"]])
        # a general one (levels 2 and 3 of the subject) is due in 24 h and not escalated
        self.report(3)
        general = [x for x in c.call("ListRiskEvents", pb.ListRiskEventsRequest(level=C.GENERAL)).risk_events]
        self.assertEqual(len(general), 1)
        self.assertEqual(general[0].due_at.seconds - general[0].occurred_at.seconds, 24 * 3600)
        self.assertEqual(len(c.call("ListNotices", pb.ListNoticesRequest(), sub="sup-1", roles=SUP).notices), 1)

    def test_late_report_is_a_violation_and_bad_input_writes_nothing(self):
        c = self.c
        req = pb.RaiseRiskEventRequest(request_id=ht.request_id(), level=C.MAJOR, department_id="housing",
                                       description="管网破裂", occurred_at=ts(time.time() - 3 * 3600),
                                       emergency_plan=True)
        e = c.call("RaiseRiskEvent", req, sub="h1", roles=("handler",)).risk_event
        self.assertEqual(c.call("RaiseRiskEvent", req, sub="h1", roles=("handler",)).risk_event.id, e.id)
        self.assertTrue(e.reported_late)
        self.assertTrue(e.emergency_plan)
        [v] = c.call("ListViolations", pb.ListViolationsRequest(), roles=INSPECTOR).violations
        self.assertEqual((v.kind, v.department_id, v.subject_id), (pb.VIOLATION_KIND_LATE_RISK_REPORT, "housing",
                                                                   e.id))
        self.assertEqual(c.count("timers"), 0, "no deadline left to watch")
        before = (c.count("risk_events"), c.count("audit_log"), c.count("outbox"))
        for bad, field in ((pb.ReportRiskEventRequest(level=0, source="followup.visit", description="x"), "level"),
                           (pb.ReportRiskEventRequest(level=1, source="", description="x"), "source"),
                           (pb.ReportRiskEventRequest(level=1, source="s", description=""), "description"),
                           (pb.ReportRiskEventRequest(level=1, source="s", description="x",
                                                      occurred_at=ts(time.time() + 3600)), "occurred_at")):
            code, details = c.internal_code("ReportRiskEvent", bad, cert="followup", idem=C.idem())
            self.assertEqual(code, C.INVALID, details)
            self.assertIn(field, details)
        code, details = c.code("RaiseRiskEvent", pb.RaiseRiskEventRequest(level=C.MAJOR, description="x"),
                               sub="h1", roles=("handler",))
        self.assertEqual((code, "department_id" in details), (C.INVALID, True))
        self.assertEqual((c.count("risk_events"), c.count("audit_log"), c.count("outbox")), before)

    def test_accept_and_close(self):
        c = self.c
        eid = self.report(2)
        close = pb.CloseRiskEventRequest(risk_event_id=eid, outcome="已整改")
        self.assertEqual(c.code("CloseRiskEvent", close)[0], C.PRECONDITION, "accept first")
        self.assertEqual(c.code("AcceptRiskEvent", pb.AcceptRiskEventRequest(risk_event_id=eid), sub="h1",
                                roles=("handler",))[0], C.DENIED)
        got = c.call("AcceptRiskEvent", pb.AcceptRiskEventRequest(risk_event_id=eid, note="已备案")).risk_event
        self.assertEqual((got.status, got.accepted_by), (pb.RISK_EVENT_STATUS_ACCEPTED, "rev-1"))
        got = c.call("CloseRiskEvent", close).risk_event
        self.assertEqual((got.status, got.outcome), (pb.RISK_EVENT_STATUS_CLOSED, "已整改"))
        self.assertEqual(c.audit_actions(eid), ["risk_event.reported", "risk_event.accepted", "risk_event.closed"])
        closed = [p for t, p in c.events() if t == "risk_event.closed"]
        self.assertEqual(len(closed), 1)
        self.assertTrue(closed[0].on_time)
        other = C.Comp("cx")
        self.assertEqual(other.code("AcceptRiskEvent", pb.AcceptRiskEventRequest(risk_event_id=eid))[0], C.NOT_FOUND)
        self.assertEqual(list(other.call("ListRiskEvents", pb.ListRiskEventsRequest()).risk_events), [])


class RiskDeadlineTest(unittest.TestCase):
    """Statutory deadlines shortened to seconds; Redis loses everything while they are pending."""

    def test_deadlines_fire_once_after_a_redis_flush(self):
        c = C.Comp("cd")
        with H.service_env("compliance", ["HOTLINE_RISK_MAJOR_REPORT_WITHIN=6s",
                                          "HOTLINE_RISK_GENERAL_REPORT_WITHIN=9s"]):
            def raise_(level):
                return c.call("RaiseRiskEvent", pb.RaiseRiskEventRequest(
                    request_id=ht.request_id(), level=level, department_id="housing", description="风险"),
                    sub="h1", roles=("handler",)).risk_event
            major, general, accepted = raise_(C.MAJOR), raise_(C.GENERAL), raise_(C.MAJOR)
            c.call("AcceptRiskEvent", pb.AcceptRiskEventRequest(risk_event_id=accepted.id))
            self.assertEqual(ht.redis("FLUSHALL"), b"OK")
            H.wait_for(lambda: c.count("risk_events", "overdue_at IS NOT NULL") == 2, timeout=60, interval=0.5,
                       what="both unaccepted events overdue")
            time.sleep(3)  # a second firing would land now
            rows = c.rows("SELECT id::text, extract(epoch FROM overdue_at - due_at) FROM compliance.risk_events "
                          "WHERE tenant_id = $T AND overdue_at IS NOT NULL")
            self.assertEqual({r[0] for r in rows}, {major.id, general.id})
            for _, late in rows:
                self.assertGreaterEqual(float(late), -0.05, "not early")
            violations = c.call("ListViolations", pb.ListViolationsRequest(), roles=INSPECTOR).violations
            self.assertEqual(sorted(v.subject_id for v in violations), sorted([major.id, general.id]))
            self.assertTrue(all(v.kind == pb.VIOLATION_KIND_LATE_RISK_REPORT for v in violations))
            self.assertEqual(c.audit_actions(accepted.id), ["risk_event.reported", "risk_event.accepted"])
            self.assertEqual(c.audit_actions(major.id).count("risk_event.overdue"), 1)
            overdue = c.call("ListRiskEvents", pb.ListRiskEventsRequest(overdue_only=True)).risk_events
            self.assertEqual({e.id for e in overdue}, {major.id, general.id})
            sup = c.call("ListNotices", pb.ListNoticesRequest(), sub="sup-1", roles=SUP).notices
            self.assertEqual(sorted(n.kind for n in sup), ["risk_event.escalated", "risk_event.escalated",
                                                           "risk_event.overdue", "risk_event.overdue"])


if __name__ == "__main__":
    unittest.main()
