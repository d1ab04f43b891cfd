"""test_dispatch_routing - routing and assignment at dispatch (DESIGN R8, R12, R33; dispatch.proto).

Against the real stack (PostgreSQL, Redis, dispatch over mTLS), each test in a tenant of its own,
tickets submitted the way intake's outbox does (SubmitTicket with intake's certificate):

- the first matching active rule in position order wins and the case's basis names it (kind rule,
  rule_id); a later rule that also matches, an inactive rule and a rule created later with a lower
  position show that it is the order of positions that decides;
- no rule matches: the dispatcher queue (pending_assignment, basis no_rule), from which a
  dispatcher assigns with a reason (basis manual);
- a return (ReturnCase with a reason code) re-routes the case without the returning department:
  the next matching rule wins, the basis records kind return, the reason code and the note, and
  when every matching department has returned it the case waits in the dispatcher queue;
- least-load assignment spreads 100 concurrently submitted cases evenly over 4 handlers of a
  department (25 ± 1 each; inactive staff and other departments get none);
- a rule's required skill is respected (only handlers with the skill get its cases; with none
  the case waits in the department's own queue);
- recusal (回避): a report implicating a department is never routed there even when the first
  rule targets it, cannot be assigned, transferred or co-handled there, and its staff cannot see
  it (GetCase NOT_FOUND, ListCases leaves it out), while a report that does not implicate the
  department goes there and is visible to them (the control);
- the submissions of one BatchService/Apply call (one transaction, which reads the directory
  once for all its items) are each routed by their own rule to their own department, with their
  own policy's deadlines, the picks of the batch see each other's loads, the cases' audit chains
  (written with the batch's COMMIT) verify, and a directory change between two calls is in force
  for the second.
"""
import collections
import concurrent.futures
import unittest
import uuid

import hotline_test as ht
from hotline.audit.v1 import audit_pb2 as apb
from hotline.batch.v1 import batch_pb2

import dispatch_harness as H
from dispatch_harness import dpb, cpb

DISPATCHER = ("dispatcher",)
HANDLER = ("handler",)


class RoutingTest(unittest.TestCase):
    def setUp(self):
        self.t = H.Tenant("route")

    def assert_rule_basis(self, case, rule, dept):
        self.assertEqual(case.status, H.ASSIGNED)
        self.assertEqual(case.department_id, dept)
        self.assertEqual(case.basis.kind, dpb.BASIS_KIND_RULE)
        self.assertEqual(case.basis.rule_id, rule.id)

    def apply_submissions(self, categories):
        """SubmitTicket for each category as the items of one BatchService/Apply call, as intake's relay
        sends them; returns the case ids."""
        items = []
        for category in categories:
            tid = str(uuid.uuid4())
            req = dpb.SubmitTicketRequest(ticket_id=tid, ticket_no="T" + tid[:8], channel=cpb.CHANNEL_PHONE,
                                          category=category, topic="批量", description="描述", area="海淀区",
                                          priority=cpb.PRIORITY_GENERAL, registered_by="agent-1")
            items.append(batch_pb2.Item(method="/hotline.dispatch.v1.DispatchService/SubmitTicket",
                                        payload=req.SerializeToString(), idempotency_key=tid + ":submit",
                                        actor="agent-1"))
        results = ht.rpc(H.channel("dispatch", "intake"), "hotline.batch.v1.BatchService", "Apply",
                         batch_pb2.ApplyRequest(items=items), batch_pb2.ApplyResponse,
                         metadata=[("x-tenant-id", self.t.id)]).results
        self.assertEqual([r.code for r in results], [0] * len(items), [r.message for r in results])
        return [dpb.SubmitTicketResponse.FromString(r.payload).case_id for r in results]

    def test_one_batch_routes_each_item_by_its_own_rule_and_policy(self):
        t = self.t
        t.around_the_clock()
        for d in ("dept-c", "dept-s"):
            t.dept(d)
            t.staff("h-" + d, d)
        t.staff("h2-dept-c", "dept-c")
        t.rule("dept-c", position=10, categories=[cpb.CATEGORY_COMPLAINT])
        suggestions = t.rule("dept-s", position=20, categories=[cpb.CATEGORY_SUGGESTION])
        t.sla(cpb.CATEGORY_COMPLAINT, accept=(5, dpb.DURATION_UNIT_WORKING_MINUTES))
        t.sla(cpb.CATEGORY_SUGGESTION, accept=(90, dpb.DURATION_UNIT_WORKING_MINUTES))
        kinds = [cpb.CATEGORY_COMPLAINT, cpb.CATEGORY_SUGGESTION] * 3
        cases = self.apply_submissions(kinds)
        xmins = {r[0] for r in t.rows("SELECT xmin::text FROM dispatch.cases WHERE tenant_id = $T")}
        self.assertEqual(len(xmins), 1, "the items ran in one transaction")
        minutes = dict(t.rows("SELECT c.id::text, round(extract(epoch FROM d.due_at - d.started_at) / 60)::text "
                              "FROM dispatch.cases c JOIN dispatch.deadlines d ON d.tenant_id = c.tenant_id "
                              "AND d.case_id = c.id AND d.kind = 1 WHERE c.tenant_id = $T"))
        handlers = collections.Counter()
        for cid, kind in zip(cases, kinds):
            case = t.get(cid)
            want = ("dept-c", "5") if kind == cpb.CATEGORY_COMPLAINT else ("dept-s", "90")
            self.assertEqual((case.department_id, minutes[cid]), want)
            handlers[case.handler_id] += 1
        self.assertEqual(handlers["h-dept-s"], 3)
        self.assertEqual(sorted([handlers["h-dept-c"], handlers["h2-dept-c"]]), [1, 2],
                         "the picks of one batch see each other's loads")
        # the batch's audit entries (written with its COMMIT) chain: each case created then assigned
        chains = t.rows("SELECT subject_id, string_agg(action, ',' ORDER BY seq), count(DISTINCT xmin::text) "
                        "FROM dispatch.audit_log WHERE tenant_id = $T AND subject_id = ANY (ARRAY[%s]) "
                        "GROUP BY subject_id" % ", ".join(H.lit(c) for c in cases))
        self.assertEqual(sorted(r[1:] for r in chains), [["created,assigned", "1"]] * len(cases))
        verdict = ht.rpc(H.channel(), "hotline.audit.v1.AuditService", "VerifyAuditChain",
                         apb.VerifyAuditChainRequest(), apb.VerifyAuditChainResponse,
                         metadata=t.md("aud-1", ("auditor",)))
        self.assertEqual((verdict.ok, verdict.problem), (True, ""))
        self.assertGreaterEqual(verdict.entries_checked, 2 * len(cases))
        # a directory change between two calls is in force for the second
        t.rule("dept-c", position=20, categories=[cpb.CATEGORY_SUGGESTION], rule_id=suggestions.id)
        [cid] = self.apply_submissions([cpb.CATEGORY_SUGGESTION])
        self.assertEqual(t.get(cid).department_id, "dept-c")

    def test_first_matching_rule_wins_and_basis_names_it(self):
        t = self.t
        for d in ("roads", "housing", "water"):
            t.dept(d, head="head-" + d)
            t.staff("h-" + d, d)
        late = t.rule("water", position=5, topic=["道路"], active=False, name="inactive rule")
        roads = t.rule("roads", position=10, topic=["道路"])
        housing = t.rule("housing", position=20, categories=[cpb.CATEGORY_COMPLAINT])
        water = t.rule("water", position=30, categories=[cpb.CATEGORY_COMPLAINT])
        # created last, but first in position order: only channel wechat and area 朝阳区 match it
        first = t.rule("water", position=1, channels=[cpb.CHANNEL_WECHAT], areas=["朝阳区"])
        listed = [r.id for r in t.call("ListRoutingRules", dpb.ListRoutingRulesRequest()).rules]
        self.assertEqual(listed, [first.id, late.id, roads.id, housing.id, water.id], "routing order")

        _, c1 = t.submit(topic="道路坑洼无人修")  # roads (10) and housing (20) match: roads wins
        case = t.get(c1)
        self.assert_rule_basis(case, roads, "roads")
        self.assertEqual(case.handler_id, "h-roads")
        self.assertEqual([s.action for s in case.steps], ["created", "assigned"])
        self.assertEqual(case.steps[1].department_id, "roads")

        _, c2 = t.submit(topic="楼道漏水")  # only housing and water match: housing wins
        self.assert_rule_basis(t.get(c2), housing, "housing")

        _, c3 = t.submit(topic="楼道漏水", channel_=cpb.CHANNEL_WECHAT, area="北京市朝阳区")
        self.assert_rule_basis(t.get(c3), first, "water")

        # every criterion of a rule must match: wechat alone does not match the position-1 rule
        _, c4 = t.submit(topic="道路", channel_=cpb.CHANNEL_WECHAT, area="海淀区")
        self.assert_rule_basis(t.get(c4), roads, "roads")
        self.assertEqual(t.count("cases"), 4)

    def test_no_match_goes_to_the_dispatcher_queue(self):
        t = self.t
        t.dept("roads")
        t.staff("h-roads", "roads")
        t.rule("roads", position=10, categories=[cpb.CATEGORY_COMPLAINT])
        _, cid = t.submit(category=cpb.CATEGORY_HELP, topic="求助")
        case = t.get(cid)
        self.assertEqual(case.status, H.PENDING)
        self.assertEqual(case.basis.kind, dpb.BASIS_KIND_NO_RULE)
        self.assertEqual((case.basis.rule_id, case.department_id, case.handler_id), ("", "", ""))
        self.assertEqual([s.action for s in case.steps], ["created", "queued"])
        self.assertEqual(len(case.deadlines), 0, "no deadline runs before an assignment")
        queue = [c.id for c in t.list(sub="disp-1", roles=DISPATCHER, status=H.PENDING)]
        self.assertEqual(queue, [cid])

        # the dispatcher assigns it by hand: the reason is the recorded basis; only to an active
        # department, and to a named handler only if they are active staff of it
        t.dept("closed", active=False)
        t.dept("parks")
        t.staff("h-parks", "parks")
        for req, field in ((dpb.AssignCaseRequest(case_id=cid, department_id="closed", reason="x"), "department_id"),
                           (dpb.AssignCaseRequest(case_id=cid, department_id="nowhere", reason="x"), "department_id"),
                           (dpb.AssignCaseRequest(case_id=cid, department_id="roads", handler_id="h-parks",
                                                  reason="x"), "handler_id")):
            code, details = t.code("AssignCase", req, sub="disp-1", roles=DISPATCHER)
            self.assertEqual(code, H.PRECONDITION, details)
            self.assertIn(field, details)
        code, _ = t.code("AssignCase", dpb.AssignCaseRequest(case_id=cid, department_id="roads", reason="x"),
                         sub="h-roads", roles=HANDLER)
        self.assertEqual(code, H.DENIED, "handlers do not assign")
        self.assertEqual(t.get(cid).status, H.PENDING)
        r = t.call("AssignCase", dpb.AssignCaseRequest(case_id=cid, department_id="roads", reason="道路养护求助"),
                   sub="disp-1", roles=DISPATCHER).case
        self.assertEqual((r.status, r.department_id, r.handler_id), (H.ASSIGNED, "roads", "h-roads"))
        self.assertEqual(r.basis.kind, dpb.BASIS_KIND_MANUAL)
        self.assertEqual((r.basis.reason, r.basis.actor), ("道路养护求助", "disp-1"))
        self.assertEqual(sorted(d.kind for d in r.deadlines), [H.DL_ACCEPT, H.DL_COMPLETE])
        self.assertEqual(t.list(sub="disp-1", roles=DISPATCHER, status=H.PENDING), [])

    def test_return_reroutes_without_the_returning_department(self):
        t = self.t
        for d in ("housing", "water", "roads"):
            t.dept(d)
            t.staff("h-" + d, d)
        housing = t.rule("housing", position=10, categories=[cpb.CATEGORY_COMPLAINT])
        water = t.rule("water", position=20, topic=["水"])
        t.rule("roads", position=30, topic=["道路"])  # never matches this ticket
        _, cid = t.submit(topic="自来水水压不足")
        self.assert_rule_basis(t.get(cid), housing, "housing")

        code, details = t.code("ReturnCase", dpb.ReturnCaseRequest(case_id=cid, note="x"), sub="h-housing",
                               roles=HANDLER)
        self.assertEqual(code, H.INVALID)
        self.assertIn("reason_code", details)
        code, _ = t.code("ReturnCase", dpb.ReturnCaseRequest(case_id=cid, reason_code=dpb.RETURN_REASON_NOT_OUR_DUTY,
                                                             note="不是我们的"), sub="h-water", roles=HANDLER)
        self.assertEqual(code, H.NOT_FOUND, "only the case's department returns it (water cannot see it yet)")

        r = t.call("ReturnCase", dpb.ReturnCaseRequest(case_id=cid, reason_code=dpb.RETURN_REASON_NOT_OUR_DUTY,
                                                       note="供水归水务"), sub="h-housing", roles=HANDLER).case
        self.assertEqual((r.status, r.department_id, r.handler_id), (H.ASSIGNED, "water", "h-water"))
        self.assertEqual(r.basis.kind, dpb.BASIS_KIND_RETURN)
        self.assertEqual(r.basis.return_reason, dpb.RETURN_REASON_NOT_OUR_DUTY)
        self.assertEqual(r.basis.rule_id, water.id)
        self.assertEqual((r.basis.reason, r.basis.actor), ("供水归水务", "h-housing"))
        self.assertEqual(r.return_count, 1)
        self.assertEqual([s.action for s in r.steps], ["created", "assigned", "returned", "assigned"])
        self.assertEqual(r.steps[2].department_id, "housing")
        # housing's open deadlines ended with the return; water's run
        self.assertEqual(t.count("deadlines", "met_at IS NULL AND cancelled_at IS NULL"), 2)
        self.assertEqual(t.count("deadlines", "cancelled_at IS NOT NULL"), 2)
        self.assertEqual(t.count("cases", "department_id = 'housing'"), 0)
        staff = {s.id: s.open_cases for s in t.call("ListStaff", dpb.ListStaffRequest()).staff}
        self.assertEqual(staff, {"h-housing": 0, "h-water": 1, "h-roads": 0}, "the load moved with the case")

        # water returns it too: housing stays excluded, no other rule matches: the dispatcher queue
        r = t.call("ReturnCase", dpb.ReturnCaseRequest(case_id=cid, reason_code=dpb.RETURN_REASON_WRONG_AREA,
                                                       note="不属本辖区"), sub="h-water", roles=HANDLER).case
        self.assertEqual((r.status, r.department_id, r.handler_id), (H.PENDING, "", ""))
        self.assertEqual(r.basis.kind, dpb.BASIS_KIND_RETURN)
        self.assertEqual(r.basis.return_reason, dpb.RETURN_REASON_WRONG_AREA)
        self.assertEqual(r.basis.rule_id, "")
        self.assertEqual(r.return_count, 2)
        self.assertEqual(t.rows("SELECT returned_by FROM dispatch.cases WHERE tenant_id = $T"),
                         [["{housing,water}"]])
        code, _ = t.code("GetCase", dpb.GetCaseRequest(id=cid), sub="h-water", roles=HANDLER)
        self.assertEqual(code, H.NOT_FOUND, "the returning department no longer sees the case")

    def test_least_load_spreads_100_cases_evenly(self):
        t = self.t
        t.dept("pool")
        t.dept("other")
        handlers = ["p%d" % i for i in range(4)]
        for h in handlers:
            t.staff(h, "pool")
        t.staff("p-inactive", "pool", active=False)
        t.staff("o-1", "other")
        t.rule("pool", position=10, areas=["均衡区"])
        t.rule("other", position=20, categories=[cpb.CATEGORY_COMPLAINT])

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            ids = list(ex.map(lambda i: t.submit(area="均衡区", topic="均衡 %d" % i)[1], range(100)))
        self.assertEqual(len(set(ids)), 100)
        per = collections.Counter(dict(t.rows("SELECT handler_id, count(*) FROM dispatch.cases WHERE tenant_id = $T "
                                              "GROUP BY handler_id")))
        per = {k: int(v) for k, v in per.items()}
        self.assertEqual(sorted(per), handlers, "only the active handlers of the department: %r" % per)
        for h in handlers:
            self.assertLessEqual(abs(per[h] - 25), 1, "25 ± 1 each: %r" % per)
        staff = {s.id: s.open_cases for s in t.call("ListStaff", dpb.ListStaffRequest(department_id="pool")).staff}
        self.assertEqual(staff, dict(per, **{"p-inactive": 0}), "the recorded load matches the cases")
        mine = t.list(sub="p0", roles=HANDLER, handler_id="p0")
        self.assertEqual(len(mine), per["p0"], "a handler's queue")

    def test_required_skill_is_respected(self):
        t = self.t
        t.dept("works")
        t.staff("w-plain-1", "works")
        t.staff("w-plain-2", "works", skills=["plumbing"])
        t.staff("w-elec", "works", skills=["electric", "plumbing"])
        elec = t.rule("works", position=10, topic=["电"], skill="electric")
        t.rule("works", position=20, topic=["燃气"], skill="gas")
        t.rule("works", position=30, categories=[cpb.CATEGORY_COMPLAINT])
        got = [t.get(t.submit(topic="停电 %d" % i)[1]) for i in range(5)]
        self.assertEqual({c.handler_id for c in got}, {"w-elec"}, "only the handler with the skill")
        self.assertEqual({c.basis.rule_id for c in got}, {elec.id})
        plain = {t.get(t.submit(topic="漏水 %d" % i)[1]).handler_id for i in range(4)}
        self.assertEqual(plain, {"w-plain-1", "w-plain-2"}, "least load without a skill (w-elec has 5 open)")
        gas = t.get(t.submit(topic="燃气泄漏")[1])
        self.assertEqual((gas.status, gas.department_id, gas.handler_id), (H.ASSIGNED, "works", ""),
                         "nobody has the skill: the department's own queue")
        self.assertIn(gas.id, {c.id for c in t.list(sub="w-plain-1", roles=HANDLER, department_id="works")})
        # a member takes it from the department's queue and handles it
        r = t.call("AcceptCase", dpb.AcceptCaseRequest(case_id=gas.id), sub="w-plain-1", roles=HANDLER).case
        self.assertEqual((r.status, r.handler_id), (H.ACCEPTED, "w-plain-1"))
        load = {s.id: s.open_cases for s in t.call("ListStaff", dpb.ListStaffRequest()).staff}
        self.assertEqual(load, {"w-elec": 5, "w-plain-1": 3, "w-plain-2": 2})

    def test_recusal_never_routes_to_or_shows_the_implicated_department(self):
        t = self.t
        t.dept("housing", head="head-h")
        t.dept("discipline", head="head-d")
        t.staff("head-h", "housing")
        t.staff("h-housing", "housing")
        t.staff("disp-housing", "housing")  # a dispatcher who works in housing
        t.staff("h-disc", "discipline")
        t.dept("roads")
        t.staff("h-roads", "roads")
        to_housing = t.rule("housing", position=1, categories=[cpb.CATEGORY_REPORT])
        t.rule("discipline", position=2, categories=[cpb.CATEGORY_REPORT], topic=["违规"])

        # control: a report that implicates nobody goes to housing and housing sees it
        _, plain = t.submit(category=cpb.CATEGORY_REPORT, topic="违规收费")
        self.assert_rule_basis(t.get(plain), to_housing, "housing")
        self.assertEqual(t.get(plain, sub="h-housing", roles=HANDLER).id, plain)

        _, cid = t.submit(category=cpb.CATEGORY_REPORT, topic="违规收费 举报房管所", implicated=["housing"])
        case = t.get(cid)
        self.assertEqual((case.department_id, case.handler_id), ("discipline", "h-disc"))
        self.assertEqual(case.basis.kind, dpb.BASIS_KIND_RULE)
        self.assertNotEqual(case.basis.rule_id, to_housing.id)
        # only the housing rule matches: the dispatcher queue, not housing
        _, queued = t.submit(category=cpb.CATEGORY_REPORT, topic="举报", implicated=["housing"])
        self.assertEqual(t.get(queued).status, H.PENDING)

        for sub, roles in (("h-housing", HANDLER), ("head-h", ("dept_head",)), ("disp-housing", DISPATCHER),
                           ("disp-housing", ("supervisor", "inspector"))):
            for k in (cid, queued):
                self.assertEqual(t.code("GetCase", dpb.GetCaseRequest(id=k), sub=sub, roles=roles)[0], H.NOT_FOUND,
                                 "%s %r must not see the report" % (sub, roles))
            seen = {c.id for c in t.list(sub=sub, roles=roles)}
            self.assertNotIn(cid, seen)
            self.assertNotIn(queued, seen)
            if "handler" in roles or "dispatcher" in roles:
                self.assertIn(plain, seen, "control: the same listing shows the other report")
        self.assertEqual(t.get(cid, sub="disp-1", roles=DISPATCHER).id, cid, "control: a dispatcher elsewhere sees it")

        # nobody can send it there by hand either
        for method, req in (
                ("AssignCase", dpb.AssignCaseRequest(case_id=queued, department_id="housing", reason="手工")),
                ("TransferCase", dpb.TransferCaseRequest(case_id=cid, department_id="housing", reason="转办")),
                ("AssignCase", dpb.AssignCaseRequest(case_id=queued, department_id="roads", reason="协办",
                                                     assisting_department_ids=["housing"]))):
            code, details = t.code(method, req, sub="disp-1", roles=DISPATCHER)
            self.assertEqual(code, H.PRECONDITION, "%s: %s" % (method, details))
            self.assertIn("department_id", details)
        self.assertEqual(t.count("cases", "department_id = 'housing' AND id <> %s" % H.lit(plain)), 0)
        self.assertEqual(t.count("cases"), 3, "the refused calls wrote nothing")
        self.assertEqual(t.get(queued).status, H.PENDING)


if __name__ == "__main__":
    unittest.main()
