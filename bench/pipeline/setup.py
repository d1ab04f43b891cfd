"""bench/pipeline/setup.py TENANT HANDLERS - the directory the pipeline benchmark routes into:
one department with HANDLERS active handlers and one routing rule that matches every ticket,
created through DispatchService's admin methods (a tenant_admin token of the dev stack)."""
import sys

import hotline_test as ht
from hotline.dispatch.v1 import dispatch_pb2 as d

D = "hotline.dispatch.v1.DispatchService"


def main(tenant, handlers):
    ch = ht.channel("dispatch")
    admin = ht.auth(roles=("tenant_admin",), tenant=tenant, sub="bench-admin")
    ht.rpc(ch, D, "PutDepartment", d.PutDepartmentRequest(
        department=d.Department(id="general", name="综合办", head_id="bench-head", active=True)),
        d.PutDepartmentResponse, admin)
    for i in range(handlers):
        ht.rpc(ch, D, "PutStaff", d.PutStaffRequest(staff=d.Staff(
            id="bench-h%d" % i, name="承办人%d" % i, department_id="general", active=True)),
            d.PutStaffResponse, admin)
    ht.rpc(ch, D, "PutRoutingRule", d.PutRoutingRuleRequest(rule=d.RoutingRule(
        name="all tickets", position=1, target_department_id="general", active=True)),
        d.PutRoutingRuleResponse, admin)
    ch.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
