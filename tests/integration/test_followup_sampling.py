"""test_followup_sampling - closed tickets sampled for a satisfaction visit (回访抽样, R16).

- the default policy (complaints and reports 100 %, consultations 10 %, the others 0 %); each
  draw is HMAC-SHA-256(tenant key, ticket id) (first 4 bytes, mod 10000) < percent x 100, which
  the test recomputes with the key an auditor reads: every answer is as predicted;
- SampleTicket is intake's (other certificates are refused); a repeated delivery (same key, or a
  new key for the same ticket) gives the same answer and writes nothing more; bad input names the
  field and writes nothing;
- a sampled ticket becomes a ticket visit: listed (ListVisits tickets_only / ticket_id), on the
  timers, in GetCoverage's ticket figures, recorded like any visit (no next visit), with
  visit.planned / visit.recorded events;
- PutSamplingPolicy validates every field, is audited and versioned, and changes later draws;
- the reply loop offers the tickets it closes (satisfied: reply.recorded and reply.closed events;
  closed by a supervisor: closed_by_supervisor), and intake offers a ticket answered on the spot
  through its outbox;
- another tenant has its own policy, key and visits.
"""
import hashlib
import hmac
import time
import unittest
import uuid

from google.protobuf import timestamp_pb2

import dispatch_harness as H
from dispatch_harness import cpb, ipb
from hotline.followup.v1 import followup_pb2 as fpb
from hotline.reporting.v1 import reporting_pb2

FOLLOWUP = "hotline.followup.v1.FollowUpService"
DAY = 86400
CONSULT, COMPLAINT, REPORT, SUGGESTION = (cpb.CATEGORY_CONSULTATION, cpb.CATEGORY_COMPLAINT, cpb.CATEGORY_REPORT,
                                          cpb.CATEGORY_SUGGESTION)
DEFAULTS = [(1, 10), (2, 100), (3, 100), (4, 0), (5, 0), (6, 0)]


def ts(seconds):
    t = timestamp_pb2.Timestamp()
    t.seconds = int(seconds)
    return t


class Sampling:
    def __init__(self, prefix="fs"):
        self.t = H.Tenant(prefix)

    def call(self, method, req, sub="admin-1", roles=("tenant_admin",)):
        return H.ht.rpc(H.channel("followup"), FOLLOWUP, method, req, getattr(fpb, method + "Response"),
                        metadata=self.t.md(sub, roles), timeout=15)

    def code(self, method, req, sub="admin-1", roles=("tenant_admin",)):
        return H.ht.code_of(self.call, method, req, sub=sub, roles=roles)

    def offer(self, category, ticket_id=None, idem=None, cert="intake", reason="answered_on_spot", ticket_no=None):
        tid = ticket_id or str(uuid.uuid4())
        md = [("x-tenant-id", self.t.id), ("x-actor", "agent-1"), ("idempotency-key", idem or str(uuid.uuid4()))]
        req = fpb.SampleTicketRequest(ticket_id=tid, ticket_no=ticket_no if ticket_no is not None else "T" + tid[:8],
                                      category=category, reason=reason)
        return tid, H.ht.rpc(H.channel("followup", cert), FOLLOWUP, "SampleTicket", req, fpb.SampleTicketResponse,
                             metadata=md)

    def offer_code(self, req, cert="intake"):
        md = [("x-tenant-id", self.t.id), ("x-actor", "agent-1"), ("idempotency-key", str(uuid.uuid4()))]
        return H.ht.code_of(lambda: H.ht.rpc(H.channel("followup", cert), FOLLOWUP, "SampleTicket", req,
                                             fpb.SampleTicketResponse, metadata=md))

    def policy(self, roles=("supervisor",)):
        return self.call("GetSamplingPolicy", fpb.GetSamplingPolicyRequest(), sub="x-1", roles=roles)

    def put_policy(self, rules=(), method=0, within_days=0, responsible=""):
        return self.call("PutSamplingPolicy", fpb.PutSamplingPolicyRequest(policy=fpb.SamplingPolicy(
            rules=[fpb.SamplingRule(category=c, percent=p) for c, p in rules], method=method,
            within_days=within_days, responsible_id=responsible))).policy

    def ticket_visits(self, **kw):
        return list(self.call("ListVisits", fpb.ListVisitsRequest(tickets_only=True, **kw), sub="sup-1",
                              roles=("supervisor",)).visits)

    def count(self, table, where="true"):
        return H.sql_count("SELECT count(*) FROM followup.%s WHERE tenant_id = %s AND (%s)"
                           % (table, H.lit(self.t.id), where))

    def events(self, type_=None):
        rows = H.ht.psql("SELECT encode(payload, 'hex') FROM followup.outbox WHERE tenant_id = %s AND "
                         "target = 'reporting' ORDER BY id" % H.lit(self.t.id))
        # (the events one transaction queued for one ticket share a row)
        evs = [e for r in rows for e in reporting_pb2.RecordEventsRequest.FromString(bytes.fromhex(r[0])).events]
        return [e for e in evs if type_ is None or e.type == type_]


def expected_draw(key_hex, ticket_id):
    mac = hmac.new(bytes.fromhex(key_hex), ticket_id.encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:4], "big") % 10000


class DrawTest(unittest.TestCase):
    def test_default_policy_draws_as_the_key_predicts(self):
        s = Sampling()
        p = s.policy()
        self.assertEqual([(r.category, r.percent) for r in p.policy.rules], DEFAULTS)
        self.assertEqual((p.policy.method, p.policy.within_days, p.policy.version, p.key_hex),
                         (fpb.VISIT_METHOD_PHONE, 5, 0, ""), "the key is for auditors only")
        offers = [(CONSULT,) + s.offer(CONSULT) for _ in range(40)]
        offers += [(c,) + s.offer(c) for c in (COMPLAINT, REPORT, SUGGESTION)]
        key = s.policy(roles=("auditor",)).key_hex
        self.assertEqual(len(key), 64)
        percent = dict(DEFAULTS)
        for category, tid, r in offers:
            draw = expected_draw(key, tid)
            self.assertEqual((r.draw, r.percent, r.sampled), (draw, percent[category], draw < percent[category] * 100),
                             tid)
            self.assertEqual(bool(r.visit_id), r.sampled)
        sampled = [(c, tid, r) for c, tid, r in offers if r.sampled]
        self.assertIn(COMPLAINT, [c for c, _, _ in sampled])
        self.assertEqual(s.count("ticket_samples"), len(offers))
        self.assertEqual(s.count("ticket_samples", "sampled"), len(sampled))
        self.assertEqual(s.count("visits", "ticket_id IS NOT NULL"), len(sampled))
        actions = H.ht.psql("SELECT action, count(*) FROM followup.audit_log WHERE tenant_id = %s AND subject_type = "
                            "'ticket' GROUP BY action ORDER BY action" % H.lit(s.t.id))
        self.assertEqual(actions, [["ticket.not_sampled", str(len(offers) - len(sampled))],
                                   ["ticket.sampled", str(len(sampled))]])

        # the ticket visit of a sampled complaint: listed, on the timers, covered, recorded
        _, tid, r = next(x for x in sampled if x[0] == COMPLAINT)
        [v] = s.ticket_visits(ticket_id=tid)
        self.assertEqual((v.id, v.ticket_id, v.ticket_no, v.category, v.counterpart_id, v.risk_level, v.status,
                          v.method), (r.visit_id, tid, "T" + tid[:8], COMPLAINT, "", 0, fpb.VISIT_STATUS_PLANNED,
                                      fpb.VISIT_METHOD_PHONE))
        now = time.time()
        self.assertTrue(now + 3600 < v.due_at.seconds < now + 12 * DAY, "5 working days")
        self.assertEqual(len(s.ticket_visits()), len(sampled))
        self.assertEqual(s.count("timers", "timer_key = %s" % H.lit("visit:" + v.id)), 1)
        cov = s.call("GetCoverage", fpb.GetCoverageRequest(**{"from": ts(now - DAY), "to": ts(now + 30 * DAY)}),
                     sub="ana-1", roles=("analyst",))
        self.assertEqual((cov.tickets.planned, cov.tickets.done, cov.tickets.overdue), (len(sampled), 0, 0))
        self.assertEqual([x.planned for x in cov.levels], [0, 0, 0], "no counterpart visits")
        done = s.call("RecordVisit", fpb.RecordVisitRequest(
            visit_id=v.id, method=fpb.VISIT_METHOD_PHONE, evidence_ref="call-77",
            answers=[fpb.VisitAnswer(question="对办理结果是否满意", answer="满意")]), sub="qa-1", roles=("agent",))
        self.assertEqual((done.visit.status, done.visit.ticket_id), (fpb.VISIT_STATUS_DONE, tid))
        self.assertFalse(done.HasField("next_visit"), "a ticket visit has no next one")
        planned = [e for e in s.events("visit.planned") if e.visit_changed.visit_id == v.id]
        recorded = [e for e in s.events("visit.recorded") if e.visit_changed.visit_id == v.id]
        self.assertEqual(len(planned), 1)
        self.assertEqual(len(recorded), 1)
        self.assertEqual((recorded[0].ticket_id, recorded[0].actor, recorded[0].visit_changed.person_id,
                          recorded[0].visit_changed.on_time, recorded[0].visit_changed.risk_level),
                         (tid, "qa-1", "qa-1", True, 0))
        self.assertEqual(len(s.events("visit.planned")), len(sampled))

    def test_a_repeated_offer_gets_the_same_answer(self):
        s = Sampling()
        idem = str(uuid.uuid4())
        tid, first = s.offer(COMPLAINT, idem=idem)
        _, again = s.offer(COMPLAINT, ticket_id=tid, idem=idem)
        _, other_key = s.offer(COMPLAINT, ticket_id=tid)
        _, other_reason = s.offer(COMPLAINT, ticket_id=tid, reason="closed")
        for r in (again, other_key, other_reason):
            self.assertEqual((r.sampled, r.visit_id, r.draw), (first.sampled, first.visit_id, first.draw))
        self.assertEqual(s.count("ticket_samples"), 1)
        self.assertEqual(s.count("visits"), 1)
        self.assertEqual(len(s.events("visit.planned")), 1)

    def test_sample_ticket_is_intakes_and_checks_its_input(self):
        s = Sampling()
        good = dict(ticket_id=str(uuid.uuid4()), ticket_no="T1", category=COMPLAINT, reason="answered_on_spot")
        code, _ = s.offer_code(fpb.SampleTicketRequest(**good), cert="dispatch")
        self.assertEqual(code, H.DENIED)
        for field, bad in (("ticket_id", "nope"), ("category", 0), ("category", 99), ("ticket_no", ""),
                           ("reason", "lost"), ("department_id", "d" * 65)):
            code, details = s.offer_code(fpb.SampleTicketRequest(**dict(good, **{field: bad})))
            self.assertEqual(code, H.INVALID, field)
            self.assertTrue(details.startswith(field), details)
        self.assertEqual(s.count("ticket_samples") + s.count("visits") + s.count("outbox") + s.count("inbox"), 0)


class PolicyTest(unittest.TestCase):
    def test_bad_policies_are_refused_and_write_nothing(self):
        s = Sampling()
        bad = [
            (dict(rules=[(0, 10)]), "policy.rules.category"),
            (dict(rules=[(7, 10)]), "policy.rules.category"),
            (dict(rules=[(1, 10), (1, 20)]), "policy.rules.category"),
            (dict(rules=[(1, 101)]), "policy.rules.percent"),
            (dict(rules=[(1, -1)]), "policy.rules.percent"),
            (dict(method=fpb.VISIT_METHOD_ON_SITE), "policy.method"),
            (dict(within_days=61), "policy.within_days"),
            (dict(responsible="r" * 129), "policy.responsible_id"),
        ]
        for kw, field in bad:
            code, details = s.code("PutSamplingPolicy", fpb.PutSamplingPolicyRequest(policy=fpb.SamplingPolicy(
                rules=[fpb.SamplingRule(category=c, percent=p) for c, p in kw.get("rules", ())],
                method=kw.get("method", 0), within_days=kw.get("within_days", 0),
                responsible_id=kw.get("responsible", ""))))
            self.assertEqual(code, H.INVALID, field)
            self.assertTrue(details.startswith(field), details)
        self.assertEqual(s.code("PutSamplingPolicy", fpb.PutSamplingPolicyRequest())[0], H.INVALID)
        self.assertEqual(s.code("PutSamplingPolicy", fpb.PutSamplingPolicyRequest(policy=fpb.SamplingPolicy()),
                                sub="agent-1", roles=("agent",))[0], H.DENIED)
        self.assertEqual(s.code("GetSamplingPolicy", fpb.GetSamplingPolicyRequest(), sub="agent-1",
                                roles=("agent",))[0], H.DENIED)
        self.assertEqual(s.count("sampling_policies") + s.count("audit_log"), 0)

    def test_a_new_policy_changes_later_draws(self):
        s = Sampling()
        p = s.put_policy(rules=[(CONSULT, 100), (cpb.CATEGORY_PRAISE, 50)], method=fpb.VISIT_METHOD_QUESTIONNAIRE,
                         within_days=2, responsible="qa-team")
        self.assertEqual([(r.category, r.percent) for r in p.rules], [(1, 100), (2, 100), (3, 100), (4, 0), (5, 0),
                                                                      (6, 50)])
        self.assertEqual((p.method, p.within_days, p.responsible_id, p.version),
                         (fpb.VISIT_METHOD_QUESTIONNAIRE, 2, "qa-team", 1))
        tid, r = s.offer(CONSULT)
        self.assertTrue(r.sampled)
        [v] = s.ticket_visits(ticket_id=tid)
        self.assertEqual((v.method, v.responsible_id), (fpb.VISIT_METHOD_QUESTIONNAIRE, "qa-team"))
        self.assertEqual(s.put_policy(rules=[(CONSULT, 0), (COMPLAINT, 0)]).version, 2)
        self.assertFalse(s.offer(CONSULT)[1].sampled)
        self.assertFalse(s.offer(COMPLAINT)[1].sampled)
        self.assertEqual(H.sql_count("SELECT count(*) FROM followup.ticket_samples WHERE tenant_id = %s AND "
                                     "policy_version = 2" % H.lit(s.t.id)), 2)
        self.assertEqual(H.ht.psql("SELECT action FROM followup.audit_log WHERE tenant_id = %s AND subject_id = "
                                   "'sampling' ORDER BY seq" % H.lit(s.t.id)),
                         [["sampling_policy.put"], ["sampling_policy.put"]])

    def test_tenants_have_their_own_policy_key_and_visits(self):
        a, b = Sampling("fsa"), Sampling("fsb")
        a.put_policy(rules=[(CONSULT, 100)])
        tid, r = a.offer(CONSULT)
        self.assertTrue(r.sampled)
        self.assertEqual(b.policy().policy.version, 0)
        self.assertEqual(b.ticket_visits(), [])
        self.assertEqual(b.ticket_visits(ticket_id=tid), [])
        code, _ = b.code("RecordVisit", fpb.RecordVisitRequest(visit_id=r.visit_id, method=fpb.VISIT_METHOD_PHONE,
                                                               evidence_ref="x"), sub="agent-1", roles=("agent",))
        self.assertEqual(code, H.NOT_FOUND)
        self.assertNotEqual(a.policy(roles=("auditor",)).key_hex, b.policy(roles=("auditor",)).key_hex)


class ClosedTicketsTest(unittest.TestCase):
    """Tickets closed by the reply loop and by intake (answered on the spot) reach the sample."""

    def schedule(self, s, category, registered_by="agent-1"):
        tid = str(uuid.uuid4())
        req = fpb.ScheduleReplyRequest(ticket_id=tid, ticket_no="R" + tid[:8], case_id=str(uuid.uuid4()),
                                       department_id="housing", category=category, priority=cpb.PRIORITY_GENERAL,
                                       result_text="已处理", registered_by=registered_by)
        md = [("x-tenant-id", s.t.id), ("x-actor", "head-h"), ("idempotency-key", str(uuid.uuid4()))]
        task = H.ht.rpc(H.channel("followup", "dispatch"), FOLLOWUP, "ScheduleReply", req, fpb.ScheduleReplyResponse,
                        metadata=md).reply_task_id
        return tid, task

    def test_the_reply_loop_offers_what_it_closes(self):
        s = Sampling()
        s.put_policy(rules=[(CONSULT, 0)])
        complaint, task = self.schedule(s, COMPLAINT)
        s.call("RecordReply", fpb.RecordReplyRequest(task_id=task, method=fpb.REPLY_METHOD_PHONE, content="已答复",
                                                     outcome=fpb.CONTACT_OUTCOME_UNREACHABLE),
               sub="agent-1", roles=("agent",))
        self.assertEqual(s.count("ticket_samples"), 0, "not closed yet")
        s.call("RecordReply", fpb.RecordReplyRequest(task_id=task, method=fpb.REPLY_METHOD_PHONE, content="已答复",
                                                     outcome=fpb.CONTACT_OUTCOME_REACHED,
                                                     satisfaction=fpb.SATISFACTION_SATISFIED),
               sub="agent-1", roles=("agent",))
        [v] = s.ticket_visits(ticket_id=complaint)
        self.assertEqual((v.department_id, v.category, v.ticket_no), ("housing", COMPLAINT, "R" + complaint[:8]))
        self.assertEqual(H.ht.psql("SELECT reason, sampled FROM followup.ticket_samples WHERE tenant_id = %s"
                                   % H.lit(s.t.id)), [["satisfied", "t"]])
        consult, task2 = self.schedule(s, CONSULT)
        s.call("CloseReplyTask", fpb.CloseReplyTaskRequest(task_id=task2, reason="来电人拒绝评价"), sub="sup-1",
               roles=("supervisor",))
        self.assertEqual(H.ht.psql("SELECT reason, sampled, percent FROM followup.ticket_samples WHERE tenant_id = %s "
                                   "AND ticket_id = %s" % (H.lit(s.t.id), H.lit(consult))),
                         [["closed_by_supervisor", "f", "0"]])
        self.assertEqual(s.ticket_visits(ticket_id=consult), [])
        # events: every reply recorded, and the end of each loop
        recorded = s.events("reply.recorded")
        self.assertEqual([(e.ticket_id, e.reply_changed.outcome, e.reply_changed.satisfaction) for e in recorded],
                         [(complaint, fpb.CONTACT_OUTCOME_UNREACHABLE, 0),
                          (complaint, fpb.CONTACT_OUTCOME_REACHED, fpb.SATISFACTION_SATISFIED)])
        closed = s.events("reply.closed")
        self.assertEqual([(e.ticket_id, e.reply_changed.reply_task_id, e.reply_changed.closed_by_supervisor,
                           e.reply_changed.category, e.reply_changed.round, e.reply_changed.department_id)
                          for e in closed],
                         [(complaint, task, False, COMPLAINT, 1, "housing"),
                          (consult, task2, True, CONSULT, 1, "housing")])
        self.assertTrue(all(e.tenant == s.t.id and e.event_id and e.actor for e in recorded + closed))
        self.assertEqual(closed[1].actor, "sup-1")

    def test_a_ticket_answered_on_the_spot_reaches_the_sample_through_intakes_outbox(self):
        s = Sampling()
        s.put_policy(rules=[(CONSULT, 100)])
        created = H.ht.rpc(H.channel("intake"), H.INTAKE, "CreateTicket", ipb.CreateTicketRequest(
            request_id=H.ht.request_id(), channel=cpb.CHANNEL_PHONE, category=CONSULT, topic="咨询社保卡补办",
            description="如何补办社保卡", area="朝阳区", answer_on_spot=True, answer="携带身份证到任一网点办理。",
            caller=ipb.Caller(name="李四", phone="13800001111")), ipb.CreateTicketResponse,
            metadata=s.t.md("agent-5", ("agent",))).ticket
        v = H.wait_for(lambda: s.ticket_visits(ticket_id=created.id), timeout=30, what="the ticket visit")[0]
        self.assertEqual((v.ticket_no, v.category, v.department_id), (created.ticket_no, CONSULT, ""))
        self.assertEqual(H.ht.psql("SELECT reason FROM followup.ticket_samples WHERE tenant_id = %s"
                                   % H.lit(s.t.id)), [["answered_on_spot"]])


if __name__ == "__main__":
    unittest.main()
