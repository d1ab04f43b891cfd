/*
 * rpc_client.h - unary (and server-streaming) gRPC calls over mutual TLS, for hotlinectl,
 * service-to-service calls and the outbox relay.
 *
 * An hl_client is one channel to one target and may be shared by threads.
 * While the target is unreachable, calls fail fast with UNAVAILABLE and the
 * channel tries to reconnect at least every 2 s (not gRPC's default of up to
 * 120 s), so that the caller's own retry policy decides how soon a target
 * that comes back is used.
 * Each calling thread waits on its own completion queue (created on first
 * use; a queue admits only a few concurrent pluckers).  grpc_init() must have
 * been called.
 */
#ifndef HL_RPC_CLIENT_H
#define HL_RPC_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/status.h"

typedef struct hl_client hl_client;

typedef struct hl_md {
	const char *key; /* lowercase */
	const char *value;
} hl_md;

/* A channel to target ("host:port") presenting cert/key, trusting only ca. */
hl_status hl_client_new(const char *target, const char *cert, const char *key, const char *ca, hl_client **out,
			hl_error *err) HL_MUST_CHECK;
void hl_client_free(hl_client *cl);

/*
 * Call method ("/pkg.Service/Method") with the serialized request; on a
 * gRPC status other than OK return the matching hl_status with the server's
 * message in err.  *code receives the raw gRPC status code (may be NULL).
 * The response bytes are arena memory.
 */
hl_status hl_client_call_raw(hl_client *cl, const char *method, const uint8_t *req, size_t len, const hl_md *md,
			     size_t n_md, int64_t timeout_ms, hl_arena *a, uint8_t **resp, size_t *resp_len,
			     int *code, hl_error *err) HL_MUST_CHECK;

/*
 * The same in two halves, so that one thread can have several calls in
 * flight: hl_client_start() sends the request on the calling thread's
 * queue and returns at once; hl_client_finish() waits for that call's end
 * and gives what hl_client_call_raw() gives (then frees *p).  Every started
 * call must be finished, on the thread that started it.
 */
typedef struct hl_client_pending hl_client_pending;
hl_status hl_client_start(hl_client *cl, const char *method, const uint8_t *req, size_t len, const hl_md *md,
			  size_t n_md, int64_t timeout_ms, hl_client_pending **p, hl_error *err) HL_MUST_CHECK;
hl_status hl_client_finish(hl_client_pending *p, hl_arena *a, uint8_t **resp, size_t *resp_len, int *code,
			   hl_error *err) HL_MUST_CHECK;

/*
 * A server-streaming call: send the request, then hand each response message
 * (its serialized bytes, valid during the call of fn) to fn in order, one at
 * a time (a slow fn slows the server through flow control; nothing piles up
 * here).  A failing fn cancels the call and its status is returned; else the
 * call's gRPC status as hl_client_call_raw() gives it.
 */
typedef hl_status (*hl_client_message_fn)(void *arg, const uint8_t *msg, size_t len, hl_error *err);
hl_status hl_client_stream_raw(hl_client *cl, const char *method, const uint8_t *req, size_t len, const hl_md *md,
			       size_t n_md, int64_t timeout_ms, hl_client_message_fn fn, void *arg, int *code,
			       hl_error *err) HL_MUST_CHECK;

/* The same with protobuf-c messages; *resp is unpacked into the arena. */
hl_status hl_client_call(hl_client *cl, const char *method, const ProtobufCMessage *req,
			 const ProtobufCMessageDescriptor *resp_desc, const hl_md *md, size_t n_md, int64_t timeout_ms,
			 hl_arena *a, void **resp, hl_error *err) HL_MUST_CHECK;

/* The hl_status a gRPC status code is mapped back to. */
hl_status hl_status_from_grpc(int code);

/* Release the calling thread's completion queue (before the thread ends). */
void hl_client_thread_release(void);

#endif
