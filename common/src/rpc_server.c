/*
 * rpc_server.c - the gRPC server driver (see rpc.h and common/README.md).
 *
 * Threads:
 *   - cq_threads completion-queue threads, each with its own queue on which
 *     one request per registered method and one catch-all request are armed.
 *     They never block: they accept calls, answer health checks, reflection
 *     and unknown methods themselves, hand unary and server-streaming calls
 *     to the worker queue, and release a call when its final batch completes.
 *   - workers threads that take calls from a bounded queue, decode, check
 *     identity and tenant, run the handler (which may block on PostgreSQL
 *     through the worker's own connection) and start the final batch.  A
 *     new call wakes the worker that has been idle the shortest time (a
 *     stack, as PgBouncer reuses connections): at a load a few workers carry,
 *     the same few workers and PostgreSQL backends take every call, warm,
 *     instead of every worker in turn.
 *
 * Life of a unary call (struct hl_call is also the completion tag):
 *   ARMED --request arrives--> queued --worker--> FINISHING --batch done--> freed
 * A full queue answers RESOURCE_EXHAUSTED at once; an expired deadline
 * answers DEADLINE_EXCEEDED without running the handler.
 *
 * A server-streaming call runs the same way on a worker; each hl_call_send
 * starts one SEND_MESSAGE batch (tag state T_STREAM_SEND) and the worker
 * waits on the call's semaphore until the CQ thread sees it complete, so at
 * most one message per stream is in flight (flow control reaches the handler).
 */
#include "hl/rpc.h"

#include "hl/redis.h"
#include "hl/timers.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grpc/health/v1/health.pb-c.h"
#include "hotline/batch/v1/batch.pb-c.h"
#include "hl/crypto.h"
#include "hl/log.h"
#include "hl/metrics.h"
#include "hl/pg.h"
#include "hl/reflect.h"
#include "hl/tls.h"
#include "hl/validate.h"

#include "rpc_private.h"

int64_t hl_rpc_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- signals ------------------------------------------------------------ */

void hl_signals_block(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int hl_signals_wait(void)
{
	sigset_t set;
	int sig = 0;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigwait(&set, &sig);
	return sig;
}

/* ---- method table ------------------------------------------------------- */

static hl_status add_entry(hl_server *s, const char *service, const char *method, enum kind kind,
			   const hl_method *m, const ProtobufCMessageDescriptor *in,
			   const ProtobufCMessageDescriptor *out, hl_error *err)
{
	if (s->n_methods == s->cap_methods) {
		size_t cap = s->cap_methods ? s->cap_methods * 2 : 32;
		struct method_entry *me = realloc(s->methods, cap * sizeof *me);
		if (!me)
			return hl_fail(err, HL_NOMEM, "out of memory");
		s->methods = me;
		s->cap_methods = cap;
	}
	struct method_entry *e = &s->methods[s->n_methods++];
	memset(e, 0, sizeof *e);
	snprintf(e->path, sizeof e->path, "/%s/%s", service, method);
	e->kind = kind;
	e->m = m;
	e->in = in;
	e->out = out;
	return HL_OK;
}

static hl_status add_service_name(hl_server *s, const char *name, hl_error *err)
{
	const char **n = realloc(s->service_names, (s->n_services + 1) * sizeof *n);
	if (!n)
		return hl_fail(err, HL_NOMEM, "out of memory");
	s->service_names = n;
	s->service_names[s->n_services++] = name;
	return HL_OK;
}

struct method_entry *hl_rpc_find_entry(hl_server *s, const char *path)
{
	for (size_t i = 0; i < s->n_methods; i++)
		if (strcmp(s->methods[i].path, path) == 0)
			return &s->methods[i];
	return NULL;
}

static const hl_method *find_method(const hl_service *svc, const char *name)
{
	for (size_t i = 0; i < svc->n_methods; i++)
		if (strcmp(svc->methods[i].name, name) == 0)
			return &svc->methods[i];
	return NULL;
}

hl_status hl_server_add(hl_server *s, const hl_service *svc, hl_error *err)
{
	const ProtobufCServiceDescriptor *d = svc->desc;
	for (size_t i = 0; i < svc->n_methods; i++) {
		bool known = false;
		for (unsigned j = 0; j < d->n_methods; j++)
			known |= strcmp(d->methods[j].name, svc->methods[i].name) == 0;
		if (!known)
			return hl_fail(err, HL_INTERNAL, "%s has no method %s", d->name, svc->methods[i].name);
	}
	for (unsigned j = 0; j < d->n_methods; j++) {
		const ProtobufCMethodDescriptor *md = &d->methods[j];
		const hl_method *m = find_method(svc, md->name);
		if (!m)
			continue; /* not implemented yet: the catch-all answers UNIMPLEMENTED */
		bool client_streaming, server_streaming;
		hl_status st = hl_reflect_streaming(d->name, md->name, &client_streaming, &server_streaming, err);
		if (st)
			return st;
		if (client_streaming)
			return hl_fail(err, HL_INTERNAL, "%s.%s: client streaming is not supported", d->name, md->name);
		st = add_entry(s, d->name, md->name, server_streaming ? K_STREAM : K_UNARY, m, md->input, md->output,
			       err);
		if (st)
			return st;
	}
	return add_service_name(s, d->name, err);
}

static const hl_method batch_apply = {"Apply", hl_rpc_batch_apply, HL_ACCESS_INTERNAL, "*", NULL};

static hl_status add_builtins(hl_server *s, hl_error *err)
{
	hl_status st;
	if ((st = add_entry(s, "hotline.batch.v1.BatchService", "Apply", K_UNARY, &batch_apply,
			    &hotline__batch__v1__apply_request__descriptor,
			    &hotline__batch__v1__apply_response__descriptor, err)) ||
	    (st = add_service_name(s, "hotline.batch.v1.BatchService", err)))
		return st;
	if ((st = add_entry(s, "grpc.health.v1.Health", "Check", K_HEALTH, NULL,
			    &grpc__health__v1__health_check_request__descriptor,
			    &grpc__health__v1__health_check_response__descriptor, err)) ||
	    (st = add_entry(s, "grpc.reflection.v1.ServerReflection", "ServerReflectionInfo", K_REFLECT,
			    NULL, NULL, NULL, err)) ||
	    (st = add_entry(s, "grpc.reflection.v1alpha.ServerReflection", "ServerReflectionInfo",
			    K_REFLECT, NULL, NULL, NULL, err)) ||
	    (st = add_service_name(s, "grpc.health.v1.Health", err)) ||
	    (st = add_service_name(s, "grpc.reflection.v1.ServerReflection", err)) ||
	    (st = add_service_name(s, "grpc.reflection.v1alpha.ServerReflection", err)))
		return st;
	return HL_OK;
}

/* ---- construction ------------------------------------------------------- */

hl_status hl_server_new(const hl_server_config *cfg, hl_server **out, hl_error *err)
{
	*out = NULL;
	hl_server *s = calloc(1, sizeof *s);
	if (!s)
		return hl_fail(err, HL_NOMEM, "out of memory");
	s->cfg = *cfg;
	if (s->cfg.cq_threads < 1)
		s->cfg.cq_threads = 2;
	if (s->cfg.workers < 1)
		s->cfg.workers = 8;
	if (s->cfg.queue_max < 1)
		s->cfg.queue_max = 256;
	if (s->cfg.max_message < 1024)
		s->cfg.max_message = 4 << 20;
	if (s->cfg.default_deadline_ms < 1)
		s->cfg.default_deadline_ms = 30000;
	if (s->cfg.grace_ms < 1)
		s->cfg.grace_ms = 10000;
	s->limits = hl_validate_limits_default();
	s->limits.overrides = cfg->field_limits;
	s->limits.n_overrides = cfg->field_limits ? cfg->n_field_limits : 0;
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->inflight, 0);
	atomic_init(&s->busy, 0);
	atomic_init(&s->serving, true);
	s->queue = calloc((size_t)s->cfg.queue_max, sizeof *s->queue);
	if (!s->queue) {
		hl_server_free(s);
		return hl_fail(err, HL_NOMEM, "out of memory");
	}
	hl_status st = add_builtins(s, err);
	if (st) {
		hl_server_free(s);
		return st;
	}
	*out = s;
	return HL_OK;
}

void hl_server_set_serving(hl_server *s, bool serving)
{
	atomic_store(&s->serving, serving);
}

void hl_server_set_timers(hl_server *s, hl_timers *t)
{
	atomic_store(&s->timers, t);
}

int hl_server_busy(const hl_server *s)
{
	return atomic_load(&((hl_server *)s)->busy);
}

/* ---- call objects ------------------------------------------------------- */

static hl_call *call_new(hl_server *s, struct cq_thread *cqt, struct method_entry *me)
{
	hl_call *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->s = s;
	c->cqt = cqt;
	c->me = me;
	grpc_metadata_array_init(&c->md);
	if (sem_init(&c->send_done, 0, 0)) {
		grpc_metadata_array_destroy(&c->md);
		free(c);
		return NULL;
	}
	if (!me)
		grpc_call_details_init(&c->details);
	return c;
}

static void call_free(hl_call *c)
{
	if (c->call)
		grpc_call_unref(c->call);
	grpc_metadata_array_destroy(&c->md);
	if (!c->me)
		grpc_call_details_destroy(&c->details);
	if (c->payload)
		grpc_byte_buffer_destroy(c->payload);
	if (c->send_buf)
		grpc_byte_buffer_destroy(c->send_buf);
	if (c->recv_buf)
		grpc_byte_buffer_destroy(c->recv_buf);
	hl_arena_free(c->arena);
	sem_destroy(&c->send_done);
	free(c);
}

static void arm(struct cq_thread *cqt, struct method_entry *me)
{
	hl_server *s = cqt->s;
	hl_call *c = call_new(s, cqt, me);
	if (!c) {
		HL_LOG_ERROR("rpc_arm_failed", "reason=%s", "out of memory");
		return;
	}
	grpc_call_error e;
	if (me) {
		c->state = T_ARMED;
		e = grpc_server_request_registered_call(s->server, me->handle, &c->call, &c->deadline, &c->md,
							me->kind == K_REFLECT ? NULL : &c->payload, cqt->cq,
							cqt->cq, c);
	} else {
		c->state = T_ARMED_OTHER;
		e = grpc_server_request_call(s->server, &c->call, &c->details, &c->md, cqt->cq, cqt->cq, c);
	}
	if (e != GRPC_CALL_OK) {
		HL_LOG_ERROR("rpc_arm_failed", "grpc_call_error=%d", (int)e);
		call_free(c);
	}
}

/* ---- answering ---------------------------------------------------------- */

static void start_finish(hl_call *c, int code, const char *msg, const uint8_t *body, size_t len)
{
	grpc_op ops[4];
	memset(ops, 0, sizeof ops);
	size_t n = 0;
	grpc_slice details = grpc_slice_from_copied_string(msg ? msg : "");
	if (!c->md_sent && c->state != T_STREAM_RECV && c->state != T_STREAM_SENT) {
		ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
		n++;
	}
	if (body) {
		grpc_slice sl = grpc_slice_from_copied_buffer((const char *)body, len);
		c->send_buf = grpc_raw_byte_buffer_create(&sl, 1);
		grpc_slice_unref(sl);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = c->send_buf;
		n++;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)code;
	ops[n].data.send_status_from_server.status_details = &details;
	n++;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n].data.recv_close_on_server.cancelled = &c->cancelled;
	n++;
	c->state = T_FINISH;
	c->err.status = code == 0 ? HL_OK : c->err.status;
	grpc_call_error e = grpc_call_start_batch(c->call, ops, n, c, NULL);
	grpc_slice_unref(details);
	if (e != GRPC_CALL_OK) {
		HL_LOG_ERROR("rpc_finish_failed", "method=%s grpc_call_error=%d", c->method_name, (int)e);
		/* the batch will never complete: release here */
		if (c->counted)
			atomic_fetch_sub(&c->s->inflight, 1);
		call_free(c);
	}
}

static void finish_status(hl_call *c, hl_status st, const char *msg)
{
	if (c->err.status != st || !c->err.msg[0])
		hl_fail(&c->err, st, "%s", msg ? msg : hl_status_message(st));
	start_finish(c, hl_status_grpc_code(st), hl_error_text(&c->err), NULL, 0);
}

void hl_rpc_log_and_count(hl_call *c)
{
	hl_server *s = c->s;
	double secs = (double)(hl_rpc_now_ns() - c->start_ns) / 1e9;
	const char *code = hl_grpc_code_name(hl_status_grpc_code(c->err.status));
	if (s->cfg.metrics && c->start_ns)
		hl_metrics_observe_call(s->cfg.metrics, c->method_name, code, secs);
	char req[96], msg[300];
	hl_log_quote(req, sizeof req, c->request_id ? c->request_id : "-");
	if (c->err.status == HL_OK || c->err.status == HL_NOT_FOUND)
		HL_LOG_INFO("rpc", "method=%s code=%s ms=%.2f tenant=%s peer=%s req=%s", c->method_name, code,
			    secs * 1e3, c->principal.tenant ? c->principal.tenant : "-",
			    c->peer_name[0] ? c->peer_name : "-", req);
	else
		HL_LOG_WARN("rpc", "method=%s code=%s ms=%.2f tenant=%s peer=%s req=%s msg=%s", c->method_name,
			    code, secs * 1e3, c->principal.tenant ? c->principal.tenant : "-",
			    c->peer_name[0] ? c->peer_name : "-", req,
			    hl_log_quote(msg, sizeof msg, hl_error_text(&c->err)));
}

/* ---- identity and tenant ------------------------------------------------ */

const char *hl_call_metadata(hl_call *c, const char *key)
{
	for (const char *const *m = c->item_md; m && m[0]; m += 2)
		if (strcmp(m[0], key) == 0)
			return m[1][0] ? m[1] : NULL;
	size_t kl = strlen(key);
	for (size_t i = 0; i < c->md.count; i++) {
		const grpc_metadata *m = &c->md.metadata[i];
		if (GRPC_SLICE_LENGTH(m->key) == kl && memcmp(GRPC_SLICE_START_PTR(m->key), key, kl) == 0)
			return hl_arena_strndup(c->arena, (const char *)GRPC_SLICE_START_PTR(m->value),
						GRPC_SLICE_LENGTH(m->value));
	}
	return NULL;
}

static bool word_in(const char *list, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = list; p && *p;) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if ((size_t)(e - p) == wl && memcmp(p, word, wl) == 0)
			return true;
		p = e;
	}
	return false;
}

bool hl_rpc_printable(const char *s, size_t max)
{
	size_t n = 0;
	for (; *s; s++, n++)
		if (*s < 0x21 || *s > 0x7e || n >= max)
			return false;
	return n > 0;
}

bool hl_rpc_caller_allowed(const hl_method *m, const char *peer_service)
{
	return peer_service && (strcmp(m->callers, "*") == 0 || word_in(m->callers, peer_service));
}

static hl_status authorize_internal(hl_call *c, const char *tenant)
{
	hl_principal *p = &c->principal;
	if (!hl_rpc_caller_allowed(c->me->m, p->peer_service))
		return hl_fail(&c->err, HL_DENIED, "%s is an internal method not open to this peer",
			       c->method_name);
	if (!tenant || !hl_tenant_slug_valid(tenant))
		return hl_fail(&c->err, HL_INVALID, "x-tenant-id: required slug for internal calls");
	const char *actor = hl_call_metadata(c, "x-actor");
	if (actor && !hl_rpc_printable(actor, 128))
		return hl_fail(&c->err, HL_INVALID, "x-actor: must be printable ASCII");
	p->tenant = tenant;
	p->actor = actor ? actor : hl_arena_printf(c->arena, "system:%s", p->peer_service);
	return HL_OK;
}

static hl_status authorize_user(hl_call *c, const char *tenant)
{
	hl_principal *p = &c->principal;
	const char *auth = hl_call_metadata(c, "authorization");
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return hl_fail(&c->err, HL_UNAUTHENTICATED, "authorization: bearer token required");
	if (!c->s->cfg.jwt)
		return hl_fail(&c->err, HL_UNAUTHENTICATED, "no token keys configured");
	const char *tok = auth + 7;
	hl_status st = hl_jwt_verify(c->s->cfg.jwt, tok, strlen(tok), (int64_t)time(NULL), 30, c->arena,
				     &c->claims, &c->err);
	if (st == HL_NOMEM)
		return st;
	if (st) {
		c->err.status = HL_UNAUTHENTICATED; /* keep the verifier's message */
		return HL_UNAUTHENTICATED;
	}
	p->claims = &c->claims;
	if (tenant) {
		if (!hl_tenant_slug_valid(tenant))
			return hl_fail(&c->err, HL_INVALID, "x-tenant-id: not a tenant slug");
		if (!hl_claims_may_act_in(&c->claims, tenant))
			return hl_fail(&c->err, HL_DENIED, "not allowed to act in tenant %s", tenant);
		p->tenant = tenant;
	} else {
		p->tenant = c->claims.tenant;
	}
	p->actor = c->claims.sub;
	return HL_OK;
}

static hl_status authorize_public(hl_call *c, const char *tenant)
{
	if (!tenant || !hl_tenant_slug_valid(tenant))
		return hl_fail(&c->err, HL_INVALID, "x-tenant-id: required slug");
	c->principal.tenant = tenant;
	c->principal.actor = "public";
	return HL_OK;
}

static hl_status authorize(hl_call *c)
{
	char name[64];
	hl_peer_kind k = hl_tls_call_peer(c->call, name, sizeof name);
	if (k == HL_PEER_SERVICE) {
		c->principal.peer_service = hl_arena_strdup(c->arena, name);
		snprintf(c->peer_name, sizeof c->peer_name, "service/%s", name);
	} else if (k == HL_PEER_CLIENT) {
		c->principal.peer_client = hl_arena_strdup(c->arena, name);
		snprintf(c->peer_name, sizeof c->peer_name, "client/%s", name);
	}
	const char *tenant = hl_call_metadata(c, "x-tenant-id");
	switch (c->me->m->access) {
	case HL_ACCESS_INTERNAL:
		return authorize_internal(c, tenant);
	case HL_ACCESS_PUBLIC:
		return authorize_public(c, tenant);
	case HL_ACCESS_USER:
	default:
		return authorize_user(c, tenant);
	}
}

/* ---- the worker's part of a unary call ---------------------------------- */

static hl_status read_payload(hl_call *c, uint8_t **buf, size_t *len)
{
	if (!c->payload)
		return hl_fail(&c->err, HL_INVALID, "request message missing");
	grpc_byte_buffer_reader r;
	if (!grpc_byte_buffer_reader_init(&r, c->payload))
		return hl_fail(&c->err, HL_INVALID, "request message unreadable");
	grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	*len = GRPC_SLICE_LENGTH(sl);
	*buf = hl_arena_memdup(c->arena, GRPC_SLICE_START_PTR(sl), *len);
	grpc_slice_unref(sl);
	return *buf ? HL_OK : hl_fail(&c->err, HL_NOMEM, "out of memory");
}

hl_status hl_rpc_unpack(const hl_server *s, const struct method_entry *me, hl_arena *a, const uint8_t *buf,
			size_t len, void **req, hl_error *err)
{
	hl_status st = hl_validate_wire(me->in, buf, len, &s->limits, err);
	if (st)
		return st;
	*req = protobuf_c_message_unpack(me->in, hl_arena_pb_allocator(a), len, buf);
	if (!*req)
		return hl_fail(err, HL_INVALID, "request is not a valid %s", me->in->name);
	return HL_OK;
}

hl_status hl_rpc_decode(hl_call *c, const struct method_entry *me, const uint8_t *buf, size_t len, void **req)
{
	return hl_rpc_unpack(c->s, me, c->arena, buf, len, req, &c->err);
}

static hl_status decode(hl_call *c, void **req)
{
	uint8_t *buf;
	size_t len;
	hl_status st = read_payload(c, &buf, &len);
	return st ? st : hl_rpc_decode(c, c->me, buf, len, req);
}

static void reply(hl_call *c, void *resp)
{
	const ProtobufCMessage *m = resp;
	if (!m || m->descriptor != c->me->out) {
		finish_status(c, HL_INTERNAL, "handler returned no or a wrong response message");
		return;
	}
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *out = hl_arena_alloc(c->arena, len ? len : 1);
	if (!out) {
		finish_status(c, HL_NOMEM, NULL);
		return;
	}
	protobuf_c_message_pack(m, out);
	hl_error_clear(&c->err);
	start_finish(c, 0, "", out, len);
}

static bool deadline_passed(const hl_call *c)
{
	gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
	gpr_timespec dl = gpr_convert_clock_type(c->deadline, GPR_CLOCK_MONOTONIC);
	return gpr_time_cmp(now, dl) >= 0;
}

static void process_call(hl_call *c, struct worker *w)
{
	c->worker = w;
	void *req = NULL, *resp = NULL;
	hl_status st;
	if (deadline_passed(c)) {
		finish_status(c, HL_DEADLINE, "deadline passed before the call was handled");
		return;
	}
	if ((st = authorize(c)) || (st = decode(c, &req))) {
		finish_status(c, st, NULL);
		return;
	}
	hl_error_clear(&c->err);
	st = c->me->m->fn(c, req, &resp);
	/* a handler that failed before rolling back must not keep its locks until the worker's next call */
	if (c->worker && hl_call_pg(c))
		hl_pg_rollback(hl_call_pg(c));
	if (st) {
		finish_status(c, st, NULL);
		return;
	}
	if (c->me->kind == K_STREAM) {
		hl_error_clear(&c->err);
		start_finish(c, 0, "", NULL, 0);
		return;
	}
	reply(c, resp);
}

hl_status hl_call_send(hl_call *c, const void *msg)
{
	const ProtobufCMessage *m = msg;
	if (!c->me || c->me->kind != K_STREAM || !c->worker)
		return hl_call_fail(c, HL_INTERNAL, "hl_call_send outside a streaming handler");
	if (!m || m->descriptor != c->me->out)
		return hl_call_fail(c, HL_INTERNAL, "hl_call_send: not a %s", c->me->out->name);
	size_t len = protobuf_c_message_get_packed_size(m);
	grpc_slice sl = grpc_slice_malloc(len);
	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(sl));
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
	grpc_slice_unref(sl);
	grpc_op ops[2];
	memset(ops, 0, sizeof ops);
	size_t n = 0;
	if (!c->md_sent)
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[n].op = GRPC_OP_SEND_MESSAGE;
	ops[n].data.send_message.send_message = bb;
	n++;
	c->state = T_STREAM_SEND;
	c->send_ok = false;
	if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) {
		grpc_byte_buffer_destroy(bb);
		return hl_call_fail(c, HL_INTERNAL, "stream send failed");
	}
	c->md_sent = true;
	while (sem_wait(&c->send_done) && errno == EINTR)
		;
	grpc_byte_buffer_destroy(bb);
	if (!c->send_ok)
		return hl_call_fail(c, HL_CANCELLED, "stream broken: the client went away or the deadline passed");
	c->sent++;
	return HL_OK;
}

int64_t hl_call_sent(const hl_call *c)
{
	return c->sent;
}

/* Take w out of the idle stack (a worker that found a call without being woken for it). */
static void unstack_idle(hl_server *s, struct worker *w)
{
	for (struct worker **p = &s->idle; *p; p = &(*p)->next_idle)
		if (*p == w) {
			*p = w->next_idle;
			break;
		}
	w->idle = false;
}

/* The next call for w, NULL when the server stops; w waits on top of the idle stack. */
static hl_call *queue_pop(hl_server *s, struct worker *w)
{
	pthread_mutex_lock(&s->mu);
	while (s->q_len == 0 && !s->stopping) {
		if (!w->idle) {
			w->idle = true;
			w->next_idle = s->idle;
			s->idle = w;
		}
		pthread_cond_wait(&w->cv, &s->mu);
	}
	if (w->idle)
		unstack_idle(s, w);
	hl_call *c = NULL;
	if (s->q_len > 0) {
		c = s->queue[s->q_head];
		s->q_head = (s->q_head + 1) % s->cfg.queue_max;
		s->q_len--;
	}
	pthread_mutex_unlock(&s->mu);
	return c;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	hl_server *s = w->s;
	for (;;) {
		hl_call *c = queue_pop(s, w);
		if (!c)
			break;
		process_call(c, w);
		atomic_fetch_sub(&s->busy, 1);
	}
	return NULL;
}

static bool queue_push(hl_server *s, hl_call *c)
{
	bool ok = false;
	pthread_mutex_lock(&s->mu);
	if (!s->stopping && s->q_len < s->cfg.queue_max) {
		s->queue[(s->q_head + s->q_len) % s->cfg.queue_max] = c;
		s->q_len++;
		atomic_fetch_add(&s->busy, 1);
		ok = true;
		struct worker *w = s->idle; /* the most recently idle */
		if (w) {
			s->idle = w->next_idle;
			w->idle = false;
			pthread_cond_signal(&w->cv);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* ---- built-in services on the CQ thread ----------------------------------- */

static void answer_health(hl_call *c)
{
	uint8_t *buf;
	size_t len;
	if (read_payload(c, &buf, &len)) {
		finish_status(c, HL_INVALID, NULL);
		return;
	}
	Grpc__Health__V1__HealthCheckRequest *q =
		grpc__health__v1__health_check_request__unpack(hl_arena_pb_allocator(c->arena), len, buf);
	if (!q) {
		finish_status(c, HL_INVALID, "request is not a valid HealthCheckRequest");
		return;
	}
	bool known = q->service[0] == '\0';
	for (size_t i = 0; i < c->s->n_services && !known; i++)
		known = strcmp(c->s->service_names[i], q->service) == 0;
	if (!known) {
		finish_status(c, HL_NOT_FOUND, "unknown service");
		return;
	}
	Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	r.status = atomic_load(&c->s->serving) ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
					       : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	uint8_t out[16];
	size_t n = grpc__health__v1__health_check_response__pack(&r, out);
	hl_error_clear(&c->err);
	start_finish(c, 0, "", out, n);
}

static void stream_recv(hl_call *c, bool with_initial_metadata)
{
	grpc_op ops[2];
	memset(ops, 0, sizeof ops);
	size_t n = 0;
	if (with_initial_metadata)
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n].data.recv_message.recv_message = &c->recv_buf;
	n++;
	c->state = T_STREAM_RECV;
	if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK)
		finish_status(c, HL_INTERNAL, "reflection stream failed");
}

/*
 * Answer the reflection request in c->recv_buf, or end the stream with
 * RESOURCE_EXHAUSTED once it has had HL_REFLECT_MAX_REQUESTS requests or
 * HL_REFLECT_MAX_STREAM_BYTES bytes of answers.  Each answer is built in an
 * arena of its own, freed once it is copied into the send buffer, so a
 * long stream does not grow the call's arena.
 */
static void stream_answer(hl_call *c)
{
	grpc_byte_buffer_reader r;
	grpc_byte_buffer_reader_init(&r, c->recv_buf);
	grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	grpc_byte_buffer_destroy(c->recv_buf);
	c->recv_buf = NULL;
	if (++c->stream_requests > HL_REFLECT_MAX_REQUESTS) {
		grpc_slice_unref(sl);
		hl_fail(&c->err, HL_EXHAUSTED, "reflection stream: more than %d requests, open a new stream",
			HL_REFLECT_MAX_REQUESTS);
		finish_status(c, HL_EXHAUSTED, NULL);
		return;
	}
	hl_arena *a = hl_arena_new();
	uint8_t *out;
	size_t len;
	hl_status st = a ? hl_reflect_answer(c->s->reflect, GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl), a,
					     &out, &len)
			 : HL_NOMEM;
	grpc_slice_unref(sl);
	if (st) {
		hl_arena_free(a);
		finish_status(c, st, "malformed reflection request");
		return;
	}
	c->stream_bytes += len;
	if (c->stream_bytes > HL_REFLECT_MAX_STREAM_BYTES) {
		hl_arena_free(a);
		hl_fail(&c->err, HL_EXHAUSTED, "reflection stream: more than %d bytes of answers, open a new stream",
			HL_REFLECT_MAX_STREAM_BYTES);
		finish_status(c, HL_EXHAUSTED, NULL);
		return;
	}
	if (c->send_buf)
		grpc_byte_buffer_destroy(c->send_buf);
	grpc_slice body = grpc_slice_from_copied_buffer((const char *)out, len);
	hl_arena_free(a);
	c->send_buf = grpc_raw_byte_buffer_create(&body, 1);
	grpc_slice_unref(body);
	grpc_op op;
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = c->send_buf;
	c->state = T_STREAM_SENT;
	if (grpc_call_start_batch(c->call, &op, 1, c, NULL) != GRPC_CALL_OK)
		finish_status(c, HL_INTERNAL, "reflection stream failed");
}

/* ---- completion-queue threads ------------------------------------------- */

static void on_new_call(hl_call *c, bool ok)
{
	hl_server *s = c->s;
	if (!ok) { /* the server is shutting down: no call was accepted */
		call_free(c);
		return;
	}
	arm(c->cqt, c->me); /* keep one request armed for this method */
	atomic_fetch_add(&s->inflight, 1);
	c->counted = true;
	c->start_ns = hl_rpc_now_ns();
	c->arena = hl_arena_new();
	snprintf(c->method_name, sizeof c->method_name, "%s",
		 c->me ? c->me->path : "unknown");
	if (!c->arena) {
		finish_status(c, HL_NOMEM, NULL);
		return;
	}
	c->request_id = hl_call_metadata(c, "x-request-id");
	if (!c->request_id || !hl_rpc_printable(c->request_id, 128)) {
		char id[HL_UUID_STR_LEN];
		if (hl_uuid_v7(id))
			snprintf(id, sizeof id, "unknown");
		c->request_id = hl_arena_strdup(c->arena, id);
	}
	if (!c->me) {
		size_t n = GRPC_SLICE_LENGTH(c->details.method);
		char path[200];
		snprintf(path, sizeof path, "%.*s", (int)(n < 190 ? n : 190),
			 (const char *)GRPC_SLICE_START_PTR(c->details.method));
		snprintf(c->method_name, sizeof c->method_name, "unknown");
		hl_fail(&c->err, HL_UNIMPLEMENTED, "unknown method %s", path);
		start_finish(c, hl_status_grpc_code(HL_UNIMPLEMENTED), c->err.msg, NULL, 0);
		return;
	}
	switch (c->me->kind) {
	case K_HEALTH:
		answer_health(c);
		break;
	case K_REFLECT:
		stream_recv(c, true);
		break;
	case K_UNARY:
	case K_STREAM:
		if (!queue_push(s, c))
			finish_status(c, HL_EXHAUSTED, "server busy, retry later");
		break;
	}
}

static void on_event(hl_call *c, bool ok)
{
	switch (c->state) {
	case T_ARMED:
	case T_ARMED_OTHER:
		on_new_call(c, ok);
		break;
	case T_STREAM_RECV:
		if (!ok || !c->recv_buf) { /* client half-closed or went away */
			hl_error_clear(&c->err);
			start_finish(c, 0, "", NULL, 0);
		} else {
			stream_answer(c);
		}
		break;
	case T_STREAM_SENT:
		if (!ok)
			finish_status(c, HL_CANCELLED, "reflection stream broken");
		else
			stream_recv(c, false);
		break;
	case T_STREAM_SEND: /* only the worker waiting in hl_call_send touches the call now */
		c->send_ok = ok;
		sem_post(&c->send_done);
		break;
	case T_FINISH:
		hl_rpc_log_and_count(c);
		if (c->counted)
			atomic_fetch_sub(&c->s->inflight, 1);
		call_free(c);
		break;
	}
}

static void *cq_main(void *arg)
{
	struct cq_thread *cqt = arg;
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(cqt->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE)
			on_event(ev.tag, ev.success != 0);
	}
	return NULL;
}

/* ---- start and stop ----------------------------------------------------- */

static grpc_channel_args *server_args(hl_server *s, grpc_arg *a)
{
	static grpc_channel_args args;
	a[0] = (grpc_arg){.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ALLOW_REUSEPORT, .value.integer = 0};
	a[1] = (grpc_arg){.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
			  .value.integer = s->cfg.max_message};
	a[2] = (grpc_arg){.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
			  .value.integer = 16 << 20};
	args.num_args = 3;
	args.args = a;
	return &args;
}

static hl_status start_threads(hl_server *s, hl_error *err)
{
	for (int i = 0; i < s->cfg.workers; i++) {
		struct worker *w = &s->workers[i];
		w->s = s;
		if (s->cfg.db_dsn && hl_pg_new(s->cfg.db_dsn, s->cfg.db_schema, &w->pg, err))
			return HL_NOMEM;
		if (pthread_create(&w->th, NULL, worker_main, w))
			return hl_fail(err, HL_INTERNAL, "cannot start worker thread");
	}
	for (int i = 0; i < s->cfg.cq_threads; i++)
		if (pthread_create(&s->cqs[i].th, NULL, cq_main, &s->cqs[i]))
			return hl_fail(err, HL_INTERNAL, "cannot start completion-queue thread");
	return HL_OK;
}

hl_status hl_server_start(hl_server *s, hl_error *err)
{
	hl_status st = hl_reflect_new(s->service_names, s->n_services, &s->reflect, err);
	if (st)
		return st;
	if ((st = hl_tls_server_credentials(s->cfg.tls_cert, s->cfg.tls_key, s->cfg.tls_ca, &s->creds, err)))
		return st;
	grpc_arg a[3];
	s->server = grpc_server_create(server_args(s, a), NULL);
	s->cqs = calloc((size_t)s->cfg.cq_threads, sizeof *s->cqs);
	s->workers = calloc((size_t)s->cfg.workers, sizeof *s->workers);
	for (int i = 0; s->workers && i < s->cfg.workers; i++) /* (hl_server_free destroys them) */
		pthread_cond_init(&s->workers[i].cv, NULL);
	if (!s->cqs || !s->workers)
		return hl_fail(err, HL_NOMEM, "out of memory");
	for (int i = 0; i < s->cfg.cq_threads; i++) {
		s->cqs[i].s = s;
		s->cqs[i].cq = grpc_completion_queue_create_for_next(NULL);
		grpc_server_register_completion_queue(s->server, s->cqs[i].cq, NULL);
	}
	for (size_t i = 0; i < s->n_methods; i++) {
		struct method_entry *me = &s->methods[i];
		me->handle = grpc_server_register_method(s->server, me->path, NULL,
							 me->kind == K_REFLECT ? GRPC_SRM_PAYLOAD_NONE
									       : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
							 0);
		if (!me->handle)
			return hl_fail(err, HL_INTERNAL, "cannot register %s", me->path);
	}
	if (!grpc_server_add_http2_port(s->server, s->cfg.listen, s->creds))
		return hl_fail(err, HL_UNAVAILABLE, "cannot listen on %s", s->cfg.listen);
	grpc_server_start(s->server);
	s->started = true;
	for (int i = 0; i < s->cfg.cq_threads; i++) {
		for (size_t j = 0; j < s->n_methods; j++)
			arm(&s->cqs[i], &s->methods[j]);
		arm(&s->cqs[i], NULL);
	}
	return start_threads(s, err);
}

static void wait_inflight_zero(hl_server *s, int max_ms)
{
	for (int waited = 0; atomic_load(&s->inflight) > 0 && waited < max_ms; waited += 10) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void hl_server_shutdown(hl_server *s)
{
	if (!s->started)
		return;
	atomic_store(&s->serving, false);
	grpc_completion_queue *pq = grpc_completion_queue_create_for_pluck(NULL);
	grpc_server_shutdown_and_notify(s->server, pq, s);
	grpc_event ev = grpc_completion_queue_pluck(
		pq, s, gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(s->cfg.grace_ms, GPR_TIMESPAN)),
		NULL);
	if (ev.type == GRPC_QUEUE_TIMEOUT) {
		grpc_server_cancel_all_calls(s->server);
		grpc_completion_queue_pluck(pq, s, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	}
	wait_inflight_zero(s, s->cfg.grace_ms + 5000);
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	for (struct worker *w = s->idle; w; w = w->next_idle)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->cfg.workers; i++)
		if (s->workers[i].th)
			pthread_join(s->workers[i].th, NULL);
	for (int i = 0; i < s->cfg.cq_threads; i++) {
		grpc_completion_queue_shutdown(s->cqs[i].cq);
		if (s->cqs[i].th)
			pthread_join(s->cqs[i].th, NULL);
	}
	grpc_completion_queue_shutdown(pq);
	grpc_completion_queue_destroy(pq);
	s->started = false;
}

void hl_server_free(hl_server *s)
{
	if (!s)
		return;
	if (s->server)
		grpc_server_destroy(s->server);
	if (s->cqs)
		for (int i = 0; i < s->cfg.cq_threads; i++)
			if (s->cqs[i].cq)
				grpc_completion_queue_destroy(s->cqs[i].cq);
	if (s->workers)
		for (int i = 0; i < s->cfg.workers; i++) {
			hl_pg_free(s->workers[i].pg);
			hl_redis_free(s->workers[i].redis);
			pthread_cond_destroy(&s->workers[i].cv);
		}
	if (s->creds)
		grpc_server_credentials_release(s->creds);
	hl_reflect_free(s->reflect);
	free(s->cqs);
	free(s->workers);
	free(s->methods);
	free(s->service_names);
	free(s->queue);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- handler-side accessors ------------------------------------------------ */

hl_arena *hl_call_arena(hl_call *c)
{
	return c->arena;
}

const hl_principal *hl_call_principal(const hl_call *c)
{
	return &c->principal;
}

hl_pg *hl_call_pg(hl_call *c)
{
	return c->worker ? c->worker->pg : NULL;
}

hl_redis *hl_call_redis(hl_call *c)
{
	struct worker *w = c->worker;
	hl_error err;
	if (!w || !c->s->cfg.redis_url || !c->s->cfg.redis_url[0])
		return NULL;
	if (!w->redis && hl_redis_new(c->s->cfg.redis_url, 500, &w->redis, &err))
		w->redis = NULL;
	return w->redis;
}

void *hl_call_app(const hl_call *c)
{
	return c->s->cfg.app;
}

void **hl_call_local(hl_call *c)
{
	return &c->local;
}

void hl_call_queue_timer(hl_call *c, const char *tenant, const char *key, int64_t due_ms)
{
	struct call_timer *t = hl_arena_alloc(c->arena, sizeof *t);
	if (!t)
		return; /* the periodic re-seed schedules it */
	*t = (struct call_timer){{tenant, key, due_ms}, c->timers};
	c->timers = t;
}

void hl_call_drop_timers(hl_call *c)
{
	c->timers = NULL;
}

void hl_call_push_timers(hl_call *c)
{
	hl_call_push_timers_of(&c, 1);
}

void hl_call_push_timers_of(hl_call *const *calls, size_t n)
{
	/* a batch item (holder set) is pushed once the held transaction commits (rpc_batch.c) */
	size_t count = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		for (struct call_timer *t = calls[i]->holder ? NULL : calls[i]->timers; t; t = t->next)
			count++;
	if (!count)
		return;
	hl_timer_due *due = malloc(count * sizeof *due);
	for (size_t i = 0; i < n; i++) {
		if (calls[i]->holder)
			continue;
		for (struct call_timer *t = calls[i]->timers; t && due; t = t->next)
			due[k++] = t->due;
		calls[i]->timers = NULL;
	}
	/* k is 0 when out of memory: the periodic re-seed schedules them */
	hl_timers_push_many(atomic_load(&calls[0]->s->timers), due, k);
	free(due);
}

const char *hl_call_method(const hl_call *c)
{
	return c->method_name;
}

const char *hl_call_request_id(const hl_call *c)
{
	return c->request_id;
}

const char *hl_call_tenant(const hl_call *c)
{
	return c->principal.tenant;
}

int64_t hl_call_remaining_ms(const hl_call *c)
{
	gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
	gpr_timespec dl = gpr_convert_clock_type(c->deadline, GPR_CLOCK_MONOTONIC);
	gpr_timespec left = gpr_time_sub(dl, now);
	int64_t ms = (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
	if (gpr_time_cmp(c->deadline, gpr_inf_future(c->deadline.clock_type)) == 0 || ms > 3600 * 1000)
		ms = c->s->cfg.default_deadline_ms;
	return ms < 1 ? 1 : ms;
}

hl_status hl_call_fail(hl_call *c, hl_status s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hl_failv(&c->err, s, fmt, ap);
	va_end(ap);
	return s;
}

hl_status hl_call_fail_err(hl_call *c, const hl_error *err)
{
	c->err = *err;
	return err->status;
}

bool hl_call_has_role(const hl_call *c, const char *role)
{
	return c->principal.claims && hl_claims_has_role(c->principal.claims, role);
}

hl_status hl_call_require_role(hl_call *c, const char *role)
{
	if (hl_call_has_role(c, role))
		return HL_OK;
	return hl_call_fail(c, HL_DENIED, "role %s required", role);
}

void *hl_call_new_message(hl_call *c, const ProtobufCMessageDescriptor *d)
{
	void *m = hl_arena_alloc(c->arena, d->sizeof_message);
	if (m)
		protobuf_c_message_init(d, m);
	return m;
}
