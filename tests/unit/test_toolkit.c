/*
 * test_toolkit.c - unit tests of the shared handler toolkit's pure parts:
 * outbox rows addressed by proto descriptors (hl_enqueue refuses a method the
 * target does not have, or a request of the wrong type, before touching the
 * database), the fold that merges a subject's events into one outbox row,
 * the store helpers of pg.h that need no connection, and the role names of
 * roles.h.
 */
#include <stdio.h>
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

/* An outbox row as hl_enqueue_batch_add_raw adds it: payload one hex byte, the row's tag. */
static void add_outbox_row(hl_pg_rows *r, const char *subject, const char *method, const char *actor, int tag)
{
	char key[16];
	unsigned char byte = (unsigned char)tag;
	snprintf(key, sizeof key, "k%d", tag);
	hl_pg_rows_text(r, "demo");
	hl_pg_rows_text(r, subject);
	hl_pg_rows_text(r, strcmp(method, HL_ENQUEUE_RECORD_EVENTS) ? "dispatch" : "reporting");
	hl_pg_rows_text(r, method);
	hl_pg_rows_text(r, hl_arena_strdup(r->ar, key));
	hl_pg_rows_text(r, actor);
	hl_pg_rows_bytes(r, &byte, 1);
}

#define ROW_COL(r, i, c) ((r)->v[(i) * 7 + (c)])

static void test_enqueue_folds_a_subjects_events(void)
{
	static const char submit[] = "/hotline.dispatch.v1.DispatchService/SubmitTicket";
	hl_arena *a = hl_arena_new();
	T_ASSERT(a != NULL);
	hl_pg_rows r;
	hl_pg_rows_init(&r, a, 7);
	add_outbox_row(&r, "t1", submit, "agent", 1);
	add_outbox_row(&r, "t1", HL_ENQUEUE_RECORD_EVENTS, "agent", 2);
	add_outbox_row(&r, "t2", HL_ENQUEUE_RECORD_EVENTS, "agent", 3);
	add_outbox_row(&r, "t1", submit, "agent", 4); /* not an event: never merged */
	add_outbox_row(&r, "t1", HL_ENQUEUE_RECORD_EVENTS, "agent", 5);
	add_outbox_row(&r, "t1", HL_ENQUEUE_RECORD_EVENTS, "other", 6); /* another actor: its own row */
	add_outbox_row(&r, "t2", HL_ENQUEUE_RECORD_EVENTS, "agent", 7);
	for (int i = 0; i < 250; i++) /* t3's 250 events: rows of 100, 100 and 50 */
		add_outbox_row(&r, "t3", HL_ENQUEUE_RECORD_EVENTS, "agent", 8 + i);
	hl_error err;
	T_EQ_INT(hl_enqueue_fold_events(&r, &err), HL_OK);
	T_EQ_INT(hl_pg_rows_count(&r), 8);
	/* each row at the place of its first event, keyed by it, payloads in the order they came */
	static const char *const keys[] = {"k1", "k2", "k3", "k4", "k6", "k8", "k108", "k208"};
	for (int i = 0; i < 8; i++)
		T_EQ_STR(ROW_COL(&r, i, 4), keys[i]);
	T_EQ_STR(ROW_COL(&r, 0, 6), "\\x01");
	T_EQ_STR(ROW_COL(&r, 1, 6), "\\x0205");
	T_EQ_STR(ROW_COL(&r, 2, 6), "\\x0307");
	T_EQ_STR(ROW_COL(&r, 3, 6), "\\x04");
	T_EQ_STR(ROW_COL(&r, 4, 6), "\\x06");
	T_EQ_STR(ROW_COL(&r, 4, 5), "other");
	for (int i = 5; i < 8; i++) {
		T_EQ_STR(ROW_COL(&r, i, 1), "t3");
		T_EQ_INT((int)strlen(ROW_COL(&r, i, 6)), 2 + 2 * (i < 7 ? 100 : 50));
	}
	T_ASSERT(strncmp(ROW_COL(&r, 5, 6), "\\x08090a", 8) == 0);
	T_ASSERT(strncmp(ROW_COL(&r, 6, 6), "\\x6c6d", 6) == 0);
	/* rows of other subjects alone are left as they are */
	hl_pg_rows_init(&r, a, 7);
	add_outbox_row(&r, "t4", HL_ENQUEUE_RECORD_EVENTS, "agent", 1);
	add_outbox_row(&r, "t5", HL_ENQUEUE_RECORD_EVENTS, "agent", 2);
	T_EQ_INT(hl_enqueue_fold_events(&r, &err), HL_OK);
	T_EQ_INT(hl_pg_rows_count(&r), 2);
	T_EQ_STR(ROW_COL(&r, 1, 6), "\\x02");
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
	T_RUN(test_enqueue_folds_a_subjects_events);
	T_RUN(test_pg_store_helpers);
	T_RUN(test_roles);
	return T_DONE();
}
