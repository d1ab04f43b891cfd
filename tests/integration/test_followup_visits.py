"""test_followup_visits - follow-up visits by risk level (回访, R16-R18) against the real stack.

- every active counterpart has one planned visit, due by its level's plan (defaults 30 / 90 / 365
  days; a stored plan changes interval, method and responsible person); raising a counterpart's
  level re-plans its visit sooner; recording a visit plans the next one from the time it was done;
- a visit record needs a method and an evidence reference (and a note when it finds a problem),
  is recorded once (append-only), and one that finds a problem queues ReportRiskEvent to
  compliance;
- the recorder cannot re-check their own visit; a re-check that disagrees needs a note and raises
  a risk event; a visit is re-checked once;
- GetCoverage is exact on a known data set, per level and per department;
- another tenant sees none of it; bad input names the field and writes nothing.
"""
import time
import unittest
import uuid

from google.protobuf import timestamp_pb2

import dispatch_harness as H
from hotline.followup.v1 import followup_pb2 as fpb

FOLLOWUP = "hotline.followup.v1.FollowUpService"
ADMIN = ("tenant_admin",)
AGENT = ("agent",)
SUPERVISOR = ("supervisor",)
DAY = 86400
PHONE, QUESTIONNAIRE, ON_SITE = fpb.VISIT_METHOD_PHONE, fpb.VISIT_METHOD_QUESTIONNAIRE, fpb.VISIT_METHOD_ON_SITE
PLANNED, DONE = fpb.VISIT_STATUS_PLANNED, fpb.VISIT_STATUS_DONE


def ts(seconds):
    t = timestamp_pb2.Timestamp()
    t.seconds = int(seconds)
    return t


class Visits:
    def __init__(self, prefix="fv"):
        self.t = H.Tenant(prefix)

    def call(self, method, req, sub="admin-1", roles=ADMIN):
        return H.ht.rpc(H.channel("followup"), FOLLOWUP, method, req, getattr(fpb, method + "Response"),
                        metadata=self.t.md(sub, roles), timeout=15)

    def code(self, method, req, sub="admin-1", roles=ADMIN):
        return H.ht.code_of(self.call, method, req, sub=sub, roles=roles)

    def put(self, cid, level, owner="owner-1", dept="env", active=True):
        return self.call("PutCounterpart", fpb.PutCounterpartRequest(counterpart=fpb.Counterpart(
            id=cid, name="单位 " + cid, risk_level=level, owner_id=owner, department_id=dept, active=active)))

    def record(self, visit_id, sub="agent-1", problem=False, note="", evidence="rec-001", request_id=""):
        return self.call("RecordVisit", fpb.RecordVisitRequest(
            request_id=request_id, visit_id=visit_id, method=PHONE, evidence_ref=evidence, problem_found=problem,
            note=note, answers=[fpb.VisitAnswer(question="是否满意", answer="满意")]), sub=sub, roles=AGENT)

    def recheck(self, visit_id, sub="sup-1", agrees=True, note=""):
        return self.call("RecheckVisit", fpb.RecheckVisitRequest(visit_id=visit_id, agrees=agrees, note=note),
                         sub=sub, roles=SUPERVISOR)

    def visits(self, **kw):
        return list(self.call("ListVisits", fpb.ListVisitsRequest(**kw), sub="sup-1", roles=SUPERVISOR).visits)

    def coverage(self, frm, to, dept=""):
        r = self.call("GetCoverage", fpb.GetCoverageRequest(**{"from": ts(frm), "to": ts(to), "department_id": dept}),
                      sub="ana-1", roles=("analyst",))
        return [(x.risk_level, x.counterparts, x.planned, x.done, x.overdue) for x in r.levels]

    def count(self, table, where="true"):
        return H.sql_count("SELECT count(*) FROM followup.%s WHERE tenant_id = %s AND (%s)"
                           % (table, H.lit(self.t.id), where))


class PlanTest(unittest.TestCase):
    def test_visits_are_planned_by_risk_level_and_replanned(self):
        v = Visits()
        now = time.time()
        for level, days in ((1, 30), (2, 90), (3, 365)):
            nxt = v.put("cp-%d" % level, level).next_visit
            self.assertEqual((nxt.status, nxt.risk_level, nxt.responsible_id, nxt.method),
                             (PLANNED, level, "owner-1", PHONE))
            self.assertAlmostEqual(nxt.due_at.seconds, now + days * DAY, delta=120)
        self.assertEqual(v.put("cp-2", 2).next_visit.due_at.seconds,
                         v.visits(counterpart_id="cp-2")[0].due_at.seconds, "one planned visit, kept")
        v.call("PutVisitPlan", fpb.PutVisitPlanRequest(plan=fpb.VisitPlan(
            risk_level=1, interval_days=14, method=ON_SITE, depth="全面检查", responsible_id="insp-9")))
        nxt = v.put("cp-new", 1).next_visit
        self.assertEqual((nxt.method, nxt.responsible_id), (ON_SITE, "insp-9"))
        self.assertAlmostEqual(nxt.due_at.seconds, now + 14 * DAY, delta=120)
        raised = v.put("cp-3", 1).next_visit  # a low-risk counterpart becomes high-risk: visited sooner
        self.assertAlmostEqual(raised.due_at.seconds, now + 14 * DAY, delta=120)
        self.assertEqual(len(v.visits(counterpart_id="cp-3")), 1)
        # a year of monthly visits, compressed: each record plans the next one
        v.call("PutVisitPlan", fpb.PutVisitPlanRequest(plan=fpb.VisitPlan(risk_level=1, interval_days=30,
                                                                          method=PHONE)))
        v.put("cp-year", 1)
        for i in range(12):
            [planned] = v.visits(counterpart_id="cp-year", status=PLANNED)
            r = v.record(planned.id, evidence="call-%d" % i)
            self.assertEqual(r.visit.status, DONE)
            self.assertAlmostEqual(r.next_visit.due_at.seconds, r.visit.done_at.seconds + 30 * DAY, delta=2)
        self.assertEqual(len(v.visits(counterpart_id="cp-year", status=DONE)), 12)
        self.assertEqual(len(v.visits(counterpart_id="cp-year", status=PLANNED)), 1)
        before = v.count("visits")
        H.ht.redis("FLUSHALL")
        self.assertEqual(v.count("visits"), before, "visits live in PostgreSQL, not in Redis")
        self.assertEqual(len(v.visits(counterpart_id="cp-year")), 13)


class RecordTest(unittest.TestCase):
    def setUp(self):
        self.v = Visits()
        self.visit = self.v.put("cp-r", 1).next_visit

    def test_bad_records_name_the_field_and_write_nothing(self):
        v = self.v
        ok = dict(visit_id=self.visit.id, method=PHONE, evidence_ref="rec-1")
        for field, change in (("visit_id", dict(visit_id="x")), ("method", dict(method=0)),
                              ("evidence_ref", dict(evidence_ref="")), ("note", dict(problem_found=True)),
                              ("answers.question", dict(answers=[fpb.VisitAnswer(question="", answer="a")]))):
            code, details = v.code("RecordVisit", fpb.RecordVisitRequest(**dict(ok, **change)), sub="agent-1",
                                   roles=AGENT)
            self.assertEqual(code, H.INVALID, field)
            self.assertTrue(details.startswith(field), details)
        self.assertEqual(v.code("RecordVisit", fpb.RecordVisitRequest(**ok), sub="x", roles=("auditor",))[0],
                         H.DENIED)
        for field, cp in (("counterpart.risk_level", fpb.Counterpart(id="c", name="n", owner_id="o", risk_level=4)),
                          ("counterpart.owner_id", fpb.Counterpart(id="c", name="n", risk_level=1)),
                          ("counterpart.id", fpb.Counterpart(name="n", owner_id="o", risk_level=1))):
            code, details = v.code("PutCounterpart", fpb.PutCounterpartRequest(counterpart=cp))
            self.assertEqual(code, H.INVALID, field)
            self.assertTrue(details.startswith(field), details)
        self.assertEqual(v.count("visit_records"), 0)
        self.assertEqual(v.count("counterparts"), 1)

    def test_a_problem_raises_a_risk_event_and_a_visit_is_recorded_once(self):
        v = self.v
        r = v.record(self.visit.id, problem=True, note="未按承诺整改", request_id="rv-1")
        self.assertEqual((r.visit.status, r.visit.problem_found, r.visit.recorded_by, r.visit.evidence_ref),
                         (DONE, True, "agent-1", "rec-001"))
        self.assertEqual([(a.question, a.answer) for a in r.visit.answers], [("是否满意", "满意")])
        self.assertEqual(v.record(self.visit.id, request_id="rv-1").visit.done_at, r.visit.done_at, "a retry")
        self.assertTrue(r.visit.recheck_sampled, "a record that found a problem is always re-checked")
        self.assertEqual([x.id for x in v.visits(to_recheck=True)], [self.visit.id])
        v.recheck(self.visit.id, sub="sup-2")
        self.assertEqual(v.visits(to_recheck=True), [], "re-checked")
        code, _ = H.ht.code_of(v.record, self.visit.id)
        self.assertEqual(code, H.PRECONDITION, "recorded once")
        self.assertEqual(v.count("visit_records"), 1)
        self.assertEqual(v.count("outbox", "target = 'compliance' AND method LIKE '%ReportRiskEvent' AND "
                                           "subject_id = " + H.lit(self.visit.id)), 1)
        with self.assertRaises(Exception):
            H.ht.psql("UPDATE followup.visit_records SET evidence_ref = 'forged' WHERE tenant_id = %s"
                      % H.lit(v.t.id))
        self.assertEqual(v.count("visit_records", "evidence_ref = 'forged'"), 0, "records are append-only")

    def test_the_recorder_cannot_recheck_and_a_disagreement_is_raised(self):
        v = self.v
        code, _ = H.ht.code_of(v.recheck, self.visit.id)
        self.assertEqual(code, H.PRECONDITION, "nothing to re-check before the record")
        v.record(self.visit.id, sub="sup-1")
        code, details = H.ht.code_of(v.recheck, self.visit.id, sub="sup-1")
        self.assertEqual(code, H.DENIED, details)
        code, details = H.ht.code_of(v.recheck, self.visit.id, sub="sup-2", agrees=False)
        self.assertEqual((code, details.split(":")[0]), (H.INVALID, "note"))
        r = v.recheck(self.visit.id, sub="sup-2", agrees=False, note="电话核实，对方称未接到回访")
        self.assertEqual((r.visit.rechecked_by, r.visit.recheck_agrees), ("sup-2", False))
        self.assertEqual(H.ht.code_of(v.recheck, self.visit.id, sub="sup-3")[0], H.PRECONDITION, "once")
        self.assertEqual(v.count("outbox", "target = 'compliance' AND subject_id = " + H.lit(self.visit.id)), 1,
                         "the disagreement is raised")
        actions = [x[0] for x in H.ht.psql("SELECT action FROM followup.audit_log WHERE tenant_id = %s AND "
                                           "subject_id = %s ORDER BY seq" % (H.lit(v.t.id), H.lit(self.visit.id)))]
        self.assertEqual(actions, ["visit.planned", "visit.recorded", "visit.recheck_disagrees"])

    def test_another_tenant_sees_nothing(self):
        other = Visits("fo")
        self.assertEqual(other.visits(), [])
        self.assertEqual(other.code("RecordVisit", fpb.RecordVisitRequest(
            visit_id=self.visit.id, method=PHONE, evidence_ref="e"), sub="agent-1", roles=AGENT)[0], H.NOT_FOUND)
        now = time.time()
        self.assertEqual(other.coverage(now - DAY, now + 400 * DAY), [(1, 0, 0, 0, 0), (2, 0, 0, 0, 0),
                                                                     (3, 0, 0, 0, 0)])
        self.assertEqual(self.v.count("visit_records"), 0)


class OverdueTest(unittest.TestCase):
    def test_an_overdue_visit_is_raised_even_after_redis_is_flushed(self):
        v = Visits("fd")
        late = v.put("cp-late", 1).next_visit
        ontime = v.put("cp-ok", 1).next_visit
        v.record(ontime.id)
        ids = "(%s, %s)" % (H.lit(late.id), H.lit(ontime.id))
        # a month later, in PostgreSQL: both visits (and their timers) are due now
        H.ht.psql("UPDATE followup.visits SET due_at = now() WHERE tenant_id = %s AND id::text IN %s"
                  % (H.lit(v.t.id), ids))
        H.ht.psql("UPDATE followup.timers SET due_ms = (extract(epoch FROM now()) * 1000)::bigint "
                  "WHERE tenant_id = %s AND subject_id IN %s" % (H.lit(v.t.id), ids))
        H.ht.redis("FLUSHALL")  # Redis forgets every schedule; the re-seed from PostgreSQL brings them back
        actions = lambda vid: [x[0] for x in H.ht.psql(  # noqa: E731
            "SELECT action FROM followup.audit_log WHERE tenant_id = %s AND subject_id = %s ORDER BY seq"
            % (H.lit(v.t.id), H.lit(vid)))]
        H.wait_for(lambda: "visit.overdue" in actions(late.id), timeout=60, what="the overdue visit")
        self.assertEqual([x.id for x in v.visits(overdue=True)], [late.id])
        self.assertEqual(v.count("outbox", "target = 'compliance' AND method LIKE '%RecordViolation' AND "
                                           "subject_id = " + H.lit(late.id)), 1)
        H.wait_for(lambda: H.sql_count("SELECT count(*) FROM followup.timers WHERE tenant_id = %s AND subject_id "
                                       "IN %s AND done_at IS NOT NULL" % (H.lit(v.t.id), ids)) == 2, timeout=30,
                   what="both timers fired")
        self.assertNotIn("visit.overdue", actions(ontime.id), "recorded in time")


class QuestionnaireTest(unittest.TestCase):
    def test_answers_are_checked_against_the_latest_version(self):
        v = Visits("fq")

        def questionnaire(options):
            return fpb.Questionnaire(id="sat-1", name="满意度回访", questions=[
                fpb.Question(id="q1", text="总体满意度", type=fpb.ANSWER_TYPE_SCORE, required=True),
                fpb.Question(id="q2", text="是否已整改", type=fpb.ANSWER_TYPE_YES_NO),
                fpb.Question(id="q3", text="希望的联系方式", type=fpb.ANSWER_TYPE_CHOICE, options=options)])
        put = lambda q: v.call("PutQuestionnaire", fpb.PutQuestionnaireRequest(questionnaire=q))  # noqa: E731
        self.assertEqual(put(questionnaire(["电话", "现场"])).version, 1)
        bad = questionnaire([])
        code, details = v.code("PutQuestionnaire", fpb.PutQuestionnaireRequest(questionnaire=bad))
        self.assertEqual((code, details.split(":")[0]), (H.INVALID, "questionnaire.questions[2].options"))
        visit = v.put("cp-q", 2).next_visit

        def record(answers, qid="sat-1"):
            return v.code("RecordVisit", fpb.RecordVisitRequest(
                visit_id=visit.id, method=QUESTIONNAIRE, evidence_ref="form-1", questionnaire_id=qid,
                answers=[fpb.VisitAnswer(question=q, answer=a) for q, a in answers]), sub="agent-1", roles=AGENT)
        for answers, field in (([("q2", "yes")], "answers"), ([("q1", "6")], "answers[0].answer"),
                               ([("q1", "5"), ("q9", "x")], "answers[1].question"),
                               ([("q1", "5"), ("q1", "4")], "answers[1].question"),
                               ([("q1", "5"), ("q2", "maybe")], "answers[1].answer"),
                               ([("q1", "5"), ("q3", "邮件")], "answers[1].answer")):
            code, details = record(answers)
            self.assertEqual((code, details.split(":")[0]), (H.INVALID, field), answers)
        self.assertEqual(record([("q1", "5")], qid="nope")[0], H.NOT_FOUND)
        self.assertEqual(v.count("visit_records"), 0, "nothing written")
        self.assertEqual(put(questionnaire(["电话", "现场", "邮件"])).version, 2)
        self.assertEqual(record([("q1", "5"), ("q3", "邮件")]), (None, None))
        self.assertEqual(H.ht.psql("SELECT questionnaire_id, questionnaire_version FROM followup.visit_records "
                                   "WHERE tenant_id = %s" % H.lit(v.t.id)), [["sat-1", "2"]])


class CoverageTest(unittest.TestCase):
    def test_coverage_is_exact_per_level_and_department(self):
        v = Visits("fc")
        first = v.put("a1", 1, dept="a").next_visit
        late = v.put("a2", 1, dept="a").next_visit
        v.put("b1", 2, dept="b")
        v.put("a3", 3, dept="a")
        v.put("gone", 2, dept="b", active=False)  # inactive: not counted, and no visit planned
        v.record(first.id)
        H.ht.psql("UPDATE followup.visits SET due_at = now() - interval '1 day' WHERE tenant_id = %s AND id = %s"
                  % (H.lit(v.t.id), H.lit(late.id)))
        now = time.time()
        self.assertEqual(v.coverage(now - 2 * DAY, now + 400 * DAY),
                         [(1, 2, 3, 1, 1), (2, 1, 1, 0, 0), (3, 1, 1, 0, 0)])
        self.assertEqual(v.coverage(now - 2 * DAY, now + 400 * DAY, dept="a"),
                         [(1, 2, 3, 1, 1), (2, 0, 0, 0, 0), (3, 1, 1, 0, 0)])
        self.assertEqual(v.coverage(now - 2 * DAY, now + 60 * DAY),
                         [(1, 2, 3, 1, 1), (2, 1, 0, 0, 0), (3, 1, 0, 0, 0)])
        self.assertEqual([x.id for x in v.visits(overdue=True)], [late.id])
        code, details = v.code("GetCoverage", fpb.GetCoverageRequest(**{"from": ts(now), "to": ts(now - 1)}),
                               sub="ana-1", roles=("analyst",))
        self.assertEqual((code, details.split(":")[0]), (H.INVALID, "to"))


if __name__ == "__main__":
    unittest.main()
