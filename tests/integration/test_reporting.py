"""test_reporting - the reporting service (R23-R27, docs/reporting.md) against the real stack.

- events end to end: a ticket created at intake and routed by dispatch reaches the ledger through
  both outboxes;
- RecordEvents is for services only, idempotent per delivery and per event id; the same events in
  reverse order give the same facts; bad events are INVALID_ARGUMENT and write nothing;
- the ledger's filters and keyset pages; the CSV export (BOM, header, every row, more rows than one
  page of the store) over a server stream;
- the daily report: frozen once, its SHA-256 and Ed25519 signature verified with python3-cryptography
  against the key file, a late event listed as a correction in the next day's report while the past
  report stays byte-identical;
- KPIs exact on a known data set, the group view of an HQ principal, the public disclosure's
  suppression of cells under 5, tenant isolation.
"""
import csv
import hashlib
import io
import os
import subprocess
import time
import unittest
import uuid

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import dispatch_harness as H
import hotline_test as ht
from hotline.common.v1 import common_pb2 as cpb
from hotline.intake.v1 import intake_pb2 as ipb
from hotline.reporting.v1 import reporting_pb2 as rpb

REPORTING = "hotline.reporting.v1.ReportingService"
ANALYST = ("analyst",)
INVALID = grpc.StatusCode.INVALID_ARGUMENT
DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
_ch = {}


def chan(cert="client", service="reporting"):
    if (cert, service) not in _ch:
        _ch[(cert, service)] = ht.channel(service, cert)
    return _ch[(cert, service)]


def ts(s):
    t = Timestamp()
    t.FromJsonString(s)
    return t


def ev(type_, ticket="", at="2026-02-01T10:00:00Z", version=1, **payload):
    e = cpb.Event(event_id=str(uuid.uuid4()), type=type_, ticket_id=ticket, occurred_at=ts(at), actor="tester",
                  version=version)
    for k, v in payload.items():
        getattr(e, k).CopyFrom(v)
    return e


def registered(ticket, at, no=None, category=cpb.CATEGORY_COMPLAINT, channel=cpb.CHANNEL_PHONE, on_spot=False,
               topic="噪音"):
    return ev("ticket.answered_on_spot" if on_spot else "ticket.registered", ticket, at,
              ticket_registered=cpb.TicketRegistered(ticket_no=no or ticket[:8], channel=channel, category=category,
                                                     priority=cpb.PRIORITY_GENERAL, topic=topic, area="朝阳区"))


def case(type_, ticket, at, dept="dept-a", handler="h1", basis=1, kind=0, due=None, lead=True):
    p = cpb.CaseChanged(case_id=ticket, department_id=dept, handler_id=handler, basis_kind=basis, deadline_kind=kind,
                        lead=lead, category=cpb.CATEGORY_COMPLAINT)
    if due:
        p.due_at.CopyFrom(ts(due))
    return ev(type_, ticket, at, case_changed=p)


def reply(ticket, at, satisfaction):
    return ev("reply.recorded", ticket, at, reply_changed=cpb.ReplyChanged(case_id=ticket, outcome=1,
                                                                          satisfaction=satisfaction))


def visit(type_, vid, at, due=None, problem=False, person="p1", dept="dept-a"):
    p = cpb.VisitChanged(visit_id=vid, department_id=dept, person_id=person, problem_found=problem, on_time=True)
    if due:
        p.due_at.CopyFrom(ts(due))
    return ev(type_, "", at, visit_changed=p)


def compliance(type_, sid, at, on_time=False, dept="dept-a"):
    return ev(type_, "", at, compliance_changed=cpb.ComplianceChanged(subject_id=sid, department_id=dept,
                                                                      person_id="p1", on_time=on_time))


class Tenant:
    def __init__(self, prefix="r"):
        self.id = ht.new_tenant(prefix)

    def md(self, roles=ANALYST, sub="analyst-1", **claims):
        return ht.auth(roles=list(roles), tenant=self.id, sub=sub, **claims)

    def record(self, events, cert="dispatch", idem=None, tenant=None):
        md = [("x-tenant-id", tenant or self.id), ("x-actor", "system:test")]
        if idem:
            md.append(("idempotency-key", idem))
        return ht.rpc(chan(cert), REPORTING, "RecordEvents", rpb.RecordEventsRequest(events=events),
                      rpb.RecordEventsResponse, metadata=md, timeout=30)

    def call(self, method, req, roles=ANALYST, md=None, **claims):
        return ht.rpc(chan(), REPORTING, method, req, getattr(rpb, method + "Response"),
                      metadata=md or self.md(roles, **claims), timeout=60)

    def code(self, method, req, roles=ANALYST, md=None, **claims):
        return ht.code_of(self.call, method, req, roles=roles, md=md, **claims)

    def utc(self):
        self.call("PutReportSettings", rpb.PutReportSettingsRequest(
            settings=rpb.ReportSettings(zone="UTC", cutoff_minutes=1440)), roles=("tenant_admin",))

    def ledger(self, **filt):
        size = filt.pop("page_size", 0)
        token = filt.pop("page_token", "")
        return self.call("GetLedger", rpb.GetLedgerRequest(filter=rpb.LedgerFilter(**filt), page_size=size,
                                                           page_token=token))

    def export(self, bom=False, **filt):
        f = chan().unary_stream("/%s/ExportLedger" % REPORTING, request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=rpb.ExportLedgerResponse.FromString)
        chunks = list(f(rpb.ExportLedgerRequest(filter=rpb.LedgerFilter(**filt), bom=bom), metadata=self.md(),
                        timeout=60))
        return chunks

    def count(self, table, where="true"):
        return int(ht.psql("SELECT count(*) FROM reporting.%s WHERE tenant_id = '%s' AND (%s)"
                           % (table, self.id, where))[0][0])


def kpis_of(row):
    return {k.name: (k.numerator, k.denominator) for k in row.kpis}


class EventsTest(unittest.TestCase):
    def test_end_to_end_from_intake_and_dispatch(self):
        t = Tenant("re")
        created = ht.rpc(chan("client", "intake"), "hotline.intake.v1.IntakeService", "CreateTicket",
                         ipb.CreateTicketRequest(request_id=ht.request_id(), channel=cpb.CHANNEL_WEB,
                                                 category=cpb.CATEGORY_SUGGESTION, topic="增加公交班次",
                                                 description="早高峰公交太挤", area="海淀区", anonymous=True),
                         ipb.CreateTicketResponse, metadata=t.md(("agent",), sub="agent-9")).ticket

        def row():
            rows = t.ledger(ticket_no=created.ticket_no).rows
            return rows[0] if rows and rows[0].status == cpb.TICKET_STATUS_IN_HANDLING else None
        ht.wait_for(row, timeout=60, what="the ticket in the ledger, in handling (intake + dispatch events)")
        r = row()
        self.assertEqual((r.ticket_id, r.channel, r.category, r.topic, r.area),
                         (created.id, cpb.CHANNEL_WEB, cpb.CATEGORY_SUGGESTION, "增加公交班次", "海淀区"))
        self.assertGreaterEqual(r.events, 2)
        sources = {s for (s,) in ht.psql("SELECT DISTINCT source FROM reporting.events WHERE tenant_id = '%s'" % t.id)}
        self.assertEqual(sources, {"intake", "dispatch"})
        self.assertGreater(t.count("events"), 0)
        # the store is a record: the database refuses changes to it
        with self.assertRaises(RuntimeError):
            ht.psql("DELETE FROM reporting.events WHERE tenant_id = '%s'" % t.id)

    def test_idempotent_and_out_of_order(self):
        a, b = Tenant("ro"), Tenant("ro")
        tid = str(uuid.uuid4())
        evs = [registered(tid, "2026-02-01T10:00:00Z", no="N1"),
               case("case.deadline_set", tid, "2026-02-01T10:05:00Z", kind=2, due="2026-02-05T10:00:00Z"),
               case("case.assigned", tid, "2026-02-01T10:05:00Z"),
               case("case.accepted", tid, "2026-02-01T11:00:00Z"),
               case("case.assigned", tid, "2026-02-01T12:00:00Z", dept="dept-b", handler="h2", basis=4),
               case("case.result_approved", tid, "2026-02-03T10:00:00Z", dept="dept-b", handler="h2"),
               ev("ticket.status_changed", tid, "2026-02-04T10:00:00Z", ticket_status_changed=cpb.TicketStatusChanged(
                   status=cpb.TICKET_STATUS_CLOSED, status_version=5)),
               ev("ticket.status_changed", tid, "2026-02-03T10:00:00Z", ticket_status_changed=cpb.TicketStatusChanged(
                   status=cpb.TICKET_STATUS_REPLIED, status_version=4)),
               reply(tid, "2026-02-03T12:00:00Z", 1)]
        for e in evs:
            self.assertEqual(a.record([e], idem=e.event_id).accepted, 1)
        for e in reversed(evs):
            b.record([e], idem=e.event_id)
        # a repeated delivery (same key) and the same events in another delivery change nothing
        self.assertEqual(a.record([evs[0]], idem=evs[0].event_id).accepted, 1, "the first answer, replayed")
        self.assertEqual(a.record(evs, idem="again-" + tid).accepted, 0)
        self.assertEqual(a.count("events"), len(evs))
        ra, rb = a.ledger().rows[0], b.ledger().rows[0]
        self.assertEqual(ra, rb, "the same facts whatever the order")
        self.assertEqual((ra.department_id, ra.handler_id, ra.transfers, ra.status, ra.on_time, ra.satisfaction,
                          ra.events), ("dept-b", "h2", 1, cpb.TICKET_STATUS_CLOSED, True, 1, len(evs)))
        self.assertEqual(ra.closed_at.ToJsonString(), "2026-02-04T10:00:00Z")

    def test_one_call_of_many_tickets_and_subjects(self):
        """A call's events go in as one set: each ticket and subject is folded from all of its own events
        (the ones stored before and the new ones), an event repeated in the call is stored once, and
        events already stored are not counted again."""
        a = Tenant("rs")
        t1, t2, t3 = (str(uuid.uuid4()) for _ in range(3))
        first = registered(t1, "2026-02-01T10:00:00Z", no="N1")
        self.assertEqual(a.record([first], idem="one-" + t1).accepted, 1)
        again = case("case.assigned", t2, "2026-02-01T10:06:00Z", dept="dept-b", handler="h2")
        evs = [first,
               case("case.assigned", t1, "2026-02-01T10:05:00Z"),
               registered(t2, "2026-02-01T10:01:00Z", no="N2"),
               again, again,
               registered(t3, "2026-02-01T10:02:00Z", no="N3"),
               visit("visit.planned", "v-" + t1, "2026-02-01T10:00:00Z", due="2026-02-10T00:00:00Z"),
               visit("visit.recorded", "v-" + t1, "2026-02-02T10:00:00Z", problem=True),
               compliance("risk_event.opened", "r-" + t1, "2026-02-01T10:00:00Z")]
        self.assertEqual(a.record(evs, idem="many-" + t1).accepted, 7, "the stored one and the repeat not counted")
        self.assertEqual(a.count("events"), 8)
        facts = {r[0]: r[1:] for r in ht.psql(
            "SELECT ticket_no, department_id, handler_id, events FROM reporting.ticket_facts WHERE tenant_id = '%s'"
            % a.id)}
        self.assertEqual(facts, {"N1": ["dept-a", "h1", "2"], "N2": ["dept-b", "h2", "2"], "N3": ["", "", "1"]})
        subjects = {r[0]: r[1:] for r in ht.psql(
            "SELECT subject_id, kind, problem_found, events FROM reporting.subject_facts WHERE tenant_id = '%s'"
            % a.id)}
        self.assertEqual(subjects, {"v-" + t1: ["visit", "t", "2"], "r-" + t1: ["risk_event", "f", "1"]})

    def test_ticket_events_stay_out_of_the_subject_index(self):
        """A ticket's events are read by ticket, so the subject index holds only the events whose subject
        is not their ticket (003_events_subject.sql); the subjects still fold from all of their events
        (test_one_call_of_many_tickets_and_subjects)."""
        (d,) = ht.psql("SELECT indexdef FROM pg_indexes WHERE schemaname = 'reporting' "
                       "AND indexname = 'events_subject'")[0]
        self.assertTrue(d.endswith("(tenant_id, subject_id) WHERE (subject_id <> ticket_id)"), d)

    def test_bad_events_write_nothing(self):
        t = Tenant("rb")
        good = registered(str(uuid.uuid4()), "2026-02-01T10:00:00Z")
        bad_id = registered(str(uuid.uuid4()), "2026-02-01T10:00:00Z")
        bad_id.event_id = "not-a-uuid"
        wrong_payload = case("ticket.registered", str(uuid.uuid4()), "2026-02-01T10:00:00Z")
        other_tenant = registered(str(uuid.uuid4()), "2026-02-01T10:00:00Z")
        other_tenant.tenant = "someone-else"
        no_time = registered(str(uuid.uuid4()), "2026-02-01T10:00:00Z")
        no_time.ClearField("occurred_at")
        for bad, field in ((bad_id, "event_id"), (wrong_payload, "payload"), (other_tenant, "tenant"),
                           (no_time, "occurred_at")):
            code, msg = ht.code_of(t.record, [good, bad])
            self.assertEqual(code, INVALID, field)
            self.assertIn("events[1].%s" % field, msg)
        self.assertEqual(ht.code_of(t.record, [])[0], INVALID)
        self.assertEqual(ht.code_of(t.record, [good], cert="client")[0], DENIED, "a client certificate is refused")
        self.assertEqual(t.count("events"), 0)
        self.assertEqual(t.count("ticket_facts"), 0)


    def test_a_tenants_outbox_events_go_in_one_call_and_a_bad_one_alone(self):
        """The relay sends the events to reporting of one tenant that it claims together as one
        RecordEvents call (applied in one transaction); when reporting refuses that call for good, the
        rows go again one by one, so only the bad one is dead-lettered."""
        t = Tenant("rm")

        def enqueue(events):  # one statement: the relay claims the rows together
            ht.psql("INSERT INTO intake.outbox (tenant_id, subject_id, target, method, idempotency_key, actor, "
                    "payload) VALUES " + ",".join(
                        "('%s', '%s', 'reporting', '/hotline.reporting.v1.ReportingService/RecordEvents', '%s', "
                        "'system:test', decode('%s', 'hex'))"
                        % (t.id, e.ticket_id, e.event_id, rpb.RecordEventsRequest(events=[e]).SerializeToString().hex())
                        for e in events))

        def settled(delivered, dead):
            return lambda: ht.psql(
                "SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL), count(*) FILTER (WHERE dead_at IS NOT NULL) "
                "FROM intake.outbox WHERE tenant_id = '%s'" % t.id)[0] == [str(delivered), str(dead)]

        first = [registered(str(uuid.uuid4()), "2026-02-01T10:00:00Z") for _ in range(12)]
        enqueue(first)
        ht.wait_for(settled(12, 0), timeout=60, what="12 rows delivered")
        self.assertEqual(t.count("events"), 12)
        self.assertGreaterEqual(t.count("inbox", "idempotency_key LIKE 'merged-%'"), 1, "rows went in merged calls")
        self.assertLess(t.count("inbox"), 12, "fewer calls than rows")

        second = [registered(str(uuid.uuid4()), "2026-02-01T10:00:00Z") for _ in range(5)]
        bad = registered(str(uuid.uuid4()), "2026-02-01T10:00:00Z")
        bad.type = "NOT A TYPE"
        enqueue(second + [bad])
        ht.wait_for(settled(17, 1), timeout=60, what="5 more rows delivered and the bad one dead-lettered")
        dead = ht.psql("SELECT idempotency_key, last_error FROM intake.outbox WHERE tenant_id = '%s' AND dead_at IS "
                       "NOT NULL" % t.id)
        self.assertEqual(dead[0][0], bad.event_id)
        self.assertIn("INVALID_ARGUMENT", dead[0][1])
        self.assertEqual({r[0] for r in ht.psql("SELECT event_id FROM reporting.events WHERE tenant_id = '%s'" % t.id)},
                         {e.event_id for e in first + second})
        self.assertEqual(t.count("events", "actor = 'tester'"), 17, "each event keeps its own actor")


class LedgerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = Tenant("rl")
        cls.t.utc()
        evs = []
        for i in range(1205):
            tid = "%08d-0000-4000-8000-%012d" % (i, i)
            cat = cpb.CATEGORY_COMPLAINT if i % 3 else cpb.CATEGORY_CONSULTATION
            day = 1 + i % 5
            evs.append(registered(tid, "2026-03-%02dT08:%02d:%02dZ" % (day, (i // 60) % 60, i % 60), no="L%05d" % i,
                                  category=cat, topic="=SUM(A1)" if i == 7 else "主题,%d" % i))
        for k in range(0, len(evs), 500):
            cls.t.record(evs[k:k + 500])

    def test_filters_and_pages(self):
        t = self.t
        self.assertEqual(len(t.ledger(page_size=500).rows), 500)
        seen, token = [], ""
        while True:
            page = t.ledger(from_date="2026-03-02", to_date="2026-03-02", category=cpb.CATEGORY_CONSULTATION,
                            page_size=30, page_token=token)
            seen += [r.ticket_no for r in page.rows]
            token = page.next_page_token
            if not token:
                break
        want = ["L%05d" % i for i in range(1205) if i % 5 == 1 and i % 3 == 0]
        self.assertEqual(sorted(seen), sorted(want))
        self.assertEqual(len(seen), len(set(seen)), "no row twice across pages")
        self.assertEqual([r.ticket_no for r in t.ledger(ticket_no="L00042").rows], ["L00042"])
        self.assertEqual(t.code("GetLedger", rpb.GetLedgerRequest(page_size=501))[0], INVALID)
        self.assertEqual(t.code("GetLedger", rpb.GetLedgerRequest(page_token="x"))[0], INVALID)
        self.assertEqual(t.code("GetLedger", rpb.GetLedgerRequest(filter=rpb.LedgerFilter(from_date="2026-13-01")))[0],
                         INVALID)
        self.assertEqual(t.code("GetLedger", rpb.GetLedgerRequest(), roles=("agent",))[0], DENIED)
        # another tenant sees none of it
        self.assertEqual(len(Tenant("rl").ledger().rows), 0)

    def exports_audited(self):
        return int(ht.psql("SELECT count(*) FROM reporting.audit_log WHERE tenant_id = '%s' AND action = "
                           "'ledger.exported'" % self.t.id)[0][0])

    def test_export_csv(self):
        audited = self.exports_audited()
        chunks = self.t.export(bom=True)
        data = b"".join(c.chunk for c in chunks)
        self.assertTrue(data.startswith(b"\xef\xbb\xbf"), "UTF-8 byte order mark")
        self.assertGreater(len(chunks), 1, "streamed in several chunks")
        rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))
        self.assertEqual(rows[0][:4], ["工单编号", "受理时间", "渠道", "类别"])
        self.assertEqual(len(rows), 1 + 1205, "every row, more than one page of the store (1000)")
        self.assertEqual(len({r[0] for r in rows[1:]}), 1205)
        by_no = {r[0]: r for r in rows[1:]}
        self.assertEqual(by_no["L00008"][5], "主题,8", "a comma inside a quoted field")
        self.assertEqual(by_no["L00007"][5], "'=SUM(A1)", "formula text is defused")
        self.assertEqual(by_no["L00008"][3], "投诉")
        plain = b"".join(c.chunk for c in self.t.export(category=cpb.CATEGORY_CONSULTATION))
        self.assertFalse(plain.startswith(b"\xef\xbb\xbf"))
        self.assertEqual(plain.count(b"\r\n"), 1 + len([i for i in range(1205) if i % 3 == 0]))
        self.assertEqual(self.exports_audited(), audited + 2, "each export is audited")


    def test_export_cancelled_midway(self):
        """Clients that go away mid-stream leave no worker behind: after more cancelled exports than the
        service has workers (8), it still answers at once, and each export ended in the log."""
        f = chan().unary_stream("/%s/ExportLedger" % REPORTING, request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=rpb.ExportLedgerResponse.FromString)
        rids = []
        for _ in range(12):
            rid = "cancel-" + str(uuid.uuid4())
            it = f(rpb.ExportLedgerRequest(), metadata=self.t.md() + [("x-request-id", rid)], timeout=60)
            self.assertTrue(next(it).chunk.startswith("工单编号".encode()))
            it.cancel()
            rids.append(rid)
        self.assertEqual(len(self.t.call("GetLedger", rpb.GetLedgerRequest(page_size=1)).rows), 1,
                         "the service answers on")
        log = os.path.join(ht.ENV["HOTLINE_RUN_DIR"], "logs", "reporting.log")

        def ended():
            with open(log, encoding="utf-8", errors="replace") as fh:
                return {r for line in fh for r in rids if r in line and "ExportLedger" in line}
        ht.wait_for(lambda: len(ended()) == len(rids), timeout=30, what="every export's log line")

    def test_hotlinectl_export(self):
        build = os.environ.get("HOTLINE_BUILD_DIR") or os.path.join(ht.REPO, "build")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        p = subprocess.run([os.path.join(build, "tools", "hotlinectl", "hotlinectl"), "--env",
                            os.path.join(ht.ENV["HOTLINE_RUN_DIR"], "stack.env"), "--as", "ana-1", "--roles", "analyst",
                            "--tenant", self.t.id, "ledger", "export", "--bom", "--category", "consultation"],
                           capture_output=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        streamed = b"".join(c.chunk for c in self.t.export(bom=True, category=cpb.CATEGORY_CONSULTATION))
        self.assertEqual(p.stdout, streamed, "hotlinectl writes the stream's bytes as they are")


class DailyReportTest(unittest.TestCase):
    def verify(self, rep):
        self.assertEqual(hashlib.sha256(rep.content_bytes).hexdigest(), rep.content_sha256)
        pub = serialization.load_pem_public_key(rep.public_key_pem.encode())
        self.assertIsInstance(pub, Ed25519PublicKey)
        pub.verify(rep.signature, rep.content_bytes)  # raises when it does not verify
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.assertEqual(rep.key_id, hashlib.sha256(raw).hexdigest()[:16])
        with open(ht.ENV["HOTLINE_REPORT_SIGNING_KEY_FILE"], "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        self.assertEqual(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
                         raw, "signed with the configured key")
        self.assertEqual(rpb.DailyReportContent.FromString(rep.content_bytes), rep.content)

    def test_frozen_signed_and_corrections(self):
        t = Tenant("rd")
        t.utc()
        evs = [registered(str(uuid.uuid4()), "2026-01-10T0%d:00:00Z" % i, channel=cpb.CHANNEL_PHONE,
                          topic="噪音" if i < 3 else "停水") for i in range(5)]
        evs.append(registered(str(uuid.uuid4()), "2026-01-10T09:00:00Z", on_spot=True, channel=cpb.CHANNEL_WEB,
                              category=cpb.CATEGORY_CONSULTATION, topic="停水"))
        evs.append(registered(str(uuid.uuid4()), "2026-01-11T09:00:00Z"))
        t.record(evs)
        self.assertEqual(t.code("GetDailyReport", rpb.GetDailyReportRequest(date="2026-01-10"))[0], NOT_FOUND)
        first = t.call("FreezeDailyReport", rpb.FreezeDailyReportRequest(date="2026-01-10"))
        self.assertTrue(first.created)
        rep = t.call("GetDailyReport", rpb.GetDailyReportRequest(date="2026-01-10")).report
        self.verify(rep)
        c = rep.content
        self.assertEqual((c.tenant, c.date, c.received, c.answered_on_spot, c.completed, c.completed_on_time),
                         (t.id, "2026-01-10", 6, 1, 1, 1))
        self.assertEqual({i.key: i.count for i in c.by_channel}, {"CHANNEL_PHONE": 5, "CHANNEL_WEB": 1})
        self.assertEqual({i.key: i.count for i in c.top_topics}, {"噪音": 3, "停水": 3})
        self.assertEqual(c.window_start.ToJsonString(), "2026-01-10T00:00:00Z")
        self.assertEqual(c.window_end.ToJsonString(), "2026-01-11T00:00:00Z")
        self.assertGreater(c.audit_checkpoint.chains, 0)
        self.assertEqual(len(c.audit_checkpoint.digest), 64)
        self.assertEqual(c.corrections_total, 0)
        again = t.call("FreezeDailyReport", rpb.FreezeDailyReportRequest(date="2026-01-10"))
        self.assertFalse(again.created)
        self.assertEqual(again.report.content_sha256, rep.content_sha256)
        # a late event of the 10th: listed in the 11th's report, the 10th's unchanged
        late = registered(str(uuid.uuid4()), "2026-01-10T23:00:00Z")
        t.record([late])
        nxt = t.call("FreezeDailyReport", rpb.FreezeDailyReportRequest(date="2026-01-11")).report
        self.verify(nxt)
        self.assertEqual(nxt.content.received, 1)
        self.assertEqual(nxt.content.corrections_total, 1)
        self.assertEqual([(k.event_id, k.report_date, k.type) for k in nxt.content.corrections],
                         [(late.event_id, "2026-01-10", "ticket.registered")])
        past = t.call("GetDailyReport", rpb.GetDailyReportRequest(date="2026-01-10")).report
        self.assertEqual((past.content_bytes, past.signature), (rep.content_bytes, rep.signature))
        self.assertEqual(past.content.received, 6)
        listed = t.call("ListDailyReports", rpb.ListDailyReportsRequest(from_date="2026-01-01"))
        self.assertEqual([(r.date, r.corrections_total) for r in listed.reports], [("2026-01-10", 0), ("2026-01-11", 1)])
        # frozen reports are a record: the database refuses changes
        with self.assertRaises(RuntimeError):
            ht.psql("UPDATE reporting.daily_reports SET received = 0 WHERE tenant_id = '%s'" % t.id)
        # a day whose cut-off has not passed, bad dates, roles, another tenant
        self.assertEqual(t.code("FreezeDailyReport", rpb.FreezeDailyReportRequest(date="2999-01-01"))[0],
                         grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(t.code("GetDailyReport", rpb.GetDailyReportRequest(date="10/01/2026"))[0], INVALID)
        self.assertEqual(t.code("GetDailyReport", rpb.GetDailyReportRequest(date="2026-01-10"), roles=("agent",))[0],
                         DENIED)
        self.assertEqual(Tenant("rd").code("GetDailyReport", rpb.GetDailyReportRequest(date="2026-01-10"))[0],
                         NOT_FOUND)

    def test_settings_and_timer(self):
        t = Tenant("rs")
        t.record([registered(str(uuid.uuid4()), "2026-01-10T09:00:00Z")])
        got = t.call("GetReportSettings", rpb.GetReportSettingsRequest()).settings
        self.assertEqual((got.zone, got.cutoff_minutes), ("Asia/Shanghai", 1440))
        self.assertEqual(int(ht.psql("SELECT count(*) FROM reporting.timers WHERE tenant_id = '%s' AND kind = "
                                     "'report.daily' AND done_at IS NULL" % t.id)[0][0]), 1,
                         "the first event put the cut-off timer of the current day")
        self.assertEqual(t.code("PutReportSettings", rpb.PutReportSettingsRequest(settings=rpb.ReportSettings(
            zone="Mars/Base", cutoff_minutes=60)), roles=("tenant_admin",))[0], INVALID)
        self.assertEqual(t.code("PutReportSettings", rpb.PutReportSettingsRequest(settings=rpb.ReportSettings(
            zone="UTC", cutoff_minutes=0)), roles=("tenant_admin",))[0], INVALID)
        self.assertEqual(t.code("PutReportSettings", rpb.PutReportSettingsRequest(settings=rpb.ReportSettings(
            zone="UTC", cutoff_minutes=60)), roles=ANALYST)[0], DENIED)
        t.call("PutReportSettings", rpb.PutReportSettingsRequest(settings=rpb.ReportSettings(
            zone="Europe/Berlin", cutoff_minutes=17 * 60)), roles=("tenant_admin",))
        got = t.call("GetReportSettings", rpb.GetReportSettingsRequest()).settings
        self.assertEqual((got.zone, got.cutoff_minutes), ("Europe/Berlin", 1020))


class CutoffTest(unittest.TestCase):
    """Who freezes without a user: the Redis timer at a day's cut-off, and the singleton sweep."""

    def test_timer_freezes_the_day_and_moves_on(self):
        t = Tenant("rt")
        t.utc()
        t.record([registered(str(uuid.uuid4()), "2026-01-12T09:00:00Z")])
        # the timer of a past day, due now: as if the cut-off of 2026-01-12 had just passed
        now_ms = int(time.time() * 1000)
        ht.psql("INSERT INTO reporting.timers (tenant_id, timer_key, kind, subject_id, due_ms) VALUES "
                "('%s', 'daily:2026-01-12', 'report.daily', '2026-01-12', %d)" % (t.id, now_ms))
        ht.redis("ZADD", "hotline:{reporting}:timers:due", now_ms, "%s|daily:2026-01-12" % t.id)
        ht.wait_for(lambda: t.code("GetDailyReport", rpb.GetDailyReportRequest(date="2026-01-12"))[0] is None,
                    timeout=30, what="the timer froze the report")
        rep = t.call("GetDailyReport", rpb.GetDailyReportRequest(date="2026-01-12")).report
        self.assertEqual(rep.content.received, 1)
        frozen_by = ht.psql("SELECT frozen_by FROM reporting.daily_reports WHERE tenant_id = '%s'" % t.id)
        self.assertEqual(frozen_by, [["system:reporting"]])
        today = time.strftime("%Y-%m-%d", time.gmtime())
        pending = ht.psql("SELECT timer_key FROM reporting.timers WHERE tenant_id = '%s' AND done_at IS NULL" % t.id)
        self.assertEqual(pending, [["daily:%s" % today]], "the next timer is the current day's, not 2026-01-13")

    def test_sweep_freezes_missed_days(self):
        t = Tenant("rw")
        t.utc()
        t.record([registered(str(uuid.uuid4()), time.strftime("%Y-%m-%dT00:30:00Z", time.gmtime(time.time() - 2 * 86400)))])
        # the tenant has reported since three days ago and no timer froze anything
        ht.psql("UPDATE reporting.report_settings SET created_at = now() - interval '3 days' WHERE tenant_id = '%s'"
                % t.id)
        with H.service_env("reporting", ["HOTLINE_REPORT_SWEEP_MS=1000"]):
            _ch.clear()
            ht.wait_for(lambda: t.count("daily_reports") >= 3, timeout=60, what="the sweep froze the missed days")
        _ch.clear()
        dates = [r[0] for r in ht.psql("SELECT report_date::text FROM reporting.daily_reports WHERE tenant_id = '%s' "
                                       "ORDER BY 1" % t.id)]
        today = time.strftime("%Y-%m-%d", time.gmtime())
        self.assertEqual(len(dates), 3)
        self.assertLess(dates[-1], today, "never a day whose cut-off has not passed")
        fences = ht.psql("SELECT min(fence) FROM reporting.daily_reports WHERE tenant_id = '%s'" % t.id)[0][0]
        self.assertGreater(int(fences), 0, "the singleton's fencing number is stored with the report")
        received = {r.date: r.received for r in t.call("ListDailyReports", rpb.ListDailyReportsRequest()).reports}
        self.assertEqual(sum(received.values()), 1)


class KpiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = Tenant("rk")
        cls.t.utc()
        t1, t2, t3, t4 = (str(uuid.uuid4()) for _ in range(4))
        cls.t.record([
            registered(t1, "2026-02-01T10:00:00Z"),
            case("case.deadline_set", t1, "2026-02-01T10:05:00Z", kind=1, due="2026-02-01T12:00:00Z"),
            case("case.deadline_set", t1, "2026-02-01T10:05:00Z", kind=2, due="2026-02-05T10:00:00Z"),
            case("case.assigned", t1, "2026-02-01T10:05:00Z"),
            case("case.accepted", t1, "2026-02-01T11:00:00Z"),
            case("case.result_approved", t1, "2026-02-03T10:00:00Z"),
            reply(t1, "2026-02-03T12:00:00Z", 2),
            registered(t2, "2026-02-02T08:00:00Z"),
            case("case.deadline_set", t2, "2026-02-02T08:05:00Z", kind=1, due="2026-02-02T09:00:00Z"),
            case("case.deadline_set", t2, "2026-02-02T08:05:00Z", kind=2, due="2026-02-06T09:00:00Z"),
            case("case.assigned", t2, "2026-02-02T08:05:00Z"),
            case("case.accepted", t2, "2026-02-02T10:00:00Z"),
            case("case.returned", t2, "2026-02-02T11:00:00Z"),
            case("case.result_approved", t2, "2026-02-10T09:00:00Z"),
            reply(t2, "2026-02-10T12:00:00Z", 4),
            case("case.reopened", t2, "2026-02-10T12:00:00Z"),
            registered(t3, "2026-02-03T09:00:00Z", on_spot=True),
            registered(t4, "2026-03-01T09:00:00Z"),
            visit("visit.planned", "v1", "2026-01-20T00:00:00Z", due="2026-02-10T00:00:00Z"),
            visit("visit.recorded", "v1", "2026-02-09T00:00:00Z", due="2026-02-10T00:00:00Z", problem=True),
            visit("visit.planned", "v2", "2026-01-20T00:00:00Z", due="2026-02-20T00:00:00Z"),
            compliance("warning.issued", "w1", "2026-02-05T00:00:00Z"),
            compliance("warning.rectified", "w1", "2026-02-08T00:00:00Z", on_time=True),
            compliance("warning.issued", "w2", "2026-02-06T00:00:00Z"),
            compliance("risk_event.reported", "k1", "2026-02-07T00:00:00Z", on_time=True),
            compliance("risk_event.reported", "k2", "2026-02-08T00:00:00Z", on_time=False),
        ])
        cls.t2 = Tenant("rk")
        cls.t2.utc()
        cls.t2.record([registered(str(uuid.uuid4()), "2026-02-15T09:00:00Z", on_spot=True)])

    def kpis(self, **kw):
        return self.t.call("GetKpis", rpb.GetKpisRequest(from_date="2026-02-01", to_date="2026-02-28", **kw))

    def test_exact_figures(self):
        [row] = self.kpis().rows
        self.assertEqual(kpis_of(row), {
            "acceptance_timeliness": (1, 2), "transfer_accuracy": (1, 2), "on_time_completion": (2, 3),
            "satisfaction": (1, 2), "reopen_rate": (1, 2), "visit_coverage": (1, 2), "problem_discovery": (1, 1),
            "rectification": (1, 2), "risk_reporting_on_time": (1, 2)})
        self.assertAlmostEqual([k.rate for k in row.kpis if k.name == "on_time_completion"][0], 2 / 3)
        by_person = self.kpis(group_by=rpb.KPI_GROUP_PERSON).rows
        self.assertIn(("dept-a", "h1"), [(r.department_id, r.person_id) for r in by_person])
        self.assertEqual(kpis_of([r for r in by_person if r.person_id == "h1"][0])["transfer_accuracy"], (1, 2))
        # a department head sees only the department of the token
        only = self.t.call("GetKpis", rpb.GetKpisRequest(from_date="2026-02-01", to_date="2026-02-28",
                                                         group_by=rpb.KPI_GROUP_DEPARTMENT),
                           roles=("dept_head",), dept="dept-a").rows
        self.assertEqual({r.department_id for r in only}, {"dept-a"})
        self.assertEqual(self.t.code("GetKpis", rpb.GetKpisRequest(from_date="2026-02-01", to_date="2026-02-28",
                                                                   department_id="dept-b"),
                                     roles=("dept_head",), dept="dept-a")[0], DENIED)
        self.assertEqual(self.t.code("GetKpis", rpb.GetKpisRequest(from_date="2026-02-28", to_date="2026-02-01"))[0],
                         INVALID)
        self.assertEqual(self.t.code("GetKpis", rpb.GetKpisRequest(from_date="", to_date="2026-02-01"))[0], INVALID)

    def test_group_view(self):
        md = ht.auth(roles=["analyst"], tenant=self.t.id, sub="hq-1", tenants=[self.t.id, self.t2.id])
        rows = self.t.call("GetKpis", rpb.GetKpisRequest(from_date="2026-02-01", to_date="2026-02-28",
                                                         tenants=[self.t.id, self.t2.id]), md=md).rows
        by = {r.tenant: kpis_of(r) for r in rows}
        self.assertEqual(set(by), {self.t.id, self.t2.id, "*"})
        self.assertEqual(by[self.t2.id]["on_time_completion"], (1, 1))
        self.assertEqual(by["*"]["on_time_completion"], (3, 4), "numerators and denominators summed")
        code, _ = self.t.code("GetKpis", rpb.GetKpisRequest(from_date="2026-02-01", to_date="2026-02-28",
                                                            tenants=[self.t.id, self.t2.id]))
        self.assertEqual(code, DENIED, "a principal of one tenant gets no group view")

    def test_disclosure_suppresses_small_cells(self):
        d = Tenant("rp")
        d.utc()
        evs = [registered(str(uuid.uuid4()), "2026-02-0%dT09:00:00Z" % (1 + i % 5), on_spot=i < 4) for i in range(6)]
        evs += [registered(str(uuid.uuid4()), "2026-02-02T09:00:00Z", category=cpb.CATEGORY_CONSULTATION)
                for _ in range(3)]
        d.record(evs)
        md = [("x-tenant-id", d.id)]
        resp = ht.rpc(chan(), REPORTING, "GetPublicDisclosure", rpb.GetPublicDisclosureRequest(
            from_date="2026-02-01", to_date="2026-02-28"), rpb.GetPublicDisclosureResponse, metadata=md)
        by = {r.category: r for r in resp.rows}
        self.assertEqual(len(by), 6, "every category listed")
        c = by[cpb.CATEGORY_COMPLAINT]
        self.assertEqual((c.suppressed, c.received, c.handled, c.on_time_rate), (False, 6, 4, 1.0))
        s = by[cpb.CATEGORY_CONSULTATION]
        self.assertEqual((s.suppressed, s.received, s.handled), (True, 0, 0))
        self.assertEqual(resp.received_total, 6, "suppressed cells are not in the total either")
        self.assertNotIn(b"agent", resp.SerializeToString(), "no personal data")
        code, _ = ht.code_of(ht.rpc, chan(), REPORTING, "GetPublicDisclosure",
                             rpb.GetPublicDisclosureRequest(from_date="2026-02-01", to_date="x"),
                             rpb.GetPublicDisclosureResponse, metadata=md)
        self.assertEqual(code, INVALID)


if __name__ == "__main__":
    unittest.main()
