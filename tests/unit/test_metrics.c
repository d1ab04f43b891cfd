/*
 * test_metrics.c - unit tests of the Prometheus metrics registry (metrics.c):
 * exact exposition text, escaping, histograms, callbacks, registration rules,
 * the series limit and concurrent updates.
 */
#include "hl/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"

/* Render m into a malloc'd string (caller frees). */
static char *render(hl_metrics *m)
{
	hl_buf b = HL_BUF_INIT;
	if (hl_metrics_render(m, &b) != HL_OK) {
		hl_buf_release(&b);
		return NULL;
	}
	return b.data ? b.data : strdup("");
}

/* The text of family name: from its "# HELP" line to the next "# HELP". */
static char *family_text(const char *all, const char *name)
{
	char head[128];
	snprintf(head, sizeof head, "# HELP %s ", name);
	const char *p = strstr(all, head);
	if (!p)
		return NULL;
	const char *e = strstr(p + 1, "# HELP ");
	size_t n = e ? (size_t)(e - p) : strlen(p);
	char *s = malloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void test_counter_and_gauge_text(void)
{
	hl_metrics *m = hl_metrics_new("intake");
	T_ASSERT(m != NULL);
	hl_metric *c, *g;
	hl_error err;
	const char *const ln[] = {"queue", "state"};
	T_EQ_INT(hl_metrics_counter(m, "hotline_jobs_total", "Jobs run.", 2, ln, &c, &err), HL_OK);
	T_EQ_INT(hl_metrics_gauge(m, "hotline_temperature", "A gauge\\with\nnewline.", 0, NULL,
				  &g, &err), HL_OK);
	hl_metric_inc(c, (const char *[]){"outbox", "ok"});
	hl_metric_add(c, (const char *[]){"outbox", "ok"}, 2.5);
	hl_metric_add(c, (const char *[]){"outbox", "ok"}, -10);      /* ignored */
	hl_metric_inc(c, (const char *[]){"timers", "failed"});
	hl_metric_set(g, NULL, 21.5);
	hl_metric_add(g, NULL, -30);
	hl_metric_set(c, (const char *[]){"outbox", "ok"}, 99);       /* not a gauge */

	char *all = render(m);
	char *ct = family_text(all, "hotline_jobs_total");
	char *gt = family_text(all, "hotline_temperature");
	hl_metrics_free(m);
	T_ASSERT(ct && gt);
	T_EQ_STR(ct, "# HELP hotline_jobs_total Jobs run.\n"
		     "# TYPE hotline_jobs_total counter\n"
		     "hotline_jobs_total{queue=\"outbox\",state=\"ok\"} 3.5\n"
		     "hotline_jobs_total{queue=\"timers\",state=\"failed\"} 1\n");
	T_EQ_STR(gt, "# HELP hotline_temperature A gauge\\\\with\\nnewline.\n"
		     "# TYPE hotline_temperature gauge\n"
		     "hotline_temperature -8.5\n");
	free(ct);
	free(gt);
	free(all);
}

static void test_label_value_escaping(void)
{
	hl_metrics *m = hl_metrics_new("svc");
	hl_metric *c;
	const char *const ln[] = {"v"};
	T_EQ_INT(hl_metrics_counter(m, "x_total", "x", 1, ln, &c, NULL), HL_OK);
	hl_metric_inc(c, (const char *[]){"a\"b\\c\nd 工"});
	hl_metric_inc(c, (const char *[]){NULL});
	char *all = render(m);
	hl_metrics_free(m);
	T_ASSERT(strstr(all, "x_total{v=\"a\\\"b\\\\c\\nd 工\"} 1\n") != NULL);
	T_ASSERT(strstr(all, "x_total{v=\"\"} 1\n") != NULL);
	free(all);
}

static void test_histogram_text(void)
{
	hl_metrics *m = hl_metrics_new("svc");
	hl_metric *h;
	const double b[] = {0.1, 1, 2.5};
	const char *const ln[] = {"op"};
	T_EQ_INT(hl_metrics_histogram(m, "lat_seconds", "Latency.", 1, ln, 3, b, &h, NULL), HL_OK);
	hl_metric_observe(h, (const char *[]){"get"}, 0.05);
	hl_metric_observe(h, (const char *[]){"get"}, 0.1);    /* le is inclusive */
	hl_metric_observe(h, (const char *[]){"get"}, 2);
	hl_metric_observe(h, (const char *[]){"get"}, 100);
	hl_metric_observe(h, (const char *[]){"get"}, NAN);    /* ignored */
	char *all = render(m);
	char *ht = family_text(all, "lat_seconds");
	hl_metrics_free(m);
	T_ASSERT(ht != NULL);
	T_EQ_STR(ht, "# HELP lat_seconds Latency.\n"
		     "# TYPE lat_seconds histogram\n"
		     "lat_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n"
		     "lat_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
		     "lat_seconds_bucket{op=\"get\",le=\"2.5\"} 3\n"
		     "lat_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
		     "lat_seconds_sum{op=\"get\"} 102.15\n"
		     "lat_seconds_count{op=\"get\"} 4\n");
	free(ht);
	free(all);
}

static void test_histogram_without_labels(void)
{
	hl_metrics *m = hl_metrics_new("svc");
	hl_metric *h;
	const double b[] = {1};
	T_EQ_INT(hl_metrics_histogram(m, "h", "", 0, NULL, 1, b, &h, NULL), HL_OK);
	char *all = render(m);
	hl_metrics_free(m);
	T_ASSERT(strstr(all, "# HELP h \n# TYPE h histogram\nh_bucket{le=\"1\"} 0\n"
			     "h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n") != NULL);
	free(all);
}

static void test_observe_call(void)
{
	hl_metrics *m = hl_metrics_new("intake");
	const char *meth = "/hotline.intake.v1.IntakeService/CreateTicket";
	hl_metrics_observe_call(m, meth, "OK", 0.003);
	hl_metrics_observe_call(m, meth, "OK", 0.02);
	hl_metrics_observe_call(m, meth, "INVALID_ARGUMENT", 0.0005);
	hl_metrics_observe_call(m, meth, "OK", 30);
	char *all = render(m);
	hl_metrics_free(m);
	T_ASSERT(strstr(all, "# TYPE hotline_rpc_calls_total counter\n") != NULL);
	T_ASSERT(strstr(all, "hotline_rpc_calls_total{service=\"intake\",method=\"/hotline.intake."
			     "v1.IntakeService/CreateTicket\",code=\"OK\"} 3\n") != NULL);
	T_ASSERT(strstr(all, "hotline_rpc_calls_total{service=\"intake\",method=\"/hotline.intake."
			     "v1.IntakeService/CreateTicket\",code=\"INVALID_ARGUMENT\"} 1\n") != NULL);
	T_ASSERT(strstr(all, "# TYPE hotline_rpc_duration_seconds histogram\n") != NULL);
	const char *pfx = "hotline_rpc_duration_seconds_bucket{service=\"intake\",method=\"/hotline."
			  "intake.v1.IntakeService/CreateTicket\",le=";
	char line[256];
	snprintf(line, sizeof line, "%s\"0.001\"} 1\n", pfx);
	T_ASSERT(strstr(all, line) != NULL);
	snprintf(line, sizeof line, "%s\"0.0025\"} 1\n", pfx);
	T_ASSERT(strstr(all, line) != NULL);
	snprintf(line, sizeof line, "%s\"0.005\"} 2\n", pfx);
	T_ASSERT(strstr(all, line) != NULL);
	snprintf(line, sizeof line, "%s\"0.025\"} 3\n", pfx);
	T_ASSERT(strstr(all, line) != NULL);
	snprintf(line, sizeof line, "%s\"10\"} 3\n", pfx);
	T_ASSERT(strstr(all, line) != NULL);
	snprintf(line, sizeof line, "%s\"+Inf\"} 4\n", pfx);
	T_ASSERT(strstr(all, line) != NULL);
	T_ASSERT(strstr(all, "hotline_rpc_duration_seconds_count{service=\"intake\",method=\"/hotline."
			     "intake.v1.IntakeService/CreateTicket\"} 4\n") != NULL);
	T_ASSERT(strstr(all, "hotline_metrics_dropped_total 0\n") != NULL);
	free(all);
}

static double pool_busy(void *arg)
{
	return (double)*(int *)arg;
}

static void test_callback_gauge(void)
{
	hl_metrics *m = hl_metrics_new("svc");
	hl_metric *g, *h;
	hl_error err;
	int busy_db = 3, busy_redis = 1;
	const char *const ln[] = {"pool"};
	T_EQ_INT(hl_metrics_gauge(m, "hotline_pool_busy", "Busy connections.", 1, ln, &g, &err),
		 HL_OK);
	T_EQ_INT(hl_metric_set_fn(g, (const char *[]){"db"}, pool_busy, &busy_db, &err), HL_OK);
	T_EQ_INT(hl_metric_set_fn(g, (const char *[]){"redis"}, pool_busy, &busy_redis, &err),
		 HL_OK);
	hl_metric_set(g, (const char *[]){"db"}, 1000);        /* callback wins */
	char *a = render(m);
	busy_db = 7;
	char *b = render(m);
	const double bk[] = {1};
	T_EQ_INT(hl_metrics_histogram(m, "hh", "", 0, NULL, 1, bk, &h, NULL), HL_OK);
	hl_status st = hl_metric_set_fn(h, NULL, pool_busy, &busy_db, &err);
	hl_metrics_free(m);
	T_ASSERT(strstr(a, "hotline_pool_busy{pool=\"db\"} 3\nhotline_pool_busy{pool=\"redis\"} 1\n"));
	T_ASSERT(strstr(b, "hotline_pool_busy{pool=\"db\"} 7\n"));
	T_EQ_INT(st, HL_INVALID);
	free(a);
	free(b);
}

static void test_registration_rules(void)
{
	hl_metrics *m = hl_metrics_new("svc");
	hl_metric *a = NULL, *b = NULL, *c = NULL;
	hl_error err;
	const char *const l1[] = {"x"}, *const l2[] = {"y"};
	const char *const bad_le[] = {"le"}, *const bad_us[] = {"__x"}, *const dup[] = {"x", "x"};
	const char *const bad_chr[] = {"a-b"};

	T_EQ_INT(hl_metrics_counter(m, "c_total", "h", 1, l1, &a, &err), HL_OK);
	T_EQ_INT(hl_metrics_counter(m, "c_total", "other help", 1, l1, &b, &err), HL_OK);
	T_ASSERT(a == b);
	T_EQ_INT(hl_metrics_counter(m, "c_total", "h", 1, l2, &c, &err), HL_EXISTS);
	T_ASSERT(c == NULL);
	T_EQ_INT(hl_metrics_gauge(m, "c_total", "h", 1, l1, &c, &err), HL_EXISTS);
	T_EQ_INT(hl_metrics_counter(m, "9bad", "h", 0, NULL, &c, &err), HL_INVALID);
	T_EQ_INT(hl_metrics_counter(m, "bad name", "h", 0, NULL, &c, &err), HL_INVALID);
	T_EQ_INT(hl_metrics_counter(m, "", "h", 0, NULL, &c, &err), HL_INVALID);
	T_EQ_INT(hl_metrics_counter(m, "ok:name_1", "h", 0, NULL, &c, &err), HL_OK);
	T_EQ_INT(hl_metrics_counter(m, "d", "h", 1, bad_le, &c, &err), HL_INVALID);
	T_EQ_INT(hl_metrics_counter(m, "d", "h", 1, bad_us, &c, &err), HL_INVALID);
	T_EQ_INT(hl_metrics_counter(m, "d", "h", 2, dup, &c, &err), HL_INVALID);
	T_EQ_INT(hl_metrics_counter(m, "d", "h", 1, bad_chr, &c, &err), HL_INVALID);
	T_EQ_INT(hl_metrics_counter(m, "d", "h", HL_METRICS_MAX_LABELS + 1, l1, &c, &err),
		 HL_INVALID);
	const double inc[] = {1, 2}, dec[] = {2, 1}, inf[] = {1, INFINITY};
	T_EQ_INT(hl_metrics_histogram(m, "h1", "", 0, NULL, 2, inc, &c, &err), HL_OK);
	T_EQ_INT(hl_metrics_histogram(m, "h1", "", 0, NULL, 1, inc, &c, &err), HL_EXISTS);
	T_EQ_INT(hl_metrics_histogram(m, "h2", "", 0, NULL, 2, dec, &c, &err), HL_INVALID);
	T_EQ_INT(hl_metrics_histogram(m, "h2", "", 0, NULL, 2, inf, &c, &err), HL_INVALID);
	T_EQ_INT(hl_metrics_histogram(m, "h2", "", 0, NULL, 0, inc, &c, &err), HL_INVALID);
	hl_metrics_free(m);
	T_ASSERT(hl_metrics_new(NULL) == NULL);
}

static void test_number_format(void)
{
	hl_metrics *m = hl_metrics_new("svc");
	hl_metric *g;
	const char *const ln[] = {"k"};
	T_EQ_INT(hl_metrics_gauge(m, "g", "", 1, ln, &g, NULL), HL_OK);
	hl_metric_set(g, (const char *[]){"a"}, 0.1);
	hl_metric_set(g, (const char *[]){"b"}, 1.5e20);
	hl_metric_set(g, (const char *[]){"c"}, NAN);
	hl_metric_set(g, (const char *[]){"d"}, -INFINITY);
	hl_metric_set(g, (const char *[]){"e"}, 1.0 / 3);
	hl_metric_set(g, (const char *[]){"f"}, 123456789012);
	char *all = render(m);
	hl_metrics_free(m);
	T_ASSERT(strstr(all, "g{k=\"a\"} 0.1\n"));
	T_ASSERT(strstr(all, "g{k=\"b\"} 1.5e+20\n"));
	T_ASSERT(strstr(all, "g{k=\"c\"} NaN\n"));
	T_ASSERT(strstr(all, "g{k=\"d\"} -Inf\n"));
	T_ASSERT(strstr(all, "g{k=\"e\"} 0.33333333333333331\n"));
	T_ASSERT(strstr(all, "g{k=\"f\"} 123456789012\n"));
	free(all);
}

static void test_series_limit_counts_drops(void)
{
	hl_metrics *m = hl_metrics_new("svc");
	hl_metric *c;
	const char *const ln[] = {"id"};
	T_EQ_INT(hl_metrics_counter(m, "many_total", "", 1, ln, &c, NULL), HL_OK);
	char v[32];
	for (int i = 0; i < HL_METRICS_MAX_SERIES + 5; i++) {
		snprintf(v, sizeof v, "%d", i);
		hl_metric_inc(c, (const char *[]){v});
	}
	hl_metric_inc(c, (const char *[]){"0"});       /* existing series still counts */
	char *all = render(m);
	hl_metrics_free(m);
	T_ASSERT(strstr(all, "hotline_metrics_dropped_total 5\n") != NULL);
	T_ASSERT(strstr(all, "many_total{id=\"0\"} 2\n") != NULL);
	T_ASSERT(strstr(all, "many_total{id=\"9999\"} 1\n") != NULL);
	T_ASSERT(strstr(all, "many_total{id=\"10000\"}") == NULL);
	free(all);
}

struct worker {
	hl_metrics *m;
	hl_metric *c;
	int id;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	const char *codes[] = {"OK", "NOT_FOUND"};
	for (int i = 0; i < 20000; i++) {
		hl_metric_inc(w->c, (const char *[]){i % 2 ? "odd" : "even"});
		hl_metrics_observe_call(w->m, "/x.Y/Z", codes[i % 2], 0.002);
	}
	return NULL;
}

static void test_concurrent_updates(void)
{
	hl_metrics *m = hl_metrics_new("svc");
	hl_metric *c;
	const char *const ln[] = {"parity"};
	T_EQ_INT(hl_metrics_counter(m, "par_total", "", 1, ln, &c, NULL), HL_OK);
	pthread_t th[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){m, c, i};
		T_EQ_INT(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
	}
	/* render while the workers run */
	for (int i = 0; i < 20; i++) {
		char *s = render(m);
		free(s);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	char *all = render(m);
	hl_metrics_free(m);
	T_ASSERT(strstr(all, "par_total{parity=\"even\"} 40000\n"));
	T_ASSERT(strstr(all, "par_total{parity=\"odd\"} 40000\n"));
	T_ASSERT(strstr(all, "hotline_rpc_calls_total{service=\"svc\",method=\"/x.Y/Z\",code=\"OK\"}"
			     " 40000\n"));
	T_ASSERT(strstr(all, "hotline_rpc_duration_seconds_count{service=\"svc\",method=\"/x.Y/Z\"}"
			     " 80000\n"));
	free(all);
}

int main(void)
{
	T_RUN(test_counter_and_gauge_text);
	T_RUN(test_label_value_escaping);
	T_RUN(test_histogram_text);
	T_RUN(test_histogram_without_labels);
	T_RUN(test_observe_call);
	T_RUN(test_callback_gauge);
	T_RUN(test_registration_rules);
	T_RUN(test_number_format);
	T_RUN(test_series_limit_counts_drops);
	T_RUN(test_concurrent_updates);
	return T_DONE();
}
