/*
 * program.c - the common life of a service process (see program.h).
 */
#include "hl/program.h"

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/log.h"
#include "hl/metrics.h"
#include "hl/ops.h"
#include "hl/outbox.h"
#include "hl/pg.h"
#include "hl/redis.h"

#define C(field) offsetof(hl_common_config, field)

static const hl_config_item common_items[] = {
	{"HOTLINE_LISTEN", HL_CFG_STRING, NULL, 0, 0, C(listen), "gRPC listen address host:port", false},
	{"HOTLINE_OPS_LISTEN", HL_CFG_STRING, NULL, 0, 0, C(ops_listen), "plain HTTP ops address host:port", false},
	{"HOTLINE_TLS_CERT", HL_CFG_PATH, NULL, 0, 0, C(tls_cert), "service certificate PEM (SPIFFE URI SAN)", false},
	{"HOTLINE_TLS_KEY", HL_CFG_PATH, NULL, 0, 0, C(tls_key), "service private key PEM", false},
	{"HOTLINE_TLS_CA", HL_CFG_PATH, NULL, 0, 0, C(tls_ca), "CA certificate PEM for peers", false},
	{"HOTLINE_DB_DSN", HL_CFG_STRING, NULL, 0, 0, C(db_dsn), "PostgreSQL DSN of the runtime role", true},
	{"HOTLINE_DB_OWNER_DSN", HL_CFG_STRING, NULL, 0, 0, C(db_owner_dsn), "PostgreSQL DSN of the schema owner (migrations)", true},
	{"HOTLINE_DB_SYSTEM_DSN", HL_CFG_STRING, "", 0, 0, C(db_system_dsn), "PostgreSQL DSN of the system role (background work)", true},
	{"HOTLINE_DB_SCHEMA", HL_CFG_STRING, "", 0, 0, C(db_schema), "schema name (default: the service name)", false},
	{"HOTLINE_DB_RUNTIME_ROLE", HL_CFG_STRING, "", 0, 0, C(db_runtime_role), "runtime role (default: <service>_runtime)", false},
	{"HOTLINE_DB_SYSTEM_ROLE", HL_CFG_STRING, "", 0, 0, C(db_system_role), "system role (default: <service>_system)", false},
	{"HOTLINE_REDIS_URL", HL_CFG_STRING, "redis://127.0.0.1:6379", 0, 0, C(redis_url), "Redis URL redis://host:port", false},
	{"HOTLINE_JWT_SECRET", HL_CFG_STRING, "", 0, 0, C(jwt_secret), "HS256 secret (empty: only keys from HOTLINE_JWT_KEYS_FILE)", true},
	{"HOTLINE_JWT_ISSUER", HL_CFG_STRING, NULL, 0, 0, C(jwt_issuer), "required JWT iss", false},
	{"HOTLINE_JWT_AUDIENCE", HL_CFG_STRING, NULL, 0, 0, C(jwt_audience), "required JWT aud", false},
	{"HOTLINE_JWT_KEYS_FILE", HL_CFG_STRING, "", 0, 0, C(jwt_keys_file), "JWKS or PEM public keys (RS256/ES256)", false},
	{"HOTLINE_LOG_LEVEL", HL_CFG_STRING, "info", 0, 0, C(log_level), "debug, info, warn or error", false},
	{"HOTLINE_WORKERS", HL_CFG_INT, "8", 1, 256, C(workers), "worker threads, each with a DB connection", false},
	{"HOTLINE_CQ_THREADS", HL_CFG_INT, "2", 1, 8, C(cq_threads), "gRPC completion-queue threads", false},
	{"HOTLINE_QUEUE_MAX", HL_CFG_INT, "512", 1, 100000, C(queue_max), "calls waiting for a worker before RESOURCE_EXHAUSTED", false},
	{"HOTLINE_MAX_MESSAGE_BYTES", HL_CFG_INT, "1048576", 1024, 67108864, C(max_message), "largest request accepted", false},
	{"HOTLINE_GRACE_MS", HL_CFG_DURATION_MS, "10s", 0, 600000, C(grace_ms), "shutdown grace period", false},
	{"HOTLINE_RELAY_THREADS", HL_CFG_INT, "1", 0, 16, C(relay_threads), "outbox relay threads (0: this replica relays nothing)", false},
	{"HOTLINE_RELAY_BATCH", HL_CFG_INT, "32", 1, 1000, C(relay_batch), "outbox rows claimed per relay transaction", false},
	{"HOTLINE_RELAY_APPLY_ITEMS", HL_CFG_INT, "256", 1, 256, C(relay_apply_items), "outbox rows to one service and tenant sent as one BatchService/Apply call (1: each row its own call)", false},
	{"HOTLINE_RELAY_BACKOFF_MAX_MS", HL_CFG_DURATION_MS, "60s", 100, 3600000, C(relay_backoff_max_ms), "cap of the outbox retry backoff", false},
	{"HOTLINE_OUTBOX_KEEP_DELIVERED", HL_CFG_DURATION_MS, "0", 0, 2592000000LL, C(outbox_keep_delivered_ms), "how long delivered outbox rows are kept before the relay deletes them (0: deleted as they are delivered)", false},
	{"HOTLINE_REDIS_PREFIX", HL_CFG_STRING, "hotline", 0, 64, C(redis_prefix), "prefix of every Redis key", false},
	{"HOTLINE_TIMER_THREADS", HL_CFG_INT, "2", 0, 16, C(timer_threads), "timer worker threads (0: this replica fires none)", false},
	{"HOTLINE_TIMER_LEASE_MS", HL_CFG_DURATION_MS, "30s", 100, 3600000, C(timer_lease_ms), "exclusive claim of a due timer", false},
	{"HOTLINE_TIMER_RESEED_MS", HL_CFG_DURATION_MS, "5m", 1000, 86400000, C(timer_reseed_ms), "periodic re-seed of Redis from PostgreSQL", false},
	{"HOTLINE_MIGRATE_WAIT_MS", HL_CFG_DURATION_MS, "2m", 1000, 3600000, C(migrate_wait_ms), "wait for another replica's migration", false},
};
#define N_COMMON (sizeof common_items / sizeof common_items[0])

struct readiness {
	hl_pg *pg;
	pthread_mutex_t mu; /* the database connection serves one check at a time */
	const char *redis_url;
	atomic_bool migrated;
	atomic_bool serving; /* everything started: the gRPC port answers */
};

static bool check_db(struct readiness *r, hl_buf *body)
{
	hl_error err;
	pthread_mutex_lock(&r->mu);
	bool ok = hl_pg_ping(r->pg, 1000, &err) == HL_OK;
	pthread_mutex_unlock(&r->mu);
	hl_buf_printf(body, "db %s\n", ok ? "ok" : "unavailable");
	return ok;
}

/*
 * Redis is not needed to serve calls: when it is down the service is degraded, still ready.
 * A connection of its own each time, so a Redis that restarted since the last probe is seen
 * as it is now (a kept connection would fail once, then wait out its backoff).
 */
static void check_redis(struct readiness *r, hl_buf *body)
{
	static const char *const ping[] = {"PING"};
	hl_redis *rc = NULL;
	redisReply *rep = NULL;
	hl_error err;
	bool ok = hl_redis_new(r->redis_url, 300, &rc, &err) == HL_OK &&
		  hl_redis_argv(rc, 1, (const char **)ping, NULL, &rep, &err) == HL_OK && rep &&
		  rep->type == REDIS_REPLY_STATUS;
	if (rep)
		freeReplyObject(rep);
	hl_redis_free(rc);
	hl_buf_printf(body, "redis %s\n", ok ? "ok" : "degraded");
}

static bool ready(void *arg, hl_buf *body)
{
	struct readiness *r = arg;
	bool migrated = atomic_load(&r->migrated);
	bool db = check_db(r, body);
	check_redis(r, body);
	hl_buf_printf(body, "migrations %s\n", migrated ? "ok" : "pending");
	bool serving = atomic_load(&r->serving);
	if (!serving)
		hl_buf_puts(body, "server starting\n");
	return db && migrated && serving;
}

static char *dup_or(const char *v, const char *fmt, const char *name)
{
	if (v && *v)
		return strdup(v);
	size_t n = strlen(fmt) + strlen(name) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, fmt, name);
	return s;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

static void usage(const hl_program *p)
{
	char prog[64];
	snprintf(prog, sizeof prog, "hotline-%s", p->name);
	hl_config_usage(stdout, prog, p->summary, common_items, N_COMMON);
	if (p->n_items) {
		printf("\n%s settings:\n", p->name);
		hl_config_usage(stdout, prog, "", p->items, p->n_items);
	}
}

static hl_status load_config(const hl_program *p, hl_common_config *cc, hl_error *err)
{
	hl_status st = hl_config_load(common_items, N_COMMON, cc, err);
	if (st == HL_OK && p->n_items)
		st = hl_config_load(p->items, p->n_items, p->config, err);
	if (st)
		return st;
	char *schema = dup_or(cc->db_schema, "%s", p->name);
	char *rt = dup_or(cc->db_runtime_role, "%s_runtime", p->name);
	char *sys = dup_or(cc->db_system_role, "%s_system", p->name);
	free(cc->db_schema);
	free(cc->db_runtime_role);
	free(cc->db_system_role);
	cc->db_schema = schema;
	cc->db_runtime_role = rt;
	cc->db_system_role = sys;
	hl_log_level level;
	if (hl_log_level_parse(cc->log_level, &level, err))
		return hl_fail(err, HL_INVALID, "HOTLINE_LOG_LEVEL: %s", err->msg);
	hl_log_set_level(level);
	return (schema && rt && sys) ? HL_OK : hl_fail(err, HL_NOMEM, "out of memory");
}

static hl_status load_jwt(const hl_common_config *cc, hl_jwt_keyset **out, hl_error *err)
{
	hl_jwt_keyset *ks = hl_jwt_keyset_new(cc->jwt_issuer, cc->jwt_audience);
	if (!ks)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hl_status st = HL_OK;
	if (cc->jwt_secret[0])
		st = hl_jwt_keyset_add_hs256(ks, cc->jwt_secret, strlen(cc->jwt_secret), NULL, err);
	if (!st && cc->jwt_keys_file[0])
		st = hl_jwt_keyset_load_file(ks, cc->jwt_keys_file, err);
	if (!st && hl_jwt_keyset_count(ks) == 0)
		st = hl_fail(err, HL_INVALID, "no JWT keys: set HOTLINE_JWT_SECRET or HOTLINE_JWT_KEYS_FILE");
	if (st) {
		hl_jwt_keyset_free(ks);
		return st;
	}
	*out = ks;
	return HL_OK;
}

static hl_status migrate(const hl_program *p, const hl_common_config *cc, hl_error *err)
{
	hl_migrate_config mc = {cc->db_owner_dsn, cc->db_schema, cc->db_runtime_role, cc->db_system_role,
				(int)cc->migrate_wait_ms};
	const hl_migration *lists[2] = {hl_common_migrations, p->migrations};
	size_t counts[2] = {hl_common_migrations_count, p->n_migrations};
	return hl_migrate(&mc, lists, counts, 2, err);
}

static hl_status start_server(const hl_program *p, const hl_common_config *cc, hl_jwt_keyset *jwt,
			      hl_metrics *metrics, void *app, hl_server **out, hl_error *err)
{
	hl_server_config sc = {
		.service = p->name, .listen = cc->listen, .tls_cert = cc->tls_cert, .tls_key = cc->tls_key,
		.tls_ca = cc->tls_ca, .cq_threads = (int)cc->cq_threads, .workers = (int)cc->workers,
		.queue_max = (int)cc->queue_max, .max_message = (int)cc->max_message,
		.field_limits = p->field_limits, .n_field_limits = p->n_field_limits,
		.grace_ms = (int)cc->grace_ms, .db_dsn = cc->db_dsn, .db_schema = cc->db_schema, .redis_url = cc->redis_url, .jwt = jwt,
		.metrics = metrics, .app = app,
	};
	hl_service audit = hl_audit_service(p->audit_missing_sql), outbox = hl_outbox_service();
	hl_status st = hl_server_new(&sc, out, err);
	for (size_t i = 0; i < p->n_services && !st; i++)
		st = hl_server_add(*out, &p->services[i], err);
	if (!st)
		st = hl_server_add(*out, &audit, err);
	if (!st)
		st = hl_server_add(*out, &outbox, err);
	if (!st)
		st = hl_server_start(*out, err);
	return st;
}

struct run {
	hl_common_config cc;
	hl_jwt_keyset *jwt;
	hl_metrics *metrics;
	struct readiness rd;
	hl_ops *ops;
	hl_server *server;
	hl_relay *relay;
	hl_timers *timers;
	void *app;
};

static double busy_workers(void *arg)
{
	return hl_server_busy(arg);
}

/* Pool usage: calls queued or running on workers, and the pool's size. */
static hl_status pool_metrics(struct run *r, hl_error *err)
{
	hl_metric *busy, *size;
	hl_status st = hl_metrics_gauge(r->metrics, "hotline_worker_busy", "calls queued for or running on workers",
					0, NULL, &busy, err);
	if (!st)
		st = hl_metric_set_fn(busy, NULL, busy_workers, r->server, err);
	if (!st)
		st = hl_metrics_gauge(r->metrics, "hotline_worker_pool_size",
				      "worker threads (each with one PostgreSQL connection)", 0, NULL, &size, err);
	if (!st)
		hl_metric_set(size, NULL, (double)r->cc.workers);
	return st;
}

static hl_status start_relay(const hl_program *p, struct run *r, hl_error *err)
{
	if (!r->cc.db_system_dsn[0] || r->cc.relay_threads == 0) {
		HL_LOG_WARN("relay_disabled", "reason=%s", r->cc.db_system_dsn[0] ? "HOTLINE_RELAY_THREADS=0"
										 : "no HOTLINE_DB_SYSTEM_DSN");
		return HL_OK;
	}
	hl_relay_config rc = {
		.service = p->name, .db_dsn = r->cc.db_system_dsn, .db_schema = r->cc.db_schema,
		.tls_cert = r->cc.tls_cert, .tls_key = r->cc.tls_key, .tls_ca = r->cc.tls_ca,
		.threads = (int)r->cc.relay_threads, .batch = (int)r->cc.relay_batch,
		.apply_items = (int)r->cc.relay_apply_items,
		.backoff_max_ms = (int)r->cc.relay_backoff_max_ms, .keep_delivered_ms = r->cc.outbox_keep_delivered_ms,
		.metrics = r->metrics,
	};
	return hl_relay_start(&rc, &r->relay, err);
}

static hl_status start_timers(const hl_program *p, struct run *r, hl_error *err)
{
	if (!p->timer_fire)
		return HL_OK;
	if (!r->cc.db_system_dsn[0])
		return hl_fail(err, HL_INVALID, "HOTLINE_DB_SYSTEM_DSN: required for %s's timers", p->name);
	hl_timers_config tc = {
		.service = p->name, .redis_url = r->cc.redis_url, .prefix = r->cc.redis_prefix,
		.db_dsn = r->cc.db_system_dsn, .db_schema = r->cc.db_schema, .threads = (int)r->cc.timer_threads,
		.lease_ms = (int)r->cc.timer_lease_ms, .reseed_ms = (int)r->cc.timer_reseed_ms,
		.fire = p->timer_fire, .app = r->app, .metrics = r->metrics,
	};
	hl_status st = hl_timers_start(&tc, &r->timers, err);
	r->cc.timers = r->timers;
	if (!st)
		hl_server_set_timers(r->server, r->timers);
	return st;
}

static hl_status run_start(const hl_program *p, struct run *r, hl_error *err)
{
	hl_status st;
	if ((st = load_config(p, &r->cc, err)) || (st = load_jwt(&r->cc, &r->jwt, err)))
		return st;
	hl_config_dump(common_items, N_COMMON, &r->cc);
	if (!(r->metrics = hl_metrics_new(p->name)))
		return hl_fail(err, HL_NOMEM, "out of memory");
	pthread_mutex_init(&r->rd.mu, NULL);
	r->rd.redis_url = r->cc.redis_url;
	if ((st = hl_pg_new(r->cc.db_dsn, r->cc.db_schema, &r->rd.pg, err)))
		return st;
	hl_ops_config oc = {.metrics = r->metrics, .ready = ready, .ready_arg = &r->rd};
	if ((st = hl_ops_start(r->cc.ops_listen, &oc, &r->ops, err)))
		return st;
	if ((st = migrate(p, &r->cc, err)))
		return st;
	atomic_store(&r->rd.migrated, true);
	if (p->init && (st = p->init(p->config, &r->cc, &r->app, err)))
		return st;
	if ((st = start_server(p, &r->cc, r->jwt, r->metrics, r->app, &r->server, err)) ||
	    (st = pool_metrics(r, err)))
		return st;
	if ((st = start_relay(p, r, err)) || (st = start_timers(p, r, err)))
		return st;
	atomic_store(&r->rd.serving, true); /* /readyz: ready only once the service really serves */
	return HL_OK;
}

static void run_stop(const hl_program *p, struct run *r)
{
	hl_relay_stop(r->relay);
	hl_ops_stop(r->ops); /* before the server: /metrics reads its counters */
	if (r->server)
		hl_server_shutdown(r->server); /* the last commits push their timers */
	r->cc.timers = NULL;
	hl_timers_stop(r->timers); /* their fire handlers may use the app, released below */
	hl_server_free(r->server);
	if (p->release && r->app)
		p->release(r->app);
	hl_pg_free(r->rd.pg);
	hl_metrics_free(r->metrics);
	hl_jwt_keyset_free(r->jwt);
	hl_config_release(common_items, N_COMMON, &r->cc);
	if (p->n_items)
		hl_config_release(p->items, p->n_items, p->config);
}

int hl_program_main(const hl_program *p, int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		usage(p);
		return 0;
	}
	hl_log_set_service(p->name);
	hl_signals_block();
	grpc_init();
	struct run r;
	memset(&r, 0, sizeof r);
	hl_error err;
	hl_error_clear(&err);
	int code = 0;
	if (run_start(p, &r, &err)) {
		HL_LOG_ERROR("start_failed", "status=%s msg=\"%s\"", hl_status_name(err.status), hl_error_text(&err));
		fprintf(stderr, "hotline-%s: %s\n", p->name, hl_error_text(&err));
		code = 1;
	} else {
		HL_LOG_INFO("started", "listen=%s ops=%s", r.cc.listen, r.cc.ops_listen);
		int sig = hl_signals_wait();
		HL_LOG_INFO("stopping", "signal=%d", sig);
	}
	run_stop(p, &r);
	grpc_shutdown();
	if (!code)
		HL_LOG_INFO("stopped", "clean=%s", "yes");
	return code;
}
