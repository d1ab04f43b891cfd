"""test_followup_year - a year of follow-up visits on a compressed clock (R16-R17, DESIGN §5.3).

followup is restarted with HOTLINE_ENVIRONMENT=test and HOTLINE_FOLLOWUP_TEST_CLOCK
(anchor=<now>,scale=216000: one day of visits passes in 0.4 s, a year in about 2.5 minutes); the
service plans, dates and marks visits overdue on that clock, and its timers fire at the wall-clock
instant the clock shows the due time. The test computes the same clock and acts on it:

- "diligent" counterparts of levels 1/2/3 (two departments) have each visit recorded a day before
  it is due: over the year each has exactly 12 / 4 / 1 visits, all done, none overdue, and
  GetCoverage per department shows those figures exactly;
- "late" counterparts (one per level) are visited only when their overdue notice arrives: every
  one of their visits fires overdue once (overdue_at set, a notice to the owner and to the head of
  their department, a visit.overdue event, a MISSED_FOLLOW_UP violation row), and is then
  recorded; each next visit is due exactly `interval` after the previous one was done, so the
  visits come in order;
- Redis is flushed (FLUSHALL) in the middle of the year: no visit is lost, the late
  counterparts' timers keep firing;
- events: every visit planned and recorded has its visit.planned / visit.recorded row in the
  outbox with the right payload.

The clock is refused unless HOTLINE_ENVIRONMENT=test (checked by starting the binary with the
running service's environment plus the clock).
"""
import os
import subprocess
import time
import unittest

from google.protobuf import timestamp_pb2

import dispatch_harness as H
from hotline.followup.v1 import followup_pb2 as fpb
from hotline.reporting.v1 import reporting_pb2

FOLLOWUP = "hotline.followup.v1.FollowUpService"
DAY_S = 0.4                      # wall seconds per day of the visits' clock
SCALE = int(86400 / DAY_S)       # 216000
DAY_US = 86400 * 10**6
INTERVAL = {1: 30, 2: 90, 3: 365}
YEAR_DAYS = 366                  # a counterpart's year: 365 days after its registration, and a day's grace
EXPECTED = {1: 12, 2: 4, 3: 1}


def ts(us):
    t = timestamp_pb2.Timestamp()
    t.seconds, t.nanos = divmod(int(us), 10**6)
    t.nanos *= 1000
    return t


class Year:
    def __init__(self, anchor):
        self.anchor_us = anchor * 10**6
        self.t = H.Tenant("fy")

    def now_us(self):
        real = int(time.time() * 10**6)
        return self.anchor_us + (real - self.anchor_us) * SCALE

    def call(self, method, req, sub="admin-1", roles=("tenant_admin",), **claims):
        md = H.ht.auth(roles=list(roles), tenant=self.t.id, sub=sub, **claims)
        return H.ht.rpc(H.channel("followup"), FOLLOWUP, method, req, getattr(fpb, method + "Response"),
                        metadata=md, timeout=15)

    def put(self, cid, level, owner, dept):
        return self.call("PutCounterpart", fpb.PutCounterpartRequest(counterpart=fpb.Counterpart(
            id=cid, name="单位 " + cid, risk_level=level, owner_id=owner, department_id=dept, active=True)))

    def record(self, visit_id, sub):
        return self.call("RecordVisit", fpb.RecordVisitRequest(
            visit_id=visit_id, method=fpb.VISIT_METHOD_PHONE, evidence_ref="rec-" + visit_id[:8],
            answers=[fpb.VisitAnswer(question="经营是否正常", answer="正常")]), sub=sub, roles=("agent",))

    def planned(self):
        return list(self.call("ListVisits", fpb.ListVisitsRequest(status=fpb.VISIT_STATUS_PLANNED),
                              sub="sup-1", roles=("supervisor",)).visits)

    def rows(self, sql):
        return H.ht.psql(sql.replace("$T", H.lit(self.t.id)))


def running_env(service="followup"):
    """The environment of the running service process (its pid file under the run directory)."""
    with open(os.path.join(H.RUN, "pids", service + ".pid"), encoding="ascii") as f:
        pid = int(f.read().split()[0])
    with open("/proc/%d/environ" % pid, "rb") as f:
        pairs = [x.split(b"=", 1) for x in f.read().split(b"\0") if b"=" in x]
    return {k.decode(): v.decode() for k, v in pairs}


class ClockConfigTest(unittest.TestCase):
    def test_the_test_clock_is_refused_outside_test_environments(self):
        env = running_env()
        with open(os.path.join(H.RUN, "pids", "followup.pid"), encoding="ascii") as f:
            binary = os.readlink("/proc/%s/exe" % f.read().split()[0])
        base = int(H.ht.ENV["HOTLINE_BASE_PORT"])  # ports of our own range, never bound: start-up stops first
        env.update(HOTLINE_LISTEN="127.0.0.1:%d" % (base + 91), HOTLINE_OPS_LISTEN="127.0.0.1:%d" % (base + 92),
                   HOTLINE_FOLLOWUP_TEST_CLOCK="anchor=%d,scale=1000" % int(time.time()))
        env.pop("HOTLINE_ENVIRONMENT", None)
        out = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("HOTLINE_FOLLOWUP_TEST_CLOCK: refused unless HOTLINE_ENVIRONMENT=test", out.stderr)
        env["HOTLINE_ENVIRONMENT"] = "production"
        out = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0, "production refuses it too")
        env.update(HOTLINE_ENVIRONMENT="test", HOTLINE_FOLLOWUP_TEST_CLOCK="anchor=1,scale=1000")
        out = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("anchor must be within the last 30 days", out.stderr)


class YearTest(unittest.TestCase):
    def test_a_year_of_visits_by_risk_level(self):
        anchor = int(time.time()) + 10
        clock = ["HOTLINE_ENVIRONMENT=test", "HOTLINE_FOLLOWUP_TEST_CLOCK=anchor=%d,scale=%d" % (anchor, SCALE)]
        y = Year(anchor)
        with H.service_env("followup", clock):
            t0, end, stopped, diligent, late, seen = self.run_year(y)
        # followup is back on the wall clock: the visits' dates lie a year ahead, nothing more falls due
        self.check_diligent(y, t0, end, diligent)
        self.check_late(y, t0, end, stopped, late, seen)
        self.check_events(y)

    def run_year(self, y):
        diligent = {}
        late = {}
        t0 = y.now_us()
        y.regs = {}  # counterpart -> the clock before and after its registration (a call takes days of it)

        def register(cid, level, owner, dept):
            before = y.now_us()
            y.put(cid, level, owner, dept)
            y.regs[cid] = (before, y.now_us())

        for dept in ("east", "west"):
            for level in (1, 2, 3):
                cid = "d%d-%s" % (level, dept)
                register(cid, level, "owner-" + dept, dept)
                diligent[cid] = level
        for level in (1, 2, 3):
            cid = "late-%d" % level
            register(cid, level, "owner-late", "late")
            late[cid] = level
        # the year: from the first registration to a year and a day after the last
        end = max(after for _, after in y.regs.values()) + YEAR_DAYS * DAY_US
        stop_at = end + 3 * DAY_US
        flushed = False
        late_notices_seen = set()
        while y.now_us() < stop_at:
            now = y.now_us()
            if not flushed and now > t0 + 180 * DAY_US:
                H.ht.redis("FLUSHALL")
                flushed = True
            for v in y.planned():
                due = v.due_at.seconds * 10**6 + v.due_at.nanos // 1000
                if v.counterpart_id in diligent and now >= due - DAY_US:
                    y.record(v.id, "agent-d")
            for n in y.call("ListNotices", fpb.ListNoticesRequest(unacknowledged=True), sub="owner-late",
                            roles=("agent",)).notices:
                self.assertEqual((n.kind, n.subject_type, n.department_id),
                                 (fpb.NOTICE_KIND_VISIT_OVERDUE, "visit", "late"))
                y.record(n.subject_id, "owner-late")
                y.call("AcknowledgeNotice", fpb.AcknowledgeNoticeRequest(notice_id=n.id), sub="owner-late",
                       roles=("agent",))
                late_notices_seen.add(n.subject_id)
            time.sleep(0.05)
        self.assertTrue(flushed)
        return t0, end, y.now_us(), diligent, late, late_notices_seen

    def visits_of(self, y, cid):
        """(id, due_us, done_us, overdue_us) of a counterpart's visits, by due time."""
        return [tuple([r[0]] + [int(x) for x in r[1:]]) for r in y.rows(
            "SELECT id, " + ", ".join("COALESCE((extract(epoch FROM %s) * 1000000)::bigint, 0)" % c
                                      for c in ("due_at", "done_at", "overdue_at")) +
            " FROM followup.visits WHERE tenant_id = $T AND counterpart_id = %s ORDER BY due_at" % H.lit(cid))]

    def assert_in_order(self, visits, level):
        done = [v for v in visits if v[2]]
        for a, b in zip(done, visits[1:]):
            self.assertEqual(b[1], a[2] + INTERVAL[level] * DAY_US, "the next visit is planned from the last")
        self.assertEqual([v[2] for v in done], sorted(v[2] for v in done))

    def check_diligent(self, y, t0, end, diligent):
        for cid, level in diligent.items():
            visits = self.visits_of(y, cid)
            before, after = y.regs[cid]
            in_year = [v for v in visits if before <= v[1] < after + YEAR_DAYS * DAY_US]
            self.assertEqual(len(in_year), EXPECTED[level], "%s: visits in its year: %s (registered %s)"
                             % (cid, visits, y.regs[cid]))
            self.assertTrue(all(v[2] for v in in_year), "%s: each recorded" % cid)
            self.assert_in_order(visits, level)
        for dept in ("east", "west"):
            cov = y.call("GetCoverage", fpb.GetCoverageRequest(**{"from": ts(t0), "to": ts(end),
                                                                   "department_id": dept}),
                         sub="ana-1", roles=("analyst",))
            self.assertEqual([(x.risk_level, x.counterparts, x.planned, x.done, x.overdue) for x in cov.levels],
                             [(1, 1, 12, 12, 0), (2, 1, 4, 4, 0), (3, 1, 1, 1, 0)], dept)

    def check_late(self, y, t0, end, stopped, late, seen):
        overdue_total = 0
        for cid, level in late.items():
            visits = self.visits_of(y, cid)
            # those due early enough that the loop saw their notice before it stopped
            before, after = y.regs[cid]
            in_year = [v for v in visits if before <= v[1] < after + YEAR_DAYS * DAY_US and v[1] < stopped - 2 * DAY_US]
            self.assertGreaterEqual(len(in_year), {1: 9, 2: 3, 3: 1}[level], "%s: %s (registered %s, stopped %d)"
                                    % (cid, visits, y.regs[cid], stopped))
            for vid, due, done, overdue in in_year:
                self.assertTrue(overdue >= due, "%s: %s marked overdue at its due time" % (cid, vid))
                self.assertTrue(done > overdue, "%s: recorded after the notice" % cid)
                self.assertIn(vid, seen)
                notices = y.rows("SELECT recipient_id, recipient_role, department_id FROM followup.notices WHERE "
                                 "tenant_id = $T AND subject_id = %s ORDER BY recipient_role" % H.lit(vid))
                self.assertEqual(notices, [["owner-late", "", "late"], ["", "dept_head", "late"]])
            self.assert_in_order(visits, level)
            overdue_total += len(in_year)
        # the head of department "late" sees the notices of their department, acknowledged by the owner
        head = y.call("ListNotices", fpb.ListNoticesRequest(page_size=200), sub="head-late", roles=("dept_head",),
                      dept="late").notices
        self.assertGreaterEqual(len(head), overdue_total)
        self.assertTrue(all(n.recipient_role == "dept_head" and not n.acknowledged_by for n in head))
        other_head = y.call("ListNotices", fpb.ListNoticesRequest(), sub="head-east", roles=("dept_head",),
                            dept="east").notices
        self.assertEqual([n for n in other_head if n.due_at.seconds * 10**6 < end], [],
                         "no overdue visit in east during the year")
        self.assertGreaterEqual(int(y.rows("SELECT count(*) FROM followup.outbox WHERE tenant_id = $T AND "
                                           "target = 'compliance' AND method LIKE '%RecordViolation'")[0][0]),
                                overdue_total)

    def check_events(self, y):
        rows = y.rows("SELECT encode(payload, 'hex') FROM followup.outbox WHERE tenant_id = $T AND "
                      "target = 'reporting' ORDER BY id")
        # (the events one transaction queued for one ticket share a row)
        events = [e for r in rows for e in reporting_pb2.RecordEventsRequest.FromString(bytes.fromhex(r[0])).events]
        by_type = {}
        for e in events:
            by_type.setdefault(e.type, []).append(e)
        n_visits = int(y.rows("SELECT count(*) FROM followup.visits WHERE tenant_id = $T")[0][0])
        n_done = int(y.rows("SELECT count(*) FROM followup.visits WHERE tenant_id = $T AND done_at IS NOT NULL")[0][0])
        n_overdue = int(y.rows("SELECT count(*) FROM followup.visits WHERE tenant_id = $T AND "
                               "overdue_at IS NOT NULL")[0][0])
        self.assertEqual(len(by_type["visit.planned"]), n_visits)
        self.assertEqual(len(by_type["visit.recorded"]), n_done)
        self.assertEqual(len(by_type["visit.overdue"]), n_overdue)
        rec = by_type["visit.recorded"][0]
        self.assertEqual(rec.tenant, y.t.id)
        self.assertEqual(rec.WhichOneof("payload"), "visit_changed")
        p = rec.visit_changed
        self.assertTrue(p.visit_id and p.counterpart_id and p.department_id and p.risk_level in (1, 2, 3))
        self.assertEqual(p.method, fpb.VISIT_METHOD_PHONE)
        on_time = [e.visit_changed.on_time for e in by_type["visit.recorded"]]
        late = [e.visit_changed for e in by_type["visit.recorded"] if e.visit_changed.counterpart_id.startswith("late")]
        self.assertTrue(late and not any(x.on_time for x in late), "late visits are not on time")
        self.assertTrue(any(on_time))
        for e in by_type["visit.overdue"]:
            self.assertEqual(e.actor, "system:followup")
            if e.visit_changed.counterpart_id.startswith("late"):
                self.assertEqual((e.visit_changed.person_id, e.visit_changed.on_time), ("owner-late", False))


if __name__ == "__main__":
    unittest.main()
