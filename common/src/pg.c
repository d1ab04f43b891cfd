/*
 * pg.c - PostgreSQL connections, transactions and statements (see pg.h):
 * connection parameters for failing networks, SQLSTATE translation,
 * prepared statements, transactions in libpq pipeline mode (deferred
 * writes travel with the next read or the COMMIT), result helpers.
 */
#include "hl/pg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hl/buf.h"
#include "hl/log.h"

#define STMT_SLOTS 128
#define SENT_SLOTS 512  /* items sent in one pipeline before their answers are read */
#define REPLAY_SLOTS 16 /* items of a transaction's opening kept for one resend */
#define AT_COMMIT_SLOTS 8 /* distinct statements whose rows wait for the COMMIT (a ninth sends them) */
#define TX_MEMO_SLOTS 8   /* modules keeping something for the transaction */

struct stmt {
	const char *sql; /* identity: the address of the store's static text; NULL: slot unused */
	int id;
};

/* What an item sent in the pipeline was, for reading its answer. */
enum sent_kind { SENT_PREPARE, SENT_COMMAND, SENT_DEFERRED, SENT_QUERY };

struct sent {
	enum sent_kind kind;
	int stmt; /* SENT_PREPARE: its slot */
};

struct replay {
	const char *sql;
	enum sent_kind kind;
	hl_pg_args args;
};

/* Rows of one multi-row statement waiting for the COMMIT (hl_pg_rows_at_commit). */
struct at_commit {
	const char *sql;
	hl_pg_rows rows; /* copies, in tx_mem */
};

struct hl_pg {
	char *dsn;
	char schema[64];
	PGconn *conn;
	bool in_tx;
	uint64_t tx_serial; /* of the open transaction */
	struct stmt stmts[STMT_SLOTS];
	int n_stmts;
	bool piped;    /* in libpq pipeline mode (inside a transaction) */
	bool answered; /* an answer of this transaction has been read: no resend */
	struct sent sent[SENT_SLOTS];
	int n_sent;
	struct replay replay[REPLAY_SLOTS];
	int n_replay; /* > REPLAY_SLOTS: no resend */
	char tenant[128], timeout[24];
	hl_pg_args settings;
	hl_arena *replay_mem; /* the copies of the remembered parameters */
	int64_t retry_at_ms;
	int backoff_ms;
	char sqlstate[6];
	char constraint[64];
	bool held; /* a held transaction (hl_pg_hold_begin): begin/commit are the holder's */
	struct at_commit at_commit[AT_COMMIT_SLOTS];
	int n_at_commit;
	hl_arena *tx_mem; /* the transaction's memory: rows waiting for the COMMIT, the memo */
	struct {
		const void *owner;
		void *p;
	} tx_memo[TX_MEMO_SLOTS]; /* hl_pg_tx_memo */
	int n_tx_memo;
};

static hl_status simple(hl_pg *pg, const char *sql, hl_error *err);
static hl_status sync_answer(hl_pg *pg, hl_arena *ar, PGresult **last, hl_error *err);
static void leave_pipeline(hl_pg *pg);
static void rows_put(hl_pg_rows *r, const char *v);

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hl_pg_args_init(hl_pg_args *a)
{
	memset(a, 0, sizeof *a);
}

static void arg_put(hl_pg_args *a, const char *v, int len, int fmt)
{
	if (a->n >= HL_PG_MAX_ARGS) {
		a->overflow = true;
		return;
	}
	a->v[a->n] = v;
	a->len[a->n] = len;
	a->fmt[a->n] = fmt;
	a->n++;
}

void hl_pg_arg_text(hl_pg_args *a, const char *s)
{
	arg_put(a, s, 0, 0);
}

void hl_pg_arg_bytes(hl_pg_args *a, const void *p, size_t n)
{
	arg_put(a, p, (int)n, 1);
}

void hl_pg_arg_int(hl_pg_args *a, hl_arena *ar, long long v)
{
	arg_put(a, hl_arena_printf(ar, "%lld", v), 0, 0);
}

void hl_pg_arg_bool(hl_pg_args *a, bool v)
{
	arg_put(a, v ? "true" : "false", 0, 0);
}

static bool plain_identifier(const char *s)
{
	if (!*s || strlen(s) > 63)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_' || (p != s && *p >= '0' && *p <= '9')))
			return false;
	return true;
}

hl_status hl_pg_new(const char *dsn, const char *schema, hl_pg **out, hl_error *err)
{
	*out = NULL;
	if (schema && !plain_identifier(schema))
		return hl_fail(err, HL_INVALID, "schema name must be a plain identifier");
	hl_pg *pg = calloc(1, sizeof *pg);
	if (!pg || !(pg->dsn = strdup(dsn))) {
		free(pg);
		return hl_fail(err, HL_NOMEM, "out of memory");
	}
	if (schema)
		snprintf(pg->schema, sizeof pg->schema, "%s", schema);
	*out = pg;
	return HL_OK;
}

static void disconnect(hl_pg *pg)
{
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pg->in_tx = false;
	pg->piped = false;
	pg->n_sent = 0;
	pg->n_stmts = 0;
}

void hl_pg_free(hl_pg *pg)
{
	if (!pg)
		return;
	disconnect(pg);
	hl_arena_free(pg->replay_mem);
	hl_arena_free(pg->tx_mem);
	free(pg->dsn);
	free(pg);
}

PGconn *hl_pg_conn(hl_pg *pg)
{
	return pg->conn;
}

/*
 * The server's notices and warnings (e.g. "already exists, skipping" from a
 * migration) as log events, not raw lines on stderr. They carry the server's
 * own text about statements and objects, never row data.
 */
static void log_notice(void *arg, const PGresult *res)
{
	(void)arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	char q[512];
	if (sev && strcmp(sev, "WARNING") == 0)
		HL_LOG_WARN("db_warning", "msg=%s", hl_log_quote(q, sizeof q, msg ? msg : ""));
	else
		HL_LOG_DEBUG("db_notice", "severity=%s msg=%s", sev ? sev : "NOTICE",
			     hl_log_quote(q, sizeof q, msg ? msg : ""));
}

/*
 * Defaults for a network that can fail silently (a partition, a server that
 * stopped): a connect gives up after connect_timeout seconds, and keepalives
 * plus tcp_user_timeout make a connection whose peer vanished fail in about
 * 15 s instead of waiting for the kernel's two hours.  Listed before the DSN,
 * so that a DSN that sets one of them wins (expand_dbname: later wins).
 */
static const char *const conn_defaults[][2] = {
	{"connect_timeout", "5"},
	{"keepalives", "1"},
	{"keepalives_idle", "10"},
	{"keepalives_interval", "5"},
	{"keepalives_count", "3"},
	{"tcp_user_timeout", "15000"},
};
_Static_assert(sizeof conn_defaults / sizeof conn_defaults[0] + 1 == HL__PG_CONN_PARAMS, "HL__PG_CONN_PARAMS");

void hl__pg_conn_params(const char *dsn, const char **kw, const char **val)
{
	size_t n = sizeof conn_defaults / sizeof conn_defaults[0];
	for (size_t i = 0; i < n; i++) {
		kw[i] = conn_defaults[i][0];
		val[i] = conn_defaults[i][1];
	}
	kw[n] = "dbname";
	val[n] = dsn;
	kw[n + 1] = NULL;
	val[n + 1] = NULL;
}

hl_status hl_pg_connect(hl_pg *pg, hl_error *err)
{
	if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
		return HL_OK;
	disconnect(pg);
	int64_t now = mono_ms();
	if (now < pg->retry_at_ms)
		return hl_fail(err, HL_UNAVAILABLE, "database unavailable (reconnecting)");
	const char *kw[HL__PG_CONN_PARAMS + 1], *val[HL__PG_CONN_PARAMS + 1];
	hl__pg_conn_params(pg->dsn, kw, val);
	pg->conn = PQconnectdbParams(kw, val, 1);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		disconnect(pg);
		pg->backoff_ms = pg->backoff_ms ? pg->backoff_ms * 2 : 100;
		if (pg->backoff_ms > 5000)
			pg->backoff_ms = 5000;
		pg->retry_at_ms = now + pg->backoff_ms;
		return hl_fail(err, HL_UNAVAILABLE, "database unavailable");
	}
	PQsetNoticeReceiver(pg->conn, log_notice, NULL);
	pg->backoff_ms = 0;
	pg->retry_at_ms = 0;
	if (pg->schema[0]) {
		char sql[96];
		snprintf(sql, sizeof sql, "SET search_path = %s", pg->schema);
		return simple(pg, sql, err);
	}
	return HL_OK;
}

/* Whether SQLSTATE `state` begins with the two-character class `cls`. */
static bool in_class(const char *state, const char *cls)
{
	return strncmp(state, cls, 2) == 0;
}

hl_status hl_pg_sqlstate_status(const char *state)
{
	if (!state || !*state)
		return HL_UNAVAILABLE;
	if (strcmp(state, "23505") == 0)
		return HL_EXISTS;
	/* serialization failure, deadlock, lock not available, statement completion unknown: the
	 * transaction did not (visibly) happen, the caller retries it */
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
	    strcmp(state, "40003") == 0)
		return HL_ABORTED;
	if (strcmp(state, "57014") == 0)
		return HL_DEADLINE;
	/* 08P01 (protocol violation, e.g. a bind with the wrong parameter count) is our bug, not an
	 * outage: it falls through to a database error. */
	if (in_class(state, "08") && strcmp(state, "08P01") != 0)
		return HL_UNAVAILABLE;
	/* admin, crash and starting-up shutdowns, a read-only transaction (a primary that became a
	 * standby in a failover), insufficient resources (out of memory, disk full, too many
	 * connections): all pass, so the call is retried, never dead-lettered */
	if (strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0 ||
	    strcmp(state, "25006") == 0 || in_class(state, "53"))
		return HL_UNAVAILABLE;
	if (in_class(state, "22"))
		return HL_INVALID;
	if (in_class(state, "23"))
		return HL_PRECONDITION;
	if (strcmp(state, "42501") == 0)
		return HL_DENIED;
	return HL_DB;
}

/* Whether the connection is of no further use after SQLSTATE `state` (its server went away,
 * or it now leads to a standby). */
static bool drop_after(const char *state)
{
	return (in_class(state, "08") && strcmp(state, "08P01") != 0) || strncmp(state, "57P0", 4) == 0 ||
	       strcmp(state, "25006") == 0;
}

/* Translate a failed result; drops the connection when it is broken. */
static hl_status translate(hl_pg *pg, const PGresult *res, hl_error *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	snprintf(pg->sqlstate, sizeof pg->sqlstate, "%s", state ? state : "");
	snprintf(pg->constraint, sizeof pg->constraint, "%s", cons ? cons : "");
	if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK || !state) {
		disconnect(pg);
		return hl_fail(err, HL_UNAVAILABLE, "database connection lost");
	}
	hl_status st = hl_pg_sqlstate_status(state);
	switch (st) {
	case HL_EXISTS:
		return hl_fail(err, st, "duplicate (%s)", pg->constraint);
	case HL_ABORTED:
		return hl_fail(err, st, "concurrent change, retry");
	case HL_DEADLINE:
		return hl_fail(err, st, "database statement timed out");
	case HL_UNAVAILABLE:
		if (drop_after(state))
			disconnect(pg);
		return hl_fail(err, st, "database unavailable (SQLSTATE %s)", state);
	case HL_INVALID:
		return hl_fail(err, st, "value rejected by the database (SQLSTATE %s)", state);
	case HL_PRECONDITION:
		return hl_fail(err, st, "constraint %s violated", pg->constraint);
	case HL_DENIED:
		return hl_fail(err, st, "database permission denied");
	default:
		return hl_fail(err, HL_DB, "database error (SQLSTATE %s)", state);
	}
}

static hl_status simple(hl_pg *pg, const char *sql, hl_error *err)
{
	PGresult *r = PQexec(pg->conn, sql);
	ExecStatusType t = PQresultStatus(r);
	hl_status st = HL_OK;
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
		st = translate(pg, r, err);
	PQclear(r);
	return st;
}

hl_status hl_pg_script(hl_pg *pg, const char *sql, hl_error *err)
{
	hl_status st = hl_pg_connect(pg, err);
	if (st)
		return st;
	if (pg->piped) { /* a script in a transaction (migrations): what was sent first, then plain mode */
		if ((st = sync_answer(pg, NULL, NULL, err)))
			return st;
		leave_pipeline(pg);
	}
	return simple(pg, sql, err);
}

/* Wait until the connection's answer is complete or deadline (monotonic ms) passes. */
static bool await_answer(hl_pg *pg, int64_t deadline)
{
	while (PQisBusy(pg->conn)) {
		int64_t left = deadline - mono_ms();
		struct pollfd pfd = {.fd = PQsocket(pg->conn), .events = POLLIN};
		if (left <= 0 || pfd.fd < 0)
			return false;
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return false;
		if (n > 0 && !PQconsumeInput(pg->conn))
			return false;
	}
	return true;
}

hl_status hl_pg_ping(hl_pg *pg, int timeout_ms, hl_error *err)
{
	hl_status st = hl_pg_connect(pg, err);
	if (st)
		return st;
	if (pg->in_tx)
		return hl_fail(err, HL_INTERNAL, "ping inside a transaction");
	if (!PQsendQuery(pg->conn, "SELECT 1") || !await_answer(pg, mono_ms() + timeout_ms)) {
		disconnect(pg); /* a late answer must not be read as that of the next statement */
		return hl_fail(err, HL_UNAVAILABLE, "database did not answer within %d ms", timeout_ms);
	}
	PGresult *r;
	while ((r = PQgetResult(pg->conn))) {
		if (PQresultStatus(r) != PGRES_TUPLES_OK && !st)
			st = translate(pg, r, err);
		PQclear(r);
		if (!pg->conn)
			break;
	}
	return st;
}

/* ---- transactions: pipelined, two round trips at most ------------------------------------------
 *
 * Inside a transaction the connection is in libpq pipeline mode.  BEGIN and the transaction's
 * settings, and every statement sent with hl_pg_exec_deferred, are only sent; they travel with the
 * next statement whose answer is needed, or with COMMIT, in one round trip, and their outcome is
 * read there (a failure of a deferred statement fails that call).  So a handler's transaction is
 * one round trip for its reads and one for its writes and COMMIT.
 *
 * Until the first answer of a transaction is read, everything sent in it is remembered: if the
 * connection turns out dead there (the server restarted while it was idle), nothing can have been
 * done, so the transaction is sent again once on a new connection.
 */

static void clear_result(void *p)
{
	PQclear(p);
}

/* Transaction serials are unique in the process, whatever the connection. */
static _Atomic uint64_t tx_serials;

static const char SQL_SETTINGS[] =
	"SELECT set_config('hotline.tenant', $1, true), set_config('statement_timeout', $2, true)";

static bool enter_pipeline(hl_pg *pg)
{
	if (pg->piped)
		return true;
	if (!PQenterPipelineMode(pg->conn))
		return false;
	pg->piped = true;
	return true;
}

static void leave_pipeline(hl_pg *pg)
{
	if (pg->conn && pg->piped)
		PQexitPipelineMode(pg->conn);
	pg->piped = false;
}

/* Remember what was sent before any answer of the transaction was read (for one resend), with copies
 * of the parameter values: the caller's memory may be gone by then. */
static void remember(hl_pg *pg, const char *sql, const hl_pg_args *args, enum sent_kind kind)
{
	if (pg->answered || pg->n_replay >= REPLAY_SLOTS) {
		pg->n_replay = REPLAY_SLOTS + 1; /* too much or too late: no resend */
		return;
	}
	if (!pg->replay_mem && !(pg->replay_mem = hl_arena_new())) {
		pg->n_replay = REPLAY_SLOTS + 1;
		return;
	}
	struct replay *r = &pg->replay[pg->n_replay];
	r->sql = sql;
	r->kind = kind;
	hl_pg_args_init(&r->args);
	for (int i = 0; args && i < args->n; i++) {
		const char *v = args->v[i];
		size_t n = !v ? 0 : args->fmt[i] ? (size_t)args->len[i] : strlen(v) + 1;
		const char *copy = v ? hl_arena_memdup(pg->replay_mem, v, n ? n : 1) : NULL;
		if (v && !copy) {
			pg->n_replay = REPLAY_SLOTS + 1;
			return;
		}
		r->args.v[i] = copy;
		r->args.len[i] = args->len[i];
		r->args.fmt[i] = args->fmt[i];
	}
	r->args.n = args ? args->n : 0;
	pg->n_replay++;
}

static bool note_sent(hl_pg *pg, enum sent_kind kind, int stmt)
{
	if (pg->n_sent == SENT_SLOTS)
		return false;
	pg->sent[pg->n_sent++] = (struct sent){kind, stmt};
	return true;
}

/* Send a parameterless command (BEGIN, SAVEPOINT ...) in the pipeline. */
static bool send_command(hl_pg *pg, const char *cmd, enum sent_kind kind)
{
	return enter_pipeline(pg) && PQsendQueryParams(pg->conn, cmd, 0, NULL, NULL, NULL, NULL, 0) &&
	       note_sent(pg, kind, -1);
}

/* Send a statement in the pipeline, with its PREPARE the first time on this connection. */
static bool send_statement(hl_pg *pg, const char *sql, const hl_pg_args *args, enum sent_kind kind)
{
	if (!enter_pipeline(pg))
		return false;
	int slot = -1;
	for (int i = 0; i < pg->n_stmts && slot < 0; i++)
		if (pg->stmts[i].sql == sql)
			slot = i;
	if (slot < 0 && pg->n_stmts < STMT_SLOTS) {
		slot = pg->n_stmts;
		char name[16];
		snprintf(name, sizeof name, "s%d", slot);
		if (!PQsendPrepare(pg->conn, name, sql, args->n, NULL) || !note_sent(pg, SENT_PREPARE, slot))
			return false;
		pg->stmts[pg->n_stmts++] = (struct stmt){sql, slot};
	}
	if (slot < 0)
		return PQsendQueryParams(pg->conn, sql, args->n, NULL, args->v, args->len, args->fmt, 0) &&
		       note_sent(pg, kind, -1);
	char name[16];
	snprintf(name, sizeof name, "s%d", pg->stmts[slot].id);
	return PQsendQueryPrepared(pg->conn, name, args->n, args->v, args->len, args->fmt, 0) &&
	       note_sent(pg, kind, -1);
}

/* The result of one sent item; NULL when the connection broke. */
static PGresult *next_result(hl_pg *pg)
{
	PGresult *r = PQgetResult(pg->conn), *extra;
	if (!r)
		return NULL;
	while ((extra = PQgetResult(pg->conn))) /* the NULL that ends the item's results */
		PQclear(extra);
	return r;
}

/*
 * Mark the pipeline's end, read the answers of everything sent and keep the last one's
 * result when it is a query (in ar).  The first failure is the outcome: a deferred statement's
 * unique violation is a concurrent change (ABORTED).
 */
static hl_status sync_read(hl_pg *pg, hl_arena *ar, PGresult **last, hl_error *err)
{
	hl_status st = HL_OK;
	bool broken = !PQpipelineSync(pg->conn);
	int n = pg->n_sent;
	pg->n_sent = 0;
	for (int i = 0; i < n && !broken; i++) {
		struct sent s = pg->sent[i];
		PGresult *r = next_result(pg);
		ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
		if (s.kind == SENT_PREPARE && t != PGRES_COMMAND_OK)
			pg->stmts[s.stmt].sql = NULL; /* not prepared after all (failed, or skipped after a failure) */
		if (!r || (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK && t != PGRES_PIPELINE_ABORTED)) {
			if (!st) {
				st = translate(pg, r, err);
				if (st == HL_EXISTS && s.kind == SENT_DEFERRED)
					st = hl_fail(err, HL_ABORTED, "concurrent change of the same record, retry");
			}
			broken = !pg->conn;
		} else if (i == n - 1 && s.kind == SENT_QUERY && last && t != PGRES_PIPELINE_ABORTED) {
			if (hl_arena_defer(ar, clear_result, r)) {
				PQclear(r);
				st = st ? st : hl_fail(err, HL_NOMEM, "out of memory");
			} else {
				*last = r;
			}
			continue;
		}
		PQclear(r);
	}
	if (broken) {
		disconnect(pg);
		return st ? st : hl_fail(err, HL_UNAVAILABLE, "database connection lost");
	}
	PGresult *sync = PQgetResult(pg->conn);
	bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
	PQclear(sync);
	if (!synced) {
		disconnect(pg);
		return st ? st : hl_fail(err, HL_UNAVAILABLE, "database connection lost");
	}
	pg->answered = true;
	return st;
}

/* Send what the transaction had sent again, on a new connection (see above). */
static hl_status resend(hl_pg *pg, hl_error *err)
{
	hl_status st = hl_pg_connect(pg, err);
	if (st)
		return st;
	pg->in_tx = true; /* disconnect() forgot the transaction this sends again */
	for (int i = 0; i < pg->n_replay; i++) {
		const char *sql = pg->replay[i].sql;
		bool ok = pg->replay[i].kind == SENT_COMMAND ? send_command(pg, sql, SENT_COMMAND)
							     : send_statement(pg, sql, &pg->replay[i].args, pg->replay[i].kind);
		if (!ok) {
			disconnect(pg);
			return hl_fail(err, HL_UNAVAILABLE, "database connection lost");
		}
	}
	return HL_OK;
}

/* sync_read, and once more on a new connection when the first answer found it dead. */
static hl_status sync_answer(hl_pg *pg, hl_arena *ar, PGresult **last, hl_error *err)
{
	bool may_resend = !pg->answered && pg->n_replay <= REPLAY_SLOTS;
	hl_status st = sync_read(pg, ar, last, err);
	if (st != HL_UNAVAILABLE || pg->conn || !may_resend)
		return st;
	if ((st = resend(pg, err)))
		return st;
	return sync_read(pg, ar, last, err);
}

static hl_status send_failed(hl_pg *pg, hl_error *err)
{
	disconnect(pg);
	return hl_fail(err, HL_UNAVAILABLE, "database connection lost");
}

/* A command of the transaction's opening, remembered for a resend. */
static bool send_remembered_command(hl_pg *pg, const char *cmd)
{
	remember(pg, cmd, NULL, SENT_COMMAND);
	return send_command(pg, cmd, SENT_COMMAND);
}

/* The transaction's tenant and statement timeout; the parameters live in the connection. */
static hl_status send_settings(hl_pg *pg, const char *tenant, int64_t timeout_ms, hl_error *err)
{
	int n = snprintf(pg->tenant, sizeof pg->tenant, "%s", tenant ? tenant : "");
	if (n < 0 || (size_t)n >= sizeof pg->tenant)
		return hl_fail(err, HL_INVALID, "tenant id too long");
	snprintf(pg->timeout, sizeof pg->timeout, "%lld", (long long)(timeout_ms > 0 ? timeout_ms : 0));
	hl_pg_args_init(&pg->settings);
	hl_pg_arg_text(&pg->settings, pg->tenant);
	hl_pg_arg_text(&pg->settings, pg->timeout);
	remember(pg, SQL_SETTINGS, &pg->settings, SENT_DEFERRED);
	return send_statement(pg, SQL_SETTINGS, &pg->settings, SENT_DEFERRED) ? HL_OK : send_failed(pg, err);
}

static void start_tx(hl_pg *pg)
{
	pg->in_tx = true;
	pg->answered = false;
	pg->n_replay = 0;
	if (pg->replay_mem) { /* a fresh arena per transaction: the last one's copies are not needed */
		hl_arena_free(pg->replay_mem);
		pg->replay_mem = NULL;
	}
	pg->n_sent = 0;
	pg->n_at_commit = 0;
	pg->n_tx_memo = 0;
	if (pg->tx_mem) {
		hl_arena_free(pg->tx_mem);
		pg->tx_mem = NULL;
	}
	pg->tx_serial = ++tx_serials;
}

static hl_status hold_given_up(hl_error *err)
{
	return hl_fail(err, HL_ABORTED, "the batch's shared transaction was rolled back");
}

hl_status hl_pg_begin(hl_pg *pg, const char *tenant, int64_t timeout_ms, hl_error *err)
{
	if (pg->held) /* inside the holder's transaction, for the same tenant */
		return pg->in_tx && strcmp(pg->tenant, tenant ? tenant : "") == 0 ? HL_OK : hold_given_up(err);
	hl_status st = hl_pg_connect(pg, err);
	if (st)
		return st;
	if (pg->in_tx)
		hl_pg_rollback(pg);
	start_tx(pg);
	if (!send_remembered_command(pg, "BEGIN"))
		return send_failed(pg, err);
	return send_settings(pg, tenant, timeout_ms, err);
}

uint64_t hl_pg_tx_serial(const hl_pg *pg)
{
	return pg->in_tx ? pg->tx_serial : 0;
}

/* ROLLBACK on the server after a failure; a connection that cannot is dropped, which ends its
 * transaction too. */
static void abandon(hl_pg *pg)
{
	hl_error ignored;
	if (!pg->conn)
		return;
	if (!send_command(pg, "ROLLBACK", SENT_COMMAND) || sync_read(pg, NULL, NULL, &ignored))
		disconnect(pg);
}

static hl_status end_tx(hl_pg *pg, hl_status st)
{
	pg->in_tx = false;
	if (st && pg->conn && PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		abandon(pg);
	leave_pipeline(pg);
	return st;
}

static hl_status write_at_commit(hl_pg *pg, hl_error *err);

hl_status hl_pg_commit(hl_pg *pg, hl_error *err)
{
	if (pg->held) /* kept for the holder's COMMIT */
		return pg->in_tx ? HL_OK : hold_given_up(err);
	if (!pg->in_tx)
		return hl_fail(err, HL_INTERNAL, "commit without a transaction");
	hl_status st = write_at_commit(pg, err);
	if (st)
		return end_tx(pg, st);
	if (!send_command(pg, "COMMIT", SENT_COMMAND))
		return end_tx(pg, send_failed(pg, err));
	return end_tx(pg, sync_answer(pg, NULL, NULL, err));
}

void hl_pg_rollback(hl_pg *pg)
{
	if (!pg->conn)
		return;
	if (!pg->in_tx)
		return;
	pg->in_tx = false;
	pg->n_at_commit = 0;
	abandon(pg);
	leave_pipeline(pg);
}

hl_status hl_pg_hold_begin(hl_pg *pg, const char *tenant, int64_t timeout_ms, hl_error *err)
{
	pg->held = false;
	hl_status st = hl_pg_begin(pg, tenant, timeout_ms, err);
	pg->held = st == HL_OK;
	return st;
}

bool hl_pg_hold_given_up(const hl_pg *pg)
{
	return pg->held && !pg->in_tx;
}

hl_status hl_pg_hold_commit(hl_pg *pg, hl_error *err)
{
	bool open = pg->held && pg->in_tx;
	pg->held = false;
	return open ? hl_pg_commit(pg, err) : hold_given_up(err);
}

void hl_pg_hold_abandon(hl_pg *pg)
{
	pg->held = false;
	hl_pg_rollback(pg);
}

bool hl_pg_held(const hl_pg *pg)
{
	return pg->held && pg->in_tx;
}

hl_arena *hl_pg_tx_mem(hl_pg *pg)
{
	if (!pg->tx_mem)
		pg->tx_mem = hl_arena_new();
	return pg->tx_mem;
}

void **hl_pg_tx_memo(hl_pg *pg, const void *owner)
{
	for (int i = 0; i < pg->n_tx_memo; i++)
		if (pg->tx_memo[i].owner == owner)
			return &pg->tx_memo[i].p;
	if (pg->n_tx_memo == TX_MEMO_SLOTS)
		return NULL;
	pg->tx_memo[pg->n_tx_memo].owner = owner;
	pg->tx_memo[pg->n_tx_memo].p = NULL;
	return &pg->tx_memo[pg->n_tx_memo++].p;
}

void hl_pg_release(hl_pg *pg)
{
	if (!pg->held)
		hl_pg_rollback(pg);
}

static hl_status prepare(hl_pg *pg, const char *sql, int nparams, char name[16], hl_error *err)
{
	for (int i = 0; i < pg->n_stmts; i++) {
		if (pg->stmts[i].sql == sql) {
			snprintf(name, 16, "s%d", pg->stmts[i].id);
			return HL_OK;
		}
	}
	if (pg->n_stmts == STMT_SLOTS) {
		name[0] = '\0'; /* run unprepared */
		return HL_OK;
	}
	int id = pg->n_stmts;
	snprintf(name, 16, "s%d", id);
	PGresult *r = PQprepare(pg->conn, name, sql, nparams, NULL);
	hl_status st = HL_OK;
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		st = translate(pg, r, err);
	PQclear(r);
	if (st == HL_OK)
		pg->stmts[pg->n_stmts++] = (struct stmt){sql, id};
	return st;
}

/* A statement outside any transaction: one round trip of its own. */
static hl_status exec_alone(hl_pg *pg, hl_arena *ar, const char *sql, const hl_pg_args *args, PGresult **res,
			    hl_error *err)
{
	char name[16];
	hl_status st = prepare(pg, sql, args->n, name, err);
	if (st)
		return st;
	PGresult *r = name[0] ? PQexecPrepared(pg->conn, name, args->n, args->v, args->len, args->fmt, 0)
			      : PQexecParams(pg->conn, sql, args->n, NULL, args->v, args->len, args->fmt, 0);
	ExecStatusType t = PQresultStatus(r);
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
		st = translate(pg, r, err);
		PQclear(r);
		return st;
	}
	if (hl_arena_defer(ar, clear_result, r))
		return hl_fail(err, HL_NOMEM, "out of memory");
	if (res)
		*res = r;
	return HL_OK;
}

static hl_status exec_checked(hl_pg *pg, const hl_pg_args *args, hl_error *err)
{
	if (args->overflow)
		return hl_fail(err, HL_INTERNAL, "too many query parameters");
	if (pg->held && !pg->in_tx) /* never autocommit a piece of a given-up batch */
		return hold_given_up(err);
	return pg->in_tx && !pg->conn ? hl_fail(err, HL_UNAVAILABLE, "database connection lost") : hl_pg_connect(pg, err);
}

/* A long run of deferred statements (a batch) reads the answers so far before the pipeline's
 * slots run out (a statement may take two: its PREPARE and itself). */
static hl_status make_room(hl_pg *pg, hl_error *err)
{
	return pg->n_sent >= SENT_SLOTS - 2 ? sync_answer(pg, NULL, NULL, err) : HL_OK;
}

hl_status hl_pg_exec(hl_pg *pg, hl_arena *ar, const char *sql, const hl_pg_args *args, PGresult **res,
		     hl_error *err)
{
	static const hl_pg_args none;
	if (res)
		*res = NULL;
	args = args ? args : &none;
	hl_status st = exec_checked(pg, args, err);
	if (st)
		return st;
	if (!pg->in_tx)
		return exec_alone(pg, ar, sql, args, res, err);
	if ((st = make_room(pg, err)))
		return st;
	remember(pg, sql, args, SENT_QUERY);
	if (!send_statement(pg, sql, args, SENT_QUERY))
		return send_failed(pg, err);
	PGresult *r = NULL;
	if ((st = sync_answer(pg, ar, &r, err)))
		return st;
	if (res)
		*res = r;
	return HL_OK;
}

static const char SQL_SET_TENANT[] = "SELECT set_config('hotline.tenant', $1, true)";

hl_status hl_pg_set_tenant(hl_pg *pg, hl_arena *a, const char *tenant, hl_error *err)
{
	hl_status st = write_at_commit(pg, err); /* the rows so far are the last tenant's (row policies) */
	if (st)
		return st;
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, tenant);
	return hl_pg_exec_deferred(pg, a, SQL_SET_TENANT, &args, err);
}

hl_status hl_pg_exec_deferred(hl_pg *pg, hl_arena *ar, const char *sql, const hl_pg_args *args, hl_error *err)
{
	static const hl_pg_args none;
	args = args ? args : &none;
	hl_status st = exec_checked(pg, args, err);
	if (st)
		return st;
	if (!pg->in_tx)
		return exec_alone(pg, ar, sql, args, NULL, err);
	if ((st = make_room(pg, err)))
		return st;
	remember(pg, sql, args, SENT_DEFERRED);
	return send_statement(pg, sql, args, SENT_DEFERRED) ? HL_OK : send_failed(pg, err);
}

/* ---- rows written with the COMMIT ------------------------------------------ */

/* sql with the rows' arrays as its parameters, folded first, deferred (memory: the rows' arena). */
static hl_status exec_rows(hl_pg *pg, const char *sql, hl_pg_rows *rows, hl_error *err)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_status st = rows->fold && !rows->failed ? rows->fold(rows, err) : HL_OK;
	if (!st)
		st = hl_pg_rows_args(rows, &args, err);
	return st ? st : hl_pg_exec_deferred(pg, rows->ar, sql, &args, err);
}

/* The statement's waiting rows (a new slot for a new statement). */
static hl_status at_commit_slot(hl_pg *pg, const char *sql, const hl_pg_rows *rows, struct at_commit **out,
			       hl_error *err)
{
	for (int i = 0; i < pg->n_at_commit; i++) {
		if (pg->at_commit[i].sql != sql)
			continue;
		if (pg->at_commit[i].rows.ncols != rows->ncols || pg->at_commit[i].rows.fold != rows->fold)
			return hl_fail(err, HL_INTERNAL, "rows at commit: one statement, two row shapes");
		*out = &pg->at_commit[i];
		return HL_OK;
	}
	hl_status st;
	if (pg->n_at_commit == AT_COMMIT_SLOTS && (st = write_at_commit(pg, err))) /* full: the rows so far go now */
		return st;
	if (!hl_pg_tx_mem(pg))
		return hl_fail(err, HL_NOMEM, "out of memory");
	struct at_commit *w = &pg->at_commit[pg->n_at_commit++];
	w->sql = sql;
	hl_pg_rows_init(&w->rows, pg->tx_mem, rows->ncols);
	w->rows.fold = rows->fold;
	*out = w;
	return HL_OK;
}

hl_status hl_pg_rows_at_commit(hl_pg *pg, const char *sql, hl_pg_rows *rows, hl_error *err)
{
	if (rows->failed)
		return hl_fail(err, HL_NOMEM, "out of memory");
	if (!pg->in_tx) /* nothing to wait for: written now */
		return exec_rows(pg, sql, rows, err);
	struct at_commit *w = NULL;
	hl_status st = at_commit_slot(pg, sql, rows, &w, err);
	if (st)
		return st;
	for (int i = 0; i < rows->n; i++) {
		const char *copy = rows->v[i] ? hl_arena_strdup(pg->tx_mem, rows->v[i]) : NULL;
		w->rows.failed |= rows->v[i] && !copy;
		rows_put(&w->rows, copy);
	}
	return w->rows.failed ? hl_fail(err, HL_NOMEM, "out of memory") : HL_OK;
}

hl_status hl_pg_rows_send(hl_pg *pg, hl_error *err)
{
	return pg->in_tx ? write_at_commit(pg, err) : HL_OK;
}

/* Send the waiting rows, one deferred statement per sql; their outcome comes with the COMMIT. */
static hl_status write_at_commit(hl_pg *pg, hl_error *err)
{
	int n = pg->n_at_commit;
	pg->n_at_commit = 0;
	hl_status st = HL_OK;
	for (int i = 0; i < n && !st; i++)
		st = exec_rows(pg, pg->at_commit[i].sql, &pg->at_commit[i].rows, err);
	return st;
}

char *hl_pg_text_array(hl_arena *ar, const char *const *items, size_t n)
{
	size_t cap = 3;
	for (size_t i = 0; i < n; i++)
		cap += items[i] ? 2 * strlen(items[i]) + 3 : 5;
	char *out = hl_arena_alloc(ar, cap), *p = out;
	if (!out)
		return NULL;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		if (!items[i]) {
			memcpy(p, "NULL", 4);
			p += 4;
			continue;
		}
		*p++ = '"';
		for (const char *q = items[i]; *q; q++) {
			if (*q == '"' || *q == '\\')
				*p++ = '\\';
			*p++ = *q;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

/* One element of an array literal starting at *pp (after '{' or ','), copied into out. */
static bool array_element(const char **pp, char *out)
{
	const char *p = *pp;
	bool quoted = *p == '"';
	if (quoted)
		p++;
	const char *start = p;
	while (*p && (quoted ? *p != '"' : (*p != ',' && *p != '}'))) {
		if (!quoted && (*p == '"' || *p == '\\'))
			return false; /* PostgreSQL quotes such elements */
		if (quoted && *p == '\\' && p[1])
			p++;
		*out++ = *p++;
	}
	if (!quoted && p == start)
		return false; /* an empty element is always quoted */
	if (quoted) {
		if (*p != '"')
			return false;
		p++;
	}
	*out = '\0';
	*pp = p;
	return true;
}

hl_status hl_pg_get_array(const PGresult *res, int r, int c, hl_arena *ar, const char ***items, int *n)
{
	const char *s = hl_pg_get(res, r, c);
	*n = 0;
	*items = NULL;
	if (!s || strcmp(s, "{}") == 0)
		return HL_OK;
	size_t len = strlen(s);
	if (len < 2 || s[0] != '{' || s[len - 1] != '}')
		return HL_INVALID;
	int cap = 1;
	for (const char *q = s; *q; q++)
		cap += *q == ',';
	*items = hl_arena_alloc(ar, (size_t)cap * sizeof **items);
	char *buf = hl_arena_alloc(ar, len + (size_t)cap);
	if (!*items || !buf)
		return HL_NOMEM;
	const char *p = s + 1;
	for (;;) {
		bool null = strncmp(p, "NULL", 4) == 0 && (p[4] == ',' || p[4] == '}');
		if (null)
			p += 4;
		else if (*n >= cap || !array_element(&p, buf))
			return HL_INVALID;
		(*items)[(*n)++] = null ? "" : buf;
		buf += null ? 0 : strlen(buf) + 1;
		if (*p == '}')
			return p[1] ? HL_INVALID : HL_OK;
		if (*p++ != ',')
			return HL_INVALID;
	}
}

const char *hl_pg_sqlstate(const hl_pg *pg)
{
	return pg->sqlstate;
}

const char *hl_pg_constraint(const hl_pg *pg)
{
	return pg->constraint;
}

const char *hl_pg_get(const PGresult *res, int r, int c)
{
	if (r >= PQntuples(res) || c >= PQnfields(res) || PQgetisnull(res, r, c))
		return NULL;
	return PQgetvalue(res, r, c);
}

long long hl_pg_get_int(const PGresult *res, int r, int c)
{
	const char *v = hl_pg_get(res, r, c);
	return v ? strtoll(v, NULL, 10) : 0;
}

bool hl_pg_get_bool(const PGresult *res, int r, int c)
{
	const char *v = hl_pg_get(res, r, c);
	return v && v[0] == 't';
}

hl_status hl_pg_get_bytes(const PGresult *res, int r, int c, hl_arena *ar, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	const char *v = hl_pg_get(res, r, c);
	if (!v)
		return HL_OK;
	size_t n = 0;
	unsigned char *raw = PQunescapeBytea((const unsigned char *)v, &n);
	if (!raw)
		return HL_NOMEM;
	*out = hl_arena_memdup(ar, raw, n);
	PQfreemem(raw);
	if (!*out)
		return HL_NOMEM;
	*len = n;
	return HL_OK;
}

/* ---- store helpers ------------------------------------------------------------ */

const char *hl_pg_get_text(const PGresult *res, int r, int c)
{
	const char *v = hl_pg_get(res, r, c);
	return v ? v : "";
}

const char *hl_pg_get_opt(const PGresult *res, int r, int c)
{
	const char *v = hl_pg_get(res, r, c);
	return v && v[0] ? v : NULL;
}

hl_status hl_pg_get_text_array(const PGresult *res, int r, int c, hl_arena *ar, const char ***out, int *n,
			       hl_error *err)
{
	hl_status st = hl_pg_get_array(res, r, c, ar, out, n);
	return st ? hl_fail(err, st, "malformed array from the database") : HL_OK;
}

void hl_pg_arg_text_array(hl_pg_args *a, hl_arena *ar, const char *const *items, int n)
{
	hl_pg_arg_text(a, hl_pg_text_array(ar, items, (size_t)n));
}

/* ---- multi-row statements ------------------------------------------------ */

void hl_pg_rows_init(hl_pg_rows *r, hl_arena *ar, int ncols)
{
	*r = (hl_pg_rows){.ar = ar, .ncols = ncols};
}

static void rows_put(hl_pg_rows *r, const char *v)
{
	if (r->failed)
		return;
	if (r->n == r->cap) {
		int cap = r->cap ? 2 * r->cap : 8 * r->ncols;
		const char **nv = hl_arena_alloc(r->ar, (size_t)cap * sizeof *nv);
		if (!nv) {
			r->failed = true;
			return;
		}
		if (r->n)
			memcpy(nv, r->v, (size_t)r->n * sizeof *nv);
		r->v = nv;
		r->cap = cap;
	}
	r->v[r->n++] = v;
}

void hl_pg_rows_text(hl_pg_rows *r, const char *s)
{
	rows_put(r, s);
}

void hl_pg_rows_int(hl_pg_rows *r, long long v)
{
	const char *s = hl_arena_printf(r->ar, "%lld", v);
	r->failed |= !s;
	rows_put(r, s);
}

void hl_pg_rows_bool(hl_pg_rows *r, bool v)
{
	rows_put(r, v ? "t" : "f");
}

void hl_pg_rows_bytes(hl_pg_rows *r, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (!p) {
		rows_put(r, NULL);
		return;
	}
	char *s = hl_arena_alloc(r->ar, 2 * n + 3);
	if (!s) {
		r->failed = true;
		return;
	}
	const uint8_t *b = p;
	s[0] = '\\';
	s[1] = 'x';
	for (size_t i = 0; i < n; i++) {
		s[2 + 2 * i] = hex[b[i] >> 4];
		s[3 + 2 * i] = hex[b[i] & 15];
	}
	s[2 + 2 * n] = '\0';
	rows_put(r, s);
}

int hl_pg_rows_count(const hl_pg_rows *r)
{
	return r->ncols ? r->n / r->ncols : 0;
}

hl_status hl_pg_rows_args(const hl_pg_rows *r, hl_pg_args *args, hl_error *err)
{
	if (r->failed)
		return hl_fail(err, HL_NOMEM, "out of memory");
	if (r->ncols < 1 || r->n % r->ncols)
		return hl_fail(err, HL_INTERNAL, "multi-row statement: %d values do not make rows of %d", r->n, r->ncols);
	int rows = r->n / r->ncols;
	const char **col = hl_arena_alloc(r->ar, (size_t)(rows ? rows : 1) * sizeof *col);
	if (!col)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int c = 0; c < r->ncols; c++) {
		for (int i = 0; i < rows; i++)
			col[i] = r->v[i * r->ncols + c];
		char *lit = hl_pg_text_array(r->ar, (const char *const *)col, (size_t)rows);
		if (!lit)
			return hl_fail(err, HL_NOMEM, "out of memory");
		hl_pg_arg_text(args, lit);
	}
	return args->overflow ? hl_fail(err, HL_INTERNAL, "multi-row statement: too many columns") : HL_OK;
}

hl_status hl_pg_get_int_array(const PGresult *res, int r, int c, hl_arena *ar, int **out, int *n, hl_error *err)
{
	const char **items;
	hl_status st = hl_pg_get_text_array(res, r, c, ar, &items, n, err);
	if (st)
		return st;
	*out = hl_arena_alloc(ar, (size_t)(*n ? *n : 1) * sizeof **out);
	if (!*out)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < *n; i++)
		(*out)[i] = atoi(items[i]);
	return HL_OK;
}

char *hl_pg_int_array(hl_arena *ar, const int *v, int n)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_putc(&b, '{');
	for (int i = 0; i < n; i++)
		hl_buf_printf(&b, "%s%d", i ? "," : "", v[i]);
	hl_buf_putc(&b, '}');
	char *out = hl_buf_failed(&b) ? NULL : hl_arena_strdup(ar, b.data);
	hl_buf_release(&b);
	return out;
}

hl_pg_args hl_pg_args_key(const char *key)
{
	hl_pg_args args;
	hl_pg_args_init(&args);
	hl_pg_arg_text(&args, key);
	return args;
}

hl_status hl_pg_fetch(hl_pg *pg, hl_arena *ar, const char *sql, const hl_pg_args *args, size_t size,
		      hl_pg_row_reader read, void ***out, int *n, hl_error *err)
{
	PGresult *res;
	hl_status st = hl_pg_exec(pg, ar, sql, args, &res, err);
	if (st)
		return st;
	*n = PQntuples(res);
	*out = hl_arena_alloc(ar, (size_t)(*n ? *n : 1) * sizeof(void *));
	if (!*out)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < *n && !st; i++) {
		if (!((*out)[i] = hl_arena_alloc(ar, size)))
			return hl_fail(err, HL_NOMEM, "out of memory");
		memset((*out)[i], 0, size);
		st = read(res, i, ar, (*out)[i], err);
	}
	return st;
}

hl_status hl_pg_fetch_one(hl_pg *pg, hl_arena *ar, const char *sql, const hl_pg_args *args, size_t size,
			  hl_pg_row_reader read, void **out, hl_error *err)
{
	void **list;
	int n;
	hl_status st = hl_pg_fetch(pg, ar, sql, args, size, read, &list, &n, err);
	*out = st == HL_OK && n > 0 ? list[0] : NULL;
	return st;
}
