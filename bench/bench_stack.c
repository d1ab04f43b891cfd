/*
 * bench_stack.c - the shared pieces of bench/'s load generators (see
 * bench_stack.h): stack.env, tokens, channels, latency percentiles.
 */
#include "bench_stack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hl/jwt.h"

/* The value of KEY in a plain KEY=value file (first match), malloc'd; NULL when absent. */
static char *env_value(FILE *f, const char *key)
{
	char line[4096];
	size_t klen = strlen(key);
	rewind(f);
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, key, klen) == 0 && line[klen] == '=')
			return strdup(line + klen + 1);
	}
	return NULL;
}

void bench_stack_release(struct bench_stack *e)
{
	free(e->addr);
	free(e->ca);
	free(e->cert);
	free(e->key);
	if (e->secret)
		memset(e->secret, 0, strlen(e->secret));
	free(e->secret);
	free(e->issuer);
	free(e->audience);
	memset(e, 0, sizeof *e);
}

hl_status bench_stack_load(const char *path, const char *addr_key, struct bench_stack *e, hl_error *err)
{
	memset(e, 0, sizeof *e);
	FILE *f = fopen(path, "r");
	if (!f)
		return hl_fail(err, HL_IO, "cannot open %s: %s", path, strerror(errno));
	const char *const keys[] = {addr_key,	      "HOTLINE_CA",	    "HOTLINE_CLIENT_CERT", "HOTLINE_CLIENT_KEY",
				    "HOTLINE_JWT_SECRET", "HOTLINE_JWT_ISSUER", "HOTLINE_JWT_AUDIENCE"};
	char **dst[] = {&e->addr, &e->ca, &e->cert, &e->key, &e->secret, &e->issuer, &e->audience};
	hl_status st = HL_OK;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !st; i++) {
		*dst[i] = env_value(f, keys[i]);
		if (!*dst[i] || !**dst[i])
			st = hl_fail(err, HL_INVALID, "%s: %s missing", path, keys[i]);
	}
	fclose(f);
	if (st)
		bench_stack_release(e);
	return st;
}

hl_status bench_token(const struct bench_stack *e, const char *tenant, const char *sub, const char *role, int ttl_s,
		      hl_arena *a, char **token, hl_error *err)
{
	long long now = (long long)time(NULL);
	char *claims = hl_arena_printf(a,
				       "{\"sub\":\"%s\",\"tenant\":\"%s\",\"roles\":[\"%s\"],"
				       "\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
				       sub, tenant, role, e->issuer, e->audience, now, now + ttl_s);
	if (!claims)
		return hl_fail(err, HL_NOMEM, "out of memory");
	return hl_jwt_sign_hs256(e->secret, strlen(e->secret), NULL, claims, a, token, err);
}

hl_status bench_open_clients(const struct bench_stack *e, int n, hl_client **out, hl_error *err)
{
	for (int i = 0; i < n; i++) {
		hl_status st = hl_client_new(e->addr, e->cert, e->key, e->ca, &out[i], err);
		if (st)
			return st;
	}
	return HL_OK;
}

int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

void bench_sort_ns(int64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_i64);
}

double bench_pct_ms(const int64_t *sorted, size_t n, double p)
{
	if (!n)
		return 0;
	size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)sorted[rank - 1] / 1e6;
}
