"""test_followup_notices - overdue notices to people, and the compliance gate on visit plans.

Notices (逾期提醒):
- a reply task still open at its deadline writes, once, a notice to its assignee and one to the
  head of its department (role dept_head with the token's `dept` claim), besides the audit entry
  and the MISSED_FOLLOW_UP violation; a pool task without a department notifies the supervisors;
- ListNotices shows each caller only what is addressed to them (all=true: every notice, for
  supervisors, auditors, inspectors and tenant admins only); AcknowledgeNotice is the
  recipient's, once (a repeat returns the same acknowledgement), append-only and audited;
- bad input names the field and writes nothing; another tenant sees none of it.

Visit-plan gate (HOTLINE_VISIT_PLAN_GATE=on, fails closed), against a stand-in compliance
server that presents compliance's certificate and answers CheckGate as the test says:
- approved: the plan is stored; the request named action followup.visit_plan, subject level-N
  and the SHA-256 of the plan's canonical text;
- not approved: FAILED_PRECONDITION naming the pending review, nothing written;
- compliance down: UNAVAILABLE, nothing written.
"""
import hashlib
import time
import unittest
import uuid
from concurrent import futures

import grpc

import dispatch_harness as H
from dispatch_harness import cpb
from hotline.compliance.v1 import compliance_pb2
from hotline.followup.v1 import followup_pb2 as fpb

FOLLOWUP = "hotline.followup.v1.FollowUpService"
REPLY_OVERDUE = fpb.NOTICE_KIND_REPLY_OVERDUE


class Notices:
    def __init__(self, prefix="fn"):
        self.t = H.Tenant(prefix)

    def call(self, method, req, sub="agent-1", roles=("agent",), **claims):
        md = H.ht.auth(roles=list(roles), tenant=self.t.id, sub=sub, **claims)
        return H.ht.rpc(H.channel("followup"), FOLLOWUP, method, req, getattr(fpb, method + "Response"),
                        metadata=md, timeout=15)

    def code(self, method, req, sub="agent-1", roles=("agent",), **claims):
        return H.ht.code_of(self.call, method, req, sub=sub, roles=roles, **claims)

    def notices(self, sub="agent-1", roles=("agent",), **kw):
        claims = {"dept": kw.pop("dept")} if "dept" in kw else {}
        return list(self.call("ListNotices", fpb.ListNoticesRequest(**kw), sub=sub, roles=roles, **claims).notices)

    def late_task(self, registered_by="agent-1", department="housing"):
        tid = str(uuid.uuid4())
        req = fpb.ScheduleReplyRequest(ticket_id=tid, ticket_no="N" + tid[:8], case_id=str(uuid.uuid4()),
                                       department_id=department, category=cpb.CATEGORY_COMPLAINT,
                                       priority=cpb.PRIORITY_GENERAL, result_text="已处理",
                                       registered_by=registered_by)
        req.reply_due_at.FromSeconds(int(time.time()) + 1)
        md = [("x-tenant-id", self.t.id), ("x-actor", "head-h"), ("idempotency-key", str(uuid.uuid4()))]
        return H.ht.rpc(H.channel("followup", "dispatch"), FOLLOWUP, "ScheduleReply", req, fpb.ScheduleReplyResponse,
                        metadata=md).reply_task_id

    def count(self, table, where="true"):
        return H.sql_count("SELECT count(*) FROM followup.%s WHERE tenant_id = %s AND (%s)"
                           % (table, H.lit(self.t.id), where))

    def wait_notices(self, subject, n):
        H.wait_for(lambda: self.count("notices", "subject_id = %s" % H.lit(subject)) >= n, timeout=30,
                   what="the notices of " + subject)


class NoticeTest(unittest.TestCase):
    def test_an_overdue_reply_notifies_the_agent_and_the_department_head(self):
        n = Notices()
        task = n.late_task()
        n.wait_notices(task, 2)
        time.sleep(1)
        self.assertEqual(n.count("notices"), 2, "once per recipient")
        [mine] = n.notices()
        self.assertEqual((mine.kind, mine.subject_type, mine.subject_id, mine.recipient_id, mine.recipient_role,
                          mine.department_id, mine.acknowledged_by),
                         (REPLY_OVERDUE, "reply_task", task, "agent-1", "", "housing", ""))
        self.assertTrue(mine.ticket_no.startswith("N") and mine.note and mine.due_at.seconds and mine.created_at.seconds)
        self.assertEqual(n.notices(sub="agent-2"), [])
        [head] = n.notices(sub="head-h", roles=("dept_head",), dept="housing")
        self.assertEqual((head.recipient_id, head.recipient_role, head.subject_id), ("", "dept_head", task))
        self.assertEqual(n.notices(sub="head-x", roles=("dept_head",), dept="water"), [])
        self.assertEqual(n.notices(sub="agent-9", roles=("agent",), dept="housing"), [], "a head needs the role")
        self.assertEqual(n.notices(sub="sup-1", roles=("supervisor",)), [], "not addressed to supervisors")
        self.assertEqual(len(n.notices(sub="sup-1", roles=("supervisor",), all=True)), 2)
        self.assertEqual(len(n.notices(sub="aud-1", roles=("auditor",), all=True)), 2)
        self.assertEqual(n.code("ListNotices", fpb.ListNoticesRequest(all=True))[0], H.DENIED)
        # besides the audit entry and the violation to compliance
        self.assertEqual(n.count("audit_log", "subject_id = %s AND action = 'reply_task.overdue'" % H.lit(task)), 1)
        self.assertEqual(n.count("outbox", "subject_id = %s AND method LIKE '%%RecordViolation'" % H.lit(task)), 1)

        # acknowledged once, by the recipient only
        self.assertEqual(n.code("AcknowledgeNotice", fpb.AcknowledgeNoticeRequest(notice_id=mine.id),
                                sub="agent-2")[0], H.NOT_FOUND)
        self.assertEqual(n.code("AcknowledgeNotice", fpb.AcknowledgeNoticeRequest(notice_id=head.id),
                                sub="head-x", roles=("dept_head",), dept="water")[0], H.NOT_FOUND)
        acked = n.call("AcknowledgeNotice", fpb.AcknowledgeNoticeRequest(notice_id=mine.id)).notice
        self.assertEqual(acked.acknowledged_by, "agent-1")
        again = n.call("AcknowledgeNotice", fpb.AcknowledgeNoticeRequest(notice_id=mine.id)).notice
        self.assertEqual((again.acknowledged_by, again.acknowledged_at), (acked.acknowledged_by, acked.acknowledged_at))
        self.assertEqual(n.count("notice_acks"), 1)
        self.assertEqual(n.count("audit_log", "action = 'notice.acknowledged'"), 1)
        self.assertEqual(n.notices(unacknowledged=True), [])
        self.assertEqual(len(n.notices(sub="head-h", roles=("dept_head",), dept="housing", unacknowledged=True)), 1)
        n.call("AcknowledgeNotice", fpb.AcknowledgeNoticeRequest(notice_id=head.id), sub="head-h",
               roles=("dept_head",), dept="housing")
        self.assertEqual(n.count("notice_acks"), 2)
        with self.assertRaises(RuntimeError):
            H.ht.psql("UPDATE followup.notice_acks SET acked_by = 'x' WHERE tenant_id = %s" % H.lit(n.t.id))
        with self.assertRaises(RuntimeError):
            H.ht.psql("DELETE FROM followup.notices WHERE tenant_id = %s" % H.lit(n.t.id))

    def test_a_pool_task_without_a_department_notifies_the_supervisors(self):
        n = Notices()
        task = n.late_task(registered_by="", department="")
        n.wait_notices(task, 1)
        time.sleep(1)
        self.assertEqual(H.ht.psql("SELECT recipient_id, recipient_role FROM followup.notices WHERE tenant_id = %s"
                                   % H.lit(n.t.id)), [["", "supervisor"]])
        [x] = n.notices(sub="sup-2", roles=("supervisor",))
        self.assertEqual(x.subject_id, task)
        self.assertEqual(n.call("AcknowledgeNotice", fpb.AcknowledgeNoticeRequest(notice_id=x.id), sub="sup-2",
                                roles=("supervisor",)).notice.acknowledged_by, "sup-2")
        self.assertEqual(n.notices(), [])

    def test_bad_input_and_other_tenants(self):
        n, other = Notices(), Notices("fno")
        task = n.late_task()
        n.wait_notices(task, 2)
        [mine] = n.notices()
        before = n.count("notice_acks") + n.count("audit_log")
        for req, field in ((fpb.AcknowledgeNoticeRequest(notice_id="x"), "notice_id"),
                           (fpb.AcknowledgeNoticeRequest(), "notice_id")):
            code, details = n.code("AcknowledgeNotice", req)
            self.assertEqual(code, H.INVALID)
            self.assertTrue(details.startswith(field), details)
        for req, field in ((fpb.ListNoticesRequest(page_size=500), "page_size"),
                           (fpb.ListNoticesRequest(page_size=-1), "page_size"),
                           (fpb.ListNoticesRequest(page_token="abc"), "page_token")):
            code, details = n.code("ListNotices", req)
            self.assertEqual(code, H.INVALID)
            self.assertTrue(details.startswith(field), details)
        self.assertEqual(other.notices(), [])
        self.assertEqual(other.notices(sub="sup-1", roles=("supervisor",), all=True), [])
        self.assertEqual(other.code("AcknowledgeNotice", fpb.AcknowledgeNoticeRequest(notice_id=mine.id))[0],
                         H.NOT_FOUND)
        self.assertEqual(n.count("notice_acks") + n.count("audit_log"), before, "nothing written")
        # paging: one notice a page
        page1 = n.call("ListNotices", fpb.ListNoticesRequest(all=True, page_size=1), sub="sup-1",
                       roles=("supervisor",))
        page2 = n.call("ListNotices", fpb.ListNoticesRequest(all=True, page_size=1,
                                                             page_token=page1.next_page_token), sub="sup-1",
                       roles=("supervisor",))
        self.assertEqual(len(page1.notices) + len(page2.notices), 2)
        self.assertNotEqual(page1.notices[0].id, page2.notices[0].id)


# ---- the compliance gate on visit plans ---------------------------------------------------------

class FakeCompliance:
    """CheckGate answered as `self.approve` says, over mTLS with compliance's certificate."""

    def __init__(self, port):
        self.approve = True
        self.requests = []
        certs = H.ht.ENV["HOTLINE_CERT_DIR"]
        read = H.ht.read_bytes
        creds = grpc.ssl_server_credentials([(read(certs + "/compliance.key"), read(certs + "/compliance.pem"))],
                                            root_certificates=read(certs + "/ca.pem"), require_client_auth=True)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.unary_unary_rpc_method_handler(
            self.check, request_deserializer=compliance_pb2.CheckGateRequest.FromString,
            response_serializer=compliance_pb2.CheckGateResponse.SerializeToString)
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            "hotline.compliance.v1.ComplianceService", {"CheckGate": handler}),))
        self.server.add_secure_port("127.0.0.1:%d" % port, creds)
        self.server.start()

    def check(self, req, ctx):
        self.requests.append((req, dict(ctx.invocation_metadata())))
        if self.approve:
            return compliance_pb2.CheckGateResponse(approved=True)
        return compliance_pb2.CheckGateResponse(approved=False, review_id="rev-42", reason="待法务审核")

    def stop(self):
        self.server.stop(0)


def plan_digest(p):
    """SHA-256 of level|interval|method|<bytes>:depth|<bytes>:responsible|<bytes>:target|<bytes>:scope."""
    def field(s):
        return b"%d:%s" % (len(s.encode()), s.encode())
    text = b"%d|%d|%d|" % (p.risk_level, p.interval_days, p.method) + b"|".join(
        field(x) for x in (p.depth, p.responsible_id, p.target, p.scope))
    return hashlib.sha256(text).hexdigest()


class PlanGateTest(unittest.TestCase):
    def test_plan_changes_pass_the_gate_and_fail_closed(self):
        port = int(H.ht.ENV["HOTLINE_BASE_PORT"]) + 90
        fake = FakeCompliance(port)
        try:
            with H.service_env("followup", ["HOTLINE_VISIT_PLAN_GATE=on",
                                            "HOTLINE_COMPLIANCE_ADDR=127.0.0.1:%d" % port]):
                self.run_gate(fake)
        finally:
            fake.stop()

    def run_gate(self, fake):
        n = Notices("fpg")
        admin = dict(sub="admin-1", roles=("tenant_admin",))
        plan = fpb.VisitPlan(risk_level=1, interval_days=20, method=fpb.VISIT_METHOD_ON_SITE, depth="全面检查",
                             responsible_id="insp-1", target="食品安全", scope="全部门店")
        stored = n.call("PutVisitPlan", fpb.PutVisitPlanRequest(plan=plan), **admin).plan
        self.assertEqual(stored.interval_days, 20)
        [(req, md)] = fake.requests
        self.assertEqual((req.action, req.subject_type, req.subject_id, req.content_digest),
                         ("followup.visit_plan", "visit_plan", "level-1", plan_digest(plan)))
        self.assertEqual((md.get("x-tenant-id"), md.get("x-actor")), (n.t.id, "admin-1"))
        audit = n.count("audit_log")

        fake.approve = False
        changed = fpb.VisitPlan(risk_level=1, interval_days=10, method=fpb.VISIT_METHOD_PHONE)
        code, details = n.code("PutVisitPlan", fpb.PutVisitPlanRequest(plan=changed), **admin)
        self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION, details)
        self.assertIn("rev-42", details)
        self.assertEqual(H.ht.psql("SELECT interval_days FROM followup.visit_plans WHERE tenant_id = %s"
                                   % H.lit(n.t.id)), [["20"]])
        self.assertEqual(n.count("audit_log"), audit)

        fake.stop()
        code, details = n.code("PutVisitPlan", fpb.PutVisitPlanRequest(plan=changed), **admin)
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, details)
        self.assertIn("compliance", details)
        self.assertEqual(H.ht.psql("SELECT interval_days FROM followup.visit_plans WHERE tenant_id = %s"
                                   % H.lit(n.t.id)), [["20"]])
        self.assertEqual(n.count("audit_log"), audit)
        # bad input is refused before the gate is asked
        code, details = n.code("PutVisitPlan", fpb.PutVisitPlanRequest(plan=fpb.VisitPlan(risk_level=4)), **admin)
        self.assertEqual(code, H.INVALID)
        self.assertEqual(len(fake.requests), 2)


if __name__ == "__main__":
    unittest.main()
