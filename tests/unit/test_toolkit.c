/*
 * test_toolkit.c - unit tests of the shared handler toolkit's pure parts:
 * outbox rows addressed by proto descriptors (hl_enqueue refuses a method the
 * target does not have, or a request of the wrong type, before touching the
 * database), the store helpers of pg.h that need no connection, and the
 * role names of roles.h.
 */
#include <string.h>

#include "hl/arena.h"
#include "hl/enqueue.h"
#include "hl/pg.h"
#include "hl/roles.h"
#include "hotline/dispatch/v1/dispatch.pb-c.h"
#include "hotline/intake/v1/intake.pb-c.h"
#include "t.h"

static void test_enqueue_checks_descriptors(void)
{
	hl_arena *a = hl_arena_new();
	T_ASSERT(a != NULL);
	Hotline__Intake__V1__UpdateTicketStatusRequest m = HOTLINE__INTAKE__V1__UPDATE_TICKET_STATUS_REQUEST__INIT;
	hl_enqueue_row row = {.tenant = "demo", .subject_id = "s", .service = &hotline__intake__v1__intake_service__descriptor,
			      .method = "UpdateTicketStatuss", .idempotency_key = "k", .actor = "a"};
	hl_error err;
	/* a misspelt method never reaches the outbox (pg is NULL: the check comes first) */
	T_EQ_INT(hl_enqueue(NULL, a, &row, &m.base, &err), HL_INTERNAL);
	T_ASSERT(strstr(hl_error_text(&err), "no method UpdateTicketStatuss") != NULL);
	/* the right method with another method's request type */
	row.method = "UpdateTicketStatus";
	Hotline__Dispatch__V1__ReopenCaseRequest wrong = HOTLINE__DISPATCH__V1__REOPEN_CASE_REQUEST__INIT;
	T_EQ_INT(hl_enqueue(NULL, a, &row, &wrong.base, &err), HL_INTERNAL);
	T_ASSERT(strstr(hl_error_text(&err), "takes hotline.intake.v1.UpdateTicketStatusRequest") != NULL);
	/* no service at all */
	row.service = NULL;
	T_EQ_INT(hl_enqueue(NULL, a, &row, &m.base, &err), HL_INTERNAL);
	hl_arena_free(a);
}

static void test_pg_store_helpers(void)
{
	hl_arena *a = hl_arena_new();
	T_ASSERT(a != NULL);
	int v[] = {3, -1, 42};
	T_EQ_STR(hl_pg_int_array(a, v, 3), "{3,-1,42}");
	T_EQ_STR(hl_pg_int_array(a, v, 0), "{}");
	hl_pg_args args = hl_pg_args_key("abc");
	T_EQ_INT(args.n, 1);
	T_EQ_STR(args.v[0], "abc");
	T_EQ_STR(HL_PG_US("x"), "COALESCE((extract(epoch FROM x) * 1000000)::bigint, 0)");
	hl_arena_free(a);
}

static void test_roles(void)
{
	int n = 0;
	for (const char *const *r = hl_roles_staff; *r; r++)
		n++;
	T_EQ_INT(n, 11);
	T_ASSERT(hl_role_known(HL_ROLE_PII_READER));
	T_ASSERT(hl_role_known("tenant_admin"));
	T_ASSERT(!hl_role_known("admin"));
	T_ASSERT(!hl_role_known(NULL));
}

int main(void)
{
	T_RUN(test_enqueue_checks_descriptors);
	T_RUN(test_pg_store_helpers);
	T_RUN(test_roles);
	return T_DONE();
}
