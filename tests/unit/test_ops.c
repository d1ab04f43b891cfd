/*
 * test_ops.c - unit tests of the HTTP ops port (ops.c) with real sockets:
 * status codes and bodies, readiness, metrics, 404/405/400/431/408, slow
 * clients that must not block others, bind errors and stopping.
 */
#include "hl/ops.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

struct resp {
	int status;
	char head[2048];
	char body[65536];
	size_t body_len;
};

static int connect_to(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Read a whole response from fd until EOF and parse it; status -1 on failure. */
static void read_resp(int fd, struct resp *r)
{
	static char raw[131072];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof raw - 1 && (k = recv(fd, raw + n, sizeof raw - 1 - n, 0)) > 0)
		n += (size_t)k;
	raw[n] = '\0';
	r->status = -1;
	r->head[0] = r->body[0] = '\0';
	r->body_len = 0;
	char *sep = strstr(raw, "\r\n\r\n");
	if (!sep || sscanf(raw, "HTTP/1.1 %d ", &r->status) != 1)
		return;
	size_t hl = (size_t)(sep - raw) + 2;
	if (hl >= sizeof r->head)
		hl = sizeof r->head - 1;
	memcpy(r->head, raw, hl);
	r->head[hl] = '\0';
	r->body_len = n - (size_t)(sep + 4 - raw);
	if (r->body_len >= sizeof r->body)
		r->body_len = sizeof r->body - 1;
	memcpy(r->body, sep + 4, r->body_len);
	r->body[r->body_len] = '\0';
}

static void http(int port, const char *req, size_t len, struct resp *r)
{
	r->status = -1;
	int fd = connect_to(port);
	if (fd < 0)
		return;
	send_all(fd, req, len);
	read_resp(fd, r);
	close(fd);
}

static void get(int port, const char *path, struct resp *r)
{
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n"
			 "User-Agent: test\r\n\r\n", path);
	http(port, req, (size_t)n, r);
}

/* GET path until the status is `status` (the readiness answer is refreshed every
 * HL_OPS_READY_INTERVAL_MS), for up to 5 s. */
static void get_until(int port, const char *path, int status, struct resp *r)
{
	for (int i = 0; i < 100; i++) {
		get(port, path, r);
		if (r->status == status)
			return;
		usleep(50000);
	}
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static atomic_int ready_flag = 1;
static atomic_int hang_flag; /* the readiness check hangs (a stopped database) while set, up to 20 s */

static bool ready_cb(void *arg, hl_buf *body)
{
	(void)arg;
	for (int i = 0; i < 2000 && atomic_load(&hang_flag); i++)
		usleep(10000);
	bool ok = atomic_load(&ready_flag);
	hl_buf_puts(body, "db ok\n");
	hl_buf_puts(body, ok ? "redis ok\n" : "redis down\n");
	hl_buf_puts(body, "migrations ok\n");
	return ok;
}

static hl_ops *start(hl_metrics *m, int timeout_ms)
{
	hl_ops_config cfg = {.metrics = m, .ready = ready_cb, .read_timeout_ms = timeout_ms};
	hl_ops *ops = NULL;
	hl_error err;
	if (hl_ops_start("127.0.0.1:0", &cfg, &ops, &err) != HL_OK) {
		fprintf(stderr, "start: %s\n", err.msg);
		return NULL;
	}
	return ops;
}

static struct resp r;

static void test_healthz(void)
{
	hl_ops *ops = start(NULL, 0);
	T_ASSERT(ops != NULL);
	int port = hl_ops_port(ops);
	get(port, "/healthz", &r);
	hl_ops_stop(ops);
	T_ASSERT(port > 0);
	T_EQ_INT(r.status, 200);
	T_EQ_STR(r.body, "ok\n");
	T_ASSERT(strstr(r.head, "\r\nContent-Length: 3\r\n") != NULL);
	T_ASSERT(strstr(r.head, "\r\nConnection: close\r\n") != NULL);
	T_ASSERT(strstr(r.head, "\r\nContent-Type: text/plain; charset=utf-8\r\n") != NULL);
}

static void test_readyz(void)
{
	hl_ops *ops = start(NULL, 0);
	T_ASSERT(ops != NULL);
	int port = hl_ops_port(ops);
	struct resp down;
	atomic_store(&ready_flag, 1);
	get_until(port, "/readyz", 200, &r);
	atomic_store(&ready_flag, 0);
	get_until(port, "/readyz", 503, &down);
	atomic_store(&ready_flag, 1);
	hl_ops_stop(ops);
	T_EQ_INT(r.status, 200);
	T_EQ_STR(r.body, "db ok\nredis ok\nmigrations ok\n");
	T_EQ_INT(down.status, 503);
	T_EQ_STR(down.body, "db ok\nredis down\nmigrations ok\n");
	T_ASSERT(strstr(down.head, "HTTP/1.1 503 Service Unavailable\r\n") == down.head);
}

/* A readiness check that hangs: /healthz and /readyz still answer at once, and /readyz
 * says not ready once the last answer is older than HL_OPS_READY_STALE_MS. */
static void test_healthz_while_readiness_hangs(void)
{
	hl_ops *ops = start(NULL, 0);
	T_ASSERT(ops != NULL);
	int port = hl_ops_port(ops);
	struct resp h, rd;
	get_until(port, "/readyz", 200, &rd);
	atomic_store(&hang_flag, 1);
	usleep((HL_OPS_READY_INTERVAL_MS + 100) * 1000); /* the next check has started, and hangs */
	double t0 = mono_s();
	get(port, "/healthz", &h);
	double healthz_s = mono_s() - t0;
	double worst = 0, t_stale = 0;
	rd.status = -1;
	while (mono_s() - t0 < 8) {
		double t1 = mono_s();
		get(port, "/readyz", &rd);
		if (mono_s() - t1 > worst)
			worst = mono_s() - t1;
		if (rd.status == 503 && strstr(rd.body, "not answering")) {
			t_stale = mono_s() - t0;
			break;
		}
		usleep(100000);
	}
	atomic_store(&hang_flag, 0);
	hl_ops_stop(ops);
	T_EQ_INT(h.status, 200);
	T_ASSERT(healthz_s < 1.0);
	T_ASSERT(worst < 1.0);
	T_EQ_INT(rd.status, 503);
	T_ASSERT(t_stale > 0 && t_stale < (HL_OPS_READY_STALE_MS + 1000) / 1000.0);
}

static void test_readyz_without_callback(void)
{
	hl_ops_config cfg = {0};
	hl_ops *ops = NULL;
	T_EQ_INT(hl_ops_start("127.0.0.1:0", &cfg, &ops, NULL), HL_OK);
	get(hl_ops_port(ops), "/readyz", &r);
	struct resp m;
	get(hl_ops_port(ops), "/metrics", &m);
	hl_ops_stop(ops);
	T_EQ_INT(r.status, 200);
	T_EQ_STR(r.body, "ok\n");
	T_EQ_INT(m.status, 404);        /* no registry */
}

static void test_metrics(void)
{
	hl_metrics *m = hl_metrics_new("intake");
	hl_metrics_observe_call(m, "/hotline.intake.v1.IntakeService/CreateTicket", "OK", 0.004);
	hl_ops *ops = start(m, 0);
	T_ASSERT(ops != NULL);
	get(hl_ops_port(ops), "/metrics", &r);
	struct resp q;
	get(hl_ops_port(ops), "/metrics?name[]=x", &q);
	hl_ops_stop(ops);
	hl_metrics_free(m);
	T_EQ_INT(r.status, 200);
	T_ASSERT(strstr(r.head, "\r\nContent-Type: text/plain; version=0.0.4") != NULL);
	T_ASSERT(strstr(r.body, "# TYPE hotline_rpc_calls_total counter\n") != NULL);
	T_ASSERT(strstr(r.body, "code=\"OK\"} 1\n") != NULL);
	char cl[64];
	snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", r.body_len);
	T_ASSERT(strstr(r.head, cl) != NULL);
	T_EQ_INT(q.status, 200);
}

static void test_not_found_and_methods(void)
{
	hl_ops *ops = start(NULL, 0);
	T_ASSERT(ops != NULL);
	int port = hl_ops_port(ops);
	struct resp nf, post, head, del, v10, bad, bad2, h2;
	get(port, "/nope", &nf);
	const char *p = "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
	http(port, p, strlen(p), &post);
	p = "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	http(port, p, strlen(p), &head);
	p = "DELETE /metrics HTTP/1.1\r\n\r\n";
	http(port, p, strlen(p), &del);
	p = "GET /healthz HTTP/1.0\n\n";    /* bare LF line ends, HTTP/1.0 */
	http(port, p, strlen(p), &v10);
	p = "GARBAGE\r\n\r\n";
	http(port, p, strlen(p), &bad);
	p = "GET healthz HTTP/1.1\r\n\r\n";
	http(port, p, strlen(p), &bad2);
	p = "GET /healthz HTTP/2.0\r\n\r\n";
	http(port, p, strlen(p), &h2);
	hl_ops_stop(ops);
	T_EQ_INT(nf.status, 404);
	T_EQ_INT(post.status, 405);
	T_ASSERT(strstr(post.head, "\r\nAllow: GET, HEAD\r\n") != NULL);
	T_EQ_INT(head.status, 200);
	T_EQ_INT(head.body_len, 0);
	T_ASSERT(strstr(head.head, "\r\nContent-Length: 3\r\n") != NULL);
	T_EQ_INT(del.status, 405);
	T_EQ_INT(v10.status, 200);
	T_EQ_STR(v10.body, "ok\n");
	T_EQ_INT(bad.status, 400);
	T_EQ_INT(bad2.status, 400);
	T_EQ_INT(h2.status, 400);
}

static void test_oversize_request(void)
{
	hl_ops *ops = start(NULL, 0);
	T_ASSERT(ops != NULL);
	size_t n = 20000;
	char *req = malloc(n + 64);
	int k = snprintf(req, n + 64, "GET /healthz HTTP/1.1\r\nX-Big: ");
	memset(req + k, 'a', n);
	memcpy(req + k + n, "\r\n\r\n", 5);
	http(hl_ops_port(ops), req, strlen(req), &r);
	free(req);
	struct resp after;
	get(hl_ops_port(ops), "/healthz", &after);
	hl_ops_stop(ops);
	T_EQ_INT(r.status, 431);
	T_EQ_INT(after.status, 200);
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_slow_client_does_not_block(void)
{
	hl_ops *ops = start(NULL, 400);
	T_ASSERT(ops != NULL);
	int port = hl_ops_port(ops);
	struct timespec t0;

	int slow = connect_to(port);
	send_all(slow, "GET /hea", 8);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	get(port, "/healthz", &r);
	double fast_ms = elapsed_ms(&t0);
	struct resp timeout;
	read_resp(slow, &timeout);
	double slow_ms = elapsed_ms(&t0);
	close(slow);
	hl_ops_stop(ops);
	T_EQ_INT(r.status, 200);
	T_ASSERT(fast_ms < 200);
	T_EQ_INT(timeout.status, 408);
	T_ASSERT(slow_ms >= 300 && slow_ms < 3000);
}

static void test_all_slots_busy(void)
{
	hl_ops *ops = start(NULL, 300);
	T_ASSERT(ops != NULL);
	int port = hl_ops_port(ops);
	int idle[HL_OPS_MAX_CONNS + 2];
	for (int i = 0; i < HL_OPS_MAX_CONNS + 2; i++)
		idle[i] = connect_to(port);
	/* the extra request waits in the backlog until the idle ones time out */
	get(port, "/healthz", &r);
	for (int i = 0; i < HL_OPS_MAX_CONNS + 2; i++)
		close(idle[i]);
	hl_ops_stop(ops);
	T_EQ_INT(r.status, 200);
}

static void test_bind_errors(void)
{
	hl_ops *a = start(NULL, 0), *b = NULL;
	hl_error err;
	char addr[64];
	T_ASSERT(a != NULL);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", hl_ops_port(a));
	hl_status st = hl_ops_start(addr, NULL, &b, &err);
	hl_ops_stop(a);
	T_EQ_INT(st, HL_UNAVAILABLE);
	T_ASSERT(strstr(err.msg, addr) != NULL);
	T_ASSERT(strstr(err.msg, "in use") != NULL);

	T_EQ_INT(hl_ops_start("nonsense", NULL, &b, &err), HL_INVALID);
	T_ASSERT(strstr(err.msg, "nonsense") != NULL);
	T_EQ_INT(hl_ops_start("127.0.0.1:99999", NULL, &b, &err), HL_INVALID);
	T_EQ_INT(hl_ops_start("127.0.0.1:", NULL, &b, &err), HL_INVALID);
	T_EQ_INT(hl_ops_start("127.0.0.1:8x", NULL, &b, &err), HL_INVALID);
	T_EQ_INT(hl_ops_start("[::1:80", NULL, &b, &err), HL_INVALID);
	T_EQ_INT(hl_ops_start(NULL, NULL, &b, &err), HL_INVALID);
	T_EQ_INT(hl_ops_start("192.0.2.1:0", NULL, &b, &err), HL_UNAVAILABLE);  /* not ours */
	T_ASSERT(strstr(err.msg, "192.0.2.1:0") != NULL);
}

static void test_any_address_and_reuse(void)
{
	hl_ops *ops = NULL;
	T_EQ_INT(hl_ops_start(":0", NULL, &ops, NULL), HL_OK);
	int port = hl_ops_port(ops);
	get(port, "/healthz", &r);
	hl_ops_stop(ops);
	T_EQ_INT(r.status, 200);

	/* SO_REUSEADDR: the port can be bound again right after a connection */
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	T_EQ_INT(hl_ops_start(addr, NULL, &ops, NULL), HL_OK);
	get(port, "/healthz", &r);
	hl_ops_stop(ops);
	T_EQ_INT(r.status, 200);
}

static void test_stop_with_open_connection(void)
{
	hl_ops *ops = start(NULL, 0);
	T_ASSERT(ops != NULL);
	int fd = connect_to(hl_ops_port(ops));
	send_all(fd, "GET /", 5);
	usleep(50000);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	hl_ops_stop(ops);
	double ms = elapsed_ms(&t0);
	char c;
	ssize_t n = recv(fd, &c, 1, 0);     /* closed by the server */
	close(fd);
	T_ASSERT(ms < 1000);
	T_ASSERT(n <= 0);
}

int main(void)
{
	T_RUN(test_healthz);
	T_RUN(test_readyz);
	T_RUN(test_healthz_while_readiness_hangs);
	T_RUN(test_readyz_without_callback);
	T_RUN(test_metrics);
	T_RUN(test_not_found_and_methods);
	T_RUN(test_oversize_request);
	T_RUN(test_slow_client_does_not_block);
	T_RUN(test_all_slots_busy);
	T_RUN(test_bind_errors);
	T_RUN(test_any_address_and_reuse);
	T_RUN(test_stop_with_open_connection);
	return T_DONE();
}
