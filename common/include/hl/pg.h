/*
 * pg.h - PostgreSQL access: one connection per worker thread, transactions
 * bound to a tenant (row-level security) and to the call's deadline, and
 * parameterized queries prepared once per connection.
 *
 * This is the only module that talks to libpq; it translates libpq errors
 * into hl_status (hl_pg_sqlstate_status: unique violation -> EXISTS,
 * serialization failure, deadlock or unknown completion -> ABORTED,
 * statement timeout -> DEADLINE, lost connection, shutdown, read-only
 * transaction or insufficient resources -> UNAVAILABLE; the retryable codes,
 * so that an outbox relay retries a receiver that answers during a
 * failover) and never passes PostgreSQL's message text to clients, since
 * it can quote row values.
 *
 * Connections get connect_timeout=5 s, TCP keepalives (idle 10 s, interval
 * 5 s, count 3) and tcp_user_timeout=15 s unless the DSN sets them, so a
 * network partition or a stopped server fails a call in bounded time
 * instead of hanging it.  SQL text itself lives only in each service's
 * store module; statements are identified by the address of their static
 * text, so a store passes the same `static const char SQL[]` every time.
 *
 * An hl_pg is used by one thread at a time.
 */
#ifndef HL_PG_H
#define HL_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/status.h"

typedef struct hl_pg hl_pg;

#define HL_PG_MAX_ARGS 40

/* Query parameters; text unless added with hl_pg_arg_bytes. */
typedef struct hl_pg_args {
	int n;
	const char *v[HL_PG_MAX_ARGS];
	int len[HL_PG_MAX_ARGS];
	int fmt[HL_PG_MAX_ARGS];
	bool overflow;
} hl_pg_args;

void hl_pg_args_init(hl_pg_args *a);
void hl_pg_arg_text(hl_pg_args *a, const char *s);  /* NULL: SQL NULL */
void hl_pg_arg_bytes(hl_pg_args *a, const void *p, size_t n); /* NULL: SQL NULL */
void hl_pg_arg_int(hl_pg_args *a, hl_arena *ar, long long v);
void hl_pg_arg_bool(hl_pg_args *a, bool v);

/*
 * A connection object for dsn (copied); it connects on first use and then
 * sets search_path to schema (a plain identifier; NULL keeps the default).
 */
hl_status hl_pg_new(const char *dsn, const char *schema, hl_pg **out, hl_error *err) HL_MUST_CHECK;
void hl_pg_free(hl_pg *pg);

/*
 * The libpq keywords and values hl_pg connects with for dsn (a conninfo
 * string or URI): the defaults above, then dbname=dsn, which libpq expands
 * (expand_dbname) so that the DSN's own settings win; NULL-terminated, at
 * most HL__PG_CONN_PARAMS + 1 entries each.  Pure; for tests and pg.c.
 */
#define HL__PG_CONN_PARAMS 7
void hl__pg_conn_params(const char *dsn, const char **kw, const char **val);

/*
 * The status a failed statement's SQLSTATE is translated to (NULL or "": a
 * lost connection, UNAVAILABLE).  Pure.
 */
hl_status hl_pg_sqlstate_status(const char *sqlstate);

/*
 * Make sure the connection is up.  After a failure, reconnecting is tried
 * again only after a backoff (100 ms doubling to 5 s), failing fast with
 * UNAVAILABLE in between so that callers do not pile up.
 */
hl_status hl_pg_connect(hl_pg *pg, hl_error *err) HL_MUST_CHECK;

/*
 * Check that the server answers "SELECT 1" within timeout_ms (outside a
 * transaction; the connect itself is bounded by connect_timeout).  A server
 * that does not answer in time (stopped, partitioned) costs the connection,
 * and is HL_UNAVAILABLE.  For readiness probes.
 */
hl_status hl_pg_ping(hl_pg *pg, int timeout_ms, hl_error *err) HL_MUST_CHECK;

/*
 * BEGIN a transaction acting for tenant (NULL: no tenant, for the system
 * role) with statement_timeout = timeout_ms (0: none).  The transaction runs
 * in libpq pipeline mode: BEGIN and its settings travel with its first read
 * (or the COMMIT); if that finds the idle connection closed by the server,
 * the transaction is sent again once on a new connection.
 */
hl_status hl_pg_begin(hl_pg *pg, const char *tenant, int64_t timeout_ms, hl_error *err) HL_MUST_CHECK;
hl_status hl_pg_commit(hl_pg *pg, hl_error *err) HL_MUST_CHECK;
/*
 * Inside a transaction: act for tenant from here on (hotline.tenant, local to
 * the transaction; sent deferred, see hl_pg_exec_deferred).  For work that
 * moves between tenants in one transaction, such as a batch of timers.
 */
hl_status hl_pg_set_tenant(hl_pg *pg, hl_arena *a, const char *tenant, hl_error *err) HL_MUST_CHECK;
/* The open transaction's serial, unique in the process (0: none open). */
uint64_t hl_pg_tx_serial(const hl_pg *pg);
/* Roll back if a transaction is open; safe to call at any time. */
void hl_pg_rollback(hl_pg *pg);

/*
 * A held transaction: many pieces of work (the items of a batch, see
 * proto/hotline/batch/v1/batch.proto) share one transaction and one COMMIT.
 * hl_pg_hold_begin BEGINs it; until the holder ends it, the pieces' own
 * hl_pg_begin (same tenant) and hl_pg_commit succeed without ending
 * anything, and a piece's hl_pg_rollback really rolls back: the batch is
 * given up (hl_pg_hold_given_up), and every later begin, commit or statement
 * fails with HL_ABORTED rather than run outside it.  Errors of deferred
 * writes surface at the holder's COMMIT.  hl_pg_hold_commit commits
 * (HL_ABORTED if given up); hl_pg_hold_abandon rolls back.
 */
hl_status hl_pg_hold_begin(hl_pg *pg, const char *tenant, int64_t timeout_ms, hl_error *err) HL_MUST_CHECK;
bool hl_pg_hold_given_up(const hl_pg *pg);
hl_status hl_pg_hold_commit(hl_pg *pg, hl_error *err) HL_MUST_CHECK;
void hl_pg_hold_abandon(hl_pg *pg);

/* Whether pg is inside a held transaction that is still open. */
bool hl_pg_held(const hl_pg *pg);
/*
 * What all the pieces of a held transaction read alike (a directory, a
 * calendar, the inbox's answers) may be kept for the transaction: each
 * owner (the address of something of the module's own) has a slot,
 * *hl_pg_tx_memo(pg, owner), that is NULL at each BEGIN (the function
 * returns NULL when all the slots are taken), and hl_pg_tx_mem(pg)'s memory
 * (NULL: out of memory) lasts until the next BEGIN or hl_pg_free, so it
 * outlives the pieces' own arenas.
 */
hl_arena *hl_pg_tx_mem(hl_pg *pg);
void **hl_pg_tx_memo(hl_pg *pg, const void *owner);

/*
 * End a transaction that wrote nothing (an answer found, nothing to do):
 * roll it back, or leave it to the holder while held.
 */
void hl_pg_release(hl_pg *pg);

/*
 * Run one parameterized statement (prepared on first use on this
 * connection).  The PGresult is owned by the arena.  A statement that returns
 * no rows is fine; errors are translated as described above.
 */
hl_status hl_pg_exec(hl_pg *pg, hl_arena *ar, const char *sql, const hl_pg_args *args, PGresult **res,
		     hl_error *err) HL_MUST_CHECK;

/*
 * Inside a transaction: send the statement now and learn its outcome with the
 * next hl_pg_exec or the COMMIT, which fail with its status if it failed (a
 * unique violation there is ABORTED: a concurrent change).  For writes whose
 * answer the handler does not need (audit entries, outbox rows, notes): they
 * cost no round trip of their own.  The parameters are copied when the
 * statement is sent: args may be gone when this returns.  Outside a
 * transaction it is hl_pg_exec without a result.
 */
hl_status hl_pg_exec_deferred(hl_pg *pg, hl_arena *ar, const char *sql, const hl_pg_args *args,
			      hl_error *err) HL_MUST_CHECK;

/* Run a plain SQL script (migrations): no parameters, several statements. */
hl_status hl_pg_script(hl_pg *pg, const char *sql, hl_error *err) HL_MUST_CHECK;

/* The SQLSTATE of the last failed statement ("" if none). */
const char *hl_pg_sqlstate(const hl_pg *pg);
/* Constraint named by the last failed statement ("" if none). */
const char *hl_pg_constraint(const hl_pg *pg);

/*
 * A PostgreSQL text[] literal of n strings (quoted and escaped; a NULL item
 * is a NULL element), in arena memory, for `= ANY($1::text[])` or
 * unnest($1::text[]) parameters; NULL when out of memory.
 */
char *hl_pg_text_array(hl_arena *ar, const char *const *items, size_t n);

/*
 * The elements of a one-dimensional array value (text[], int[], ... in text
 * format: {a,"b c",NULL}) of row r, column c, as arena strings; NULL
 * elements become "".  SQL NULL or {} gives *n = 0.  HL_INVALID for a
 * malformed literal, HL_NOMEM.
 */
hl_status hl_pg_get_array(const PGresult *res, int r, int c, hl_arena *ar, const char ***items,
			  int *n) HL_MUST_CHECK;

/* Result helpers: value of row r, column c; NULL for SQL NULL. */
const char *hl_pg_get(const PGresult *res, int r, int c);
long long hl_pg_get_int(const PGresult *res, int r, int c);
bool hl_pg_get_bool(const PGresult *res, int r, int c);
/* bytea in text (hex) format decoded into arena memory. */
hl_status hl_pg_get_bytes(const PGresult *res, int r, int c, hl_arena *ar, uint8_t **out,
			  size_t *len) HL_MUST_CHECK;

/* Result helpers for stores: "" for SQL NULL, and NULL for SQL NULL or "". */
const char *hl_pg_get_text(const PGresult *res, int r, int c);
const char *hl_pg_get_opt(const PGresult *res, int r, int c);
/* An int[] value (see hl_pg_get_array) as an arena array of ints; err names a malformed value. */
hl_status hl_pg_get_int_array(const PGresult *res, int r, int c, hl_arena *ar, int **out, int *n,
			      hl_error *err) HL_MUST_CHECK;
/* A text[] value as arena strings (hl_pg_get_array), err naming a malformed value. */
hl_status hl_pg_get_text_array(const PGresult *res, int r, int c, hl_arena *ar, const char ***out, int *n,
			       hl_error *err) HL_MUST_CHECK;
/* Add n strings as one text[] parameter (hl_pg_text_array; SQL NULL when out of memory). */
void hl_pg_arg_text_array(hl_pg_args *a, hl_arena *ar, const char *const *items, int n);
/*
 * Rows for one multi-row statement: the values of each column across the
 * rows go as one array parameter, which the statement unnests, e.g.
 *   INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], $2::bytea[])
 * A statement then costs the same whatever the number of rows it writes.
 * Values are added row by row, column by column; hl_pg_rows_args adds the
 * ncols array parameters (text literals; NULL elements for SQL NULL, bytes
 * in hex), or fails with HL_NOMEM or HL_INTERNAL when a row was left short.
 */
struct hl_pg_rows;
/* Rewrites rows just before they are written (merges some, say), in their arena. */
typedef hl_status hl_pg_rows_fold(struct hl_pg_rows *rows, hl_error *err);
typedef struct hl_pg_rows {
	hl_arena *ar;
	int ncols, n, cap;     /* n values so far, room for cap */
	const char **v;        /* row-major; NULL: SQL NULL */
	bool failed;
	hl_pg_rows_fold *fold; /* NULL: written as added (set after hl_pg_rows_init) */
} hl_pg_rows;

void hl_pg_rows_init(hl_pg_rows *r, hl_arena *ar, int ncols);
void hl_pg_rows_text(hl_pg_rows *r, const char *s); /* NULL: SQL NULL */
void hl_pg_rows_int(hl_pg_rows *r, long long v);
void hl_pg_rows_bool(hl_pg_rows *r, bool v);
void hl_pg_rows_bytes(hl_pg_rows *r, const void *p, size_t n); /* NULL: SQL NULL */
int hl_pg_rows_count(const hl_pg_rows *r);
hl_status hl_pg_rows_args(const hl_pg_rows *r, hl_pg_args *args, hl_error *err) HL_MUST_CHECK;
/*
 * Rows written with the COMMIT: inside a transaction, the rows are copied and
 * wait; just before the COMMIT, all the rows added with the same sql (whose
 * parameters are exactly the rows' arrays) go as one deferred statement, so
 * a transaction that adds rows many times, or the pieces of a held
 * transaction, write them with one statement.  Rows keep the order they were
 * added in.  For tables the transaction does not read back (the outbox,
 * the inbox, audit entries: whoever reads sends them first with
 * hl_pg_rows_send).  Their errors surface at the COMMIT; a rollback drops them; a
 * change of tenant (hl_pg_set_tenant) sends the rows so far first.  Outside
 * a transaction the rows are written now.  The rows' fold, if any, sees all
 * the rows of the statement together, once, as they go.
 */
hl_status hl_pg_rows_at_commit(hl_pg *pg, const char *sql, hl_pg_rows *rows, hl_error *err) HL_MUST_CHECK;
/* Send the rows waiting for the COMMIT now (deferred): before a read that must see them. */
hl_status hl_pg_rows_send(hl_pg *pg, hl_error *err) HL_MUST_CHECK;
/* A PostgreSQL int[] literal of n ints in arena memory; NULL when out of memory. */
char *hl_pg_int_array(hl_arena *ar, const int *v, int n);
/* The arguments of a query by one text key. */
hl_pg_args hl_pg_args_key(const char *key);

/*
 * Fetching rows into structs: a store gives a reader per row type, and
 * hl_pg_fetch runs the statement and reads each row into a new arena struct
 * of `size` bytes (zeroed), returning the array of pointers.  A reader fails
 * with err set (HL_NOMEM, or HL_INVALID for a value it cannot read).
 */
typedef hl_status (*hl_pg_row_reader)(const PGresult *res, int r, hl_arena *ar, void *out, hl_error *err);
hl_status hl_pg_fetch(hl_pg *pg, hl_arena *ar, const char *sql, const hl_pg_args *args, size_t size,
		      hl_pg_row_reader read, void ***out, int *n, hl_error *err) HL_MUST_CHECK;
/* The same for at most one row: *out NULL when there is none. */
hl_status hl_pg_fetch_one(hl_pg *pg, hl_arena *ar, const char *sql, const hl_pg_args *args, size_t size,
			  hl_pg_row_reader read, void **out, hl_error *err) HL_MUST_CHECK;

/*
 * Times cross the store boundary as integer microseconds since the epoch,
 * with 0 for NULL.  These build the SQL text: HL_PG_US("col") reads a
 * timestamptz column as microseconds, HL_PG_TS("$3") turns a parameter of
 * microseconds into a timestamptz.
 */
#define HL_PG_US(x) "COALESCE((extract(epoch FROM " x ") * 1000000)::bigint, 0)"
#define HL_PG_TS(p) "(timestamptz 'epoch' + NULLIF(" p "::bigint, 0) * interval '1 microsecond')"

/* The underlying connection (for LISTEN or COPY in special jobs). */
PGconn *hl_pg_conn(hl_pg *pg);

#endif
