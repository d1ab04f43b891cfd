/*
 * ops.h - the plain HTTP ops port of a service (DESIGN §5.9).
 *
 * One background thread serves HTTP/1.0 and HTTP/1.1 on its own address,
 * for probes and scrapers only:
 *   GET /healthz  200 "ok\n" while the process runs
 *   GET /readyz   200 or 503 with the readiness callback's last answer
 *   GET /metrics  200 with the registry in Prometheus text format 0.0.4
 *   other paths   404; methods other than GET and HEAD: 405
 * Every response carries Content-Length and "Connection: close"; the
 * connection is closed after one response.  A request (line and headers)
 * may be at most HL_OPS_MAX_REQUEST bytes (else 431) and must arrive within
 * the read timeout (else 408), so a slow or hostile client cannot hold the
 * port.  Up to HL_OPS_MAX_CONNS connections are served at once by one
 * poll(2) loop; more wait in the listen backlog.
 *
 * The port is not authenticated: bind it to an address only the platform
 * (kubelet, Prometheus) can reach.  Nothing it serves holds personal data.
 */
#ifndef HL_OPS_H
#define HL_OPS_H

#include <stdbool.h>

#include "hl/buf.h"
#include "hl/metrics.h"
#include "hl/status.h"

#define HL_OPS_MAX_REQUEST 8192
#define HL_OPS_MAX_CONNS 16
#define HL_OPS_READ_TIMEOUT_MS 5000
#define HL_OPS_READY_INTERVAL_MS 500  /* between two readiness checks */
#define HL_OPS_READY_STALE_MS 3000    /* an older answer (a check hangs): not ready */

typedef struct hl_ops hl_ops;

/*
 * Readiness check: append a short text report to body (e.g.
 * "db ok\nredis degraded\nmigrations ok\n") and return true when the service
 * is ready to take traffic.  Runs on a checker thread of its own every
 * HL_OPS_READY_INTERVAL_MS, never on the serving thread, one call at a time;
 * /readyz serves its last answer, and 503 when that answer is older than
 * HL_OPS_READY_STALE_MS.  It should still bound its own waiting: hl_ops_stop
 * waits for the check in hand.
 */
typedef bool (*hl_ops_ready_fn)(void *arg, hl_buf *body);

typedef struct hl_ops_config {
	hl_metrics *metrics;    /* served at /metrics; NULL: /metrics is 404 */
	hl_ops_ready_fn ready;  /* NULL: always ready, body "ok\n" */
	void *ready_arg;
	int read_timeout_ms;    /* 0: HL_OPS_READ_TIMEOUT_MS */
} hl_ops_config;

/*
 * Listen on addr ("host:port", "[v6addr]:port" or ":port" for all
 * addresses; port 0 picks a free port, see hl_ops_port()) with SO_REUSEADDR
 * and start the serving thread.  cfg is copied; the metrics registry and
 * ready_arg must outlive the server.  The thread blocks all signals.
 * Errors: HL_INVALID for a malformed address, HL_UNAVAILABLE naming the
 * address when it cannot be bound, HL_NOMEM / HL_INTERNAL otherwise.
 */
hl_status hl_ops_start(const char *addr, const hl_ops_config *cfg, hl_ops **out,
		       hl_error *err) HL_MUST_CHECK;

/* The port actually bound (useful after port 0). */
int hl_ops_port(const hl_ops *ops);

/*
 * Stop serving: wake the thread, join it, close every socket and free ops.
 * Connections in progress are dropped.  NULL is ok.  Not thread-safe
 * against itself: call once, from the thread that started the server.
 */
void hl_ops_stop(hl_ops *ops);

#endif
