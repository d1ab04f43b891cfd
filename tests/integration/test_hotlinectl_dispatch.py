"""test_hotlinectl_dispatch - hotlinectl's dispatch commands against the real stack (intake and
dispatch delivering to each other through their outboxes).

In a fresh tenant, as its tenant_admin: departments, staff, a routing rule, the calendar in its
text form and an SLA policy, each read back; then a ticket registered with `ticket create` is
found with `case queue`, locked, accepted, noted, paused and resumed, its result submitted,
rejected and approved by a deputy (`case get` shows the steps and the digest), an extension
requested and decided, a supervision notice issued and listed, a second ticket returned with a
reason code and assigned by hand with an assisting department; and the error contract for a
transition outside the status machine (exit 1, FAILED_PRECONDITION) and for a bad enum (exit 2).
"""
import json
import time
import unittest

import hotline_test as ht
from test_hotlinectl import ctl


class HotlinectlDispatch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tenant = ht.new_tenant("ctld")

    def run_ok(self, *args, sub="admin-1", roles="tenant_admin"):
        rc, out, err = ctl("--as", sub, "--roles", roles, "--tenant", self.tenant, "--json", *args)
        self.assertEqual(rc, 0, "hotlinectl %s: %s" % (" ".join(args), err))
        return json.loads(out.decode("utf-8"))

    def new_case(self, topic):
        t = self.run_ok("ticket", "create", "--channel", "phone", "--category", "complaint", "--topic", topic,
                        "--description", "夜间施工", "--area", "朝阳区", "--anonymous", sub="agent-1",
                        roles="agent")["ticket"]
        return ht.wait_for(lambda: (self.run_ok("case", "queue", "--ticket", t["id"], sub="disp-1",
                                                roles="dispatcher").get("cases") or [None])[0],
                           timeout=30, what="the case of the ticket")

    def test_directory_and_the_life_of_a_case(self):
        d = self.run_ok("departments", "put", "housing", "--name", "住建局", "--head", "head-1",
                        "--deputy", "deputy-1")["department"]
        self.assertEqual((d["id"], d["name"], d["head_id"], d["deputy_ids"], d["active"]),
                         ("housing", "住建局", "head-1", ["deputy-1"], True))
        self.run_ok("departments", "put", "property", "--name", "物业")
        self.run_ok("departments", "put", "urban", "--name", "城管")
        s = self.run_ok("staff", "put", "h1", "--name", "张工", "--department", "housing", "--skill", "noise")["staff"]
        self.assertEqual((s["department_id"], s["skills"], s["active"]), ("housing", ["noise"], True))
        self.run_ok("staff", "put", "sup-1", "--name", "督办", "--department", "property", "--supervisor")
        self.run_ok("staff", "put", "p1", "--name", "物业员", "--department", "property")
        rule = self.run_ok("rules", "put", "--name", "施工噪音", "--position", "10", "--category", "complaint",
                           "--topic-keyword", "噪音", "--department", "housing", "--skill", "noise")["rule"]
        self.assertEqual([r["id"] for r in self.run_ok("rules", "list")["rules"]], [rule["id"]])
        spec = "zone=Asia/Shanghai;mon-fri=09:00-12:00,13:30-17:30;holidays=2025-10-01..2025-10-08"
        self.run_ok("calendar", "put", spec)
        self.assertEqual(self.run_ok("calendar", "get")["calendar"]["text"], spec)
        p = self.run_ok("sla", "put", "--category", "complaint", "--priority", "general", "--accept", "4",
                        "--accept-unit", "working-hours", "--complete", "3", "--complete-unit", "working-days",
                        "--reply", "3", "--reply-unit", "working-days", "--warning", "800")["policy"]
        self.assertEqual(p["complete_within"], {"amount": 3, "unit": "DURATION_UNIT_WORKING_DAYS"})
        self.assertEqual(self.run_ok("sla", "get", "--category", "complaint", "--priority", "general")["policy"], p)

        case = self.new_case("小区施工噪音")
        self.assertEqual((case["department_id"], case["handler_id"], case["basis"]["kind"], case["basis"]["rule_id"]),
                         ("housing", "h1", "BASIS_KIND_RULE", rule["id"]))
        cid = case["id"]
        h = dict(sub="h1", roles="handler")
        token = self.run_ok("case", "lock", cid, **h)["lock_token"]
        rc, _, err = ctl("--as", "h2", "--roles", "dept_head", "--tenant", self.tenant, "case", "approve", cid)
        self.assertEqual(rc, 1, err)
        self.assertEqual(self.run_ok("case", "accept", cid, "--lock", token, **h)["case"]["status"],
                         "CASE_STATUS_ACCEPTED")
        self.run_ok("case", "note", cid, "--note", "已现场核查", "--lock", token, **h)
        self.assertTrue(self.run_ok("case", "pause", cid, "--reason", "等待材料", **h)["case"]["paused"])
        self.assertFalse(self.run_ok("case", "resume", cid, **h)["case"].get("paused", False))
        x = self.run_ok("case", "extend", cid, "--deadline", "complete", "--amount", "2", "--unit", "working-days",
                        "--reason", "需协调", **h)["extension"]
        decided = self.run_ok("case", "decide-extension", x["id"], "--approve", "--opinion", "同意", sub="sup-1",
                              roles="supervisor")
        self.assertEqual(decided["extension"]["state"], "EXTENSION_STATE_APPROVED")
        notice = self.run_ok("case", "supervise", cid, "--note", "请尽快办结", sub="sup-1", roles="supervisor")["notice"]
        self.assertEqual(notice["kind"], "NOTICE_KIND_SUPERVISION")
        listed = self.run_ok("notices", "--department", "housing", sub="head-1", roles="dept_head")["notices"]
        self.assertIn(notice["id"], [n["id"] for n in listed])
        self.run_ok("case", "result", cid, "--text", "已责令停止夜间施工", **h)
        self.assertEqual(self.run_ok("case", "reject", cid, "--reason", "请附通知书", sub="head-1",
                                     roles="dept_head")["case"]["status"], "CASE_STATUS_IN_PROGRESS")
        self.run_ok("case", "result", cid, "--text", "已责令停止夜间施工，附通知书", **h)
        done = self.run_ok("case", "approve", cid, sub="deputy-1", roles="dept_head")["case"]
        self.assertEqual((done["status"], done["result"]["approved_by"]), ("CASE_STATUS_RESULT_APPROVED", "deputy-1"))
        self.assertEqual(len(done["result"]["digest"]), 64)
        steps = [s["action"] for s in self.run_ok("case", "get", cid, sub="disp-1", roles="dispatcher")["case"]["steps"]]
        for action in ("created", "assigned", "accepted", "note", "paused", "resumed", "extension_approved",
                       "supervised", "result_submitted", "result_rejected", "result_approved"):
            self.assertIn(action, steps)
        # outside the status machine: exit 1 with the gRPC code; a bad enum: exit 2 naming the values
        rc, out, err = ctl("--as", "h1", "--roles", "handler", "--tenant", self.tenant, "case", "accept", cid)
        self.assertEqual((rc, out), (1, b""))
        self.assertTrue(err.startswith("hotlinectl: FAILED_PRECONDITION: "), err)
        rc, _, err = ctl("--as", "h1", "--roles", "handler", "--tenant", self.tenant, "case", "return", cid,
                         "--reason-code", "nonsense")
        self.assertEqual(rc, 2, err)
        self.assertIn("not-our-duty", err.replace("_", "-"))

    def test_return_and_manual_assignment_with_co_handling(self):
        self.run_ok("departments", "put", "env", "--name", "环保", "--head", "head-e")
        self.run_ok("departments", "put", "water", "--name", "水务")
        self.run_ok("staff", "put", "e1", "--name", "环保员", "--department", "env")
        self.run_ok("rules", "put", "--name", "油烟", "--topic-keyword", "油烟", "--department", "env")
        case = self.new_case("餐馆油烟扰民")
        self.assertEqual(case["department_id"], "env")
        back = self.run_ok("case", "return", case["id"], "--reason-code", "not-our-duty", "--note", "属水务",
                           sub="e1", roles="handler")["case"]
        self.assertEqual((back["status"], back["basis"]["kind"], back["basis"]["return_reason"]),
                         ("CASE_STATUS_PENDING_ASSIGNMENT", "BASIS_KIND_RETURN", "RETURN_REASON_NOT_OUR_DUTY"))
        got = self.run_ok("case", "assign", case["id"], "--department", "env", "--reason", "协调办理",
                          "--assist", "water", sub="disp-1", roles="dispatcher")["case"]
        self.assertEqual((got["department_id"], got["basis"]["kind"], got["basis"]["reason"]),
                         ("env", "BASIS_KIND_MANUAL", "协调办理"))
        cases = self.run_ok("case", "queue", "--ticket", case["ticket_id"], sub="disp-1", roles="dispatcher")["cases"]
        self.assertEqual(sorted((c["role"], c["department_id"]) for c in cases),
                         [("CASE_ROLE_ASSIST", "water"), ("CASE_ROLE_LEAD", "env")])


if __name__ == "__main__":
    unittest.main()
