/*
 * pg_pipeline.c - hotline-pgcheck DSN: what common/src/pg.c promises about transactions in
 * libpq pipeline mode, checked against a real PostgreSQL (the stack's, superuser DSN):
 * deferred writes are seen by the next read of the same transaction and land only with
 * COMMIT; a deferred write that fails fails the next read or the COMMIT with its status (a
 * unique violation as ABORTED), and nothing of the transaction stays; the transaction's
 * tenant and statement timeout are in force; a transaction opened on a connection the
 * server closed while idle is sent again on a new one; a connection lost after the first
 * answer fails the call (UNAVAILABLE) and keeps nothing; a batch longer than the pipeline's
 * slots goes through whole; multi-row statements (hl_pg_rows) carry every value as it
 * was; rows written with the COMMIT (hl_pg_rows_at_commit) wait for it, survive the
 * caller's memory, land with it in one piece, go before a change of tenant, and go
 * nowhere on a rollback or a failed COMMIT; a transaction's memo starts empty at each
 * BEGIN and is shared by the pieces of a held transaction.  Works in its own schema, dropped at the start.
 */
#include <stdlib.h>
#include <time.h>

#include "hl/arena.h"
#include "hl/pg.h"
#include "t.h"

/* expr must give st; on a failure the message says why */
#define T_STATUS(expr, st)                                                                   \
	do {                                                                                 \
		hl_status t_st = (expr);                                                     \
		if (t_st != (st))                                                            \
			T_FAILF("%s gave %s (%s), expected %s", #expr, hl_status_name(t_st), \
				err.msg, hl_status_name(st));                                \
	} while (0)

static const char *dsn;
static hl_pg *pg, *admin;
static hl_arena *ar;

static const char SQL_INSERT[] = "INSERT INTO items (k, v) VALUES ($1, $2)";
static const char SQL_COUNT[] = "SELECT count(*) FROM items WHERE k LIKE $1";
static const char SQL_DIVIDE[] = "INSERT INTO items (k, v) VALUES ($1, (1 / 0)::text)";
static const char SQL_SETTINGS[] =
	"SELECT current_setting('hotline.tenant'), current_setting('statement_timeout'), pg_backend_pid()";

/* Run sql outside any transaction on the admin connection; true on success. */
static bool admin_exec(const char *sql)
{
	hl_error err;
	return hl_pg_exec(admin, ar, sql, NULL, NULL, &err) == HL_OK;
}

static long long count(const char *like)
{
	hl_pg_args a;
	hl_pg_args_init(&a);
	hl_pg_arg_text(&a, like);
	PGresult *r;
	hl_error err;
	if (hl_pg_exec(admin, ar, SQL_COUNT, &a, &r, &err) != HL_OK)
		return -1;
	return atoll(PQgetvalue(r, 0, 0));
}

static hl_status insert(const char *k, const char *v, hl_error *err)
{
	hl_pg_args *a = hl_arena_alloc(ar, sizeof *a); /* lives until the COMMIT, like a call's */
	hl_pg_args_init(a);
	hl_pg_arg_text(a, hl_arena_strdup(ar, k));
	hl_pg_arg_text(a, hl_arena_strdup(ar, v));
	return hl_pg_exec_deferred(pg, ar, SQL_INSERT, a, err);
}

/* The backend pid of pg's connection, in a transaction of its own. */
static int backend_pid(void)
{
	hl_error err;
	PGresult *r;
	if (hl_pg_begin(pg, "t1", 0, &err) || hl_pg_exec(pg, ar, SQL_SETTINGS, NULL, &r, &err))
		return -1;
	int pid = atoi(PQgetvalue(r, 0, 2));
	hl_pg_rollback(pg);
	return pid;
}

/* pg.c knows a statement by the address of its text: one static text each, values as parameters */
static const char SQL_TERMINATE[] = "SELECT pg_terminate_backend($1::int)";
static const char SQL_ALIVE[] = "SELECT 1 FROM pg_stat_activity WHERE pid = $1::int";

/* Close pid's connection from the server side and wait until the backend is gone. */
static bool terminate(int pid)
{
	hl_pg_args a;
	hl_pg_args_init(&a);
	hl_pg_arg_int(&a, ar, pid);
	hl_error err;
	PGresult *r;
	if (hl_pg_exec(admin, ar, SQL_TERMINATE, &a, &r, &err) != HL_OK)
		return false;
	for (int i = 0; i < 200; i++) {
		if (hl_pg_exec(admin, ar, SQL_ALIVE, &a, &r, &err) == HL_OK && PQntuples(r) == 0)
			return true;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return false;
}

static void test_deferred_writes_are_read_back_and_committed(void)
{
	hl_error err;
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(insert("a/1", "x", &err), HL_OK);
	T_STATUS(insert("a/2", "y", &err), HL_OK);
	T_EQ_INT(count("a/%"), 0); /* not before the COMMIT, seen from elsewhere */
	hl_pg_args a;
	hl_pg_args_init(&a);
	hl_pg_arg_text(&a, "a/%");
	PGresult *r;
	T_STATUS(hl_pg_exec(pg, ar, SQL_COUNT, &a, &r, &err), HL_OK);
	T_EQ_STR(PQgetvalue(r, 0, 0), "2"); /* the transaction's own read sees them */
	T_STATUS(insert("a/3", "z", &err), HL_OK);
	T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	T_EQ_INT(count("a/%"), 3);
}

/* A transaction of one insert of k commits: afterwards exactly one row matches like. */
static void commits_one(const char *k, const char *like)
{
	hl_error err;
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(insert(k, "x", &err), HL_OK);
	T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	T_EQ_INT(count(like), 1);
}

static void test_failed_deferred_write_fails_the_commit_and_keeps_nothing(void)
{
	hl_error err;
	T_ASSERT(admin_exec("INSERT INTO items (k, v) VALUES ('b/taken', 'first')"));
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(insert("b/new", "x", &err), HL_OK);
	T_STATUS(insert("b/taken", "second", &err), HL_OK); /* the violation shows later */
	T_STATUS(hl_pg_commit(pg, &err), HL_ABORTED);
	T_EQ_INT(count("b/new"), 0);
	T_EQ_INT(count("b/taken"), 1);
	commits_one("b/after", "b/after"); /* the connection is usable again */
}

static void test_failed_deferred_write_fails_the_next_read(void)
{
	hl_error err;
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(insert("c/1", "x", &err), HL_OK);
	hl_pg_args *a = hl_arena_alloc(ar, sizeof *a);
	hl_pg_args_init(a);
	hl_pg_arg_text(a, "c/2");
	T_STATUS(hl_pg_exec_deferred(pg, ar, SQL_DIVIDE, a, &err), HL_OK);
	PGresult *r = NULL;
	hl_status st = hl_pg_exec(pg, ar, SQL_SETTINGS, NULL, &r, &err);
	T_ASSERT(st != HL_OK);
	T_ASSERT(r == NULL);
	if (!strstr(err.msg, "22012")) /* division_by_zero */
		T_FAILF("the read failed with \"%s\", not the deferred write's division by zero (22012)", err.msg);
	hl_pg_rollback(pg);
	T_EQ_INT(count("c/%"), 0);
}

static void test_tenant_and_timeout_are_in_force(void)
{
	hl_error err;
	PGresult *r;
	T_STATUS(hl_pg_begin(pg, "tenant-o'brien", 1234, &err), HL_OK);
	T_STATUS(hl_pg_exec(pg, ar, SQL_SETTINGS, NULL, &r, &err), HL_OK);
	T_EQ_STR(PQgetvalue(r, 0, 0), "tenant-o'brien");
	T_EQ_STR(PQgetvalue(r, 0, 1), "1234ms");
	hl_pg_rollback(pg);
	T_STATUS(hl_pg_begin(pg, "t2", 200, &err), HL_OK);
	hl_status st = hl_pg_exec(pg, ar, "SELECT pg_sleep(2)", NULL, NULL, &err);
	T_ASSERT(st != HL_OK); /* cancelled by the transaction's statement timeout */
	hl_pg_rollback(pg);
}

static void test_idle_connection_closed_by_the_server_is_replaced(void)
{
	hl_error err;
	int pid = backend_pid();
	T_ASSERT(pid > 0);
	T_ASSERT(terminate(pid));
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(insert("d/1", "x", &err), HL_OK);
	PGresult *r;
	T_STATUS(hl_pg_exec(pg, ar, SQL_SETTINGS, NULL, &r, &err), HL_OK); /* sent again, on a new connection */
	T_EQ_STR(PQgetvalue(r, 0, 0), "t1");
	T_ASSERT(atoi(PQgetvalue(r, 0, 2)) != pid);
	T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	T_EQ_INT(count("d/%"), 1);
}

static void test_connection_lost_after_an_answer_fails_and_keeps_nothing(void)
{
	hl_error err;
	PGresult *r;
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(insert("e/1", "x", &err), HL_OK);
	T_STATUS(hl_pg_exec(pg, ar, SQL_SETTINGS, NULL, &r, &err), HL_OK);
	T_ASSERT(terminate(atoi(PQgetvalue(r, 0, 2))));
	T_STATUS(insert("e/2", "x", &err), HL_OK); /* only sent */
	T_STATUS(hl_pg_commit(pg, &err), HL_UNAVAILABLE);
	T_EQ_INT(count("e/%"), 0);
	commits_one("e/3", "e/%"); /* and the next transaction works on a new connection */
}

static void test_a_batch_longer_than_the_pipeline_goes_through(void)
{
	hl_error err;
	T_STATUS(hl_pg_begin(pg, "t1", 30000, &err), HL_OK);
	char k[32];
	for (int i = 0; i < 2000; i++) {
		snprintf(k, sizeof k, "f/%d", i);
		T_STATUS(insert(k, "x", &err), HL_OK);
	}
	T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	T_EQ_INT(count("f/%"), 2000);
	/* a failure far into a batch still undoes all of it */
	T_STATUS(hl_pg_begin(pg, "t1", 30000, &err), HL_OK);
	hl_status st = HL_OK;
	for (int i = 0; i < 1500 && !st; i++) {
		snprintf(k, sizeof k, "g/%d", i);
		st = insert(i == 1200 ? "f/7" : k, "x", &err);
	}
	if (!st)
		st = hl_pg_commit(pg, &err);
	else
		hl_pg_rollback(pg);
	T_EQ_INT(st, HL_ABORTED);
	T_EQ_INT(count("g/%"), 0);
}

static const char SQL_ROWS_INSERT[] =
	"INSERT INTO typed (t, n, b, f, a) SELECT t, n, b, f, a::text[] FROM unnest($1::text[], $2::bigint[], "
	"$3::bytea[], $4::bool[], $5::text[]) AS u(t, n, b, f, a)";
static const char SQL_ROWS_READ[] =
	"SELECT t, n, b IS NULL, encode(b, 'hex'), f, a::text[] = ARRAY['x,y', 'z\"'] FROM typed ORDER BY n";

/* hl_pg_rows: values that need quoting, NULLs, bytes with NUL and backslash come back as they went. */
static void test_multi_row_values_round_trip(void)
{
	hl_error err;
	static const uint8_t bytes[] = {0x00, 0x5c, 0x22, 0xff};
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, ar, 5);
	const char *texts[] = {"a \"quoted\", back\\slash {x}", NULL, "噪音 NULL"};
	for (int i = 0; i < 3; i++) {
		hl_pg_rows_text(&rows, texts[i]);
		hl_pg_rows_int(&rows, 9000000000LL + i);
		hl_pg_rows_bytes(&rows, i == 1 ? NULL : bytes, sizeof bytes);
		hl_pg_rows_bool(&rows, i == 2);
		hl_pg_rows_text(&rows, "{\"x,y\",\"z\\\"\"}");
	}
	T_EQ_INT(hl_pg_rows_count(&rows), 3);
	hl_pg_args *a = hl_arena_alloc(ar, sizeof *a);
	hl_pg_args_init(a);
	T_STATUS(hl_pg_rows_args(&rows, a, &err), HL_OK);
	T_STATUS(hl_pg_begin(pg, NULL, 0, &err), HL_OK);
	T_STATUS(hl_pg_exec_deferred(pg, ar, SQL_ROWS_INSERT, a, &err), HL_OK);
	T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	PGresult *r;
	T_STATUS(hl_pg_exec(admin, ar, SQL_ROWS_READ, NULL, &r, &err), HL_OK);
	T_EQ_INT(PQntuples(r), 3);
	for (int i = 0; i < 3 && i < PQntuples(r); i++) {
		if (texts[i])
			T_EQ_STR(hl_pg_get(r, i, 0), texts[i]);
		else
			T_ASSERT(hl_pg_get(r, i, 0) == NULL);
		T_ASSERT(hl_pg_get_int(r, i, 1) == 9000000000LL + i);
		T_ASSERT(hl_pg_get_bool(r, i, 2) == (i == 1));
		if (i != 1)
			T_EQ_STR(hl_pg_get(r, i, 3), "005c22ff");
		T_ASSERT(hl_pg_get_bool(r, i, 4) == (i == 2));
		T_ASSERT(hl_pg_get_bool(r, i, 5));
	}
	/* a row left short is refused before anything is sent */
	hl_pg_rows_text(&rows, "short");
	hl_pg_args_init(a);
	T_STATUS(hl_pg_rows_args(&rows, a, &err), HL_INTERNAL);
}

#define AT_COMMIT_INSERT "INSERT INTO items (k, v) SELECT * FROM unnest($1::text[], $2::text[])"
static const char SQL_AT_COMMIT[] = AT_COMMIT_INSERT;
static const char SQL_ITEMS_OF_TX[] = "SELECT count(*), count(DISTINCT xmin::text) FROM items WHERE k LIKE $1";

/* Add rows k/1..k/n (values copied from memory freed at once) to wait for the COMMIT. */
static hl_status rows_at_commit(const char *k, int n, hl_error *err)
{
	hl_arena *tmp = hl_arena_new();
	hl_pg_rows rows;
	hl_pg_rows_init(&rows, tmp, 2);
	for (int i = 1; i <= n; i++) {
		hl_pg_rows_text(&rows, hl_arena_printf(tmp, "%s/%d", k, i));
		hl_pg_rows_text(&rows, "v");
	}
	hl_status st = hl_pg_rows_at_commit(pg, SQL_AT_COMMIT, &rows, err);
	hl_arena_free(tmp);
	return st;
}

/* Rows matching like as pg's transaction sees them: their count, and in how many transactions they landed. */
static void seen_by_tx(const char *like, long long *rows, long long *txs)
{
	hl_pg_args a = hl_pg_args_key(like);
	PGresult *r;
	hl_error err;
	*rows = *txs = -1;
	if (hl_pg_exec(pg, ar, SQL_ITEMS_OF_TX, &a, &r, &err) == HL_OK) {
		*rows = atoll(PQgetvalue(r, 0, 0));
		*txs = atoll(PQgetvalue(r, 0, 1));
	}
}

static void test_rows_at_commit(void)
{
	hl_error err;
	long long rows, txs;
	/* they wait for the COMMIT (unseen by the transaction itself), then land together */
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(rows_at_commit("h", 2, &err), HL_OK);
	seen_by_tx("h/%", &rows, &txs);
	T_ASSERT(rows == 0);
	T_STATUS(rows_at_commit("h/more", 3, &err), HL_OK);
	T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	T_EQ_INT(count("h/%"), 5);
	/* the pieces of a held transaction: one transaction, all rows */
	T_STATUS(hl_pg_hold_begin(pg, "t1", 5000, &err), HL_OK);
	for (int piece = 0; piece < 3; piece++) {
		T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
		T_STATUS(rows_at_commit(piece == 0 ? "i/a" : piece == 1 ? "i/b" : "i/c", 2, &err), HL_OK);
		T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	}
	T_EQ_INT(count("i/%"), 0);
	T_STATUS(hl_pg_hold_commit(pg, &err), HL_OK);
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	seen_by_tx("i/%", &rows, &txs);
	hl_pg_rollback(pg);
	T_ASSERT(rows == 6 && txs == 1);
	/* a change of tenant sends the rows so far first */
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(rows_at_commit("j", 2, &err), HL_OK);
	T_STATUS(hl_pg_set_tenant(pg, ar, "t2", &err), HL_OK);
	seen_by_tx("j/%", &rows, &txs);
	T_ASSERT(rows == 2);
	T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	T_EQ_INT(count("j/%"), 2);
	/* a rollback drops them, and the next transaction does not write them */
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(rows_at_commit("k", 2, &err), HL_OK);
	hl_pg_rollback(pg);
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(insert("k/other", "x", &err), HL_OK);
	T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	T_EQ_INT(count("k/%"), 1);
	/* one that fails fails the COMMIT (a unique violation: ABORTED), and nothing of the transaction stays */
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_STATUS(insert("l/1", "x", &err), HL_OK);
	T_STATUS(rows_at_commit("h", 1, &err), HL_OK);
	T_STATUS(hl_pg_commit(pg, &err), HL_ABORTED);
	T_EQ_INT(count("l/%"), 0);
	/* outside a transaction they are written at once */
	T_STATUS(rows_at_commit("m", 1, &err), HL_OK);
	T_EQ_INT(count("m/%"), 1);
	/* rows of more distinct statements than there are slots: the ninth sends the eight waiting */
	static const char *const sql9[] = {
		AT_COMMIT_INSERT " -- 1", AT_COMMIT_INSERT " -- 2", AT_COMMIT_INSERT " -- 3", AT_COMMIT_INSERT " -- 4",
		AT_COMMIT_INSERT " -- 5", AT_COMMIT_INSERT " -- 6", AT_COMMIT_INSERT " -- 7", AT_COMMIT_INSERT " -- 8",
		AT_COMMIT_INSERT " -- 9"};
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	for (int i = 0; i < 9; i++) {
		hl_pg_rows one;
		hl_pg_rows_init(&one, ar, 2);
		hl_pg_rows_text(&one, hl_arena_printf(ar, "n/%d", i));
		hl_pg_rows_text(&one, "v");
		T_STATUS(hl_pg_rows_at_commit(pg, sql9[i], &one, &err), HL_OK);
	}
	seen_by_tx("n/%", &rows, &txs);
	T_ASSERT(rows == 8);
	T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	T_EQ_INT(count("n/%"), 9);
}

static void test_tx_memo(void)
{
	hl_error err;
	static const char mine = 0, other = 0;
	T_STATUS(hl_pg_hold_begin(pg, "t1", 5000, &err), HL_OK);
	T_ASSERT(hl_pg_held(pg));
	T_ASSERT(hl_pg_tx_memo(pg, &mine) && *hl_pg_tx_memo(pg, &mine) == NULL);
	char *kept = hl_arena_strdup(hl_pg_tx_mem(pg), "kept");
	*hl_pg_tx_memo(pg, &mine) = kept;
	T_ASSERT(*hl_pg_tx_memo(pg, &other) == NULL); /* a slot per owner */
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK); /* a piece: the same transaction, the same memo */
	T_ASSERT(*hl_pg_tx_memo(pg, &mine) == kept);
	T_STATUS(hl_pg_commit(pg, &err), HL_OK);
	T_STATUS(hl_pg_hold_commit(pg, &err), HL_OK);
	T_ASSERT(!hl_pg_held(pg));
	T_EQ_STR(*hl_pg_tx_memo(pg, &mine), "kept"); /* until the next BEGIN */
	T_STATUS(hl_pg_begin(pg, "t1", 5000, &err), HL_OK);
	T_ASSERT(!hl_pg_held(pg));
	T_ASSERT(*hl_pg_tx_memo(pg, &mine) == NULL);
	hl_pg_rollback(pg);
}

int main(int argc, char **argv)
{
	hl_error err;
	dsn = argc > 1 ? argv[1] : getenv("HOTLINE_PG_SUPERUSER_DSN");
	if (!dsn || !(ar = hl_arena_new()) || hl_pg_new(dsn, NULL, &admin, &err) ||
	    !admin_exec("DROP SCHEMA IF EXISTS pgcheck CASCADE") || !admin_exec("CREATE SCHEMA pgcheck") ||
	    !admin_exec("CREATE TABLE pgcheck.items (k text PRIMARY KEY, v text NOT NULL)") ||
	    !admin_exec("CREATE TABLE pgcheck.typed (t text, n bigint PRIMARY KEY, b bytea, f bool, a text[])") ||
	    hl_pg_new(dsn, "pgcheck", &pg, &err)) {
		fprintf(stderr, "usage: hotline-pgcheck DSN (a superuser's; cannot set up the pgcheck schema)\n");
		return 2;
	}
	hl_pg_free(admin);
	if (hl_pg_new(dsn, "pgcheck", &admin, &err))
		return 2;
	T_RUN(test_deferred_writes_are_read_back_and_committed);
	T_RUN(test_failed_deferred_write_fails_the_commit_and_keeps_nothing);
	T_RUN(test_failed_deferred_write_fails_the_next_read);
	T_RUN(test_tenant_and_timeout_are_in_force);
	T_RUN(test_idle_connection_closed_by_the_server_is_replaced);
	T_RUN(test_connection_lost_after_an_answer_fails_and_keeps_nothing);
	T_RUN(test_a_batch_longer_than_the_pipeline_goes_through);
	T_RUN(test_multi_row_values_round_trip);
	T_RUN(test_rows_at_commit);
	T_RUN(test_tx_memo);
	admin_exec("DROP SCHEMA pgcheck CASCADE");
	hl_pg_free(pg);
	hl_pg_free(admin);
	hl_arena_free(ar);
	return T_DONE();
}
