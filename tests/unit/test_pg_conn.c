/*
 * test_pg_conn.c - what common/src/pg.c decides without a database server:
 * the connection parameters for failing networks (timeouts and keepalives,
 * the DSN's own settings winning), a connect to a black hole that gives up
 * in bounded time, and the SQLSTATE -> hl_status translation (transient
 * states must be retryable codes, never dead letters).
 *
 * The black hole is a TCP socket on 127.0.0.1 that listens but never
 * accepts: the kernel completes the handshake and then nothing ever answers.
 */
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hl/pg.h"
#include "t.h"

/* A listening socket on 127.0.0.1 that is never accepted from; its port in *port. */
static int black_hole(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* The value of keyword kw in the options libpq actually uses for conn ("" if unset). */
static const char *effective(PQconninfoOption *opts, const char *kw)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, kw) == 0)
			return o->val ? o->val : "";
	return "";
}

static void test_conn_params_are_in_effect(void)
{
	int port, fd = black_hole(&port);
	T_ASSERT(fd >= 0);
	char dsn[128];
	snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=u dbname=d sslmode=disable", port);
	const char *kw[HL__PG_CONN_PARAMS + 1], *val[HL__PG_CONN_PARAMS + 1];
	hl__pg_conn_params(dsn, kw, val);
	PGconn *c = PQconnectStartParams(kw, val, 1); /* non-blocking: only the options matter here */
	PQconninfoOption *opts = c ? PQconninfo(c) : NULL;
	bool ok = opts && strcmp(effective(opts, "connect_timeout"), "5") == 0 &&
		  strcmp(effective(opts, "keepalives"), "1") == 0 &&
		  strcmp(effective(opts, "keepalives_idle"), "10") == 0 &&
		  strcmp(effective(opts, "keepalives_interval"), "5") == 0 &&
		  strcmp(effective(opts, "keepalives_count"), "3") == 0 &&
		  strcmp(effective(opts, "tcp_user_timeout"), "15000") == 0 &&
		  strcmp(effective(opts, "dbname"), "d") == 0 && strcmp(effective(opts, "user"), "u") == 0;
	PQconninfoFree(opts);
	PQfinish(c);
	close(fd);
	T_ASSERT(ok);
}

static void test_dsn_settings_win(void)
{
	const char *kw[HL__PG_CONN_PARAMS + 1], *val[HL__PG_CONN_PARAMS + 1];
	hl__pg_conn_params("postgresql://u@127.0.0.1:1/d?connect_timeout=2&tcp_user_timeout=3000&sslmode=disable",
			   kw, val);
	PGconn *c = PQconnectStartParams(kw, val, 1);
	PQconninfoOption *opts = c ? PQconninfo(c) : NULL;
	bool ok = opts && strcmp(effective(opts, "connect_timeout"), "2") == 0 &&
		  strcmp(effective(opts, "tcp_user_timeout"), "3000") == 0 &&
		  strcmp(effective(opts, "keepalives_idle"), "10") == 0;
	PQconninfoFree(opts);
	PQfinish(c);
	T_ASSERT(ok);
}

static void hung(int sig)
{
	(void)sig;
	static const char msg[] = "  FAIL test_connect_to_a_black_hole_gives_up: still connecting after 20 s\n";
	ssize_t w = write(2, msg, sizeof msg - 1);
	(void)w;
	_exit(1);
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_connect_to_a_black_hole_gives_up(void)
{
	int port, fd = black_hole(&port);
	T_ASSERT(fd >= 0);
	char dsn[128];
	snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=u dbname=d sslmode=disable", port);
	hl_pg *pg;
	hl_error err;
	T_ASSERT(hl_pg_new(dsn, NULL, &pg, &err) == HL_OK);
	signal(SIGALRM, hung);
	alarm(20);
	double t0 = mono_s();
	hl_status st = hl_pg_connect(pg, &err);
	double took = mono_s() - t0;
	alarm(0);
	hl_pg_free(pg);
	close(fd);
	T_EQ_INT(st, HL_UNAVAILABLE);
	T_ASSERT(took >= 4.0 && took < 9.0); /* connect_timeout=5 (libpq rounds up to 2 s minimum) */
}

static void test_transient_sqlstates_are_retryable(void)
{
	static const char *const unavailable[] = {"08000", "08003", "08006", "08001", "08004", "57P01",
						  "57P02", "57P03", "25006", "53000", "53100", "53200", "53300"};
	for (size_t i = 0; i < sizeof unavailable / sizeof unavailable[0]; i++)
		if (hl_pg_sqlstate_status(unavailable[i]) != HL_UNAVAILABLE)
			T_FAILF("%s -> %s, expected UNAVAILABLE", unavailable[i],
				hl_status_name(hl_pg_sqlstate_status(unavailable[i])));
	static const char *const aborted[] = {"40001", "40P01", "55P03", "40003"};
	for (size_t i = 0; i < sizeof aborted / sizeof aborted[0]; i++)
		if (hl_pg_sqlstate_status(aborted[i]) != HL_ABORTED)
			T_FAILF("%s -> %s, expected ABORTED", aborted[i],
				hl_status_name(hl_pg_sqlstate_status(aborted[i])));
	T_EQ_INT(hl_pg_sqlstate_status(NULL), HL_UNAVAILABLE);
	T_EQ_INT(hl_status_grpc_code(HL_UNAVAILABLE), 14);
	T_EQ_INT(hl_status_grpc_code(HL_ABORTED), 10);
}

static void test_other_sqlstates(void)
{
	T_EQ_INT(hl_pg_sqlstate_status("23505"), HL_EXISTS);
	T_EQ_INT(hl_pg_sqlstate_status("23503"), HL_PRECONDITION);
	T_EQ_INT(hl_pg_sqlstate_status("22001"), HL_INVALID);
	T_EQ_INT(hl_pg_sqlstate_status("57014"), HL_DEADLINE);
	T_EQ_INT(hl_pg_sqlstate_status("42501"), HL_DENIED);
	T_EQ_INT(hl_pg_sqlstate_status("08P01"), HL_DB); /* protocol violation: our bug */
	T_EQ_INT(hl_pg_sqlstate_status("42P01"), HL_DB);
	T_EQ_INT(hl_pg_sqlstate_status("25001"), HL_DB);
}

int main(void)
{
	T_RUN(test_transient_sqlstates_are_retryable);
	T_RUN(test_other_sqlstates);
	T_RUN(test_conn_params_are_in_effect);
	T_RUN(test_dsn_settings_win);
	T_RUN(test_connect_to_a_black_hole_gives_up);
	return T_DONE();
}
