/*
 * rpc_client.c - unary gRPC calls over mutual TLS (see rpc_client.h).
 */
#include "hl/rpc_client.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hl/tls.h"

#define RECONNECT_MAX_MS 2000

struct hl_client {
	grpc_channel *channel;
};

static __thread grpc_completion_queue *thread_cq;

static grpc_completion_queue *my_cq(void)
{
	if (!thread_cq)
		thread_cq = grpc_completion_queue_create_for_pluck(NULL);
	return thread_cq;
}

void hl_client_thread_release(void)
{
	if (!thread_cq)
		return;
	grpc_completion_queue_shutdown(thread_cq);
	while (grpc_completion_queue_pluck(thread_cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(thread_cq);
	thread_cq = NULL;
}

hl_status hl_client_new(const char *target, const char *cert, const char *key, const char *ca, hl_client **out,
			hl_error *err)
{
	*out = NULL;
	grpc_channel_credentials *creds;
	hl_status st = hl_tls_channel_credentials(cert, key, ca, &creds, err);
	if (st)
		return st;
	hl_client *cl = calloc(1, sizeof *cl);
	if (!cl) {
		grpc_channel_credentials_release(creds);
		return hl_fail(err, HL_NOMEM, "out of memory");
	}
	/*
	 * gRPC's reconnect backoff grows to 120 s, and calls fail fast while it
	 * runs: a target that comes back would stay unused that long, whatever
	 * the caller's own retry policy (the outbox relay's cap).  Reconnect at
	 * least every RECONNECT_MAX_MS instead.
	 */
	grpc_arg a[3] = {
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, .value.integer = 64 << 20},
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, .value.integer = 64 << 20},
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, .value.integer = RECONNECT_MAX_MS},
	};
	grpc_channel_args args = {3, a};
	cl->channel = grpc_channel_create(target, creds, &args);
	grpc_channel_credentials_release(creds);
	if (!cl->channel) {
		free(cl);
		return hl_fail(err, HL_UNAVAILABLE, "cannot create a channel to %s", target);
	}
	*out = cl;
	return HL_OK;
}

void hl_client_free(hl_client *cl)
{
	if (!cl)
		return;
	grpc_channel_destroy(cl->channel);
	free(cl);
}

hl_status hl_status_from_grpc(int code)
{
	for (int s = 0; s < HL__STATUS_COUNT; s++)
		if (hl_status_grpc_code((hl_status)s) == code)
			return (hl_status)s;
	return HL_INTERNAL;
}

/* A started call: its ops' buffers, the call, and the tag it completes with (itself). */
struct hl_client_pending {
	grpc_call *call;
	grpc_metadata_array initial, trailing;
	grpc_byte_buffer *send, *recv;
	grpc_status_code status;
	grpc_slice details;
	grpc_metadata *md;
	size_t n_md;
};

static void pending_free(hl_client_pending *p)
{
	if (p->call)
		grpc_call_unref(p->call);
	grpc_metadata_array_destroy(&p->initial);
	grpc_metadata_array_destroy(&p->trailing);
	if (p->send)
		grpc_byte_buffer_destroy(p->send);
	if (p->recv)
		grpc_byte_buffer_destroy(p->recv);
	grpc_slice_unref(p->details);
	for (size_t i = 0; i < p->n_md; i++)
		grpc_slice_unref(p->md[i].value);
	free(p->md);
	free(p);
}

static hl_status start_ops(hl_client_pending *p, hl_error *err)
{
	grpc_op ops[6];
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].data.send_initial_metadata.count = p->n_md;
	ops[0].data.send_initial_metadata.metadata = p->md;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = p->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &p->initial;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &p->recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &p->trailing;
	ops[5].data.recv_status_on_client.status = &p->status;
	ops[5].data.recv_status_on_client.status_details = &p->details;
	if (grpc_call_start_batch(p->call, ops, 6, p, NULL) != GRPC_CALL_OK)
		return hl_fail(err, HL_INTERNAL, "cannot start the call");
	return HL_OK;
}

static hl_status read_response(const hl_client_pending *p, hl_arena *a, uint8_t **resp, size_t *len,
			       hl_error *err)
{
	if (!p->recv)
		return hl_fail(err, HL_INTERNAL, "OK status without a response message");
	grpc_byte_buffer_reader r;
	grpc_byte_buffer_reader_init(&r, p->recv);
	grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	*len = GRPC_SLICE_LENGTH(sl);
	*resp = hl_arena_memdup(a, GRPC_SLICE_START_PTR(sl), *len);
	grpc_slice_unref(sl);
	return *resp ? HL_OK : hl_fail(err, HL_NOMEM, "out of memory");
}

/* A call object with its metadata and request, not started (the start and stream functions' common part). */
static hl_status pending_new(hl_client *cl, const char *method, const uint8_t *req, size_t len, const hl_md *md,
			     size_t n_md, int64_t timeout_ms, hl_client_pending **out, hl_error *err)
{
	hl_client_pending *p = calloc(1, sizeof *p);
	*out = NULL;
	if (!p)
		return hl_fail(err, HL_NOMEM, "out of memory");
	grpc_metadata_array_init(&p->initial);
	grpc_metadata_array_init(&p->trailing);
	p->details = grpc_empty_slice();
	if (!(p->md = calloc(n_md ? n_md : 1, sizeof *p->md))) {
		pending_free(p);
		return hl_fail(err, HL_NOMEM, "out of memory");
	}
	for (; p->n_md < n_md; p->n_md++) {
		p->md[p->n_md].key = grpc_slice_from_static_string(md[p->n_md].key);
		p->md[p->n_md].value = grpc_slice_from_copied_string(md[p->n_md].value);
	}
	grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, len);
	p->send = grpc_raw_byte_buffer_create(&body, 1);
	grpc_slice_unref(body);
	gpr_timespec deadline =
		gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
	grpc_slice path = grpc_slice_from_copied_string(method);
	p->call = grpc_channel_create_call(cl->channel, NULL, GRPC_PROPAGATE_DEFAULTS, my_cq(), path, NULL, deadline,
					   NULL);
	grpc_slice_unref(path);
	*out = p;
	return HL_OK;
}

hl_status hl_client_start(hl_client *cl, const char *method, const uint8_t *req, size_t len, const hl_md *md,
			  size_t n_md, int64_t timeout_ms, hl_client_pending **out, hl_error *err)
{
	hl_client_pending *p;
	hl_status st = pending_new(cl, method, req, len, md, n_md, timeout_ms, &p, err);
	if (!st && (st = start_ops(p, err)))
		pending_free(p);
	*out = st ? NULL : p;
	return st;
}

/* Run one batch of n ops on p's call with tag and wait for it; false when it failed. */
static bool batch(hl_client_pending *p, grpc_op *ops, size_t n, void *tag)
{
	if (grpc_call_start_batch(p->call, ops, n, tag, NULL) != GRPC_CALL_OK)
		return false;
	grpc_event ev = grpc_completion_queue_pluck(my_cq(), tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/* Hand each received message to fn until the server ends the stream or fn fails. */
static hl_status stream_messages(hl_client_pending *p, hl_client_message_fn fn, void *arg, hl_error *err)
{
	for (;;) {
		grpc_op op;
		memset(&op, 0, sizeof op);
		op.op = GRPC_OP_RECV_MESSAGE;
		op.data.recv_message.recv_message = &p->recv;
		if (!batch(p, &op, 1, &p->recv) || !p->recv)
			return HL_OK; /* the end of the stream, or a failed call: the status says which */
		grpc_byte_buffer_reader r;
		grpc_byte_buffer_reader_init(&r, p->recv);
		grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
		grpc_byte_buffer_reader_destroy(&r);
		grpc_byte_buffer_destroy(p->recv);
		p->recv = NULL;
		hl_status st = fn(arg, GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl), err);
		grpc_slice_unref(sl);
		if (st)
			return st;
	}
}

hl_status hl_client_stream_raw(hl_client *cl, const char *method, const uint8_t *req, size_t len, const hl_md *md,
			       size_t n_md, int64_t timeout_ms, hl_client_message_fn fn, void *arg, int *code,
			       hl_error *err)
{
	hl_client_pending *p;
	if (code)
		*code = 2; /* UNKNOWN until the call ends */
	hl_status st = pending_new(cl, method, req, len, md, n_md, timeout_ms, &p, err);
	if (st)
		return st;
	grpc_op ops[4];
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].data.send_initial_metadata.count = p->n_md;
	ops[0].data.send_initial_metadata.metadata = p->md;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = p->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &p->initial;
	batch(p, ops, 4, p); /* a failure shows in the status below */
	hl_status fn_st = stream_messages(p, fn, arg, err);
	if (fn_st)
		grpc_call_cancel(p->call, NULL);
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &p->trailing;
	ops[0].data.recv_status_on_client.status = &p->status;
	ops[0].data.recv_status_on_client.status_details = &p->details;
	if (!batch(p, ops, 1, &p->status))
		st = fn_st ? fn_st : hl_fail(err, HL_INTERNAL, "call did not complete");
	else if (fn_st)
		st = fn_st;
	else if (p->status != GRPC_STATUS_OK)
		st = hl_fail(err, hl_status_from_grpc((int)p->status), "%.*s", (int)GRPC_SLICE_LENGTH(p->details),
			     (const char *)GRPC_SLICE_START_PTR(p->details));
	if (code && !fn_st)
		*code = (int)p->status;
	pending_free(p);
	return st;
}

hl_status hl_client_finish(hl_client_pending *p, hl_arena *a, uint8_t **resp, size_t *resp_len, int *code,
			   hl_error *err)
{
	if (code)
		*code = 2; /* UNKNOWN until the call ends */
	grpc_event ev = grpc_completion_queue_pluck(my_cq(), p, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	hl_status st = HL_OK;
	if (ev.type != GRPC_OP_COMPLETE)
		st = hl_fail(err, HL_INTERNAL, "call did not complete");
	else if (code)
		*code = (int)p->status;
	if (!st && p->status != GRPC_STATUS_OK)
		st = hl_fail(err, hl_status_from_grpc((int)p->status), "%.*s", (int)GRPC_SLICE_LENGTH(p->details),
			     (const char *)GRPC_SLICE_START_PTR(p->details));
	else if (!st)
		st = read_response(p, a, resp, resp_len, err);
	pending_free(p);
	return st;
}

hl_status hl_client_call_raw(hl_client *cl, const char *method, const uint8_t *req, size_t len, const hl_md *md,
			     size_t n_md, int64_t timeout_ms, hl_arena *a, uint8_t **resp, size_t *resp_len,
			     int *code, hl_error *err)
{
	hl_client_pending *p;
	if (code)
		*code = 2;
	hl_status st = hl_client_start(cl, method, req, len, md, n_md, timeout_ms, &p, err);
	return st ? st : hl_client_finish(p, a, resp, resp_len, code, err);
}

hl_status hl_client_call(hl_client *cl, const char *method, const ProtobufCMessage *req,
			 const ProtobufCMessageDescriptor *resp_desc, const hl_md *md, size_t n_md, int64_t timeout_ms,
			 hl_arena *a, void **resp, hl_error *err)
{
	size_t n = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = hl_arena_alloc(a, n ? n : 1);
	if (!buf)
		return hl_fail(err, HL_NOMEM, "out of memory");
	protobuf_c_message_pack(req, buf);
	uint8_t *out;
	size_t out_len;
	hl_status st = hl_client_call_raw(cl, method, buf, n, md, n_md, timeout_ms, a, &out, &out_len, NULL, err);
	if (st)
		return st;
	*resp = protobuf_c_message_unpack(resp_desc, hl_arena_pb_allocator(a), out_len, out);
	return *resp ? HL_OK : hl_fail(err, HL_INTERNAL, "malformed %s from the server", resp_desc->name);
}
