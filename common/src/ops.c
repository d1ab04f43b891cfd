/*
 * ops.c - the plain HTTP ops port: /healthz, /readyz, /metrics (see ops.h).
 *
 * One thread runs a poll(2) loop over a wake-up pipe, the listening socket
 * and up to HL_OPS_MAX_CONNS non-blocking connections.  Each connection goes
 * READ (collect the request head, bounded in size and time) -> WRITE (send
 * the whole response) -> LINGER (after shutdown(SHUT_WR), drain what the
 * client still sends until it closes, so that closing never resets the
 * connection before the client has read the response) -> closed.
 *
 * The readiness callback never runs on that thread: a second thread runs it
 * every HL_OPS_READY_INTERVAL_MS and keeps the last answer, which /readyz
 * serves (503 when it is older than HL_OPS_READY_STALE_MS: a check that
 * hangs, on a stopped database say, means not ready).  So /healthz and
 * /metrics always answer at once, whatever the dependencies do.
 */
#define _GNU_SOURCE             /* accept4, pipe2 */
#include "hl/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINGER_MS 1000

enum conn_state { C_FREE, C_READ, C_WRITE, C_LINGER };

struct conn {
	int fd;
	enum conn_state state;
	int64_t deadline;               /* monotonic ms */
	size_t in_len;
	char in[HL_OPS_MAX_REQUEST];
	hl_buf out;
	size_t out_off;
};

/* The last readiness answer, written by the checker thread, read by the serving thread. */
struct readiness {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool ok;
	int64_t at; /* monotonic ms of the last answer; 0: none yet */
	hl_buf body;
};

struct hl_ops {
	int lfd;
	int wake[2];
	int port;
	int64_t accept_pause_until;     /* after accept() ran out of descriptors */
	pthread_t thread;
	hl_ops_config cfg;
	struct readiness rd;
	struct conn conns[HL_OPS_MAX_CONNS];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connections ---- */

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = C_FREE;
	c->in_len = 0;
	c->out_off = 0;
	hl_buf_reset(&c->out);
}

static const char *reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* Queue a complete response and switch c to WRITE. */
static void respond(hl_ops *ops, struct conn *c, int code, const char *ctype,
		    const hl_buf *body, bool head_only)
{
	size_t blen = body ? body->len : 0;
	hl_buf_reset(&c->out);
	hl_buf_printf(&c->out,
		      "HTTP/1.1 %d %s\r\n"
		      "Content-Type: %s\r\n"
		      "Content-Length: %zu\r\n"
		      "Cache-Control: no-store\r\n"
		      "%s"
		      "Connection: close\r\n\r\n",
		      code, reason(code), ctype, blen,
		      code == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (blen && !head_only)
		hl_buf_append(&c->out, body->data, blen);
	if (hl_buf_failed(&c->out)) {
		conn_close(c);
		return;
	}
	c->state = C_WRITE;
	c->out_off = 0;
	c->deadline = now_ms() + ops->cfg.read_timeout_ms;
}

static void respond_text(hl_ops *ops, struct conn *c, int code, const char *text, bool head_only)
{
	hl_buf body = HL_BUF_INIT;
	hl_buf_puts(&body, text);
	respond(ops, c, code, "text/plain; charset=utf-8", &body, head_only);
	hl_buf_release(&body);
}

/*
 * The checker thread: run the readiness callback, publish its answer, sleep
 * HL_OPS_READY_INTERVAL_MS, until hl_ops_stop.
 */
static void *checker_main(void *arg)
{
	hl_ops *ops = arg;
	struct readiness *rd = &ops->rd;
	hl_buf body = HL_BUF_INIT;
	pthread_mutex_lock(&rd->mu);
	while (!rd->stop) {
		pthread_mutex_unlock(&rd->mu);
		hl_buf_reset(&body);
		bool ok = ops->cfg.ready(ops->cfg.ready_arg, &body);
		pthread_mutex_lock(&rd->mu);
		hl_buf tmp = rd->body;
		rd->body = body;
		body = tmp;
		rd->ok = ok;
		rd->at = now_ms();
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += HL_OPS_READY_INTERVAL_MS / 1000;
		until.tv_nsec += (long)(HL_OPS_READY_INTERVAL_MS % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		if (!rd->stop)
			pthread_cond_timedwait(&rd->cv, &rd->mu, &until);
	}
	pthread_mutex_unlock(&rd->mu);
	hl_buf_release(&body);
	return NULL;
}

/* Copy the last readiness answer into body; false when it is missing, stale or not ready. */
static bool last_readiness(hl_ops *ops, hl_buf *body)
{
	struct readiness *rd = &ops->rd;
	pthread_mutex_lock(&rd->mu);
	int64_t age = now_ms() - rd->at;
	bool ready = false;
	if (rd->at == 0) {
		hl_buf_puts(body, "readiness not checked yet\n");
	} else if (age > HL_OPS_READY_STALE_MS) {
		hl_buf_printf(body, "readiness check not answering for %lld ms\n", (long long)age);
	} else {
		hl_buf_append(body, rd->body.data, rd->body.len);
		ready = rd->ok;
	}
	pthread_mutex_unlock(&rd->mu);
	return ready;
}

static void serve_readyz(hl_ops *ops, struct conn *c, bool head_only)
{
	hl_buf body = HL_BUF_INIT;
	bool ready = true;
	if (ops->cfg.ready)
		ready = last_readiness(ops, &body);
	if (body.len == 0)
		hl_buf_puts(&body, ready ? "ok\n" : "not ready\n");
	if (hl_buf_failed(&body))
		respond_text(ops, c, 500, "out of memory\n", head_only);
	else
		respond(ops, c, ready ? 200 : 503, "text/plain; charset=utf-8", &body, head_only);
	hl_buf_release(&body);
}

static void serve_metrics(hl_ops *ops, struct conn *c, bool head_only)
{
	hl_buf body = HL_BUF_INIT;
	if (hl_metrics_render(ops->cfg.metrics, &body) != HL_OK)
		respond_text(ops, c, 500, "out of memory\n", head_only);
	else
		respond(ops, c, 200, "text/plain; version=0.0.4; charset=utf-8", &body, head_only);
	hl_buf_release(&body);
}

/* The request head is complete in c->in: answer it. */
static void serve(hl_ops *ops, struct conn *c)
{
	char *eol = memchr(c->in, '\n', c->in_len);
	if (!eol) {
		respond_text(ops, c, 400, "bad request\n", false);
		return;
	}
	*eol = '\0';
	if (eol > c->in && eol[-1] == '\r')
		eol[-1] = '\0';

	char *save = NULL;
	char *method = strtok_r(c->in, " ", &save);
	char *target = strtok_r(NULL, " ", &save);
	char *version = strtok_r(NULL, " ", &save);
	if (!method || !target || !version || strtok_r(NULL, " ", &save) ||
	    strncmp(version, "HTTP/1.", 7) != 0 || target[0] != '/') {
		respond_text(ops, c, 400, "bad request\n", false);
		return;
	}
	bool head_only = strcmp(method, "HEAD") == 0;
	if (!head_only && strcmp(method, "GET") != 0) {
		respond_text(ops, c, 405, "method not allowed\n", false);
		return;
	}
	target[strcspn(target, "?#")] = '\0';
	if (strcmp(target, "/healthz") == 0)
		respond_text(ops, c, 200, "ok\n", head_only);
	else if (strcmp(target, "/readyz") == 0)
		serve_readyz(ops, c, head_only);
	else if (strcmp(target, "/metrics") == 0 && ops->cfg.metrics)
		serve_metrics(ops, c, head_only);
	else
		respond_text(ops, c, 404, "not found\n", head_only);
}

/* Has the request head (up to the empty line) arrived? */
static bool head_complete(const struct conn *c)
{
	for (size_t i = 1; i < c->in_len; i++) {
		if (c->in[i] != '\n')
			continue;
		if (c->in[i - 1] == '\n')
			return true;
		if (i >= 2 && c->in[i - 1] == '\r' && c->in[i - 2] == '\n')
			return true;
	}
	return false;
}

static void on_readable(hl_ops *ops, struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			if (head_complete(c)) {
				serve(ops, c);
				return;
			}
			if (c->in_len == sizeof c->in) {
				respond_text(ops, c, 431, "request too large\n", false);
				return;
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c);          /* EOF before a full request, or an error */
		return;
	}
}

static void on_writable(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = C_LINGER;
	c->deadline = now_ms() + LINGER_MS;
}

static void on_linger(struct conn *c)
{
	char scratch[1024];
	for (;;) {
		ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c);
		return;
	}
}

static void on_deadline(hl_ops *ops, struct conn *c)
{
	if (c->state == C_READ)
		respond_text(ops, c, 408, "request timeout\n", false);
	else
		conn_close(c);
}

static void accept_all(hl_ops *ops)
{
	for (int i = 0; i < HL_OPS_MAX_CONNS; i++) {
		struct conn *c = &ops->conns[i];
		if (c->state != C_FREE)
			continue;
		int fd = accept4(ops->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* out of descriptors or memory: do not spin on the backlog */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				ops->accept_pause_until = now_ms() + 100;
			return;
		}
		c->fd = fd;
		c->state = C_READ;
		c->in_len = 0;
		c->deadline = now_ms() + ops->cfg.read_timeout_ms;
	}
}

/* ---- the thread ---- */

static void *ops_main(void *arg)
{
	hl_ops *ops = arg;
	struct pollfd pfd[2 + HL_OPS_MAX_CONNS];
	struct conn *who[2 + HL_OPS_MAX_CONNS];

	for (;;) {
		int64_t now = now_ms(), next = -1;
		nfds_t n = 2;
		bool room = false;

		pfd[0] = (struct pollfd){.fd = ops->wake[0], .events = POLLIN};
		for (int i = 0; i < HL_OPS_MAX_CONNS; i++) {
			struct conn *c = &ops->conns[i];
			if (c->state == C_FREE) {
				room = true;
				continue;
			}
			if (c->deadline <= now) {
				on_deadline(ops, c);
				if (c->state == C_FREE) {
					room = true;
					continue;
				}
			}
			pfd[n] = (struct pollfd){.fd = c->fd,
						 .events = c->state == C_WRITE ? POLLOUT : POLLIN};
			who[n++] = c;
			if (next < 0 || c->deadline < next)
				next = c->deadline;
		}
		if (room && ops->accept_pause_until > now) {
			room = false;
			if (next < 0 || ops->accept_pause_until < next)
				next = ops->accept_pause_until;
		}
		pfd[1] = (struct pollfd){.fd = room ? ops->lfd : -1, .events = POLLIN};

		int timeout = next < 0 ? -1 : (int)(next > now ? next - now : 0);
		int r = poll(pfd, n, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if (pfd[0].revents)
			break;
		for (nfds_t i = 2; i < n; i++) {
			struct conn *c = who[i];
			if (!pfd[i].revents)
				continue;
			if (c->state == C_READ)
				on_readable(ops, c);
			else if (c->state == C_WRITE)
				on_writable(c);
			else if (c->state == C_LINGER)
				on_linger(c);
			/* a response queued by on_readable is sent right away */
			if (c->state == C_WRITE)
				on_writable(c);
		}
		if (pfd[1].revents)
			accept_all(ops);
	}
	return NULL;
}

/* ---- start and stop ---- */

/* Split "host:port", "[v6]:port" or ":port" into host (NULL = any) and port. */
static hl_status split_address(const char *addr, char *host, size_t hsize, char *port,
			       size_t psize, hl_error *err)
{
	const char *colon, *h = addr;
	size_t hlen;

	if (!addr)
		return hl_fail(err, HL_INVALID, "ops: no listen address");
	if (addr[0] == '[') {
		const char *close_br = strchr(addr, ']');
		if (!close_br || close_br[1] != ':')
			goto bad;
		h = addr + 1;
		hlen = (size_t)(close_br - h);
		colon = close_br + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			goto bad;
		hlen = (size_t)(colon - addr);
	}
	const char *p = colon + 1;
	size_t plen = strlen(p);
	if (plen == 0 || plen >= psize || hlen >= hsize || strspn(p, "0123456789") != plen ||
	    atol(p) > 65535)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, p, plen + 1);
	return HL_OK;
bad:
	return hl_fail(err, HL_INVALID, "ops: listen address %s: expected host:port", addr);
}

static hl_status open_listener(hl_ops *ops, const char *addr, hl_error *err)
{
	char host[256], port[8];
	struct addrinfo hints = {0}, *res = NULL;
	int e = 0;

	hl_status st = split_address(addr, host, sizeof host, port, sizeof port, err);
	if (st != HL_OK)
		return st;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0)
		return hl_fail(err, HL_UNAVAILABLE, "ops: cannot listen on %s: %s", addr,
			       gai_strerror(rc));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) {
			ops->lfd = fd;
			break;
		}
		e = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (ops->lfd < 0)
		return hl_fail(err, HL_UNAVAILABLE, "ops: cannot listen on %s: %s", addr,
			       strerror(e ? e : EADDRNOTAVAIL));

	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(ops->lfd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			ops->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			ops->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return HL_OK;
}

/* Start the checker thread (signals blocked by the caller). */
static int start_checker(hl_ops *ops)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ops->rd.cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&ops->rd.thread, NULL, checker_main, ops);
	ops->rd.started = rc == 0;
	return rc;
}

/* Stop the checker thread: it finishes the check in hand (which bounds its own waiting). */
static void stop_checker(hl_ops *ops)
{
	struct readiness *rd = &ops->rd;
	if (!rd->started)
		return;
	pthread_mutex_lock(&rd->mu);
	rd->stop = true;
	pthread_cond_signal(&rd->cv);
	pthread_mutex_unlock(&rd->mu);
	pthread_join(rd->thread, NULL);
	pthread_cond_destroy(&rd->cv);
	rd->started = false;
}

static void ops_free(hl_ops *ops)
{
	stop_checker(ops);
	pthread_mutex_destroy(&ops->rd.mu);
	hl_buf_release(&ops->rd.body);
	for (int i = 0; i < HL_OPS_MAX_CONNS; i++) {
		conn_close(&ops->conns[i]);
		hl_buf_release(&ops->conns[i].out);
	}
	if (ops->lfd >= 0)
		close(ops->lfd);
	if (ops->wake[0] >= 0)
		close(ops->wake[0]);
	if (ops->wake[1] >= 0)
		close(ops->wake[1]);
	free(ops);
}

hl_status hl_ops_start(const char *addr, const hl_ops_config *cfg, hl_ops **out, hl_error *err)
{
	hl_status st;
	hl_ops *ops = calloc(1, sizeof *ops);
	if (!ops)
		return hl_fail(err, HL_NOMEM, "ops: out of memory");
	ops->lfd = -1;
	ops->wake[0] = ops->wake[1] = -1;
	pthread_mutex_init(&ops->rd.mu, NULL);
	hl_buf_init(&ops->rd.body);
	for (int i = 0; i < HL_OPS_MAX_CONNS; i++) {
		ops->conns[i].fd = -1;
		hl_buf_init(&ops->conns[i].out);
	}
	if (cfg)
		ops->cfg = *cfg;
	if (ops->cfg.read_timeout_ms <= 0)
		ops->cfg.read_timeout_ms = HL_OPS_READ_TIMEOUT_MS;

	if (pipe2(ops->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		st = hl_fail(err, HL_INTERNAL, "ops: pipe: %s", strerror(errno));
		goto fail;
	}
	st = open_listener(ops, addr, err);
	if (st != HL_OK)
		goto fail;

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = ops->cfg.ready ? start_checker(ops) : 0;
	if (rc == 0)
		rc = pthread_create(&ops->thread, NULL, ops_main, ops);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		st = hl_fail(err, HL_INTERNAL, "ops: cannot start thread: %s", strerror(rc));
		goto fail;
	}
	*out = ops;
	return HL_OK;
fail:
	ops_free(ops);
	return st;
}

int hl_ops_port(const hl_ops *ops)
{
	return ops ? ops->port : 0;
}

void hl_ops_stop(hl_ops *ops)
{
	if (!ops)
		return;
	ssize_t w;
	do
		w = write(ops->wake[1], "x", 1);
	while (w < 0 && errno == EINTR);
	pthread_join(ops->thread, NULL);
	ops->thread = 0;
	ops_free(ops);
}
