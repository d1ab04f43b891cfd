/*
 * bench_stack.h - what the C load generators of bench/ share: the dev stack's
 * stack.env (a service's address, the client certificate, the dev JWT secret),
 * a token minted for one principal, a set of mTLS channels, and latency
 * figures (monotonic nanoseconds, nearest-rank percentiles).
 */
#ifndef HL_BENCH_STACK_H
#define HL_BENCH_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/rpc_client.h"
#include "hl/status.h"

struct bench_stack {
	char *addr; /* the service's host:port (the key the caller named) */
	char *ca, *cert, *key, *secret, *issuer, *audience;
};

/* Read addr_key (e.g. "HOTLINE_INTAKE_ADDR") and the TLS and JWT settings from a stack.env. */
hl_status bench_stack_load(const char *path, const char *addr_key, struct bench_stack *e, hl_error *err);
void bench_stack_release(struct bench_stack *e);

/* An HS256 token for sub with one role in tenant, valid ttl_s seconds, in arena a. */
hl_status bench_token(const struct bench_stack *e, const char *tenant, const char *sub, const char *role, int ttl_s,
		      hl_arena *a, char **token, hl_error *err);

/* n channels to the service over mutual TLS. */
hl_status bench_open_clients(const struct bench_stack *e, int n, hl_client **out, hl_error *err);

int64_t bench_now_ns(void);
/* Sort v[0..n) ascending, then nearest-rank percentile p (0..100) in ms. */
void bench_sort_ns(int64_t *v, size_t n);
double bench_pct_ms(const int64_t *sorted, size_t n, double p);

#endif
