/*
 * test_core.c - unit tests of the status table, arenas, SPIFFE identities,
 * the audit hash's canonical encoding and server reflection's index.
 */
#include <stdint.h>
#include <string.h>

#include "grpc/reflection/v1/reflection.pb-c.h"
#include "hl/arena.h"
#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/reflect.h"
#include "hl/status.h"
#include "hl/tls.h"
#include "t.h"

static void test_status_table(void)
{
	T_EQ_INT(hl_status_grpc_code(HL_OK), 0);
	T_EQ_INT(hl_status_grpc_code(HL_INVALID), 3);
	T_EQ_INT(hl_status_grpc_code(HL_NOT_FOUND), 5);
	T_EQ_INT(hl_status_grpc_code(HL_DENIED), 7);
	T_EQ_INT(hl_status_grpc_code(HL_PRECONDITION), 9);
	T_EQ_INT(hl_status_grpc_code(HL_ABORTED), 10);
	T_EQ_INT(hl_status_grpc_code(HL_UNAVAILABLE), 14);
	T_EQ_INT(hl_status_grpc_code(HL_UNAUTHENTICATED), 16);
	T_EQ_INT(hl_status_grpc_code(HL_DB), 13); /* library errors never leak as their own codes */
	T_EQ_STR(hl_status_name(HL_EXHAUSTED), "EXHAUSTED");
	T_EQ_STR(hl_grpc_code_name(3), "INVALID_ARGUMENT");
	T_EQ_STR(hl_grpc_code_name(99), "UNKNOWN");
	T_EQ_INT(hl_status_grpc_code((hl_status)999), 2);
}

static void test_error_messages(void)
{
	hl_error e;
	hl_error_clear(&e);
	T_EQ_STR(hl_error_text(&e), "ok");
	T_EQ_INT(hl_fail(&e, HL_INVALID, "topic: too long (%d)", 201), HL_INVALID);
	T_EQ_STR(hl_error_text(&e), "topic: too long (201)");
	T_EQ_INT(hl_fail(NULL, HL_NOT_FOUND, "x"), HL_NOT_FOUND); /* NULL error is allowed */
	hl_fail(&e, HL_DENIED, NULL);
	T_EQ_STR(hl_error_text(&e), "permission denied");
}

static int cleanups_run;
static void count_cleanup(void *p)
{
	cleanups_run += *(int *)p;
}

static void test_arena(void)
{
	hl_arena *a = hl_arena_new();
	T_ASSERT(a);
	char *s = hl_arena_strdup(a, "热线工单");
	T_EQ_STR(s, "热线工单");
	T_EQ_STR(hl_arena_printf(a, "%s-%d", "n", 42), "n-42");
	T_EQ_STR(hl_arena_strndup(a, "abcdef", 3), "abc");
	unsigned char *big = hl_arena_alloc(a, 100000); /* larger than a chunk */
	T_ASSERT(big && big[0] == 0 && big[99999] == 0);
	for (int i = 0; i < 1000; i++) {
		uintptr_t p = (uintptr_t)hl_arena_alloc(a, (size_t)(i % 37) + 1);
		T_ASSERT(p % 16 == 0);
	}
	static int one = 1, ten = 10;
	cleanups_run = 0;
	T_EQ_INT(hl_arena_defer(a, count_cleanup, &one), HL_OK);
	T_EQ_INT(hl_arena_defer(a, count_cleanup, &ten), HL_OK);
	T_ASSERT(hl_arena_used(a) >= 100000);
	hl_arena_free(a);
	T_EQ_INT(cleanups_run, 11);
}

static void test_spiffe(void)
{
	char name[64];
	const char *svc = "spiffe://hotline/service/dispatch";
	const char *cli = "spiffe://hotline/client/hotlinectl";
	T_EQ_INT(hl_spiffe_parse(svc, strlen(svc), name, sizeof name), HL_PEER_SERVICE);
	T_EQ_STR(name, "dispatch");
	T_EQ_INT(hl_spiffe_parse(cli, strlen(cli), name, sizeof name), HL_PEER_CLIENT);
	T_EQ_STR(name, "hotlinectl");
	const char *bad[] = {"spiffe://other/service/dispatch", "spiffe://hotline/service/", "spiffe://hotline/service/Dispatch",
			     "spiffe://hotline/service/a/b", "spiffe://hotline/services/x", "spiffe://hotline/client/x y"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		T_EQ_INT(hl_spiffe_parse(bad[i], strlen(bad[i]), name, sizeof name), HL_PEER_UNKNOWN);
	/* a client name can never be taken for a service: prefixes differ */
	T_EQ_INT(hl_spiffe_parse(cli, strlen(cli) - 1, name, sizeof name), HL_PEER_CLIENT);
	/* embedded NUL in the SAN does not pass */
	const char nul[] = "spiffe://hotline/service/dis\0patch";
	T_EQ_INT(hl_spiffe_parse(nul, sizeof nul - 1, name, sizeof name), HL_PEER_UNKNOWN);
}

/* The canonical encoding as documented in audit.h, written out independently. */
static void put_lp(hl_buf *b, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);
	unsigned char l[4] = {n >> 24, n >> 16, n >> 8, n};
	hl_buf_append(b, l, 4);
	hl_buf_append(b, s, n);
}

static void put_be64(hl_buf *b, int64_t v)
{
	unsigned char x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
	hl_buf_append(b, x, 8);
}

static void test_audit_hash(void)
{
	hl_audit_entry e = {.tenant = "demo", .subject_type = "ticket", .subject_id = "t-1", .seq = 2,
			    .actor = "agent-1", .action = "ticket.amend", .at_us = 1795361172040937LL,
			    .details = "{\"field\":\"topic\"}"};
	memset(e.prev_hash, 0xab, sizeof e.prev_hash);
	hl_buf b = HL_BUF_INIT;
	hl_buf_append(&b, e.prev_hash, 32);
	hl_buf_append(&b, "hotline.audit.v1", 17); /* with its NUL */
	put_lp(&b, e.tenant);
	put_lp(&b, e.subject_type);
	put_lp(&b, e.subject_id);
	put_be64(&b, e.seq);
	put_lp(&b, e.actor);
	put_lp(&b, e.action);
	put_be64(&b, e.at_us);
	put_lp(&b, e.details);
	uint8_t want[32], got[32];
	T_EQ_INT(hl_sha256(b.data, b.len, want, NULL), HL_OK);
	hl_buf_release(&b);
	T_EQ_INT(hl_audit_hash(&e, got), HL_OK);
	T_ASSERT(memcmp(want, got, 32) == 0);
	/* any change of any field changes the hash */
	e.seq = 3;
	T_EQ_INT(hl_audit_hash(&e, got), HL_OK);
	T_ASSERT(memcmp(want, got, 32) != 0);
	e.seq = 2;
	e.details = "{\"field\":\"topiC\"}";
	T_EQ_INT(hl_audit_hash(&e, got), HL_OK);
	T_ASSERT(memcmp(want, got, 32) != 0);
	/* length prefixes make field boundaries unambiguous */
	hl_audit_entry x = e, y = e;
	x.actor = "ab";
	x.action = "c";
	y.actor = "a";
	y.action = "bc";
	uint8_t hx[32], hy[32];
	T_EQ_INT(hl_audit_hash(&x, hx), HL_OK);
	T_EQ_INT(hl_audit_hash(&y, hy), HL_OK);
	T_ASSERT(memcmp(hx, hy, 32) != 0);
}

static Grpc__Reflection__V1__ServerReflectionResponse *ask(hl_reflect *r, hl_arena *a,
							   Grpc__Reflection__V1__ServerReflectionRequest *q)
{
	size_t n = grpc__reflection__v1__server_reflection_request__get_packed_size(q);
	uint8_t *buf = hl_arena_alloc(a, n + 1), *out;
	size_t len;
	grpc__reflection__v1__server_reflection_request__pack(q, buf);
	if (hl_reflect_answer(r, buf, n, a, &out, &len))
		return NULL;
	return grpc__reflection__v1__server_reflection_response__unpack(hl_arena_pb_allocator(a), len, out);
}

static void test_reflection_index(void)
{
	const char *svcs[] = {"hotline.intake.v1.IntakeService", "grpc.health.v1.Health"};
	hl_reflect *r;
	T_EQ_INT(hl_reflect_new(svcs, 2, &r, NULL), HL_OK);
	hl_arena *a = hl_arena_new();
	Grpc__Reflection__V1__ServerReflectionRequest q = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__INIT;
	q.message_request_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES;
	q.list_services = "*";
	Grpc__Reflection__V1__ServerReflectionResponse *resp = ask(r, a, &q);
	T_ASSERT(resp && resp->list_services_response);
	T_EQ_INT(resp->list_services_response->n_service, 2);
	T_EQ_STR(resp->list_services_response->service[0]->name, "hotline.intake.v1.IntakeService");

	q.message_request_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
	q.file_containing_symbol = "hotline.intake.v1.IntakeService.CreateTicket";
	resp = ask(r, a, &q);
	T_ASSERT(resp && resp->file_descriptor_response);
	/* the file itself, then common.proto and timestamp.proto */
	T_EQ_INT(resp->file_descriptor_response->n_file_descriptor_proto, 3);
	size_t len;
	const uint8_t *f = hl_reflect_file(r, "hotline/intake/v1/intake.proto", &len);
	T_ASSERT(f);
	T_EQ_INT(resp->file_descriptor_response->file_descriptor_proto[0].len, len);

	q.file_containing_symbol = "hotline.intake.v1.Caller"; /* a message */
	resp = ask(r, a, &q);
	T_ASSERT(resp && resp->file_descriptor_response);

	q.file_containing_symbol = "hotline.intake.v1.NoSuchThing";
	resp = ask(r, a, &q);
	T_ASSERT(resp && resp->error_response);
	T_EQ_INT(resp->error_response->error_code, 5);

	q.message_request_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
	q.file_by_filename = "google/protobuf/timestamp.proto";
	resp = ask(r, a, &q);
	T_ASSERT(resp && resp->file_descriptor_response);
	T_EQ_INT(resp->file_descriptor_response->n_file_descriptor_proto, 1);

	uint8_t junk[] = {0xff, 0xff, 0xff};
	uint8_t *out;
	T_EQ_INT(hl_reflect_answer(r, junk, sizeof junk, a, &out, &len), HL_INVALID);
	hl_arena_free(a);
	hl_reflect_free(r);
}

int main(void)
{
	T_RUN(test_status_table);
	T_RUN(test_error_messages);
	T_RUN(test_arena);
	T_RUN(test_spiffe);
	T_RUN(test_audit_hash);
	T_RUN(test_reflection_index);
	return T_DONE();
}
