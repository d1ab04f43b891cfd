/*
 * test_pg.c - the result helpers of common/src/pg.c that need no server:
 * array values in PostgreSQL's text format (hl_pg_get_array), on results
 * built with libpq's own PQmakeEmptyPGresult/PQsetvalue.
 */
#include <libpq-fe.h>

#include "hl/arena.h"
#include "hl/pg.h"
#include "t.h"

/* A one-row, one-column text result holding v (NULL: SQL NULL). */
static PGresult *result_of(const char *v)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc att = {.name = "a", .typid = 1009, .typlen = -1, .atttypmod = -1};
	if (!r || !PQsetResultAttrs(r, 1, &att) || !PQsetvalue(r, 0, 0, (char *)v, v ? (int)strlen(v) : -1)) {
		PQclear(r);
		return NULL;
	}
	return r;
}

static hl_status parse(hl_arena *a, const char *v, const char ***items, int *n)
{
	PGresult *r = result_of(v);
	if (!r)
		return HL_NOMEM;
	hl_status st = hl_pg_get_array(r, 0, 0, a, items, n);
	PQclear(r);
	return st;
}

static void test_plain_quoted_and_null(void)
{
	hl_arena *a = hl_arena_new();
	const char **it;
	int n;
	T_ASSERT(parse(a, "{housing,\"a b\",NULL,\"NULL\",\"q\\\"uote\",\"back\\\\slash\",\"c,d\",噪音}", &it, &n) == HL_OK);
	T_EQ_INT(n, 8);
	T_EQ_STR(it[0], "housing");
	T_EQ_STR(it[1], "a b");
	T_EQ_STR(it[2], "");
	T_EQ_STR(it[3], "NULL");
	T_EQ_STR(it[4], "q\"uote");
	T_EQ_STR(it[5], "back\\slash");
	T_EQ_STR(it[6], "c,d");
	T_EQ_STR(it[7], "噪音");
	hl_arena_free(a);
}

static void test_empty_and_sql_null(void)
{
	hl_arena *a = hl_arena_new();
	const char **it = (const char **)1;
	int n = 7;
	T_ASSERT(parse(a, "{}", &it, &n) == HL_OK);
	T_EQ_INT(n, 0);
	n = 7;
	T_ASSERT(parse(a, NULL, &it, &n) == HL_OK);
	T_EQ_INT(n, 0);
	T_ASSERT(parse(a, "{1,2,30}", &it, &n) == HL_OK);
	T_EQ_INT(n, 3);
	T_EQ_STR(it[2], "30");
	hl_arena_free(a);
}

/* The inverse of hl_pg_text_array for awkward strings. */
static void test_round_trip(void)
{
	hl_arena *a = hl_arena_new();
	const char *in[] = {"", "x", "a,b", "{}", "\"", "\\", "NULL", "两 字"};
	const char *lit = hl_pg_text_array(a, in, 8);
	const char **it;
	int n;
	T_ASSERT(lit != NULL);
	T_ASSERT(parse(a, lit, &it, &n) == HL_OK);
	T_EQ_INT(n, 8);
	for (int i = 0; i < 8; i++)
		T_EQ_STR(it[i], in[i]);
	hl_arena_free(a);
}

static void test_malformed(void)
{
	static const char *bad[] = {"", "{", "}", "a,b", "{\"open}", "{a}x", "{a,,b}x", "{a,,b}", "{,}", "{a\"b\"}"};
	hl_arena *a = hl_arena_new();
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char **it;
		int n;
		if (parse(a, bad[i], &it, &n) != HL_INVALID)
			T_FAILF("'%s' was accepted", bad[i]);
	}
	hl_arena_free(a);
}

int main(void)
{
	T_RUN(test_plain_quoted_and_null);
	T_RUN(test_empty_and_sql_null);
	T_RUN(test_round_trip);
	T_RUN(test_malformed);
	return T_DONE();
}
