"""test_hotlinectl_followup - hotlinectl's sampling and notice commands against the real stack.

In a fresh tenant: `sampling get` shows the default policy; `sampling put` with `--rule
category=NAME,percent=N` (a message given as name=value pairs) changes it and a closed
consultation offered by intake is then drawn, listed by `visit list --tickets`; a malformed rule
is a usage error (exit 2) that writes nothing; an overdue reply task's notice is listed by
`followup notices`, acknowledged by `followup ack`, and gone from `--unacknowledged`.
"""
import json
import time
import unittest
import uuid

import dispatch_harness as H
import hotline_test as ht
from hotline.common.v1 import common_pb2 as cpb
from hotline.followup.v1 import followup_pb2 as fpb
from test_hotlinectl import ctl

FOLLOWUP = "hotline.followup.v1.FollowUpService"


class HotlinectlFollowup(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tenant = ht.new_tenant("ctlf")

    def run_ok(self, *args, sub="admin-1", roles="tenant_admin"):
        rc, out, err = ctl("--as", sub, "--roles", roles, "--tenant", self.tenant, "--json", *args)
        self.assertEqual(rc, 0, "hotlinectl %s: %s" % (" ".join(args), err))
        return json.loads(out.decode("utf-8"))

    def internal(self, method, req, cert, resp):
        md = [("x-tenant-id", self.tenant), ("x-actor", "system:test"), ("idempotency-key", str(uuid.uuid4()))]
        return ht.rpc(H.channel("followup", cert), FOLLOWUP, method, req, resp, metadata=md)

    def test_sampling_policy(self):
        p = self.run_ok("sampling", "get")["policy"]
        self.assertEqual([(r["category"], r.get("percent", 0)) for r in p["rules"]],
                         [("CATEGORY_CONSULTATION", 10), ("CATEGORY_COMPLAINT", 100), ("CATEGORY_REPORT", 100),
                          ("CATEGORY_SUGGESTION", 0), ("CATEGORY_HELP", 0), ("CATEGORY_PRAISE", 0)])
        rc, _, err = ctl("--as", "admin-1", "--roles", "tenant_admin", "--tenant", self.tenant, "sampling", "put",
                         "--rule", "category=nope,percent=5")
        self.assertEqual(rc, 2, err)
        rc, _, err = ctl("--as", "admin-1", "--roles", "tenant_admin", "--tenant", self.tenant, "sampling", "put",
                         "--rule", "percent")
        self.assertEqual(rc, 2, err)
        self.assertEqual(H.sql_count("SELECT count(*) FROM followup.sampling_policies WHERE tenant_id = %s"
                                     % H.lit(self.tenant)), 0)
        p = self.run_ok("sampling", "put", "--rule", "category=consultation,percent=100", "--rule",
                        "category=help,percent=40", "--method", "questionnaire", "--within-days", "3")["policy"]
        self.assertEqual((p["rules"][0]["percent"], p["rules"][4]["percent"], p["method"], p["within_days"],
                          p["version"]), (100, 40, "VISIT_METHOD_QUESTIONNAIRE", 3, 1))
        tid = str(uuid.uuid4())
        r = self.internal("SampleTicket", fpb.SampleTicketRequest(ticket_id=tid, ticket_no="C1",
                                                                  category=cpb.CATEGORY_CONSULTATION,
                                                                  reason="answered_on_spot"),
                          "intake", fpb.SampleTicketResponse)
        self.assertTrue(r.sampled)
        visits = self.run_ok("visit", "list", "--tickets", sub="sup-1", roles="supervisor")["visits"]
        self.assertEqual([(v["id"], v["ticket_id"], v["method"]) for v in visits],
                         [(r.visit_id, tid, "VISIT_METHOD_QUESTIONNAIRE")])

    def test_notices(self):
        req = fpb.ScheduleReplyRequest(ticket_id=str(uuid.uuid4()), ticket_no="C2", case_id=str(uuid.uuid4()),
                                       department_id="housing", category=cpb.CATEGORY_COMPLAINT,
                                       priority=cpb.PRIORITY_GENERAL, registered_by="agent-1")
        req.reply_due_at.FromSeconds(int(time.time()) + 1)
        task = self.internal("ScheduleReply", req, "dispatch", fpb.ScheduleReplyResponse).reply_task_id
        notices = ht.wait_for(lambda: self.run_ok("followup", "notices", sub="agent-1", roles="agent").get("notices"),
                              timeout=30, what="the overdue notice")
        [n] = notices
        self.assertEqual((n["kind"], n["subject_id"], n["recipient_id"]), ("NOTICE_KIND_REPLY_OVERDUE", task, "agent-1"))
        acked = self.run_ok("followup", "ack", n["id"], sub="agent-1", roles="agent")["notice"]
        self.assertEqual(acked["acknowledged_by"], "agent-1")
        self.assertEqual(self.run_ok("followup", "notices", "--unacknowledged", sub="agent-1",
                                     roles="agent").get("notices", []), [])
        everything = self.run_ok("followup", "notices", "--all", sub="sup-1", roles="supervisor")["notices"]
        self.assertEqual(sorted(x["recipient_role"] if x.get("recipient_role") else x["recipient_id"]
                                for x in everything), ["agent-1", "dept_head"])


if __name__ == "__main__":
    unittest.main()
