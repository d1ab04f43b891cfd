"""test_compliance_gates - review gates, "no implementation without review" (DESIGN R19), on the real stack.

- the tenant's gate rules: the platform's defaults until the tenant stores its own (tenant_admin),
  a disabled rule switches a gate off, bad rules write nothing;
- CheckGate (internal, the gated services' synchronous call): the first check of some content
  requests a review and names it, a repeated check names the same one; the review is decided once,
  by a reviewer who did not request it (self-approval refused), with an opinion to reject; the
  decision is in the review's audit chain, goes to reporting (review.decided) and back to the
  requester as a notice; an approval is bound to the content's SHA-256; another tenant finds
  nothing; other peers are refused; bad input writes nothing;
- dispatch with HOTLINE_DISPATCH_GATES on: approving an extension and signing off a major
  complaint's result are FAILED_PRECONDITION (naming the review, writing nothing) until the review
  is approved, and again when the result text changed after the approval; a general complaint's
  result is not gated; with compliance stopped the gated actions are UNAVAILABLE (fail closed)
  while the others go on;
- intake's destroy-period: refused until a reviewer approves the destruction of that tenant's
  period, refused while compliance is stopped, done once approved.
"""
import hashlib
import os
import subprocess
import time
import unittest
import uuid

import compliance_harness as C
import dispatch_harness as H
import hotline_test as ht
from compliance_harness import pb
from dispatch_harness import cpb, dpb, ipb
from test_retention import BIN as INTAKE_BIN, intake_env

HANDLER, HEAD, SUP = ("handler",), ("dept_head",), ("supervisor",)
REVIEWER = ("reviewer",)


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def check(action="dispatch.extension", subject="x-1", content="延期四小时", **kw):
    return pb.CheckGateRequest(action=action, subject_type=kw.pop("subject_type", "extension"), subject_id=subject,
                               content_digest=kw.pop("content_digest", digest(content)), **kw)


class RulesAndReviewsTest(unittest.TestCase):
    def setUp(self):
        self.c = C.Comp("cg")

    def gate(self, req, actor="sup-1", cert="dispatch"):
        return self.c.internal("CheckGate", req, cert=cert, actor=actor)

    def test_defaults_and_tenant_rules(self):
        c = self.c
        rules = c.call("ListGateRules", pb.ListGateRulesRequest(), sub="a", roles=("agent",)).rules
        self.assertEqual(sorted(r.action for r in rules), ["dispatch.extension", "dispatch.result_approval",
                                                           "followup.reply", "followup.visit_plan",
                                                           "intake.destroy_period"])
        self.assertTrue(all(r.builtin for r in rules))
        # a general complaint's result is not gated by default, a major one is; unknown priority counts as major
        major = dict(action="dispatch.result_approval", subject_type="case", category=cpb.CATEGORY_COMPLAINT)
        self.assertTrue(self.gate(check(priority=cpb.PRIORITY_GENERAL, **major)).approved)
        self.assertFalse(self.gate(check(priority=cpb.PRIORITY_MAJOR, **major)).approved)
        self.assertFalse(self.gate(check(subject="x-2", **major)).approved, "when in doubt, review")
        self.assertTrue(self.gate(check(action="dispatch.unknown_action")).approved, "no rule, no review")
        # the tenant's rule replaces the defaults of its action: only extensions of a day or more
        rule = pb.GateRule(id="long-extension", action="dispatch.extension", min_extension_hours=24,
                           reviewer_role="supervisor", enabled=True)
        self.assertEqual(c.code("PutGateRule", pb.PutGateRuleRequest(rule=rule), roles=REVIEWER)[0], C.DENIED)
        got = c.call("PutGateRule", pb.PutGateRuleRequest(rule=rule), sub="adm", roles=("tenant_admin",)).rule
        self.assertEqual((got.builtin, got.updated_by), (False, "adm"))
        self.assertTrue(self.gate(check(subject="e-1", extension_hours=8)).approved)
        r = self.gate(check(subject="e-2", extension_hours=40))
        self.assertFalse(r.approved)
        review = c.call("GetReview", pb.GetReviewRequest(id=r.review_id)).review
        self.assertEqual((review.rule_id, review.reviewer_role), ("long-extension", "supervisor"))
        self.assertEqual(c.code("DecideReview", pb.DecideReviewRequest(review_id=r.review_id, approve=True),
                                sub="rev-1", roles=REVIEWER)[0], C.DENIED, "the rule names the supervisors")
        # disabled: the gate is off for the action
        rule.enabled = False
        c.call("PutGateRule", pb.PutGateRuleRequest(rule=rule), sub="adm", roles=("tenant_admin",))
        self.assertTrue(self.gate(check(subject="e-3", extension_hours=40)).approved)
        self.assertEqual(c.audit_actions("gate_rule:long-extension"), ["gate_rule.created", "gate_rule.changed"])
        listed = c.call("ListGateRules", pb.ListGateRulesRequest(action="dispatch.extension"), sub="a",
                        roles=("agent",)).rules
        self.assertEqual([(x.id, x.builtin, x.enabled) for x in listed], [("long-extension", False, False)])
        # bad rules write nothing
        n = c.count("gate_rules")
        for bad, field in ((pb.GateRule(id="Bad", action="dispatch.extension"), "rule.id"),
                           (pb.GateRule(id="r", action="X"), "rule.action"),
                           (pb.GateRule(id="r", action="a.b", categories=[99]), "rule.categories"),
                           (pb.GateRule(id="r", action="a.b", reviewer_role="boss"), "rule.reviewer_role")):
            code, details = c.code("PutGateRule", pb.PutGateRuleRequest(rule=bad), sub="adm", roles=("tenant_admin",))
            self.assertEqual(code, C.INVALID, details)
            self.assertIn(field, details)
        self.assertEqual(c.count("gate_rules"), n)

    def test_review_lifecycle_bound_to_the_digest(self):
        c = self.c
        first = self.gate(check(content="A"))
        self.assertFalse(first.approved)
        self.assertTrue(first.review_id)
        self.assertEqual(self.gate(check(content="A")).review_id, first.review_id, "a repeated check, one review")
        self.assertEqual(c.count("reviews"), 1)
        rid = first.review_id
        rev = c.call("ListNotices", pb.ListNoticesRequest(), sub="rev-1", roles=REVIEWER).notices
        self.assertEqual([(n.kind, n.subject_id) for n in rev], [("review.requested", rid)])
        # who may decide
        self.assertEqual(c.code("DecideReview", pb.DecideReviewRequest(review_id=rid, approve=True), sub="sup-1",
                                roles=("reviewer", "supervisor"))[0], C.DENIED, "no self-approval")
        self.assertEqual(c.code("DecideReview", pb.DecideReviewRequest(review_id=rid, approve=True), sub="h1",
                                roles=HANDLER)[0], C.DENIED)
        code, details = c.code("DecideReview", pb.DecideReviewRequest(review_id=rid, approve=False), sub="rev-1")
        self.assertEqual((code, "opinion" in details), (C.INVALID, True))
        self.assertEqual(c.count("review_decisions"), 0)
        got = c.call("DecideReview", pb.DecideReviewRequest(review_id=rid, approve=True, opinion="同意延期"),
                     sub="rev-1").review
        self.assertEqual((got.status, got.decided_by, got.opinion), (pb.REVIEW_STATUS_APPROVED, "rev-1", "同意延期"))
        self.assertEqual(c.code("DecideReview", pb.DecideReviewRequest(review_id=rid, approve=False, opinion="x"),
                                sub="rev-2")[0], C.PRECONDITION, "decided once")
        self.assertEqual(c.audit_actions(rid), ["review.requested", "review.approved"])
        opinion = c.rows("SELECT details FROM compliance.audit_log WHERE tenant_id = $T AND subject_id = %s AND "
                         "action = 'review.approved'" % H.lit(rid))[0][0]
        self.assertIn("同意延期", opinion, "the opinion is archived in the chain")
        [(etype, p)] = [e for e in c.events() if e[0] == "review.decided"]
        self.assertEqual((p.subject_id, p.approved, p.person_id), (rid, True, "sup-1"))
        mine = c.call("ListNotices", pb.ListNoticesRequest(), sub="sup-1", roles=SUP).notices
        self.assertIn(("review.decided", rid), [(n.kind, n.subject_id) for n in mine])
        # approved for this content only
        self.assertTrue(self.gate(check(content="A")).approved)
        changed = self.gate(check(content="A, changed"))
        self.assertFalse(changed.approved)
        self.assertNotEqual(changed.review_id, rid)
        self.assertIn("changed", changed.reason)
        # a rejection stands until a new review is requested
        c.call("DecideReview", pb.DecideReviewRequest(review_id=changed.review_id, approve=False, opinion="理由不足"),
               sub="rev-1")
        again = self.gate(check(content="A, changed"))
        self.assertEqual((again.approved, again.review_id), (False, changed.review_id))
        self.assertIn("rejected", again.reason)
        fresh = c.call("RequestReview", pb.RequestReviewRequest(
            request_id=ht.request_id(), action="dispatch.extension", subject_type="extension", subject_id="x-1",
            content_digest=digest("A, changed"), summary="补充理由后重新申请"), sub="sup-1", roles=SUP).review
        self.assertEqual(fresh.status, pb.REVIEW_STATUS_PENDING)
        self.assertEqual(self.gate(check(content="A, changed")).review_id, fresh.id)
        self.assertEqual(len(c.call("ListReviews", pb.ListReviewsRequest(mine=True), sub="sup-1", roles=SUP).reviews),
                         3)
        self.assertEqual(len(c.call("ListReviews", pb.ListReviewsRequest(status=pb.REVIEW_STATUS_PENDING)).reviews), 1)
        self.assertEqual(len(c.call("ListReviews", pb.ListReviewsRequest(), sub="h9", roles=HANDLER).reviews), 0,
                         "staff see the reviews they requested")
        # another tenant finds nothing, and its own check of the same content needs its own review
        other = C.Comp("cx")
        self.assertEqual(other.code("GetReview", pb.GetReviewRequest(id=rid))[0], C.NOT_FOUND)
        self.assertEqual(other.code("DecideReview", pb.DecideReviewRequest(review_id=fresh.id, approve=True),
                                    sub="rev-1")[0], C.NOT_FOUND)
        theirs = other.internal("CheckGate", check(content="A"), cert="dispatch", actor="sup-1")
        self.assertFalse(theirs.approved)
        self.assertEqual(c.count("review_decisions"), 2)

    def test_callers_and_bad_input(self):
        c = self.c
        for cert in ("client", "reporting"):
            self.assertEqual(c.internal_code("CheckGate", check(), cert=cert)[0], C.DENIED, cert)
        for bad, field in ((check(content_digest="zz"), "content_digest"), (check(action="Bad Action"), "action"),
                           (check(subject=""), "subject_id"), (check(ticket_id="nope"), "ticket_id"),
                           (check(category=42), "category"), (check(extension_hours=-1), "extension_hours")):
            code, details = c.internal_code("CheckGate", bad, cert="followup")
            self.assertEqual(code, C.INVALID, details)
            self.assertIn(field, details)
        code, details = c.code("RequestReview", pb.RequestReviewRequest(action="a.b", subject_id="s",
                                                                         content_digest="x"), sub="h1", roles=HANDLER)
        self.assertEqual((code, "content_digest" in details), (C.INVALID, True))
        self.assertEqual((c.count("reviews"), c.count("audit_log"), c.count("notices")), (0, 0, 0))


class DispatchGatesTest(unittest.TestCase):
    """dispatch with its gates on, against the running compliance."""

    @classmethod
    def setUpClass(cls):
        cls.env = H.service_env("dispatch", ["HOTLINE_DISPATCH_GATES=on"])
        cls.env.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.env.__exit__(None, None, None)

    def setUp(self):
        t = self.t = H.Tenant("cgd")
        t.dept("housing", head="head-h")
        t.staff("head-h", "housing")
        t.staff("h1", "housing")
        t.dept("office")
        t.staff("sup-1", "office", supervisor=True)
        t.rule("housing", position=1, categories=[cpb.CATEGORY_COMPLAINT])
        t.around_the_clock()
        self.c = C.Comp()
        self.c.id = t.id

    def case(self, priority=cpb.PRIORITY_GENERAL):
        _, cid = self.t.submit(priority=priority)
        self.t.call("AcceptCase", dpb.AcceptCaseRequest(case_id=cid), sub="h1", roles=HANDLER)
        return cid

    def submit_result(self, cid, text):
        self.t.call("SubmitResult", dpb.SubmitResultRequest(case_id=cid, text=text), sub="h1", roles=HANDLER)

    def approve(self, cid):
        return self.t.code("ApproveResult", dpb.ApproveResultRequest(case_id=cid), sub="head-h", roles=HEAD)

    def review_in(self, details):
        rid = details.rsplit(" ", 1)[-1]
        self.assertEqual(len(rid), 36, details)
        return rid

    def decide(self, rid, approve=True):
        self.c.call("DecideReview", pb.DecideReviewRequest(review_id=rid, approve=approve, opinion="审查意见"),
                    sub="rev-1")

    def test_extension_refused_until_approved(self):
        t = self.t
        cid = self.case()
        x = t.call("RequestExtension", dpb.RequestExtensionRequest(
            case_id=cid, deadline_kind=H.DL_COMPLETE, reason="需协调多部门",
            extra=dpb.WorkingDuration(amount=4, unit=dpb.DURATION_UNIT_WORKING_HOURS)), sub="h1",
            roles=HANDLER).extension
        decide = dpb.DecideExtensionRequest(extension_id=x.id, approve=True, opinion="同意")
        steps = len(t.get(cid).steps)
        code, details = t.code("DecideExtension", decide, sub="sup-1", roles=SUP)
        self.assertEqual(code, C.PRECONDITION, details)
        rid = self.review_in(details)
        self.assertEqual(len(t.get(cid).steps), steps, "nothing written")
        self.assertEqual(t.rows("SELECT state FROM dispatch.extensions WHERE id = %s" % H.lit(x.id)), [["1"]])
        review = self.c.call("GetReview", pb.GetReviewRequest(id=rid)).review
        self.assertEqual((review.action, review.subject_id, review.requested_by, review.ticket_id),
                         ("dispatch.extension", x.id, "sup-1", t.get(cid).ticket_id))
        self.decide(rid)
        got = t.call("DecideExtension", decide, sub="sup-1", roles=SUP).extension
        self.assertEqual(got.state, dpb.EXTENSION_STATE_APPROVED)
        # rejecting an extension is not gated
        y = t.call("RequestExtension", dpb.RequestExtensionRequest(
            case_id=cid, deadline_kind=H.DL_COMPLETE, reason="再延", request_id=ht.request_id(),
            extra=dpb.WorkingDuration(amount=1, unit=dpb.DURATION_UNIT_WORKING_DAYS)), sub="h1",
            roles=HANDLER).extension
        t.call("DecideExtension", dpb.DecideExtensionRequest(extension_id=y.id, approve=False, opinion="不同意"),
               sub="sup-1", roles=SUP)

    def test_major_complaint_solution_bound_to_its_text(self):
        t = self.t
        cid = self.case(priority=cpb.PRIORITY_MAJOR)
        self.submit_result(cid, "方案甲")
        code, details = self.approve(cid)
        self.assertEqual(code, C.PRECONDITION, details)
        first = self.review_in(details)
        self.assertEqual(t.get(cid).status, H.SUBMITTED, "not signed off")
        self.decide(first)
        # the head sends it back and the handler changes the text: the approval does not carry over
        t.call("RejectResult", dpb.RejectResultRequest(case_id=cid, reason="补充"), sub="head-h", roles=HEAD)
        self.submit_result(cid, "方案乙")
        code, details = self.approve(cid)
        self.assertEqual(code, C.PRECONDITION, details)
        second = self.review_in(details)
        self.assertNotEqual(second, first)
        self.decide(second)
        self.assertEqual(self.approve(cid), (None, None))
        self.assertEqual(t.get(cid).status, H.APPROVED)
        # a general complaint's result is not gated
        other = self.case()
        self.submit_result(other, "一般处理")
        self.assertEqual(self.approve(other), (None, None))

    def test_compliance_stopped_refuses_gated_actions_only(self):
        t = self.t
        major, general = self.case(priority=cpb.PRIORITY_MAJOR), self.case()
        self.submit_result(major, "方案")
        self.submit_result(general, "答复")
        x = t.call("RequestExtension", dpb.RequestExtensionRequest(
            case_id=major, deadline_kind=H.DL_COMPLETE, reason="r",
            extra=dpb.WorkingDuration(amount=2, unit=dpb.DURATION_UNIT_WORKING_HOURS)), sub="h1",
            roles=HANDLER).extension
        ht.stack("stop-service", "compliance")
        try:
            code, details = self.approve(major)
            self.assertEqual(code, C.UNAVAILABLE, details)
            self.assertIn("compliance", details)
            code, _ = t.code("DecideExtension", dpb.DecideExtensionRequest(extension_id=x.id, approve=True),
                             sub="sup-1", roles=SUP)
            self.assertEqual(code, C.UNAVAILABLE)
            self.assertEqual(self.approve(general), (None, None), "not gated: unaffected")
            third = self.case()
            self.assertEqual(t.get(third).status, H.ACCEPTED)
            self.assertEqual(t.get(major).status, H.SUBMITTED)
        finally:
            back_up(self.c)


def back_up(c):
    """Start compliance again and wait until the gated services' channels have reconnected to it
    (their reconnect backoff is at most 2 s, common/src/rpc_client.c)."""
    ht.stack("start-service", "compliance")
    H.reset_channels()
    H.wait_for(lambda: ht.code_of(c.call, "ListGateRules", pb.ListGateRulesRequest())[0] is None, timeout=30,
               what="compliance back")
    time.sleep(3)


class DestroyPeriodGateTest(unittest.TestCase):
    """intake's destroy-period asks compliance first (with the service's own environment)."""

    def env(self):
        e = intake_env(0, 0, 10)
        e.update(HOTLINE_COMPLIANCE_ADDR=ht.ENV["HOTLINE_COMPLIANCE_ADDR"], HOTLINE_DESTROY_ACTOR="op-1")
        return e

    def destroy(self, tenant, period):
        return subprocess.run([INTAKE_BIN, "destroy-period", tenant, period], env=self.env(), capture_output=True,
                              text=True, timeout=60)

    def test_destruction_waits_for_an_approved_review(self):
        tenant = ht.new_tenant("cgx")
        md = ht.auth(roles=("agent",), tenant=tenant)
        t = ht.rpc(H.channel("intake"), H.INTAKE, "CreateTicket", ipb.CreateTicketRequest(
            request_id=ht.request_id(), channel=cpb.CHANNEL_PHONE, category=cpb.CATEGORY_CONSULTATION,
            topic="留存", description="来电", area="海淀区", caller=ipb.Caller(name="张三", phone="13800138000")),
            ipb.CreateTicketResponse, metadata=md).ticket
        period = ht.psql("SELECT key_period FROM intake.tickets WHERE id = %s" % H.lit(t.id))[0][0]
        keyfile = os.path.join(ht.ENV["HOTLINE_KEY_DIR"], tenant, period + ".key")
        self.assertTrue(os.path.exists(keyfile), "the period key exists")
        out = self.destroy(tenant, period)
        self.assertEqual(out.returncode, 1, out.stderr)
        rid = out.stderr.split("review ", 1)[1].split()[0]
        c = C.Comp()
        c.id = tenant
        review = c.call("GetReview", pb.GetReviewRequest(id=rid)).review
        self.assertEqual((review.action, review.subject_id, review.requested_by),
                         ("intake.destroy_period", period, "op-1"))
        self.assertEqual(c.code("DecideReview", pb.DecideReviewRequest(review_id=rid, approve=True), sub="op-1",
                                roles=REVIEWER)[0], C.DENIED, "the operator does not approve their own request")
        self.assertEqual(self.destroy(tenant, period).returncode, 1, "still waiting")
        self.assertEqual(ht.psql("SELECT count(*) FROM intake.audit_log WHERE tenant_id = %s AND action = "
                                 "'retention.destroy'" % H.lit(tenant)), [["0"]])
        self.assertTrue(os.path.exists(keyfile), "nothing destroyed")
        c.call("DecideReview", pb.DecideReviewRequest(review_id=rid, approve=True, opinion="到期销毁"), sub="rev-1")
        ht.stack("stop-service", "compliance")
        try:
            down = self.destroy(tenant, period)
            self.assertEqual(down.returncode, 1, down.stdout)
            self.assertIn("no answer", down.stderr)
        finally:
            back_up(c)
        done = self.destroy(tenant, period)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertFalse(os.path.exists(keyfile), "the period key is gone")
        self.assertEqual(ht.psql("SELECT actor FROM intake.audit_log WHERE tenant_id = %s AND action = "
                                 "'retention.destroy'" % H.lit(tenant)), [["op-1"]])


if __name__ == "__main__":
    unittest.main()
