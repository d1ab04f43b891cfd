"""test_compliance_register - the risk register and warning notices (DESIGN R20), on the real stack.

- PutRisk (supervisor, reviewer, tenant admin) creates a risk safely retried by request_id and
  changes it, each audited; bad input writes nothing; staff list the register; another tenant
  sees nothing and cannot change it;
- a risk's periodic check reminds its owner at the check date through the shared timers, also
  after a Redis FLUSHALL, once, and moves the date on by the risk's interval with the next
  reminder's timer;
- IssueWarning to a department; only the head of that department acknowledges and then rectifies
  it; every step is audited, told to the department and sent to reporting (warning.issued,
  warning.acknowledged, warning.rectified on time); ListWarnings counts the rectified share.
"""
import time
import unittest

from google.protobuf import timestamp_pb2

import compliance_harness as C
import dispatch_harness as H
import hotline_test as ht
from compliance_harness import pb

SUP = ("supervisor",)
HEAD = ("dept_head",)


def ts(seconds):
    t = timestamp_pb2.Timestamp()
    t.FromSeconds(int(seconds))
    return t


def risk(**kw):
    base = dict(name="来电人信息泄露", type="data_security", level=1, measures="最小权限、脱敏展示、审计",
                owner_id="owner-1", department_id="it", review_every_days=30)
    base.update(kw)
    return pb.Risk(**base)


class RiskRegisterTest(unittest.TestCase):
    def setUp(self):
        self.c = C.Comp("crr")

    def test_put_list_and_bad_input(self):
        c = self.c
        req = pb.PutRiskRequest(request_id=ht.request_id(), risk=risk())
        self.assertEqual(c.code("PutRisk", req, sub="a", roles=("agent",))[0], C.DENIED)
        r = c.call("PutRisk", req, sub="sup-1", roles=SUP).risk
        self.assertEqual(c.call("PutRisk", req, sub="sup-1", roles=SUP).risk.id, r.id, "a retry, one risk")
        self.assertAlmostEqual(r.next_review_at.seconds - time.time(), 30 * 86400, delta=120)
        changed = risk(id=r.id, level=2, measures="加强培训", active=True)
        got = c.call("PutRisk", pb.PutRiskRequest(risk=changed), sub="rev-1").risk
        self.assertEqual((got.level, got.measures, got.updated_by), (2, "加强培训", "rev-1"))
        self.assertEqual(c.audit_actions(r.id), ["risk.created", "risk.changed"])
        listed = c.call("ListRisks", pb.ListRisksRequest(), sub="h1", roles=("handler",)).risks
        self.assertEqual([x.id for x in listed], [r.id])
        before = (c.count("risks"), c.count("audit_log"))
        for bad, field in ((risk(level=4), "risk.level"), (risk(measures=""), "risk.measures"),
                           (risk(owner_id=""), "risk.owner_id"), (risk(review_every_days=0), "risk.review_every_days"),
                           (risk(next_review_at=ts(time.time() - 3600)), "risk.next_review_at"),
                           (risk(id="nope"), "risk.id")):
            code, details = c.code("PutRisk", pb.PutRiskRequest(risk=bad), sub="sup-1", roles=SUP)
            self.assertEqual(code, C.INVALID, details)
            self.assertIn(field, details)
        self.assertEqual((c.count("risks"), c.count("audit_log")), before)
        other = C.Comp("cx")
        self.assertEqual(len(other.call("ListRisks", pb.ListRisksRequest(), sub="sup-1", roles=SUP).risks), 0)
        self.assertEqual(other.code("PutRisk", pb.PutRiskRequest(risk=risk(id=r.id)), sub="sup-1",
                                    roles=SUP)[0], C.NOT_FOUND)

    def test_check_reminder_fires_once_after_a_redis_flush(self):
        c = self.c
        due = int(time.time()) + 4
        r = c.call("PutRisk", pb.PutRiskRequest(risk=risk(next_review_at=ts(due), review_every_days=7)),
                   sub="sup-1", roles=SUP).risk
        self.assertEqual(r.next_review_at.seconds, due)
        self.assertEqual(ht.redis("FLUSHALL"), b"OK")
        H.wait_for(lambda: "risk.check_reminded" in c.audit_actions(r.id), timeout=60, interval=0.5,
                   what="the risk-check reminder")
        time.sleep(2)
        self.assertEqual(c.audit_actions(r.id).count("risk.check_reminded"), 1)
        mine = c.call("ListNotices", pb.ListNoticesRequest(), sub="owner-1", roles=("handler",)).notices
        self.assertEqual([n.kind for n in mine], ["risk.check_due"])
        [now] = c.call("ListRisks", pb.ListRisksRequest(), sub="sup-1", roles=SUP).risks
        self.assertEqual(now.next_review_at.seconds, due + 7 * 86400)
        self.assertGreaterEqual(now.last_reminded_at.seconds, due)
        timers = c.rows("SELECT due_ms / 1000, coalesce(outcome, 'pending') FROM compliance.timers WHERE tenant_id = "
                        "$T ORDER BY due_ms")
        self.assertEqual(timers, [[str(due), "fired"], [str(due + 7 * 86400), "pending"]])


class WarningTest(unittest.TestCase):
    def test_issue_acknowledge_rectify(self):
        c = C.Comp("cwn")
        req = pb.IssueWarningRequest(request_id=ht.request_id(), department_id="housing", title="超期件较多",
                                     content="本月超期办理较多，请整改", rectify_by=ts(time.time() + 86400))
        self.assertEqual(c.code("IssueWarning", req, sub="h1", roles=("handler",))[0], C.DENIED)
        w = c.call("IssueWarning", req, sub="sup-1", roles=SUP).warning
        self.assertEqual(c.call("IssueWarning", req, sub="sup-1", roles=SUP).warning.id, w.id)
        self.assertEqual(w.status, pb.WARNING_STATUS_ISSUED)
        ack = pb.AcknowledgeWarningRequest(warning_id=w.id)
        fix = pb.RectifyWarningRequest(warning_id=w.id, rectification="已逐件督办")
        self.assertEqual(c.code("AcknowledgeWarning", ack, sub="head-p", roles=HEAD, dept="parks")[0], C.DENIED)
        self.assertEqual(c.code("RectifyWarning", fix, sub="head-h", roles=HEAD, dept="housing")[0], C.PRECONDITION)
        c.call("AcknowledgeWarning", ack, sub="head-h", roles=HEAD, dept="housing")
        self.assertEqual(c.code("AcknowledgeWarning", ack, sub="head-h", roles=HEAD, dept="housing")[0],
                         C.PRECONDITION)
        code, details = c.code("RectifyWarning", pb.RectifyWarningRequest(warning_id=w.id), sub="head-h", roles=HEAD,
                               dept="housing")
        self.assertEqual((code, "rectification" in details), (C.INVALID, True))
        got = c.call("RectifyWarning", fix, sub="head-h", roles=HEAD, dept="housing").warning
        self.assertEqual((got.status, got.rectified_on_time, got.rectified_by), (pb.WARNING_STATUS_RECTIFIED, True,
                                                                                 "head-h"))
        self.assertEqual(c.audit_actions(w.id), ["warning.issued", "warning.acknowledged", "warning.rectified"])
        events = [(t, p.on_time) for t, p in c.events()]
        self.assertEqual(events, [("warning.issued", True), ("warning.acknowledged", True),
                                  ("warning.rectified", True)])
        dept = c.call("ListNotices", pb.ListNoticesRequest(), sub="x", roles=("handler",), dept="housing").notices
        self.assertEqual(sorted(n.kind for n in dept), ["warning.acknowledged", "warning.issued", "warning.rectified"])
        c.call("IssueWarning", pb.IssueWarningRequest(department_id="parks", title="t", content="c"), sub="sup-1",
               roles=SUP)
        r = c.call("ListWarnings", pb.ListWarningsRequest(), sub="aud", roles=("auditor",))
        self.assertEqual((len(r.warnings), r.rectified, r.total), (2, 1, 2))
        own = c.call("ListWarnings", pb.ListWarningsRequest(), sub="head-p", roles=HEAD, dept="parks").warnings
        self.assertEqual([x.department_id for x in own], ["parks"])
        for bad, field in ((pb.IssueWarningRequest(title="t", content="c"), "department_id"),
                           (pb.IssueWarningRequest(department_id="d", title="t", content="c",
                                                   rectify_by=ts(time.time() - 10)), "rectify_by")):
            code, details = c.code("IssueWarning", bad, sub="sup-1", roles=SUP)
            self.assertEqual(code, C.INVALID, details)
            self.assertIn(field, details)
        self.assertEqual(c.count("warnings"), 2)
        other = C.Comp("cx")
        self.assertEqual(other.code("AcknowledgeWarning", ack, sub="head-h", roles=HEAD, dept="housing")[0],
                         C.NOT_FOUND)
        # every chain of the tenant verifies, and none is missing
        from hotline.audit.v1 import audit_pb2
        v = ht.rpc(H.channel("compliance"), "hotline.audit.v1.AuditService", "VerifyAuditChain",
                   audit_pb2.VerifyAuditChainRequest(), audit_pb2.VerifyAuditChainResponse,
                   metadata=c.md("aud-1", ("auditor",)))
        self.assertTrue(v.ok, v.problem)
        self.assertEqual(v.chains_checked, 2)
        ht.psql("SET session_replication_role = replica; DELETE FROM compliance.audit_heads WHERE tenant_id = %s "
                "AND subject_id = %s"
                % (H.lit(c.id), H.lit(w.id)))
        v = ht.rpc(H.channel("compliance"), "hotline.audit.v1.AuditService", "VerifyAuditChain",
                   audit_pb2.VerifyAuditChainRequest(), audit_pb2.VerifyAuditChainResponse,
                   metadata=c.md("aud-1", ("auditor",)))
        self.assertFalse(v.ok, "a warning whose chain head is gone is noticed")


if __name__ == "__main__":
    unittest.main()


class HotlinectlTest(unittest.TestCase):
    """The compliance commands of hotlinectl, end to end."""

    def test_raise_a_risk_event_and_decide_a_review(self):
        import json
        from test_hotlinectl import ctl
        c = C.Comp("cctl")

        def run(who, roles, *args):
            rc, out, err = ctl("--json", "--as", who, "--roles", roles, "--tenant", c.id, *args)
            self.assertEqual(rc, 0, err)
            return json.loads(out)
        got = run("h1", "handler", "risk-event", "raise", "--level", "major", "--department", "housing",
                  "--description", "管网破裂", "--emergency-plan")
        self.assertTrue(got["risk_event"]["id"])
        self.assertEqual(c.count("risk_events", "emergency_plan AND level = 1 AND department_id = 'housing'"), 1)
        review = run("sup-1", "supervisor", "review", "request", "--action", "followup.visit_plan", "--subject",
                     "plan-1", "--digest", "ab" * 32, "--summary", "回访计划")["review"]
        run("rev-1", "reviewer", "review", "decide", review["id"], "--approve", "--opinion", "同意")
        self.assertEqual(c.call("GetReview", pb.GetReviewRequest(id=review["id"])).review.status,
                         pb.REVIEW_STATUS_APPROVED)
        rc, _, err = ctl("--as", "rev-2", "--roles", "reviewer", "--tenant", c.id, "review", "decide", review["id"],
                         "--approve")
        self.assertEqual((rc, err.split(":")[1].strip()), (1, "FAILED_PRECONDITION"), "decided once")
        other = run("sup-1", "supervisor", "review", "request", "--action", "followup.visit_plan", "--subject",
                    "plan-2", "--digest", "cd" * 32)["review"]
        rc, _, err = ctl("--as", "sup-1", "--roles", "reviewer", "--tenant", c.id, "review", "decide", other["id"],
                         "--approve")
        self.assertEqual((rc, err.split(":")[1].strip()), (1, "PERMISSION_DENIED"), "no self-approval")
