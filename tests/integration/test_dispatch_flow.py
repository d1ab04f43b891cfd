"""test_dispatch_flow - tickets flow from intake to dispatch and their status back (DESIGN §4.1, §5.6).

Against the real stack, with intake and dispatch delivering to each other through their outboxes
(intake → dispatch SubmitTicket with intake's certificate; dispatch → intake UpdateTicketStatus):

- a ticket created at intake (CreateTicket) becomes a case at dispatch, routed by the tenant's
  rule into a handler's queue, with the ticket's number, category, topic and first-contact agent
  and no caller data; at intake its status becomes in_handling with dispatch's public note;
- dispatch is killed with SIGKILL while 500 tickets flow from intake, and started again: in the
  end there are exactly 500 cases (one lead case per ticket, counted as the superuser), none
  doubled, and every ticket shows in_handling at intake, within a bounded wait.
"""
import concurrent.futures
import sys
import threading
import time
import unittest
import uuid

import grpc

import dispatch_harness as H
from dispatch_harness import dpb, cpb, ipb
from hotline.batch.v1 import batch_pb2 as bpb
from hotline.reporting.v1 import reporting_pb2 as rpb

HANDLER = ("handler",)


def create_request(i, phone=None):
    return ipb.CreateTicketRequest(
        request_id=H.ht.request_id(), channel=cpb.CHANNEL_PHONE, category=cpb.CATEGORY_COMPLAINT,
        topic="噪音扰民 %d" % i, description="夜间施工，影响休息。", area="朝阳区",
        caller=ipb.Caller(name="张三", phone=phone or "138%08d" % i))


def zadd_calls():
    """How many ZADD commands the stack's Redis has run (INFO commandstats)."""
    stats = H.ht.redis("INFO", "commandstats").decode()
    line = [ln for ln in stats.splitlines() if ln.startswith("cmdstat_zadd:")]
    return int(line[0].split("calls=")[1].split(",")[0]) if line else 0


class FlowTest(unittest.TestCase):
    def setUp(self):
        t = self.t = H.Tenant("flow")
        t.dept("env", head="head-e")
        t.staff("head-e", "env")
        t.staff("e1", "env")
        t.staff("e2", "env")
        t.rule("env", position=1, topic=["噪音"])

    def create(self, req, sub="agent-1"):
        return H.ht.rpc(H.channel("intake"), H.INTAKE, "CreateTicket", req, ipb.CreateTicketResponse,
                        metadata=self.t.md(sub, ("agent",)), timeout=20).ticket

    def ticket(self, ticket_id):
        return H.ht.rpc(H.channel("intake"), H.INTAKE, "GetTicket", ipb.GetTicketRequest(id=ticket_id),
                        ipb.GetTicketResponse, metadata=self.t.md("agent-1", ("agent",))).ticket

    def test_ticket_reaches_a_handler_and_shows_in_handling(self):
        t = self.t
        tk = self.create(create_request(1, phone="13912345678"), sub="agent-5")
        self.assertEqual(tk.status, cpb.TICKET_STATUS_REGISTERED)
        cases = H.wait_for(lambda: t.list(sub="disp-1", roles=("dispatcher",), ticket_id=tk.id), timeout=30,
                           what="the case at dispatch")
        [case] = cases
        self.assertEqual((case.ticket_no, case.category, case.topic, case.area, case.registered_by),
                         (tk.ticket_no, cpb.CATEGORY_COMPLAINT, "噪音扰民 1", "朝阳区", "agent-5"))
        self.assertEqual((case.status, case.department_id, case.role), (H.ASSIGNED, "env", H.LEAD))
        self.assertIn(case.handler_id, ("e1", "e2"))
        queue = t.list(sub=case.handler_id, roles=HANDLER, handler_id=case.handler_id)
        self.assertEqual([c.id for c in queue], [case.id], "in the handler's queue")
        raw = t.rows("SELECT topic || description || area || registered_by FROM dispatch.cases WHERE tenant_id = $T")
        self.assertNotIn("13912345678", raw[0][0])
        self.assertNotIn("张三", raw[0][0], "no caller data at dispatch")

        tk = H.wait_for(lambda: (lambda x: x if x.status == cpb.TICKET_STATUS_IN_HANDLING else None)(
            self.ticket(tk.id)), timeout=30, what="in_handling at intake")
        self.assertIn("已受理，正在办理", [n.text for n in tk.public_notes], "dispatch's public note")
        delivered = t.rows("SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL), count(*) FROM dispatch.outbox "
                           "WHERE tenant_id = $T AND target = 'intake'")
        self.assertEqual(delivered, [["1", "1"]], "one status update, delivered")

        # the events dispatch queued for the ticket in one transaction went as one outbox row: one
        # RecordEvents request with all of them in order, keyed by the first, all recorded at reporting
        [(key, payload)] = t.rows("SELECT idempotency_key, encode(payload, 'hex') FROM dispatch.outbox "
                                  "WHERE tenant_id = $T AND target = 'reporting' AND subject_id = %s" % H.lit(tk.id))
        events = rpb.RecordEventsRequest.FromString(bytes.fromhex(payload)).events
        self.assertEqual([e.type for e in events], ["case.deadline_set", "case.deadline_set", "case.assigned"])
        self.assertEqual(key, events[0].event_id)
        self.assertEqual({e.ticket_id for e in events}, {tk.id})
        ids = ",".join(H.lit(e.event_id) for e in events)
        H.wait_for(lambda: t.rows("SELECT count(*) FROM reporting.events WHERE tenant_id = $T AND event_id IN (%s)"
                                  % ids) == [["3"]], timeout=30, what="the three events at reporting")

    def test_a_case_outlives_its_steps_and_deadlines(self):
        """Steps and deadlines name their case without a foreign key (004_hot_path_foreign_keys.sql):
        the routing path writes them with the case, and no role can take a case away, neither the
        runtime role nor the schema's owner, by DELETE or TRUNCATE."""
        t = self.t
        tid, cid = t.submit(topic="噪音 扰民")
        self.assertGreaterEqual(t.count("case_steps", "case_id = %s" % H.lit(cid)), 1)
        self.assertEqual(t.count("deadlines", "case_id = %s" % H.lit(cid)), 2, "accept and complete")
        orphans = t.rows("SELECT count(*) FROM (SELECT case_id FROM dispatch.case_steps WHERE tenant_id = $T UNION ALL "
                         "SELECT case_id FROM dispatch.deadlines WHERE tenant_id = $T) r WHERE NOT EXISTS "
                         "(SELECT 1 FROM dispatch.cases c WHERE c.tenant_id = $T AND c.id = r.case_id)")
        self.assertEqual(orphans, [["0"]])
        scope = "SELECT set_config('hotline.tenant', %s, false); " % H.lit(t.id)
        runtime, owner = H.ht.ENV["HOTLINE_DISPATCH_DSN"], H.ht.ENV["HOTLINE_DISPATCH_OWNER_DSN"]
        for dsn, sql, why in ((runtime, "DELETE FROM dispatch.cases WHERE id = %s" % H.lit(cid), "permission denied"),
                              (runtime, "TRUNCATE dispatch.cases CASCADE", "permission denied"),
                              (owner, "DELETE FROM dispatch.cases WHERE id = %s" % H.lit(cid), "append-only"),
                              (owner, "TRUNCATE dispatch.cases CASCADE", "append-only")):
            with self.subTest(sql=sql, role=dsn.split(":")[1].lstrip("/")):
                with self.assertRaisesRegex(RuntimeError, why):
                    H.ht.psql(scope + sql, dsn=dsn)
        self.assertEqual(t.count("cases", "id = %s" % H.lit(cid)), 1)

    def test_a_report_registered_at_intake_keeps_away_from_the_department_it_implicates(self):
        t = self.t
        t.dept("audit", head="head-a")
        t.staff("a1", "audit")
        req = create_request(2)
        req.category = cpb.CATEGORY_REPORT
        req.implicated_department_ids.append("env")  # the rule sends 噪音 to env
        tk = self.create(req)
        [case] = H.wait_for(lambda: t.list(sub="disp-1", roles=("dispatcher",), ticket_id=tk.id), timeout=30,
                            what="the report's case at dispatch")
        self.assertNotEqual(case.department_id, "env", "never routed to the implicated department")
        self.assertEqual(case.status, H.PENDING, "the only matching rule is excluded: dispatcher queue")
        for sub, roles in (("e1", HANDLER), ("head-e", ("dept_head",))):
            self.assertEqual(t.list(sub=sub, roles=roles, ticket_id=tk.id), [], sub)
            code, _ = H.ht.code_of(t.get, case.id, sub=sub, roles=roles)
            self.assertEqual(code, H.NOT_FOUND, sub)
        code, _ = H.ht.code_of(t.call, "AssignCase", dpb.AssignCaseRequest(
            case_id=case.id, department_id="env", reason="试图指派"), sub="disp-1", roles=("dispatcher",))
        self.assertEqual(code, H.PRECONDITION, "nor assigned there by hand")
        got = t.call("AssignCase", dpb.AssignCaseRequest(case_id=case.id, department_id="audit", reason="纪检办理"),
                     sub="disp-1", roles=("dispatcher",)).case
        self.assertEqual(got.department_id, "audit", "control: another department takes it")

    def test_submit_ticket_is_idempotent_even_when_deliveries_race(self):
        t = self.t
        tid, cid = t.submit(topic="噪音 重复投递")
        self.assertEqual(t.submit(topic="噪音 重复投递", ticket_id=tid)[1], cid, "a redelivery (same key)")
        self.assertEqual(t.submit(topic="噪音 重复投递", ticket_id=tid, idem="another-key")[1], cid,
                         "the same ticket under another key")
        for round_ in range(5):  # deliveries that race each other (a relay retrying after a timeout)
            tid = str(uuid.uuid4())

            def deliver(i):
                try:
                    return t.submit(topic="噪音 并发投递", ticket_id=tid, idem=tid + (":submit" if i % 2 else ":other"))[1]
                except grpc.RpcError as e:
                    return "%s %s" % (e.code(), e.details())
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                answers = list(ex.map(deliver, range(8)))
            [[only]] = t.rows("SELECT id FROM dispatch.cases WHERE tenant_id = $T AND ticket_id = %s" % H.lit(tid))
            self.assertEqual(answers, [only] * 8, "every delivery answers with the one case")
        self.assertEqual(t.count("cases"), 6)
        self.assertEqual(t.count("case_steps", "action = 'created'"), 6)
        staff = {s.id: s.open_cases for s in t.call("ListStaff", dpb.ListStaffRequest()).staff}
        self.assertEqual(staff["e1"] + staff["e2"], 6, "the load counts each case once")

    def test_a_batch_of_submissions_finds_the_cases_there_are(self):
        """SubmitTicket items of one BatchService/Apply call (as intake's relay sends them): their
        tickets are locked and looked up together (hl_method.prefetch), a ticket that has its case
        answers with it and writes nothing, and the new ones land in the batch's one transaction;
        a ticket twice in one batch still gets one case."""
        t = self.t
        old, cid = t.submit(topic="噪音 已有")

        def item(tid, key):
            req = dpb.SubmitTicketRequest(ticket_id=tid, ticket_no="T" + uuid.uuid4().hex[:12],
                                          channel=cpb.CHANNEL_PHONE, category=cpb.CATEGORY_COMPLAINT,
                                          topic="噪音 批量", area="海淀区", priority=cpb.PRIORITY_GENERAL,
                                          registered_by="agent-1")
            return bpb.Item(method="/%s/SubmitTicket" % H.DISPATCH, payload=req.SerializeToString(),
                            idempotency_key=key, actor="agent-1")

        def apply(items):
            results = H.ht.rpc(H.channel("dispatch", "intake"), "hotline.batch.v1.BatchService", "Apply",
                               bpb.ApplyRequest(items=items), bpb.ApplyResponse,
                               metadata=[("x-tenant-id", t.id)]).results
            self.assertEqual([r.code for r in results], [0] * len(items), [r.message for r in results])
            return [dpb.SubmitTicketResponse.FromString(r.payload).case_id for r in results]

        # 40 new cases in one transaction, each appended to twice: each case's second entry
        # ("assigned") must chain from its first ("created"). (With 32 kept heads this batch
        # overflowed them; the audit now keeps 256, a full batch's worth, so it no longer does.)
        new = [str(uuid.uuid4()) for _ in range(40)]
        zadds = zadd_calls()
        answers = apply([item(new[0], new[0] + ":submit"), item(old, old + ":other")] +
                        [item(tid, tid + ":submit") for tid in new[1:]])
        # the new cases' deadline timers go to Redis after the COMMIT in one round trip
        # (hl_call_push_timers_of), not one ZADD each; a timer of another test may add one
        self.assertLessEqual(zadd_calls() - zadds, 2, "ZADD calls for the batch's timers")
        due = H.ht.redis("ZRANGE", "hotline:{dispatch}:timers:due", 0, -1)
        self.assertGreaterEqual(len([m for m in due if m.decode().startswith(t.id + "|")]), 40,
                                "every new case's timers are due in Redis")
        self.assertEqual(answers[1], cid, "the ticket that has its case answers with it")
        rows = t.rows("SELECT ticket_id::text, id::text, xmin::text FROM dispatch.cases WHERE tenant_id = $T")
        got = {r[0]: r[1] for r in rows}
        self.assertEqual(got, dict([(old, cid), (new[0], answers[0])] + list(zip(new[1:], answers[2:]))))
        self.assertEqual(len({r[2] for r in rows if r[0] != old}), 1, "the new cases in one transaction")
        self.assertEqual(t.count("case_steps", "action = 'created'"), 41, "nothing written for the old ticket")
        chains = t.rows("SELECT subject_id, string_agg(seq::text, ',' ORDER BY seq) FROM dispatch.audit_log "
                        "WHERE tenant_id = $T AND subject_type = 'case' GROUP BY subject_id")
        self.assertEqual(len(chains), 41)
        self.assertEqual({c[1] for c in chains}, {"1,2"}, "created, then assigned, on every case's chain")

        twice = str(uuid.uuid4())
        answers = apply([item(twice, twice + ":submit"), item(twice, twice + ":other")])
        self.assertEqual(len(set(answers)), 1, "both keys answer with the one case")
        self.assertEqual(t.count("cases", "ticket_id = '%s'" % twice), 1)
        staff = {s.id: s.open_cases for s in t.call("ListStaff", dpb.ListStaffRequest()).staff}
        self.assertEqual(staff["e1"] + staff["e2"], 42, "the load counts each case once")

    def test_kill_dispatch_while_500_tickets_flow(self):
        t = self.t
        total = 500
        ids, errors = [], []
        lock = threading.Lock()

        def create(i):
            try:
                tk = self.create(create_request(i))
                with lock:
                    ids.append(tk.id)
            except Exception as e:  # noqa: BLE001 - counted and reported below
                with lock:
                    errors.append(repr(e))
            time.sleep(0.01)  # keep the flow going for a few seconds

        started = time.time()
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            futures = [ex.submit(create, i) for i in range(total)]
            H.wait_for(lambda: t.count("cases") >= 50, timeout=60, interval=0.05, what="the first cases at dispatch")
            H.ht.stack("kill-service", "dispatch")
            at_kill = t.count("cases")
            time.sleep(1.0)
            H.ht.stack("start-service", "dispatch")
            H.reset_channels()
            concurrent.futures.wait(futures)
        created = time.time()
        self.assertEqual(errors, [], "intake kept registering while dispatch was down")
        self.assertEqual(len(set(ids)), total)
        self.assertLess(at_kill, total, "killed while tickets were still flowing (%d cases at the kill)" % at_kill)

        H.wait_for(lambda: t.count("cases") >= total, timeout=180, interval=1, what="500 cases at dispatch")
        H.wait_for(lambda: H.sql_count("SELECT count(*) FROM intake.tickets WHERE tenant_id = %s AND status = %d" % (
            H.lit(t.id), cpb.TICKET_STATUS_IN_HANDLING)) == total, timeout=180, interval=1,
            what="500 tickets in_handling at intake")
        done = time.time()
        time.sleep(2)  # a late redelivery would show now
        [[cases, leads, tickets]] = t.rows("SELECT count(*), count(*) FILTER (WHERE role = 1), "
                                           "count(DISTINCT ticket_id) FROM dispatch.cases WHERE tenant_id = $T")
        self.assertEqual((int(cases), int(leads), int(tickets)), (total, total, total), "exactly one case per ticket")
        got = {r[0] for r in t.rows("SELECT ticket_id FROM dispatch.cases WHERE tenant_id = $T")}
        self.assertEqual(got, set(ids), "the cases are the tickets intake registered")
        self.assertEqual(t.count("case_steps", "action = 'created'"), total, "each created once")
        self.assertEqual(H.sql_count("SELECT count(*) FROM intake.tickets WHERE tenant_id = %s" % H.lit(t.id)), total)
        self.assertEqual(H.sql_count("SELECT count(*) FROM intake.outbox WHERE tenant_id = %s AND target = 'dispatch' "
                                     "AND (delivered_at IS NULL OR dead_at IS NOT NULL)" % H.lit(t.id)), 0,
                         "every SubmitTicket delivered, none dead")
        staff = {s.id: s.open_cases for s in t.call("ListStaff", dpb.ListStaffRequest()).staff}
        self.assertEqual(staff["e1"] + staff["e2"], total, "every case counted once in the handlers' load")
        self.assertEqual(staff["head-e"], 0)
        print("\n500 tickets: created in %.1f s, %d cases at the kill, all in_handling %.1f s after the start"
              % (created - started, at_kill, done - started), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
