/*
 * metrics.c - Prometheus metrics registry and text exposition (see metrics.h).
 *
 * The registry is a linked list of families under a registry mutex (taken
 * for registration and render only).  Each family has its own mutex, an
 * array of series in creation order and an open-addressing hash index over
 * it, keyed by a hash of the label values, so an update is one hash, one or
 * two probes and an add.  Histogram series keep per-bucket (non-cumulative)
 * counts; render turns them into the cumulative counts Prometheus expects.
 */
#include "hl/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
	uint64_t hash;
	char **values;                  /* n_labels strings, one allocation */
	double value;                   /* counter, gauge */
	double (*fn)(void *);           /* callback series, or NULL */
	void *arg;
	uint64_t *counts;               /* histogram: n_buckets + 1 (the last is +Inf) */
	double sum;
	uint64_t count;
};

struct hl_metric {
	struct hl_metric *next;
	hl_metrics *reg;
	char *name, *help;
	hl_metric_type type;
	size_t n_labels;
	char *labels[HL_METRICS_MAX_LABELS];
	size_t n_buckets;
	double bounds[HL_METRICS_MAX_BUCKETS];
	pthread_mutex_t mu;
	struct series **series;
	size_t n_series, cap_series;
	size_t *slots;                  /* index + 1 into series, 0 = empty */
	size_t cap_slots;               /* power of two */
};

struct hl_metrics {
	pthread_mutex_t mu;
	char *service;
	hl_metric *first, *last;
	hl_metric *rpc_calls, *rpc_duration;
	atomic_ullong dropped;
};

static const char *const type_names[] = {
	[HL_METRIC_COUNTER] = "counter",
	[HL_METRIC_GAUGE] = "gauge",
	[HL_METRIC_HISTOGRAM] = "histogram",
};

/* ---- names ---- */

static bool valid_metric_name(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == ':'))
			return false;
	}
	return true;
}

static bool valid_label_name(const char *s)
{
	if (!valid_metric_name(s) || strchr(s, ':'))
		return false;
	return strncmp(s, "__", 2) != 0 && strcmp(s, "le") != 0;
}

/* ---- series lookup ---- */

static uint64_t hash_values(size_t n, const char *const *values)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		const char *v = values[i] ? values[i] : "";
		for (; *v; v++) {
			h ^= (unsigned char)*v;
			h *= 1099511628211ULL;
		}
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	return h;
}

static bool same_values(const hl_metric *f, const struct series *s, const char *const *values)
{
	for (size_t i = 0; i < f->n_labels; i++)
		if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
			return false;
	return true;
}

static void slot_put(size_t *slots, size_t cap, uint64_t hash, size_t idx)
{
	size_t i = (size_t)hash & (cap - 1);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = idx + 1;
}

static bool grow_index(hl_metric *f)
{
	size_t cap = f->cap_slots ? f->cap_slots * 2 : 16;
	size_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return false;
	for (size_t i = 0; i < f->n_series; i++)
		slot_put(slots, cap, f->series[i]->hash, i);
	free(f->slots);
	f->slots = slots;
	f->cap_slots = cap;
	return true;
}

static void series_free(struct series *s)
{
	if (!s)
		return;
	free(s->values);
	free(s->counts);
	free(s);
}

static struct series *series_new(const hl_metric *f, uint64_t hash, const char *const *values)
{
	size_t size = f->n_labels * sizeof(char *);
	for (size_t i = 0; i < f->n_labels; i++)
		size += strlen(values[i] ? values[i] : "") + 1;
	struct series *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->hash = hash;
	s->values = malloc(size ? size : 1);
	if (!s->values)
		goto fail;
	char *p = (char *)(s->values + f->n_labels);
	for (size_t i = 0; i < f->n_labels; i++) {
		const char *v = values[i] ? values[i] : "";
		size_t n = strlen(v) + 1;
		memcpy(p, v, n);
		s->values[i] = p;
		p += n;
	}
	if (f->type == HL_METRIC_HISTOGRAM) {
		s->counts = calloc(f->n_buckets + 1, sizeof *s->counts);
		if (!s->counts)
			goto fail;
	}
	return s;
fail:
	series_free(s);
	return NULL;
}

/*
 * The series of f with these label values, created if needed; NULL when it
 * cannot be created (counted as a dropped update).  Called with f->mu held.
 */
static struct series *series_get(hl_metric *f, const char *const *values)
{
	static const char *const none[1] = {NULL};
	if (f->n_labels == 0)
		values = none;
	uint64_t h = hash_values(f->n_labels, values);
	if (f->cap_slots) {
		for (size_t i = (size_t)h & (f->cap_slots - 1); f->slots[i];
		     i = (i + 1) & (f->cap_slots - 1)) {
			struct series *s = f->series[f->slots[i] - 1];
			if (s->hash == h && same_values(f, s, values))
				return s;
		}
	}
	if (f->n_series >= HL_METRICS_MAX_SERIES)
		goto drop;
	if ((f->n_series + 1) * 2 > f->cap_slots && !grow_index(f))
		goto drop;
	if (f->n_series == f->cap_series) {
		size_t cap = f->cap_series ? f->cap_series * 2 : 8;
		struct series **arr = realloc(f->series, cap * sizeof *arr);
		if (!arr)
			goto drop;
		f->series = arr;
		f->cap_series = cap;
	}
	struct series *s = series_new(f, h, values);
	if (!s)
		goto drop;
	f->series[f->n_series] = s;
	slot_put(f->slots, f->cap_slots, h, f->n_series);
	f->n_series++;
	return s;
drop:
	atomic_fetch_add_explicit(&f->reg->dropped, 1, memory_order_relaxed);
	return NULL;
}

/* ---- families ---- */

static void family_free(hl_metric *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_series; i++)
		series_free(f->series[i]);
	free(f->series);
	free(f->slots);
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static bool same_shape(const hl_metric *f, hl_metric_type type, size_t n_labels,
		       const char *const *label_names, size_t n_buckets, const double *buckets)
{
	if (f->type != type || f->n_labels != n_labels || f->n_buckets != n_buckets)
		return false;
	for (size_t i = 0; i < n_labels; i++)
		if (strcmp(f->labels[i], label_names[i]) != 0)
			return false;
	for (size_t i = 0; i < n_buckets; i++)
		if (f->bounds[i] != buckets[i])
			return false;
	return true;
}

static hl_status check_shape(const char *name, size_t n_labels, const char *const *label_names,
			     size_t n_buckets, const double *buckets, hl_metric_type type,
			     hl_error *err)
{
	if (!valid_metric_name(name))
		return hl_fail(err, HL_INVALID, "metrics: invalid metric name");
	if (n_labels > HL_METRICS_MAX_LABELS || (n_labels && !label_names))
		return hl_fail(err, HL_INVALID, "metrics: %s: too many labels", name);
	for (size_t i = 0; i < n_labels; i++) {
		if (!valid_label_name(label_names[i]))
			return hl_fail(err, HL_INVALID, "metrics: %s: invalid label name", name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(label_names[i], label_names[j]) == 0)
				return hl_fail(err, HL_INVALID, "metrics: %s: duplicate label %s",
					       name, label_names[i]);
	}
	if (type != HL_METRIC_HISTOGRAM)
		return HL_OK;
	if (n_buckets < 1 || n_buckets > HL_METRICS_MAX_BUCKETS || !buckets)
		return hl_fail(err, HL_INVALID, "metrics: %s: 1 to %d buckets", name,
			       HL_METRICS_MAX_BUCKETS);
	for (size_t i = 0; i < n_buckets; i++)
		if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
			return hl_fail(err, HL_INVALID,
				       "metrics: %s: buckets must be finite and increasing", name);
	return HL_OK;
}

static hl_metric *family_new(hl_metrics *m, const char *name, const char *help,
			     hl_metric_type type, size_t n_labels, const char *const *label_names,
			     size_t n_buckets, const double *buckets)
{
	hl_metric *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	if (pthread_mutex_init(&f->mu, NULL) != 0) {
		free(f);
		return NULL;
	}
	f->reg = m;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	if (!f->name || !f->help)
		goto fail;
	for (size_t i = 0; i < n_labels; i++) {
		f->labels[i] = strdup(label_names[i]);
		if (!f->labels[i])
			goto fail;
		f->n_labels = i + 1;
	}
	f->n_buckets = type == HL_METRIC_HISTOGRAM ? n_buckets : 0;
	for (size_t i = 0; i < f->n_buckets; i++)
		f->bounds[i] = buckets[i];
	/* a family without labels has its one series from the start (renders 0) */
	if (n_labels == 0 && !series_get(f, NULL))
		goto fail;
	return f;
fail:
	family_free(f);
	return NULL;
}

static hl_status family_register(hl_metrics *m, const char *name, const char *help,
				 hl_metric_type type, size_t n_labels,
				 const char *const *label_names, size_t n_buckets,
				 const double *buckets, hl_metric **out, hl_error *err)
{
	hl_status st = check_shape(name, n_labels, label_names, n_buckets, buckets, type, err);
	if (st != HL_OK)
		return st;
	pthread_mutex_lock(&m->mu);
	hl_metric *f;
	for (f = m->first; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f) {
		if (!same_shape(f, type, n_labels, label_names, n_buckets, buckets))
			st = hl_fail(err, HL_EXISTS,
				     "metrics: %s: registered with another type or labels", name);
	} else {
		f = family_new(m, name, help, type, n_labels, label_names, n_buckets, buckets);
		if (!f) {
			st = hl_fail(err, HL_NOMEM, "metrics: out of memory");
		} else {
			if (m->last)
				m->last->next = f;
			else
				m->first = f;
			m->last = f;
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (st == HL_OK)
		*out = f;
	return st;
}

hl_status hl_metrics_counter(hl_metrics *m, const char *name, const char *help,
			     size_t n_labels, const char *const *label_names,
			     hl_metric **out, hl_error *err)
{
	return family_register(m, name, help, HL_METRIC_COUNTER, n_labels, label_names, 0, NULL,
			       out, err);
}

hl_status hl_metrics_gauge(hl_metrics *m, const char *name, const char *help,
			   size_t n_labels, const char *const *label_names,
			   hl_metric **out, hl_error *err)
{
	return family_register(m, name, help, HL_METRIC_GAUGE, n_labels, label_names, 0, NULL,
			       out, err);
}

hl_status hl_metrics_histogram(hl_metrics *m, const char *name, const char *help,
			       size_t n_labels, const char *const *label_names,
			       size_t n_buckets, const double *buckets,
			       hl_metric **out, hl_error *err)
{
	return family_register(m, name, help, HL_METRIC_HISTOGRAM, n_labels, label_names,
			       n_buckets, buckets, out, err);
}

/* ---- registry ---- */

static double read_dropped(void *arg)
{
	hl_metrics *m = arg;
	return (double)atomic_load_explicit(&m->dropped, memory_order_relaxed);
}

hl_metrics *hl_metrics_new(const char *service)
{
	static const char *const call_labels[] = {"service", "method", "code"};
	static const double rpc_buckets[] = HL_METRICS_RPC_BUCKETS;
	hl_metric *dropped;
	hl_metrics *m;

	if (!service)
		return NULL;
	m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	if (pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		return NULL;
	}
	atomic_init(&m->dropped, 0);
	m->service = strdup(service);
	if (!m->service)
		goto fail;
	if (hl_metrics_counter(m, "hotline_rpc_calls_total", "RPC calls by method and status code.",
			       3, call_labels, &m->rpc_calls, NULL) != HL_OK)
		goto fail;
	if (hl_metrics_histogram(m, "hotline_rpc_duration_seconds",
				 "RPC duration from arrival to final status, in seconds.",
				 2, call_labels, sizeof rpc_buckets / sizeof rpc_buckets[0],
				 rpc_buckets, &m->rpc_duration, NULL) != HL_OK)
		goto fail;
	if (hl_metrics_counter(m, "hotline_metrics_dropped_total",
			       "Metric updates dropped (series limit or out of memory).",
			       0, NULL, &dropped, NULL) != HL_OK)
		goto fail;
	if (hl_metric_set_fn(dropped, NULL, read_dropped, m, NULL) != HL_OK)
		goto fail;
	return m;
fail:
	hl_metrics_free(m);
	return NULL;
}

void hl_metrics_free(hl_metrics *m)
{
	if (!m)
		return;
	hl_metric *f = m->first;
	while (f) {
		hl_metric *next = f->next;
		family_free(f);
		f = next;
	}
	free(m->service);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* ---- updates ---- */

void hl_metric_add(hl_metric *f, const char *const *values, double v)
{
	if (!f || f->type == HL_METRIC_HISTOGRAM || isnan(v))
		return;
	if (f->type == HL_METRIC_COUNTER && v < 0)
		return;
	pthread_mutex_lock(&f->mu);
	struct series *s = series_get(f, values);
	if (s && !s->fn)
		s->value += v;
	pthread_mutex_unlock(&f->mu);
}

void hl_metric_inc(hl_metric *f, const char *const *values)
{
	hl_metric_add(f, values, 1);
}

void hl_metric_set(hl_metric *f, const char *const *values, double v)
{
	if (!f || f->type != HL_METRIC_GAUGE)
		return;
	pthread_mutex_lock(&f->mu);
	struct series *s = series_get(f, values);
	if (s && !s->fn)
		s->value = v;
	pthread_mutex_unlock(&f->mu);
}

void hl_metric_observe(hl_metric *f, const char *const *values, double v)
{
	if (!f || f->type != HL_METRIC_HISTOGRAM || isnan(v))
		return;
	size_t b = 0;
	while (b < f->n_buckets && v > f->bounds[b])
		b++;
	pthread_mutex_lock(&f->mu);
	struct series *s = series_get(f, values);
	if (s) {
		s->counts[b]++;
		s->sum += v;
		s->count++;
	}
	pthread_mutex_unlock(&f->mu);
}

hl_status hl_metric_set_fn(hl_metric *f, const char *const *values,
			   double (*fn)(void *arg), void *arg, hl_error *err)
{
	if (!f || !fn || f->type == HL_METRIC_HISTOGRAM)
		return hl_fail(err, HL_INVALID, "metrics: callbacks need a counter or gauge");
	hl_status st = HL_OK;
	pthread_mutex_lock(&f->mu);
	struct series *s = series_get(f, values);
	if (s) {
		s->fn = fn;
		s->arg = arg;
	} else {
		st = hl_fail(err, HL_NOMEM, "metrics: %s: cannot add series", f->name);
	}
	pthread_mutex_unlock(&f->mu);
	return st;
}

void hl_metrics_observe_call(hl_metrics *m, const char *method, const char *code_name,
			     double seconds)
{
	if (!m)
		return;
	const char *values[] = {m->service, method ? method : "", code_name ? code_name : ""};
	hl_metric_inc(m->rpc_calls, values);
	hl_metric_observe(m->rpc_duration, values, seconds);
}

/* ---- render ---- */

static void put_double(hl_buf *b, double v)
{
	char s[40];
	if (isnan(v)) {
		hl_buf_puts(b, "NaN");
	} else if (isinf(v)) {
		hl_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 1e15) {
		hl_buf_printf(b, "%.0f", v);
	} else {
		/* shortest of %.15g and %.17g that reads back exactly */
		snprintf(s, sizeof s, "%.15g", v);
		if (strtod(s, NULL) != v)
			snprintf(s, sizeof s, "%.17g", v);
		hl_buf_puts(b, s);
	}
}

static void put_escaped(hl_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			hl_buf_puts(b, "\\\\");
		else if (*s == '\n')
			hl_buf_puts(b, "\\n");
		else if (*s == '"' && quote)
			hl_buf_puts(b, "\\\"");
		else
			hl_buf_putc(b, *s);
	}
}

/* {a="x",b="y"[,le="..."]} or nothing when there are no labels at all. */
static void put_labels(hl_buf *b, const hl_metric *f, const struct series *s, const double *le)
{
	if (f->n_labels == 0 && !le)
		return;
	hl_buf_putc(b, '{');
	for (size_t i = 0; i < f->n_labels; i++) {
		hl_buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
		put_escaped(b, s->values[i], true);
		hl_buf_putc(b, '"');
	}
	if (le) {
		hl_buf_puts(b, f->n_labels ? ",le=\"" : "le=\"");
		put_double(b, *le);
		hl_buf_putc(b, '"');
	}
	hl_buf_putc(b, '}');
}

static void render_series(hl_buf *b, const hl_metric *f, const struct series *s)
{
	if (f->type != HL_METRIC_HISTOGRAM) {
		hl_buf_puts(b, f->name);
		put_labels(b, f, s, NULL);
		hl_buf_putc(b, ' ');
		put_double(b, s->fn ? s->fn(s->arg) : s->value);
		hl_buf_putc(b, '\n');
		return;
	}
	uint64_t cum = 0;
	for (size_t i = 0; i <= f->n_buckets; i++) {
		double le = i < f->n_buckets ? f->bounds[i] : INFINITY;
		cum += s->counts[i];
		hl_buf_printf(b, "%s_bucket", f->name);
		put_labels(b, f, s, &le);
		hl_buf_printf(b, " %llu\n", (unsigned long long)cum);
	}
	hl_buf_printf(b, "%s_sum", f->name);
	put_labels(b, f, s, NULL);
	hl_buf_putc(b, ' ');
	put_double(b, s->sum);
	hl_buf_printf(b, "\n%s_count", f->name);
	put_labels(b, f, s, NULL);
	hl_buf_printf(b, " %llu\n", (unsigned long long)s->count);
}

hl_status hl_metrics_render(hl_metrics *m, hl_buf *out)
{
	pthread_mutex_lock(&m->mu);
	for (hl_metric *f = m->first; f; f = f->next) {
		hl_buf_printf(out, "# HELP %s ", f->name);
		put_escaped(out, f->help, false);
		hl_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
		pthread_mutex_lock(&f->mu);
		for (size_t i = 0; i < f->n_series; i++)
			render_series(out, f, f->series[i]);
		pthread_mutex_unlock(&f->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return hl_buf_failed(out) ? HL_NOMEM : HL_OK;
}
