/*
 * metrics.h - a thread-safe Prometheus metrics registry.
 *
 * A registry (one per process) holds metric families: counters, gauges and
 * histograms, each with a fixed list of label names.  A family holds one
 * series per distinct list of label values, created on first use.  Series
 * can also be callbacks, read at render time (pool usage, outbox backlog).
 * hl_metrics_render() writes the Prometheus text exposition format 0.0.4,
 * which the ops port serves at /metrics.
 *
 * Families are registered at start and live as long as the registry; the
 * hl_metric pointers handed out stay valid until hl_metrics_free().  Updating
 * a series takes only that family's mutex, so the hot path of unrelated
 * families never contends.
 *
 * Label values are copied.  Never use personal data or unbounded values
 * (ids, free text) as label values: each distinct value list is a series
 * kept forever.  Each family holds at most HL_METRICS_MAX_SERIES series;
 * updates that would need more, or that fail for lack of memory, are
 * dropped and counted in hotline_metrics_dropped_total.
 *
 * Every registry also has the RPC families fed by hl_metrics_observe_call():
 *   hotline_rpc_calls_total{service,method,code}          counter
 *   hotline_rpc_duration_seconds{service,method}          histogram
 */
#ifndef HL_METRICS_H
#define HL_METRICS_H

#include <stddef.h>

#include "hl/buf.h"
#include "hl/status.h"

typedef struct hl_metrics hl_metrics;
typedef struct hl_metric hl_metric;     /* one family */

typedef enum hl_metric_type {
	HL_METRIC_COUNTER,
	HL_METRIC_GAUGE,
	HL_METRIC_HISTOGRAM,
} hl_metric_type;

#define HL_METRICS_MAX_LABELS 8
#define HL_METRICS_MAX_BUCKETS 32
#define HL_METRICS_MAX_SERIES 10000

/* Buckets of hotline_rpc_duration_seconds, in seconds. */
#define HL_METRICS_RPC_BUCKETS \
	{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

/*
 * A new registry for the named service (the value of the "service" label of
 * the RPC families), or NULL when out of memory or service is NULL.
 */
hl_metrics *hl_metrics_new(const char *service);

/* Free the registry and all its families.  No other thread may use it. NULL is ok. */
void hl_metrics_free(hl_metrics *m);

/*
 * Register a counter or gauge family with n_labels label names (0 to
 * HL_METRICS_MAX_LABELS) and store it in *out.  Registering a name again
 * with the same type and label names returns the existing family; a
 * different type or label list is HL_EXISTS.  Invalid metric or label names
 * (Prometheus syntax; "le" and names starting with "__" are reserved) are
 * HL_INVALID.  name, help and label names are copied.  Thread-safe.
 */
hl_status hl_metrics_counter(hl_metrics *m, const char *name, const char *help,
			     size_t n_labels, const char *const *label_names,
			     hl_metric **out, hl_error *err) HL_MUST_CHECK;
hl_status hl_metrics_gauge(hl_metrics *m, const char *name, const char *help,
			   size_t n_labels, const char *const *label_names,
			   hl_metric **out, hl_error *err) HL_MUST_CHECK;

/*
 * Register a histogram family with n_buckets (1 to HL_METRICS_MAX_BUCKETS)
 * strictly increasing finite upper bounds; "+Inf" is implicit.  Same rules
 * as hl_metrics_counter() otherwise (the bucket list must match too).
 */
hl_status hl_metrics_histogram(hl_metrics *m, const char *name, const char *help,
			       size_t n_labels, const char *const *label_names,
			       size_t n_buckets, const double *buckets,
			       hl_metric **out, hl_error *err) HL_MUST_CHECK;

/*
 * Update the series of family f with the given label values (one per label
 * name; NULL when the family has no labels).  Thread-safe, never fails
 * loudly (see the header comment on dropped updates).
 *   hl_metric_add:     counter += v (v < 0 or NaN is ignored), gauge += v
 *   hl_metric_inc:     hl_metric_add(f, values, 1)
 *   hl_metric_set:     gauge = v (ignored on counters and histograms)
 *   hl_metric_observe: histogram sample v (ignored on counters and gauges)
 * Passing a family of the wrong type for the call is ignored.
 */
void hl_metric_add(hl_metric *f, const char *const *values, double v);
void hl_metric_inc(hl_metric *f, const char *const *values);
void hl_metric_set(hl_metric *f, const char *const *values, double v);
void hl_metric_observe(hl_metric *f, const char *const *values, double v);

/*
 * Make the series with the given label values of counter or gauge family f
 * a callback: fn(arg) is called at every render for its value.  fn runs on
 * the rendering thread with the family's mutex held, so it must be quick and
 * must not call into this registry.  arg must outlive the registry (or the
 * next hl_metric_set_fn for the same series).  HL_INVALID on a histogram.
 */
hl_status hl_metric_set_fn(hl_metric *f, const char *const *values,
			   double (*fn)(void *arg), void *arg, hl_error *err) HL_MUST_CHECK;

/*
 * Count one finished RPC: hotline_rpc_calls_total{service,method,code} += 1
 * and hotline_rpc_duration_seconds{service,method} observes seconds.
 * method is the full gRPC path ("/hotline.intake.v1.IntakeService/CreateTicket"),
 * code_name the gRPC code name ("OK", "INVALID_ARGUMENT", ...).  Thread-safe.
 */
void hl_metrics_observe_call(hl_metrics *m, const char *method, const char *code_name,
			     double seconds);

/*
 * Append every family in the text exposition format 0.0.4 to out, in
 * registration order (HELP and TYPE lines, then the series in creation
 * order; histograms as cumulative _bucket{le=...}, _sum and _count).
 * Returns HL_NOMEM when out failed.  Thread-safe; callback series are called.
 */
hl_status hl_metrics_render(hl_metrics *m, hl_buf *out) HL_MUST_CHECK;

#endif
