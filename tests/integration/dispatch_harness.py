"""dispatch_harness - what the dispatch integration tests (test_dispatch_*.py) share.

A `Tenant` is a fresh tenant of the real stack with its own directory: departments, staff (a
staff id is the JWT sub), routing rules, SLA policies and calendar, set up through the admin
methods as tenant_admin. It submits tickets to dispatch the way intake's outbox does
(SubmitTicket over mTLS with intake's service certificate, x-tenant-id and x-actor), calls the
user methods with HS256 tokens of any role, and counts rows as the PostgreSQL superuser (which
row-level security does not filter).
"""
import contextlib
import os
import time
import uuid

import grpc

import hotline_test as ht
from hotline.common.v1 import common_pb2 as cpb
from hotline.dispatch.v1 import dispatch_pb2 as dpb
from hotline.intake.v1 import intake_pb2 as ipb  # noqa: F401 - re-exported for the tests

DISPATCH = "hotline.dispatch.v1.DispatchService"
INTAKE = "hotline.intake.v1.IntakeService"
RUN = ht.ENV["HOTLINE_RUN_DIR"]

OK = None  # what ht.code_of returns for a call that succeeds
INVALID = grpc.StatusCode.INVALID_ARGUMENT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
ABORTED = grpc.StatusCode.ABORTED

_channels = {}


def channel(service="dispatch", cert="client"):
    """A shared secure channel to a service presenting the named certificate."""
    key = (service, cert)
    if key not in _channels:
        _channels[key] = ht.channel(service, cert)
        grpc.channel_ready_future(_channels[key]).result(timeout=30)
    return _channels[key]


def reset_channels():
    """Forget the channels (after a service restart, so that no call waits on a broken one)."""
    for ch in _channels.values():
        ch.close()
    _channels.clear()


# Response classes of the dispatch methods, by method name.
RESP = {name: getattr(dpb, name + "Response") for name in (
    "SubmitTicket", "ReopenCase", "CloseCase", "GetCase", "ListCases", "AssignCase", "AcceptCase", "ReturnCase", "TransferCase",
    "AddCaseNote", "SubmitResult", "ApproveResult", "RejectResult", "PauseCase", "ResumeCase", "RequestExtension",
    "DecideExtension", "SuperviseCase", "ListNotices", "LockCase", "UnlockCase", "PutDepartment",
    "ListDepartments", "PutStaff", "ListStaff", "PutRoutingRule", "ListRoutingRules", "PutSlaPolicy",
    "GetSlaPolicy", "PutCalendar", "GetCalendar")}

# Statuses, roles and kinds by short name.
PENDING, ASSIGNED, ACCEPTED, IN_PROGRESS, SUBMITTED, APPROVED, CLOSED = range(1, 8)
LEAD, ASSIST = 1, 2
WARNING, OVERDUE, SUPERVISION = 1, 2, 3
DL_ACCEPT, DL_COMPLETE = 1, 2


def sql_count(sql):
    return int(ht.psql(sql)[0][0])


def lit(s):
    return ht.sql_literal(s)


def extra_env(service, lines):
    """Write RUN/extra-<service>.env (None/empty: remove it)."""
    path = os.path.join(RUN, "extra-%s.env" % service)
    if lines:
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
    elif os.path.exists(path):
        os.remove(path)


@contextlib.contextmanager
def service_env(service, lines):
    """Restart `service` with extra environment lines, and restart it without them afterwards."""
    extra_env(service, lines)
    ht.stack("restart-service", service)
    reset_channels()
    try:
        yield
    finally:
        extra_env(service, None)
        ht.stack("restart-service", service)
        reset_channels()


class Tenant:
    """A fresh tenant and short-hands for calling dispatch in it."""

    def __init__(self, prefix="d"):
        self.id = ht.new_tenant(prefix)

    # ---- calls --------------------------------------------------------------------------------

    def md(self, sub, roles):
        return ht.auth(roles=list(roles), tenant=self.id, sub=sub)

    def call(self, method, req, sub="admin-1", roles=("tenant_admin",), timeout=15):
        return ht.rpc(channel(), DISPATCH, method, req, RESP[method], metadata=self.md(sub, roles),
                      timeout=timeout)

    def code(self, method, req, sub="admin-1", roles=("tenant_admin",)):
        """(grpc code or None, details) of a call."""
        return ht.code_of(self.call, method, req, sub=sub, roles=roles)

    def internal(self, method, req, cert, actor="system:test", idem=None, timeout=15):
        md = [("x-tenant-id", self.id), ("x-actor", actor)]
        if idem:
            md.append(("idempotency-key", idem))
        return ht.rpc(channel("dispatch", cert), DISPATCH, method, req, RESP[method], metadata=md, timeout=timeout)

    # ---- directory ----------------------------------------------------------------------------

    def dept(self, dept_id, head="", deputies=(), name=None, active=True):
        return self.call("PutDepartment", dpb.PutDepartmentRequest(department=dpb.Department(
            id=dept_id, name=name or ("部门 " + dept_id), head_id=head, deputy_ids=list(deputies),
            active=active))).department

    def staff(self, sub, dept_id, skills=(), supervisor=False, active=True):
        return self.call("PutStaff", dpb.PutStaffRequest(staff=dpb.Staff(
            id=sub, name="员工 " + sub, department_id=dept_id, skills=list(skills), supervisor=supervisor,
            active=active))).staff

    def rule(self, target, position=100, name=None, categories=(), channels=(), topic=(), description=(),
             areas=(), skill="", active=True, rule_id=""):
        return self.call("PutRoutingRule", dpb.PutRoutingRuleRequest(rule=dpb.RoutingRule(
            id=rule_id, name=name or ("rule→" + target), position=position, categories=list(categories),
            channels=list(channels), topic_keywords=list(topic), description_keywords=list(description),
            areas=list(areas), target_department_id=target, required_skill=skill, active=active))).rule

    def sla(self, category, priority=cpb.PRIORITY_GENERAL, accept=(1, dpb.DURATION_UNIT_WORKING_MINUTES),
            complete=(10, dpb.DURATION_UNIT_WORKING_MINUTES), reply=(1, dpb.DURATION_UNIT_WORKING_DAYS),
            warning_permille=500):
        def d(x):
            return dpb.WorkingDuration(amount=x[0], unit=x[1])
        return self.call("PutSlaPolicy", dpb.PutSlaPolicyRequest(policy=dpb.SlaPolicy(
            category=category, priority=priority, accept_within=d(accept), complete_within=d(complete),
            reply_within=d(reply), warning_permille=warning_permille))).policy

    def around_the_clock(self):
        """Every weekday 00:00-24:00 in UTC: working time runs like clock time."""
        week = [dpb.WorkingDay(weekday=w, intervals=[dpb.WorkingInterval(start_minute=0, end_minute=1440)])
                for w in range(1, 8)]
        return self.call("PutCalendar", dpb.PutCalendarRequest(calendar=dpb.Calendar(time_zone="UTC", week=week)))

    # ---- tickets and cases ----------------------------------------------------------------------

    def submit(self, category=cpb.CATEGORY_COMPLAINT, topic=None, description="描述", area="海淀区",
               channel_=cpb.CHANNEL_PHONE, priority=cpb.PRIORITY_GENERAL, implicated=(), ticket_id=None,
               registered_by="agent-1", idem=None):
        """SubmitTicket as intake's outbox sends it; returns (ticket_id, case_id)."""
        tid = ticket_id or str(uuid.uuid4())
        req = dpb.SubmitTicketRequest(
            ticket_id=tid, ticket_no="T" + uuid.uuid4().hex[:12], channel=channel_, category=category,
            topic=topic or ("主题 " + uuid.uuid4().hex[:6]), description=description, area=area,
            priority=priority, registered_by=registered_by, implicated_department_ids=list(implicated))
        r = self.internal("SubmitTicket", req, "intake", actor=registered_by, idem=idem or (tid + ":submit"))
        return tid, r.case_id

    def get(self, case_id, sub="admin-1", roles=("tenant_admin",)):
        return self.call("GetCase", dpb.GetCaseRequest(id=case_id), sub=sub, roles=roles).case

    def list(self, sub="admin-1", roles=("tenant_admin",), **filters):
        """Every case the caller sees with the filters (all pages)."""
        out, token = [], ""
        while True:
            r = self.call("ListCases", dpb.ListCasesRequest(page_size=200, page_token=token, **filters), sub=sub,
                          roles=roles)
            out.extend(r.cases)
            token = r.next_page_token
            if not token:
                return out

    def notices(self, sub="admin-1", roles=("tenant_admin",), **filters):
        return list(self.call("ListNotices", dpb.ListNoticesRequest(page_size=200, **filters), sub=sub,
                              roles=roles).notices)

    # ---- SQL as the superuser (no row-level security) ---------------------------------------------

    def count(self, table, where="true"):
        return sql_count("SELECT count(*) FROM dispatch.%s WHERE tenant_id = %s AND (%s)" % (table, lit(self.id),
                                                                                              where))

    def rows(self, sql):
        """Rows of SQL with $T standing for this tenant's literal."""
        return ht.psql(sql.replace("$T", lit(self.id)))


def wait_for(pred, timeout=30.0, interval=0.2, what="condition"):
    return ht.wait_for(pred, timeout=timeout, interval=interval, what=what)


def now():
    return time.time()
