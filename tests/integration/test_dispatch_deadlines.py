"""test_dispatch_deadlines - working-time deadlines that warn and escalate exactly once (DESIGN R11, §5.3, §5.7).

A compressed calendar makes the accept deadline short: PutCalendar with every weekday 00:00-24:00
in UTC and PutSlaPolicy with accept_within = 1 working minute and warning_permille 500, so the
warning (预警) fires about 30 s and the overdue escalation (超期) about 60 s after assignment.
Four cases run side by side, their timers pending through one fault each:

1. no fault (the baseline);
2. Redis FLUSHALL (the timers vanish from Redis; dispatch notices its missing marker and re-seeds
   from PostgreSQL at once - the periodic re-seed, HOTLINE_TIMER_RESEED_MS, is 5 minutes and
   plays no part);
3. Redis restarted (scripts/stack restart-redis: an empty script cache, new connections);
4. dispatch killed with SIGKILL and started again.

Each fires exactly once, on time: the deadline row has warned_at at ~30 s and overdue_at at ~60 s
(never early), the notices table holds one warning per recipient (handler, department head) and
one overdue notice per recipient (and each supervisor), ListNotices shows them to each recipient,
the steps record one "warned" and one "escalated", the case is listed as overdue, and one
RecordViolation row to compliance waits in the outbox: compliance is stopped for this test, so
its attempts grow and it is never dead-lettered; once compliance is started again, each is
delivered and recorded there exactly once.
"""
import os
import time
import unittest

import dispatch_harness as H
from dispatch_harness import dpb, cpb

DUE_KEY = "hotline:{dispatch}:timers:due"
LOG = os.path.join(H.RUN, "logs", "dispatch.log")
WARN_S, DUE_S = 30.0, 60.0
LATE_S = 8.0  # how late a firing may be under the load of a shared CI machine


def reseeds():
    with open(LOG, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if "timers_reseeded" in line)


class DeadlineTest(unittest.TestCase):
    @classmethod
    def tearDownClass(cls):
        H.ht.stack("start-service", "compliance")
        H.reset_channels()

    @classmethod
    def setUpClass(cls):
        H.ht.stack("stop-service", "compliance")  # the violations wait for it (started again at the end)
        t = cls.t = H.Tenant("dl")
        t.dept("housing", head="head-h")
        t.staff("head-h", "housing")
        t.staff("h1", "housing")
        t.dept("office")
        t.staff("sup-1", "office", supervisor=True)
        t.staff("sup-2", "office", supervisor=True)
        t.staff("sup-old", "office", supervisor=True, active=False)
        t.rule("housing", position=1, categories=[cpb.CATEGORY_COMPLAINT])
        t.around_the_clock()
        p = t.sla(cpb.CATEGORY_COMPLAINT, accept=(1, dpb.DURATION_UNIT_WORKING_MINUTES),
                  complete=(600, dpb.DURATION_UNIT_WORKING_MINUTES), warning_permille=500)
        assert p.accept_within.unit == dpb.DURATION_UNIT_WORKING_MINUTES

    def submit(self):
        _, cid = self.t.submit(topic="超时测试")
        case = self.t.get(cid)
        self.assertEqual((case.status, case.handler_id), (H.ASSIGNED, "h1"))
        return cid

    def accept_deadline(self, cid):
        """(id, started, warn_at, due_at, warned_at, overdue_at) of the case's accept deadline, epoch seconds."""
        [row] = self.t.rows(
            "SELECT id, extract(epoch FROM started_at), extract(epoch FROM warn_at), extract(epoch FROM due_at), "
            "coalesce(extract(epoch FROM warned_at)::text, ''), coalesce(extract(epoch FROM overdue_at)::text, '') "
            "FROM dispatch.deadlines WHERE case_id = %s AND kind = 1" % H.lit(cid))
        return [row[0]] + [float(x) if x else None for x in row[1:]]

    def in_redis(self, deadline_id):
        return [m for m in (H.ht.redis("ZRANGE", DUE_KEY, 0, -1) or []) if deadline_id.encode() in m]

    def test_warning_and_overdue_fire_once_through_faults(self):
        t = self.t
        cases = {}
        cases["baseline"] = self.submit()
        cases["flushall"] = self.submit()
        dl2 = self.accept_deadline(cases["flushall"])[0]
        self.assertEqual(len(self.in_redis(dl2)), 2, "warn and due timers scheduled in Redis")
        seeded = reseeds()
        H.ht.redis("FLUSHALL")
        H.wait_for(lambda: len(self.in_redis(dl2)) == 2, timeout=10, interval=0.05,
                   what="the flushed timers re-seeded from PostgreSQL")
        self.assertGreater(reseeds(), seeded, "re-seeded because the marker was gone")

        cases["redis_restart"] = self.submit()
        H.ht.stack("restart-redis")

        cases["dispatch_kill"] = self.submit()
        H.ht.stack("kill-service", "dispatch")
        H.ht.stack("start-service", "dispatch")
        H.reset_channels()
        # every timer is still pending: nothing fired early through the faults
        for name, cid in cases.items():
            d = self.accept_deadline(cid)
            self.assertEqual(d[4:], [None, None], name)
            self.assertGreater(d[2], time.time(), "%s: the warning is still ahead" % name)

        last = self.accept_deadline(cases["dispatch_kill"])
        H.wait_for(lambda: all(self.accept_deadline(c)[5] for c in cases.values()),
                   timeout=last[3] - time.time() + LATE_S + 20, interval=1, what="every case overdue")

        ids = {}
        for name, cid in cases.items():
            did, started, warn_at, due_at, warned, overdue = self.accept_deadline(cid)
            ids[name] = did
            self.assertAlmostEqual(warn_at - started, WARN_S, delta=0.01, msg="%s: 50%% of one minute" % name)
            self.assertAlmostEqual(due_at - started, DUE_S, delta=0.01, msg=name)
            self.assertGreaterEqual(warned, warn_at - 0.05, "%s: warned, not early" % name)
            self.assertLess(warned, warn_at + LATE_S, "%s: warned at ~30 s (%.1f s)" % (name, warned - started))
            self.assertGreaterEqual(overdue, due_at - 0.05, "%s: overdue, not early" % name)
            self.assertLess(overdue, due_at + LATE_S, "%s: overdue at ~60 s (%.1f s)" % (name, overdue - started))
        time.sleep(3)  # any second firing would land now

        for name, cid in cases.items():
            got = t.rows("SELECT kind, recipient_id, count(*) FROM dispatch.notices WHERE case_id = %s "
                         "GROUP BY 1, 2 ORDER BY 1, 2" % H.lit(cid))
            self.assertEqual(got, [["1", "h1", "1"], ["1", "head-h", "1"], ["2", "h1", "1"], ["2", "head-h", "1"],
                                   ["2", "sup-1", "1"], ["2", "sup-2", "1"]], name)
            self.assertEqual(t.count("notices", "case_id = %s AND deadline_id = %s" % (H.lit(cid), H.lit(ids[name]))),
                             6, "%s: all of them notices of the accept deadline" % name)
            steps = [s.action for s in t.get(cid).steps]
            self.assertEqual((steps.count("warned"), steps.count("escalated")), (1, 1), "%s: %r" % (name, steps))
            timers = t.rows("SELECT timer_key, coalesce(outcome, 'pending') FROM dispatch.timers WHERE tenant_id = $T "
                            "AND subject_id = %s ORDER BY 1" % H.lit(ids[name]))
            self.assertEqual(timers, [["dl:%s:due:1" % ids[name], "fired"], ["dl:%s:warn:1" % ids[name], "fired"]])
            self.assertEqual(self.in_redis(ids[name]), [], "%s: nothing left in Redis" % name)
            case = t.get(cid)
            [accept] = [d for d in case.deadlines if d.kind == H.DL_ACCEPT]
            self.assertEqual((accept.overdue, accept.met), (True, False))
            events = t.rows("SELECT count(*) FILTER (WHERE method LIKE '%%RecordViolation'), count(*) FILTER "
                            "(WHERE target = 'reporting') FROM dispatch.outbox WHERE tenant_id = $T AND "
                            "subject_id = %s" % H.lit(case.ticket_id))
            self.assertEqual(events[0][0], "1", "%s: one violation for compliance" % name)

        # the recipients see them
        for who, roles, kinds in (("h1", ("handler",), [H.WARNING, H.OVERDUE]),
                                  ("head-h", ("dept_head",), [H.WARNING, H.OVERDUE]),
                                  ("sup-1", ("handler",), [H.OVERDUE])):
            mine = t.notices(sub=who, roles=roles)
            for name, cid in cases.items():
                self.assertEqual(sorted(n.kind for n in mine if n.case_id == cid), kinds, "%s, %s" % (who, name))
                for n in mine:
                    self.assertEqual((n.recipient_id, n.department_id, n.deadline_kind), (who, "housing", H.DL_ACCEPT))
        self.assertEqual(t.notices(sub="sup-old", roles=("supervisor",), recipient_id="sup-old"), [],
                         "inactive supervisors are not notified")
        overdue = {c.id for c in t.list(sub="disp-1", roles=("dispatcher",), overdue_only=True)}
        self.assertEqual(overdue, set(cases.values()))

        # the violations wait for compliance (stopped): retried, never dead-lettered
        def violations():
            return t.rows("SELECT sum(attempts), count(*) FILTER (WHERE dead_at IS NOT NULL OR delivered_at IS NOT "
                          "NULL), count(*) FILTER (WHERE last_error IS NULL), count(*) FROM dispatch.outbox WHERE "
                          "tenant_id = $T AND target = 'compliance'")[0]
        first = violations()
        self.assertEqual(first[1:], ["0", "0", "4"], "four waiting, each with its last error")
        H.wait_for(lambda: int(violations()[0]) > int(first[0]), timeout=70, interval=1,
                   what="more delivery attempts to compliance")
        self.assertEqual(violations()[1], "0", "never dead-lettered")

        # compliance comes back: each waiting violation is delivered and recorded there exactly once
        H.ht.stack("start-service", "compliance")
        H.reset_channels()
        H.wait_for(lambda: t.rows("SELECT count(*) FROM dispatch.outbox WHERE tenant_id = $T AND target = "
                                  "'compliance' AND delivered_at IS NOT NULL")[0][0] == "4", timeout=90, interval=1,
                   what="the four violations delivered")
        got = t.rows("SELECT subject_id, source, kind, department_id, person_id FROM compliance.violations "
                     "WHERE tenant_id = $T ORDER BY subject_id")
        self.assertEqual(sorted(r[0] for r in got), sorted(cases.values()))
        for r in got:
            self.assertEqual(r[1:], ["dispatch.case", "1", "housing", "h1"], "a late acceptance of h1 in housing")

        # an approved extension that moves the passed deadline into the future re-arms it
        cid = cases["baseline"]
        x = t.call("RequestExtension", dpb.RequestExtensionRequest(
            case_id=cid, deadline_kind=H.DL_ACCEPT, reason="需协调",
            extra=dpb.WorkingDuration(amount=10, unit=dpb.DURATION_UNIT_WORKING_MINUTES)),
            sub="h1", roles=("handler",)).extension
        t.call("DecideExtension", dpb.DecideExtensionRequest(extension_id=x.id, approve=True, opinion="同意"),
               sub="sup-1", roles=("supervisor",))
        did, started, warn_at, due_at, warned, overdue = self.accept_deadline(cid)
        self.assertAlmostEqual(due_at - started, DUE_S + 600, delta=0.01, msg="ten more working minutes")
        self.assertIsNone(overdue, "no longer overdue")
        self.assertAlmostEqual(warn_at - started, (DUE_S + 600) / 2, delta=0.01, msg="50% of eleven minutes")
        self.assertIsNone(warned, "the new warning instant is ahead too: warned again when it comes")
        [accept] = [d for d in t.get(cid).deadlines if d.kind == H.DL_ACCEPT]
        self.assertEqual((accept.overdue, accept.met), (False, False))
        timers = t.rows("SELECT timer_key, coalesce(outcome, 'pending') FROM dispatch.timers WHERE tenant_id = $T "
                        "AND subject_id = %s AND timer_key LIKE %s ORDER BY 1" % (H.lit(did), H.lit("%:2")))
        self.assertEqual(timers, [["dl:%s:due:2" % did, "pending"], ["dl:%s:warn:2" % did, "pending"]],
                         "new timers for the new instants")
        self.assertNotIn(cid, {c.id for c in t.list(sub="disp-1", roles=("dispatcher",), overdue_only=True)})


if __name__ == "__main__":
    unittest.main()
