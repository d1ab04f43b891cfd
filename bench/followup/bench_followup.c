/*
 * bench_followup.c - the follow-up visits benchmark's load generator: N
 * counterparts registered through
 * hotline.followup.v1.FollowUpService/PutCounterpart over mutual TLS, C
 * callers at once; each call stores the counterpart and plans its first
 * visit (visit row, audit entries, timer, visit.planned event) in one
 * transaction.  Risk levels are mixed as a tenant's might be: one in ten
 * level 1 (monthly), three in ten level 2 (quarterly), six in ten level 3
 * (yearly); 500 owners, 20 departments.  Prints one line:
 *
 *   counterparts=N seconds=S per_s=R p50_ms=A p99_ms=B max_ms=C errors=E
 *
 * Not a test: bench/followup/run.sh puts the figure next to the service's
 * memory and the lateness of the timers when those visits fall due.
 *
 * Usage: bench_followup --env RUN_DIR/stack.env --tenant SLUG [--count 100000]
 *                       [--concurrency 8] [--channels 2]
 */
#include <errno.h>
#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hl/arena.h"
#include "hl/jwt.h"
#include "hl/rpc_client.h"
#include "hl/status.h"
#include "bench_stack.h"
#include "hotline/followup/v1/followup.pb-c.h"

#define METHOD "/hotline.followup.v1.FollowUpService/PutCounterpart"
#define MAX_CHANNELS 64
#define MAX_CONCURRENCY 256
#define CALL_TIMEOUT_MS 30000

struct options {
	const char *env_path, *tenant;
	long count;
	int concurrency, channels;
};

static void usage(FILE *f)
{
	fputs("usage: bench_followup --env STACK_ENV --tenant SLUG [--count N] [--concurrency C] [--channels K]\n", f);
}

static bool parse_options(int argc, char **argv, struct options *o)
{
	*o = (struct options){.count = 100000, .concurrency = 8, .channels = 2};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (!v)
			return false;
		i++;
		if (strcmp(a, "--env") == 0)
			o->env_path = v;
		else if (strcmp(a, "--tenant") == 0)
			o->tenant = v;
		else if (strcmp(a, "--count") == 0)
			o->count = atol(v);
		else if (strcmp(a, "--concurrency") == 0)
			o->concurrency = atoi(v);
		else if (strcmp(a, "--channels") == 0)
			o->channels = atoi(v);
		else
			return false;
	}
	return o->env_path && o->tenant && hl_tenant_slug_valid(o->tenant) && o->count >= 1 && o->count <= 10000000 &&
	       o->concurrency >= 1 && o->concurrency <= MAX_CONCURRENCY && o->channels >= 1 &&
	       o->channels <= MAX_CHANNELS;
}

/* ---- the run ------------------------------------------------------------------- */

struct shared {
	hl_client **clients;
	int n_clients;
	const hl_md *md;
	size_t n_md;
	long count;
	atomic_long next;
	int64_t *lat_ns; /* one per counterpart, written by whoever registers it */
	atomic_long errors;
	hl_error first_err;
	pthread_mutex_t mu;
};

struct worker {
	struct shared *sh;
	int index;
};

static int level_of(long i)
{
	long r = i % 10;
	return r == 0 ? 1 : r <= 3 ? 2 : 3;
}

static void one_call(struct shared *sh, hl_client *cl, long i)
{
	char id[32], name[64], owner[32], dept[32];
	snprintf(id, sizeof id, "cp-%07ld", i);
	snprintf(name, sizeof name, "企业 %07ld 有限公司", i);
	snprintf(owner, sizeof owner, "owner-%ld", i % 500);
	snprintf(dept, sizeof dept, "dept-%ld", i % 20);
	Hotline__Followup__V1__Counterpart cp = HOTLINE__FOLLOWUP__V1__COUNTERPART__INIT;
	cp.id = id;
	cp.name = name;
	cp.risk_level = level_of(i);
	cp.owner_id = owner;
	cp.department_id = dept;
	cp.active = true;
	Hotline__Followup__V1__PutCounterpartRequest req = HOTLINE__FOLLOWUP__V1__PUT_COUNTERPART_REQUEST__INIT;
	req.counterpart = &cp;
	hl_arena *a = hl_arena_new();
	hl_error err;
	void *resp = NULL;
	if (!a) {
		atomic_fetch_add(&sh->errors, 1);
		return;
	}
	int64_t t0 = bench_now_ns();
	hl_status st =
		hl_client_call(cl, METHOD, &req.base, &hotline__followup__v1__put_counterpart_response__descriptor,
			       sh->md, sh->n_md, CALL_TIMEOUT_MS, a, &resp, &err);
	int64_t t1 = bench_now_ns();
	const Hotline__Followup__V1__PutCounterpartResponse *r = resp;
	if (st == HL_OK && r && r->next_visit && r->next_visit->id[0]) {
		sh->lat_ns[i] = t1 - t0;
	} else {
		sh->lat_ns[i] = -1;
		if (atomic_fetch_add(&sh->errors, 1) == 0) {
			pthread_mutex_lock(&sh->mu);
			sh->first_err = st ? err : (hl_error){HL_INTERNAL, "response without a planned visit"};
			pthread_mutex_unlock(&sh->mu);
		}
	}
	hl_arena_free(a);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	hl_client *cl = sh->clients[w->index % sh->n_clients];
	for (long i; (i = atomic_fetch_add(&sh->next, 1)) < sh->count;)
		one_call(sh, cl, i);
	hl_client_thread_release();
	return NULL;
}

static int run(struct shared *sh, int conc)
{
	struct worker ws[MAX_CONCURRENCY];
	pthread_t tids[MAX_CONCURRENCY];
	int64_t t0 = bench_now_ns();
	for (int i = 0; i < conc; i++) {
		ws[i] = (struct worker){.sh = sh, .index = i};
		if (pthread_create(&tids[i], NULL, worker_main, &ws[i])) {
			fprintf(stderr, "bench_followup: cannot start thread %d\n", i + 1);
			exit(1);
		}
	}
	for (int i = 0; i < conc; i++)
		pthread_join(tids[i], NULL);
	double seconds = (double)(bench_now_ns() - t0) / 1e9;
	size_t ok = 0;
	for (long i = 0; i < sh->count; i++)
		if (sh->lat_ns[i] >= 0)
			sh->lat_ns[ok++] = sh->lat_ns[i];
	bench_sort_ns(sh->lat_ns, ok);
	long errors = atomic_load(&sh->errors);
	printf("counterparts=%zu seconds=%.1f per_s=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%ld\n", ok, seconds,
	       seconds > 0 ? (double)ok / seconds : 0, bench_pct_ms(sh->lat_ns, ok, 50), bench_pct_ms(sh->lat_ns, ok, 99),
	       ok ? (double)sh->lat_ns[ok - 1] / 1e6 : 0, errors);
	if (errors)
		printf("#   first error: %s: %s\n", hl_status_name(sh->first_err.status),
		       hl_error_text(&sh->first_err));
	fflush(stdout);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o;
	if (!parse_options(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	grpc_init();
	struct bench_stack e;
	hl_error err;
	hl_error_clear(&err);
	hl_arena *a = hl_arena_new();
	hl_client *clients[MAX_CHANNELS] = {0};
	int code = 1;
	char *token = NULL;
	int64_t *lat = calloc((size_t)o.count, sizeof *lat);
	if (!a || !lat || bench_stack_load(o.env_path, "HOTLINE_FOLLOWUP_ADDR", &e, &err)) {
		fprintf(stderr, "bench_followup: %s\n", a && lat ? hl_error_text(&err) : "out of memory");
		goto out_arena;
	}
	if (bench_token(&e, o.tenant, "bench-admin", "tenant_admin", 7200, a, &token, &err)) {
		fprintf(stderr, "bench_followup: %s\n", hl_error_text(&err));
		goto out;
	}
	if (bench_open_clients(&e, o.channels, clients, &err)) {
		fprintf(stderr, "bench_followup: %s\n", hl_error_text(&err));
		goto out;
	}
	char *bearer = hl_arena_printf(a, "Bearer %s", token);
	hl_md md[2] = {{"authorization", bearer}};
	struct shared sh = {
		.clients = clients, .n_clients = o.channels, .md = md, .n_md = 1, .count = o.count, .lat_ns = lat};
	atomic_init(&sh.next, 0);
	atomic_init(&sh.errors, 0);
	pthread_mutex_init(&sh.mu, NULL);
	printf("# bench_followup: %s over mTLS to %s, %ld counterparts, %d callers on %d channel(s), tenant %s\n",
	       METHOD, e.addr, o.count, o.concurrency, o.channels, o.tenant);
	fflush(stdout);
	code = run(&sh, o.concurrency);
	pthread_mutex_destroy(&sh.mu);
out:
	for (int i = 0; i < o.channels; i++)
		hl_client_free(clients[i]);
	bench_stack_release(&e);
out_arena:
	free(lat);
	hl_arena_free(a);
	grpc_shutdown_blocking();
	return code;
}
