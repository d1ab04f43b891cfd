/*
 * bench_intake.c - the CreateTicket benchmark: tickets/s and latency of
 * hotline.intake.v1.IntakeService/CreateTicket over mutual TLS at several
 * concurrencies (default 1, 8, 32), one client thread per concurrent caller.
 *
 * Reads the stack's stack.env (--env) for the intake address, the client
 * certificate and the dev JWT secret, mints one HS256 agent token, warms the
 * service up, then for each concurrency runs for a fixed time creating
 * tickets with realistic content (Chinese topic and description, caller name
 * and phone, a fresh request_id each) and prints one line:
 *
 *   concurrency=N tickets=T tickets_per_s=R p50_ms=A p99_ms=B max_ms=C errors=E
 *
 * With --rate R the callers are paced (open loop): together they start R
 * calls a second, each caller on its own fixed schedule, and a call's latency
 * counts from its scheduled start, so a call held up behind a slow one counts
 * the wait (no coordinated omission); the line then starts with
 * offered_per_s=R.  Without it every caller calls again as soon as it has
 * its answer (closed loop: the most the box does at that concurrency).
 *
 * The figures are not a test: bench/intake/run.sh puts them next to pgbench
 * running the same SQL on the same PostgreSQL.
 *
 * Usage: bench_intake --env RUN_DIR/stack.env [--seconds 10] [--warmup 2]
 *                     [--concurrency 1,8,32] [--rate R] [--channels 1] [--tenant demo]
 */
#include <errno.h>
#include <grpc/grpc.h>
#include <pthread.h>
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
#include "hotline/common/v1/common.pb-c.h"
#include "hotline/intake/v1/intake.pb-c.h"

#define METHOD "/hotline.intake.v1.IntakeService/CreateTicket"
#define MAX_LEVELS 16
#define MAX_CHANNELS 64
#define CALL_TIMEOUT_MS 10000

/* ---- options and stack.env ---------------------------------------------------- */

struct options {
	const char *env_path;
	const char *tenant;
	double seconds;
	double warmup;
	int levels[MAX_LEVELS];
	int n_levels;
	int channels;
	double rate; /* calls per second offered by all callers together; 0: closed loop */
	int timeline_ms; /* > 0: also print the slowest call of each window of this many ms */
};

static void usage(FILE *f)
{
	fputs("usage: bench_intake --env STACK_ENV [--seconds S] [--warmup S] [--concurrency 1,8,32]\n"
	      "                    [--rate CALLS_PER_S] [--channels N] [--tenant SLUG] [--timeline MS]\n",
	      f);
}

static bool parse_levels(const char *s, struct options *o)
{
	o->n_levels = 0;
	while (*s) {
		char *end;
		errno = 0;
		long v = strtol(s, &end, 10);
		if (errno || end == s || v < 1 || v > 1024 || o->n_levels == MAX_LEVELS)
			return false;
		o->levels[o->n_levels++] = (int)v;
		if (*end == ',')
			end++;
		else if (*end)
			return false;
		s = end;
	}
	return o->n_levels > 0;
}

static bool parse_options(int argc, char **argv, struct options *o)
{
	*o = (struct options){.tenant = "demo", .seconds = 10, .warmup = 2, .channels = 1,
			      .levels = {1, 8, 32}, .n_levels = 3};
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
		else if (strcmp(a, "--seconds") == 0)
			o->seconds = atof(v);
		else if (strcmp(a, "--warmup") == 0)
			o->warmup = atof(v);
		else if (strcmp(a, "--channels") == 0)
			o->channels = atoi(v);
		else if (strcmp(a, "--timeline") == 0)
			o->timeline_ms = atoi(v);
		else if (strcmp(a, "--rate") == 0)
			o->rate = atof(v);
		else if (strcmp(a, "--concurrency") == 0) {
			if (!parse_levels(v, o))
				return false;
		} else
			return false;
	}
	return o->env_path && o->seconds > 0 && o->warmup >= 0 && o->rate >= 0 && o->timeline_ms >= 0 && o->channels >= 1 && o->channels <= MAX_CHANNELS &&
	       hl_tenant_slug_valid(o->tenant);
}

/* ---- realistic requests ---------------------------------------------------------- */

static const char *const topics[] = {
	"小区夜间施工噪音扰民",       "道路积水严重影响出行", "公交站台广告牌破损存在安全隐患",
	"供暖温度不达标",             "物业乱收停车费",       "餐馆油烟直排居民楼",
	"共享单车乱停放堵塞人行道",   "咨询居住证办理流程",   "建议增设社区老年食堂",
	"路灯损坏夜间无照明",
};

static const char *const descriptions[] = {
	"市民反映：小区东门外工地每晚十点后仍在施工，机械噪音很大，老人孩子无法休息，已持续一周，"
	"请相关部门尽快核实并依法处理。",
	"来电人称：暴雨后路口积水超过二十厘米，车辆熄火，行人只能绕行，排水口疑似被落叶和垃圾堵塞，"
	"希望尽快疏通。",
	"市民反映所在楼栋暖气温度长期低于十六度，多次联系供热公司未果，家中有婴儿，请求督促整改。",
	"来电人反映楼下餐馆油烟未经净化直接排放，窗户无法打开，气味刺鼻，要求环保部门检查处理。",
	"市民咨询外地户籍人员办理居住证需要准备哪些材料，办理地点和所需时间，以及能否网上预约。",
	"来电人建议在社区活动中心增设老年食堂，解决独居老人吃饭难的问题，并提供送餐服务。",
};

static const char *const areas[] = {"朝阳区", "海淀区", "东城区", "西城区", "丰台区", "石景山区", "通州区"};

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "欧阳"};
static const char *const given[] = {"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "艳"};
static const char *const prefixes[] = {"138", "139", "137", "150", "158", "186", "189", "131", "177", "199"};

#define PICK(arr, r) ((arr)[(r) % (sizeof(arr) / sizeof((arr)[0]))])

/* xorshift64*: per-thread, not for anything secret. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

struct request_buf {
	char request_id[64];
	char name[32];
	char phone[16];
	Hotline__Intake__V1__Caller caller;
	Hotline__Intake__V1__CreateTicketRequest req;
};

static void make_request(struct request_buf *b, uint64_t *rng, int thread, long seq)
{
	uint64_t r = next_rand(rng);
	snprintf(b->request_id, sizeof b->request_id, "bench-%ld-%d-%ld-%08llx", (long)getpid(), thread, seq,
		 (unsigned long long)(r & 0xffffffffULL));
	snprintf(b->name, sizeof b->name, "%s%s", PICK(surnames, r >> 8), PICK(given, r >> 16));
	snprintf(b->phone, sizeof b->phone, "%s%08llu", PICK(prefixes, r >> 24),
		 (unsigned long long)((r >> 32) % 100000000ULL));
	hotline__intake__v1__caller__init(&b->caller);
	b->caller.name = b->name;
	b->caller.phone = b->phone;
	hotline__intake__v1__create_ticket_request__init(&b->req);
	b->req.request_id = b->request_id;
	b->req.channel = HOTLINE__COMMON__V1__CHANNEL__CHANNEL_PHONE;
	b->req.category = HOTLINE__COMMON__V1__CATEGORY__CATEGORY_COMPLAINT;
	b->req.topic = (char *)PICK(topics, r >> 40);
	b->req.description = (char *)PICK(descriptions, r >> 44);
	b->req.area = (char *)PICK(areas, r >> 48);
	b->req.caller = &b->caller;
	b->req.priority = HOTLINE__COMMON__V1__PRIORITY__PRIORITY_GENERAL;
}

/* ---- the run ------------------------------------------------------------------- */

struct shared {
	hl_client **clients;
	int n_clients;
	const hl_md *md;
	size_t n_md;
	pthread_barrier_t start;
	int64_t start_ns, end_ns; /* written before the barrier, read after it */
	int conc;
	double rate; /* 0: closed loop */
	int timeline_ms;
};

struct worker {
	struct shared *sh;
	int index;
	int64_t *lat_ns, *at_ns; /* each call's latency and start (from the level's start); malloc'd, grow */
	size_t n, cap;
	long errors;
	hl_error first_err;
	bool oom;
};

static void record(struct worker *w, int64_t t0, int64_t ns)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 4096;
		int64_t *p = realloc(w->lat_ns, cap * sizeof *p), *q = p ? realloc(w->at_ns, cap * sizeof *q) : NULL;
		if (p)
			w->lat_ns = p;
		if (!q) {
			w->oom = true;
			return;
		}
		w->at_ns = q;
		w->cap = cap;
	}
	w->at_ns[w->n] = t0 - w->sh->start_ns;
	w->lat_ns[w->n++] = ns;
}

/* One call; its latency counts from t0 (its scheduled start when paced, else now). */
static void one_call(struct worker *w, hl_client *cl, uint64_t *rng, long seq, int64_t t0)
{
	struct request_buf b;
	hl_arena *a = hl_arena_new();
	hl_error err;
	void *resp = NULL;
	if (!a) {
		w->oom = true;
		return;
	}
	make_request(&b, rng, w->index, seq);
	if (!t0)
		t0 = bench_now_ns();
	hl_status st = hl_client_call(cl, METHOD, &b.req.base, &hotline__intake__v1__create_ticket_response__descriptor,
				      w->sh->md, w->sh->n_md, CALL_TIMEOUT_MS, a, &resp, &err);
	int64_t t1 = bench_now_ns();
	const Hotline__Intake__V1__CreateTicketResponse *r = resp;
	if (st == HL_OK && r && r->ticket && r->ticket->ticket_no[0]) {
		record(w, t0, t1 - t0);
	} else {
		if (w->errors++ == 0)
			w->first_err = st ? err : (hl_error){HL_INTERNAL, "response without a ticket"};
	}
	hl_arena_free(a);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	hl_client *cl = w->sh->clients[w->index % w->sh->n_clients];
	uint64_t rng = (uint64_t)bench_now_ns() ^ ((uint64_t)(w->index + 1) * 0x9E3779B97F4A7C15ULL);
	if (!rng)
		rng = 1;
	pthread_barrier_wait(&w->sh->start);
	/* paced: this caller's k-th call is due at start + (k + index / conc) * period */
	int64_t period = w->sh->rate > 0 ? (int64_t)(1e9 * w->sh->conc / w->sh->rate) : 0;
	int64_t due = w->sh->start_ns + period * w->index / w->sh->conc;
	for (long seq = 0; (period ? due : bench_now_ns()) < w->sh->end_ns && !w->oom; seq++) {
		if (period) {
			int64_t wait = due - bench_now_ns();
			if (wait > 0)
				nanosleep(&(struct timespec){wait / 1000000000, wait % 1000000000}, NULL);
		}
		one_call(w, cl, &rng, seq, period ? due : 0);
		due += period;
	}
	hl_client_thread_release();
	return NULL;
}

struct result {
	size_t ok;
	long errors;
	double seconds;
	double p50, p99, max;
	hl_error first_err;
	bool oom;
};

/*
 * With --timeline: per window of the calls' starts, how many started and the
 * slowest of them, to tell a tail spread over the run from one made by stalls.
 */
static void print_timeline(const struct worker *ws, int conc, int window_ms, double seconds)
{
	size_t n = (size_t)(seconds * 1000 / window_ms) + 1;
	long *count = calloc(n, sizeof *count);
	int64_t *slowest = calloc(n, sizeof *slowest);
	for (int i = 0; count && slowest && i < conc; i++)
		for (size_t k = 0; k < ws[i].n; k++) {
			size_t b = (size_t)(ws[i].at_ns[k] / 1000000 / window_ms);
			if (ws[i].at_ns[k] < 0 || b >= n)
				continue;
			count[b]++;
			if (ws[i].lat_ns[k] > slowest[b])
				slowest[b] = ws[i].lat_ns[k];
		}
	for (size_t b = 0; count && slowest && b < n; b++)
		printf("# timeline %6zu ms: %5ld calls, slowest %8.2f ms\n", b * (size_t)window_ms, count[b],
		       (double)slowest[b] / 1e6);
	free(count);
	free(slowest);
}

static hl_status run_level(struct shared *sh, int conc, double seconds, struct result *res, hl_error *err)
{
	struct worker *ws = calloc((size_t)conc, sizeof *ws);
	pthread_t *tids = calloc((size_t)conc, sizeof *tids);
	hl_status st = HL_OK;
	int started = 0;
	memset(res, 0, sizeof *res);
	if (!ws || !tids) {
		st = hl_fail(err, HL_NOMEM, "out of memory");
		goto out;
	}
	if (pthread_barrier_init(&sh->start, NULL, (unsigned)conc + 1)) {
		st = hl_fail(err, HL_INTERNAL, "cannot create a barrier");
		goto out;
	}
	sh->end_ns = INT64_MAX;
	sh->conc = conc;
	for (; started < conc; started++) {
		ws[started] = (struct worker){.sh = sh, .index = started};
		if (pthread_create(&tids[started], NULL, worker_main, &ws[started])) {
			/* threads already waiting at the barrier can never be released: give up */
			fprintf(stderr, "bench_intake: cannot start thread %d of %d\n", started + 1, conc);
			exit(1);
		}
	}
	int64_t t0 = bench_now_ns();
	sh->start_ns = t0;
	sh->end_ns = t0 + (int64_t)(seconds * 1e9);
	pthread_barrier_wait(&sh->start);
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	res->seconds = (double)(bench_now_ns() - t0) / 1e9;
	pthread_barrier_destroy(&sh->start);
	size_t total = 0;
	for (int i = 0; i < conc; i++) {
		total += ws[i].n;
		res->errors += ws[i].errors;
		res->oom |= ws[i].oom;
		if (ws[i].errors && res->first_err.status == HL_OK)
			res->first_err = ws[i].first_err;
	}
	if (sh->timeline_ms)
		print_timeline(ws, conc, sh->timeline_ms, seconds);
	int64_t *all = malloc((total ? total : 1) * sizeof *all);
	if (!all) {
		st = hl_fail(err, HL_NOMEM, "out of memory");
		goto out;
	}
	size_t k = 0;
	for (int i = 0; i < conc; i++) {
		memcpy(all + k, ws[i].lat_ns, ws[i].n * sizeof *all);
		k += ws[i].n;
	}
	bench_sort_ns(all, total);
	res->ok = total;
	res->p50 = bench_pct_ms(all, total, 50);
	res->p99 = bench_pct_ms(all, total, 99);
	res->max = total ? (double)all[total - 1] / 1e6 : 0;
	free(all);
out:
	if (ws)
		for (int i = 0; i < conc; i++) {
			free(ws[i].lat_ns);
			free(ws[i].at_ns);
		}
	free(ws);
	free(tids);
	return st;
}

static void print_result(int conc, double rate, const struct result *r)
{
	if (rate > 0)
		printf("offered_per_s=%.0f ", rate);
	printf("concurrency=%d tickets=%zu tickets_per_s=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%ld\n", conc,
	       r->ok, r->seconds > 0 ? (double)r->ok / r->seconds : 0, r->p50, r->p99, r->max, r->errors);
	if (r->errors)
		printf("#   first error: %s: %s\n", hl_status_name(r->first_err.status), hl_error_text(&r->first_err));
	if (r->oom)
		printf("#   out of memory while recording latencies: figures incomplete\n");
	fflush(stdout);
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
	if (!a || bench_stack_load(o.env_path, "HOTLINE_INTAKE_ADDR", &e, &err)) {
		fprintf(stderr, "bench_intake: %s\n", a ? hl_error_text(&err) : "out of memory");
		goto out_arena;
	}
	if (bench_token(&e, o.tenant, "bench-agent", "agent", 3600, a, &token, &err) || bench_open_clients(&e, o.channels, clients, &err)) {
		fprintf(stderr, "bench_intake: %s\n", hl_error_text(&err));
		goto out;
	}
	char *bearer = hl_arena_printf(a, "Bearer %s", token);
	hl_md md[1] = {{"authorization", bearer}};
	struct shared sh = {.clients = clients, .n_clients = o.channels, .md = md, .n_md = 1};
	struct result r;
	printf("# bench_intake: %s over mTLS to %s, %d channel(s), %.0f s per level, tenant %s, %ld CPU(s) online\n",
	       METHOD, e.addr, o.channels, o.seconds, o.tenant, sysconf(_SC_NPROCESSORS_ONLN));
	/* The warm-up runs at the top level (8 at least), so that every worker's connection has run the
	 * statements before the first level: a service that has been up a while has them all warm. */
	int warm_level = 8;
	for (int i = 0; i < o.n_levels; i++)
		warm_level = o.levels[i] > warm_level ? o.levels[i] : warm_level;
	if (o.warmup > 0) {
		if (run_level(&sh, warm_level, o.warmup, &r, &err)) {
			fprintf(stderr, "bench_intake: %s\n", hl_error_text(&err));
			goto out;
		}
		printf("# warm-up: %zu tickets in %.1f s, %ld errors\n", r.ok, r.seconds, r.errors);
		if (r.ok == 0) {
			printf("# warm-up failed: %s: %s\n", hl_status_name(r.first_err.status), hl_error_text(&r.first_err));
			goto out;
		}
	}
	sh.rate = o.rate; /* the warm-up is closed loop */
	sh.timeline_ms = o.timeline_ms;
	for (int i = 0; i < o.n_levels; i++) {
		if (run_level(&sh, o.levels[i], o.seconds, &r, &err)) {
			fprintf(stderr, "bench_intake: %s\n", hl_error_text(&err));
			goto out;
		}
		print_result(o.levels[i], sh.rate, &r);
	}
	code = 0;
out:
	for (int i = 0; i < o.channels; i++)
		hl_client_free(clients[i]);
	bench_stack_release(&e);
out_arena:
	hl_arena_free(a);
	grpc_shutdown_blocking();
	return code;
}
