/*
 * rpc.h - the one gRPC server driver every service runs on.
 *
 * A service describes itself with protobuf-c service descriptors and a method
 * table (one hl_method per RPC: handler, who may call it).  The driver owns
 * everything else: the completion queues, the call state, reading the request,
 * validating its wire bytes, unpacking it into the call's arena, identifying
 * the peer (mTLS) and the user (JWT), the acting tenant, the bounded worker
 * pool (each worker with its own PostgreSQL connection), deadlines, packing the
 * answer, the status table, metrics and logs, health and server reflection,
 * UNIMPLEMENTED for unknown methods, and graceful shutdown.
 *
 * A handler is only: decode (done), validate, decide, store, reply:
 *
 *     static hl_status get_ticket(hl_call *c, const void *req, void **resp);
 *
 * It returns HL_OK with *resp set to a message allocated from the call's
 * arena, or a status with a message set through hl_call_fail().  Handlers run
 * on worker threads and may block on PostgreSQL.
 *
 * Contract on transactions: whatever the handler returns, the driver rolls
 * back a transaction the handler left open on the worker's connection before
 * it answers.  A handler that fails in the middle of a transaction therefore
 * just returns hl_call_fail()/hl_call_fail_err(): nothing it wrote is kept,
 * and no row lock outlives the call.  Only hl_call_commit() keeps work.
 * See common/README.md.
 */
#ifndef HL_RPC_H
#define HL_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/jwt.h"
#include "hl/status.h"
#include "hl/validate.h"

typedef struct hl_server hl_server;
typedef struct hl_call hl_call;
typedef struct hl_pg hl_pg;
typedef struct hl_metrics hl_metrics;
typedef struct hl_timers hl_timers;
typedef struct hl_redis hl_redis;

/*
 * A handler.  For a server-streaming RPC (`returns (stream …)` in the proto;
 * the driver reads that flag from the embedded descriptor set, since
 * protobuf-c's descriptors lack it) the same handler type sends each message
 * with hl_call_send() and returns HL_OK, leaving *resp alone (the stream ends
 * with OK), or a status set with hl_call_fail().  Client and bidirectional
 * streaming are not supported (hl_server_add refuses them).
 */
typedef hl_status (*hl_handler_fn)(hl_call *c, const void *req, void **resp);

/* Who may call a method. */
typedef enum hl_access {
	HL_ACCESS_USER = 0, /* a valid JWT is required, whoever the peer is */
	HL_ACCESS_INTERNAL, /* only the services listed in `callers` (mTLS identity) */
	HL_ACCESS_PUBLIC,   /* any authenticated peer, no JWT; tenant from x-tenant-id */
} hl_access;

/*
 * What the items of one method in a BatchService/Apply call will need, read
 * or locked ahead for all of them with a statement or two, in the batch's
 * held transaction (tenant set) before they run: the decoded requests of
 * the items that would pass their checks.  A failure is logged and the
 * items run without it (one by one, when it broke the transaction), so
 * they must be right either way.
 */
typedef hl_status (*hl_prefetch_fn)(hl_pg *pg, hl_arena *a, const char *tenant, const void *const *reqs, int n,
				    hl_error *err);

typedef struct hl_method {
	const char *name;    /* the RPC's name in the proto, e.g. "CreateTicket" */
	hl_handler_fn fn;
	hl_access access;
	const char *callers;     /* HL_ACCESS_INTERNAL: space-separated service names */
	hl_prefetch_fn prefetch; /* optional, for batched internal methods */
} hl_method;

typedef struct hl_service {
	const ProtobufCServiceDescriptor *desc;
	const hl_method *methods;
	size_t n_methods;
} hl_service;

/* The identity behind a call, valid for the call's lifetime. */
typedef struct hl_principal {
	const char *peer_service; /* "dispatch" for spiffe://hotline/service/dispatch, else NULL */
	const char *peer_client;  /* "hotlinectl" for spiffe://hotline/client/hotlinectl, else NULL */
	const char *tenant;       /* the acting tenant (always set once authorized) */
	const char *actor;        /* JWT sub, or x-actor from a service, or system:<svc> */
	const hl_claims *claims;  /* the verified JWT, NULL for internal/public calls */
} hl_principal;

typedef struct hl_server_config {
	const char *service;      /* "intake": names metrics, logs and the identity */
	const char *listen;       /* host:port */
	const char *tls_cert, *tls_key, *tls_ca; /* PEM paths */
	int cq_threads;           /* completion-queue threads (1..8) */
	int workers;              /* worker threads, each with its own DB connection */
	int queue_max;            /* calls waiting for a worker before RESOURCE_EXHAUSTED */
	int max_message;          /* bytes; larger requests get RESOURCE_EXHAUSTED */
	/* per-field bounds of the wire check above its defaults (validate.h), e.g. long free text;
	 * static, not copied */
	const hl_validate_override *field_limits;
	size_t n_field_limits;
	int default_deadline_ms;  /* used when the client sets no deadline */
	int grace_ms;             /* shutdown grace period for in-flight calls */
	const char *db_dsn;       /* runtime role DSN; NULL: workers have no DB */
	const char *db_schema;    /* search_path of the workers' connections */
	const char *redis_url;    /* workers' Redis (hl_call_redis); NULL: none. Not copied */
	const hl_jwt_keyset *jwt; /* shared, not owned */
	hl_metrics *metrics;      /* shared, not owned */
	void *app;                /* the service's state, handed to handlers */
} hl_server_config;

/* Create a server; services are added before hl_server_start. */
hl_status hl_server_new(const hl_server_config *cfg, hl_server **out, hl_error *err) HL_MUST_CHECK;
hl_status hl_server_add(hl_server *s, const hl_service *svc, hl_error *err) HL_MUST_CHECK;
/* Bind, start threads; the port is listening when this returns HL_OK. */
hl_status hl_server_start(hl_server *s, hl_error *err) HL_MUST_CHECK;
/* Stop accepting, let in-flight calls finish within the grace period, join. */
void hl_server_shutdown(hl_server *s);
void hl_server_free(hl_server *s);
/* Readiness as seen by grpc.health.v1.Health/Check (default: serving). */
void hl_server_set_serving(hl_server *s, bool serving);
/*
 * The timers that handlers' commits push to Redis (hl_call_timers_put and
 * hl_call_commit in hl/handler.h); NULL (the default) leaves scheduling to
 * the periodic re-seed.  Set it after both are started, clear it before the
 * timers stop.
 */
void hl_server_set_timers(hl_server *s, hl_timers *t);
/* Calls currently queued for or running on workers (for /metrics). */
int hl_server_busy(const hl_server *s);

/*
 * Block SIGINT, SIGTERM and SIGPIPE in the calling thread (call first in
 * main, before any thread exists) and later wait for one of the first two.
 */
void hl_signals_block(void);
int hl_signals_wait(void);

/* --- inside a handler ------------------------------------------------- */

hl_arena *hl_call_arena(hl_call *c);
const hl_principal *hl_call_principal(const hl_call *c);
hl_pg *hl_call_pg(hl_call *c);                 /* the worker's connection */
/* The worker's Redis connection (locks, rate limits), made on first use; NULL without one. */
hl_redis *hl_call_redis(hl_call *c);
void *hl_call_app(const hl_call *c);           /* hl_server_config.app */
/* One pointer of per-call state for the service (NULL at first; point it at arena memory). */
void **hl_call_local(hl_call *c);
const char *hl_call_method(const hl_call *c);  /* "/pkg.Service/Method" */
const char *hl_call_request_id(const hl_call *c);
/* Metadata value of the request (key lowercase), arena copy; NULL if absent. */
const char *hl_call_metadata(hl_call *c, const char *key);
/* Milliseconds left before the call's deadline (at least 1). */
int64_t hl_call_remaining_ms(const hl_call *c);
/* Tenant to log with the call (set by the driver, may be NULL). */
const char *hl_call_tenant(const hl_call *c);

/*
 * Timers the call's open transaction wrote, pushed to Redis by
 * hl_call_push_timers once it commits (hl_call_commit does both; BEGIN drops
 * what a rolled-back transaction queued).  Memory is the call's arena.
 */
void hl_call_queue_timer(hl_call *c, const char *tenant, const char *key, int64_t due_ms);
void hl_call_push_timers(hl_call *c);
/* The queued timers of n calls of one server, pushed to Redis in one round trip. */
void hl_call_push_timers_of(hl_call *const *calls, size_t n);
void hl_call_drop_timers(hl_call *c);

/*
 * Inside a server-streaming handler: send msg (the method's
 * response type; the caller keeps ownership) as the next message of the
 * stream, and wait until gRPC has taken it.  One message is in flight at a
 * time and each is packed into its own buffer, freed once sent, so a stream
 * of any length holds at most one message plus what HTTP/2 flow control lets
 * the transport buffer: a client that stops reading stops the handler, not
 * the server's memory.  Returns HL_OK, or fails the call with HL_CANCELLED
 * when the client went away, the deadline passed or the server is shutting
 * down (the handler then just returns that status).  The worker is occupied
 * for the whole stream.
 */
hl_status hl_call_send(hl_call *c, const void *msg) HL_MUST_CHECK;
/* Messages sent so far by hl_call_send on this call. */
int64_t hl_call_sent(const hl_call *c);

/* Fail the call with status s and a message for the client (no personal data). */
hl_status hl_call_fail(hl_call *c, hl_status s, const char *fmt, ...) HL_PRINTF(3, 4);
/* Fail with the status and message of an hl_error. */
hl_status hl_call_fail_err(hl_call *c, const hl_error *err);
/* Role check on the JWT: HL_OK, or HL_DENIED naming the role(s). */
hl_status hl_call_require_role(hl_call *c, const char *role) HL_MUST_CHECK;
bool hl_call_has_role(const hl_call *c, const char *role);

/* A zeroed message of the given protobuf-c type from the call's arena. */
void *hl_call_new_message(hl_call *c, const ProtobufCMessageDescriptor *d);
#define HL_NEW(c, type_descriptor) hl_call_new_message((c), &(type_descriptor))

#endif
