"""compliance_harness - what the compliance integration tests (test_compliance*.py) share.

A `Comp` is a fresh tenant of the real stack seen from compliance: user calls with HS256 tokens of
any role (and an optional `dept` claim), internal calls the way the other services' outboxes and
gates make them (their service certificates, x-tenant-id, x-actor, idempotency-key), row counts in
schema compliance as the PostgreSQL superuser (which row-level security does not filter), and the
audit actions of a subject.
"""
import uuid

import grpc

import dispatch_harness as H
import hotline_test as ht
from hotline.compliance.v1 import compliance_pb2 as pb
from hotline.reporting.v1 import reporting_pb2 as rpb

COMPLIANCE = "hotline.compliance.v1.ComplianceService"
INVALID, DENIED, NOT_FOUND = H.INVALID, H.DENIED, H.NOT_FOUND
PRECONDITION = H.PRECONDITION
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
MAJOR, GENERAL = pb.RISK_EVENT_LEVEL_MAJOR, pb.RISK_EVENT_LEVEL_GENERAL


class Comp:
    def __init__(self, prefix="c"):
        self.id = ht.new_tenant(prefix)

    def md(self, sub, roles, dept=None):
        claims = {"dept": dept} if dept else {}
        return ht.auth(roles=list(roles), tenant=self.id, sub=sub, **claims)

    def call(self, method, req, sub="rev-1", roles=("reviewer",), dept=None, timeout=15):
        return ht.rpc(H.channel("compliance"), COMPLIANCE, method, req, getattr(pb, method + "Response"),
                      metadata=self.md(sub, roles, dept), timeout=timeout)

    def code(self, method, req, **kw):
        return ht.code_of(self.call, method, req, **kw)

    def internal(self, method, req, cert="dispatch", actor="system:test", idem=None, timeout=15):
        md = [("x-tenant-id", self.id), ("x-actor", actor)]
        if idem:
            md.append(("idempotency-key", idem))
        return ht.rpc(H.channel("compliance", cert), COMPLIANCE, method, req, getattr(pb, method + "Response"),
                      metadata=md, timeout=timeout)

    def internal_code(self, method, req, **kw):
        return ht.code_of(self.internal, method, req, **kw)

    def count(self, table, where="true"):
        return H.sql_count("SELECT count(*) FROM compliance.%s WHERE tenant_id = %s AND (%s)"
                           % (table, H.lit(self.id), where))

    def rows(self, sql):
        return ht.psql(sql.replace("$T", H.lit(self.id)))

    def audit_actions(self, subject_id):
        return [r[0] for r in self.rows("SELECT action FROM compliance.audit_log WHERE tenant_id = $T AND "
                                         "subject_id = %s ORDER BY seq" % H.lit(subject_id))]

    def events(self):
        """The events compliance queued for reporting in this tenant: [(type, ComplianceChanged)]."""
        out = []
        for (hexpayload,) in self.rows("SELECT encode(payload, 'hex') FROM compliance.outbox WHERE tenant_id = $T "
                                       "AND target = 'reporting' ORDER BY id"):
            req = rpb.RecordEventsRequest.FromString(bytes.fromhex(hexpayload))
            out.extend((e.type, e.compliance_changed) for e in req.events)
        return out


def idem():
    return str(uuid.uuid4())
