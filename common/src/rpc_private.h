/*
 * rpc_private.h - the driver's call and server state, shared by its two
 * files: rpc_server.c (calls, workers, completion queues) and rpc_batch.c
 * (hotline.batch.v1.BatchService: many internal calls in one transaction).
 * Not for services: they see hl_call only through hl/rpc.h.
 */
#ifndef HL_RPC_PRIVATE_H
#define HL_RPC_PRIVATE_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "hl/jwt.h"
#include "hl/reflect.h"
#include "hl/rpc.h"
#include "hl/timers.h"
#include "hl/validate.h"

enum kind { K_UNARY, K_STREAM, K_HEALTH, K_REFLECT };

enum tag_state {
	T_ARMED,        /* waiting for a new call of a registered method */
	T_ARMED_OTHER,  /* the catch-all request (unknown methods) */
	T_FINISH,       /* final batch started */
	T_STREAM_RECV,  /* reflection: waiting for the next request */
	T_STREAM_SENT,  /* reflection: a response was sent */
	T_STREAM_SEND,  /* server streaming: a worker waits for hl_call_send's batch */
};

struct method_entry {
	char path[256];
	enum kind kind;
	const hl_method *m;
	const ProtobufCMessageDescriptor *in, *out;
	void *handle;
};

struct cq_thread {
	hl_server *s;
	grpc_completion_queue *cq;
	pthread_t th;
};

struct worker {
	hl_server *s;
	pthread_t th;
	hl_pg *pg;
	hl_redis *redis; /* made on first use (hl_call_redis) */
	pthread_cond_t cv;         /* an idle worker waits on its own (rpc_server.c, queue_pop) */
	struct worker *next_idle;  /* in the server's idle stack */
	bool idle;                 /* in that stack */
};

struct hl_call {
	enum tag_state state;
	hl_server *s;
	struct cq_thread *cqt;
	struct method_entry *me; /* NULL for the catch-all */
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_call_details details; /* catch-all only */
	grpc_byte_buffer *payload;
	grpc_byte_buffer *send_buf;
	grpc_byte_buffer *recv_buf;
	int cancelled;
	bool counted; /* counted in s->inflight */
	hl_arena *arena;
	hl_principal principal;
	hl_claims claims;
	struct worker *worker;
	hl_error err;
	int64_t start_ns;
	const char *request_id;
	char method_name[256];
	char peer_name[80];
	void *local; /* the service's per-call state (hl_call_local) */
	hl_call *holder;            /* a batch item run in the Apply call's held transaction */
	const char *const *item_md; /* a batch item's metadata: key, value, ..., NULL */
	struct call_timer *timers; /* put in the open transaction, pushed to Redis after its commit */
	unsigned stream_requests;  /* reflection: requests answered on this stream */
	size_t stream_bytes;       /* reflection: bytes of those answers */
	bool md_sent;              /* server streaming: initial metadata went with the first message */
	bool send_ok;              /* server streaming: the last send completed */
	int64_t sent;              /* server streaming: messages sent */
	sem_t send_done;           /* server streaming: posted by the CQ thread when a send completes */
};

/* A timer the call's transaction put, to push to Redis once that transaction commits. */
struct call_timer {
	hl_timer_due due;
	struct call_timer *next;
};

struct hl_server {
	hl_server_config cfg;
	grpc_server *server;
	grpc_server_credentials *creds;
	struct cq_thread *cqs;
	struct worker *workers;
	struct method_entry *methods;
	size_t n_methods, cap_methods;
	const char **service_names;
	size_t n_services;
	hl_reflect *reflect;
	hl_validate_limits limits;

	pthread_mutex_t mu;
	struct worker *idle; /* the workers waiting for a call, the most recently idle first */
	hl_call **queue;
	int q_head, q_len;
	bool stopping, started;

	atomic_int inflight;
	atomic_int busy;
	atomic_bool serving;
	_Atomic(hl_timers *) timers; /* where committed calls push their timers (NULL: re-seed does it) */
};

/* Monotonic nanoseconds (call durations). */
int64_t hl_rpc_now_ns(void);
/* The method of path ("/pkg.Service/Method"), NULL if none is registered. */
struct method_entry *hl_rpc_find_entry(hl_server *s, const char *path);
/* Whether s is 1..max printable ASCII characters (no space). */
bool hl_rpc_printable(const char *s, size_t max);
/* Count the finished call in the metrics and log it (one line per call). */
void hl_rpc_log_and_count(hl_call *c);
/* Whether the peer service may call the internal method m ("*": any service). */
bool hl_rpc_caller_allowed(const hl_method *m, const char *peer_service);
/* Decode the wire bytes of a request of me into arena a (checked against s's limits, see validate.h). */
hl_status hl_rpc_unpack(const hl_server *s, const struct method_entry *me, hl_arena *a, const uint8_t *buf,
			size_t len, void **req, hl_error *err);
/* The same into the call's arena, failing the call. */
hl_status hl_rpc_decode(hl_call *c, const struct method_entry *me, const uint8_t *buf, size_t len, void **req);

/* hotline.batch.v1.BatchService/Apply, run on a worker like a unary call. */
hl_status hl_rpc_batch_apply(hl_call *c, const void *req, void **resp);

#endif
