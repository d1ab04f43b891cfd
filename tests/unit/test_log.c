/*
 * test_log.c - unit tests of the key=value logger (log.c).
 *
 * stderr is redirected (dup2) to a temporary file while a test logs, then
 * restored before its assertions, so that harness messages stay visible.
 */
#include "hl/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"

static int saved_fd = -1, cap_fd = -1;

static void capture_begin(void)
{
	char path[] = "/tmp/test_log_XXXXXX";
	fflush(stderr);
	cap_fd = mkstemp(path);
	unlink(path);
	saved_fd = dup(STDERR_FILENO);
	dup2(cap_fd, STDERR_FILENO);
}

/* Restore stderr and return what was written (malloc'd, caller frees). */
static char *capture_end(void)
{
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	off_t n = lseek(cap_fd, 0, SEEK_END);
	char *s = malloc((size_t)n + 1);
	ssize_t got = pread(cap_fd, s, (size_t)n, 0);
	s[got > 0 ? got : 0] = '\0';
	close(cap_fd);
	return s;
}

static int count_char(const char *s, char c)
{
	int k = 0;
	for (; *s; s++)
		k += *s == c;
	return k;
}

static void test_line_format(void)
{
	hl_log_set_service("intake");
	hl_log_set_level(HL_LOG_INFO);
	capture_begin();
	HL_LOG_INFO("rpc", "method=%s status=%s ms=%.1f tenant=%s", "/hotline.intake.v1.IntakeService/"
		    "CreateTicket", "OK", 3.21, "demo");
	char *out = capture_end();
	regex_t re;
	T_EQ_INT(regcomp(&re, "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
			 "level=info svc=intake event=rpc method=/hotline\\.intake\\.v1\\."
			 "IntakeService/CreateTicket status=OK ms=3\\.2 tenant=demo\n$",
			 REG_EXTENDED), 0);
	int rc = regexec(&re, out, 0, NULL, 0);
	regfree(&re);
	if (rc != 0)
		T_FAILF("line did not match: %s", out);
	free(out);
}

static void test_event_without_fields(void)
{
	hl_log_set_service("svc with space");
	capture_begin();
	HL_LOG_WARN("started");
	HL_LOG_ERROR("bad event");
	hl_log_write(HL_LOG_INFO, "direct", "a=%d", 1);
	hl_log_write(HL_LOG_INFO, "direct2", NULL);
	char *out = capture_end();
	hl_log_set_service("intake");
	T_ASSERT(strstr(out, " level=warn svc=\"svc with space\" event=started\n") != NULL);
	T_ASSERT(strstr(out, " level=error svc=\"svc with space\" event=\"bad event\"\n") != NULL);
	T_ASSERT(strstr(out, " event=direct a=1\n") != NULL);
	T_ASSERT(strstr(out, " event=direct2\n") != NULL);
	T_EQ_INT(count_char(out, '\n'), 4);
	free(out);
}

static int evaluated;

static const char *side_effect(void)
{
	evaluated++;
	return "x";
}

static void test_disabled_level_skips_arguments(void)
{
	hl_log_set_level(HL_LOG_WARN);
	evaluated = 0;
	capture_begin();
	HL_LOG_DEBUG("dbg", "v=%s", side_effect());
	HL_LOG_INFO("inf", "v=%s", side_effect());
	HL_LOG_WARN("wrn", "v=%s", side_effect());
	HL_LOG_ERROR("err", "v=%s", side_effect());
	hl_log_write(HL_LOG_INFO, "direct", "v=1");     /* direct calls obey the level too */
	char *out = capture_end();
	hl_log_set_level(HL_LOG_INFO);
	T_EQ_INT(evaluated, 2);
	T_ASSERT(strstr(out, "event=dbg") == NULL);
	T_ASSERT(strstr(out, "event=inf") == NULL);
	T_ASSERT(strstr(out, "event=direct") == NULL);
	T_ASSERT(strstr(out, "level=warn svc=intake event=wrn v=x\n") != NULL);
	T_ASSERT(strstr(out, "level=error svc=intake event=err v=x\n") != NULL);
	T_ASSERT(!hl_log_enabled(HL_LOG_DEBUG));
	T_ASSERT(hl_log_enabled(HL_LOG_ERROR));
	free(out);
}

static void test_quote(void)
{
	char b[64];
	T_EQ_STR(hl_log_quote(b, sizeof b, "plain-value_1.2/x"), "plain-value_1.2/x");
	T_EQ_STR(hl_log_quote(b, sizeof b, ""), "\"\"");
	T_EQ_STR(hl_log_quote(b, sizeof b, NULL), "\"\"");
	T_EQ_STR(hl_log_quote(b, sizeof b, "a b"), "\"a b\"");
	T_EQ_STR(hl_log_quote(b, sizeof b, "say \"hi\""), "\"say \\\"hi\\\"\"");
	T_EQ_STR(hl_log_quote(b, sizeof b, "a=b"), "\"a=b\"");
	T_EQ_STR(hl_log_quote(b, sizeof b, "back\\slash"), "\"back\\\\slash\"");
	T_EQ_STR(hl_log_quote(b, sizeof b, "x\ny\r\tz"), "\"x\\ny\\r\\tz\"");
	T_EQ_STR(hl_log_quote(b, sizeof b, "\x01\x7f"), "\"\\x01\\x7f\"");
	T_EQ_STR(hl_log_quote(b, sizeof b, "工单"), "\"工单\"");
}

static void test_quote_truncation(void)
{
	char b[12];
	/* plain: cut with ... */
	T_EQ_STR(hl_log_quote(b, sizeof b, "abcdefghijklmnop"), "abcdefgh...");
	/* exactly fitting */
	T_EQ_STR(hl_log_quote(b, sizeof b, "abcdefghijk"), "abcdefghijk");
	/* quoted: closing quote kept */
	T_EQ_STR(hl_log_quote(b, sizeof b, "a b c d e f g h"), "\"a b c ...\"");
	T_EQ_STR(hl_log_quote(b, sizeof b, "a b c d e"), "\"a b c d e\"");
	/* an escape is never cut in half */
	T_EQ_STR(hl_log_quote(b, sizeof b, "ab\"\"\"\"\"\""), "\"ab\\\"\\\"...\"");
	/* a UTF-8 character is never cut in half: 3 bytes each */
	T_EQ_STR(hl_log_quote(b, sizeof b, "工单工单工单"), "\"工单...\"");
	T_EQ_STR(hl_log_quote(b, sizeof b, "a工单工单"), "\"a工...\"");
	char tiny[4];
	T_EQ_STR(hl_log_quote(tiny, sizeof tiny, "whatever"), "\"\"");
}

static void test_tail_control_bytes_escaped(void)
{
	capture_begin();
	HL_LOG_INFO("inject", "msg=%s", "a\nlevel=error fake=1\r\x1b[31m");
	char *out = capture_end();
	T_EQ_INT(count_char(out, '\n'), 1);
	T_ASSERT(strstr(out, "msg=a\\nlevel=error fake=1\\r\\x1b[31m\n") != NULL);
	free(out);
}

static void test_long_line_truncated(void)
{
	char *big = malloc(10001);
	memset(big, 'x', 10000);
	big[10000] = '\0';
	big[5000] = ' ';                /* forces quoting */
	char *q = malloc(20010);
	hl_log_quote(q, 20010, big);
	capture_begin();
	HL_LOG_INFO("big", "detail=%s", q);
	HL_LOG_INFO("after");
	char *out = capture_end();
	free(q);
	free(big);
	char *nl = strchr(out, '\n');
	T_ASSERT(nl != NULL);
	size_t len = (size_t)(nl - out) + 1;
	T_ASSERT(len <= HL_LOG_LINE_MAX);
	T_ASSERT(len > HL_LOG_LINE_MAX - 40);
	T_ASSERT(strncmp(nl - 13, "\" truncated=1", 13) == 0);      /* quote closed */
	T_ASSERT(strstr(nl + 1, "event=after\n") != NULL);
	free(out);
}

static void test_truncation_keeps_utf8_and_escapes(void)
{
	/* 2000 x "工" = 6000 bytes, unquoted in the tail on purpose */
	char *big = malloc(6001);
	for (int i = 0; i < 2000; i++)
		memcpy(big + 3 * i, "工", 3);
	big[6000] = '\0';
	capture_begin();
	HL_LOG_INFO("utf8", "v=%s", big);
	char *out = capture_end();
	free(big);
	char *mark = strstr(out, " truncated=1\n");
	T_ASSERT(mark != NULL);
	/* the bytes before the mark end with a whole character */
	T_ASSERT(strncmp(mark - 3, "工", 3) == 0);
	free(out);
}

static void test_level_parse(void)
{
	hl_log_level l = HL_LOG_ERROR;
	hl_error err;
	T_EQ_INT(hl_log_level_parse("DEBUG", &l, &err), HL_OK);
	T_EQ_INT(l, HL_LOG_DEBUG);
	T_EQ_INT(hl_log_level_parse("info", &l, &err), HL_OK);
	T_EQ_INT(l, HL_LOG_INFO);
	T_EQ_INT(hl_log_level_parse("Warning", &l, &err), HL_OK);
	T_EQ_INT(l, HL_LOG_WARN);
	T_EQ_INT(hl_log_level_parse("warn", &l, &err), HL_OK);
	T_EQ_INT(hl_log_level_parse("error", &l, &err), HL_OK);
	T_EQ_INT(l, HL_LOG_ERROR);
	T_EQ_INT(hl_log_level_parse("verbose", &l, &err), HL_INVALID);
	T_EQ_STR(err.msg, "log level: must be debug, info, warn or error");
	T_EQ_INT(hl_log_level_parse(NULL, &l, NULL), HL_INVALID);
	T_EQ_INT(l, HL_LOG_ERROR);
	T_EQ_STR(hl_log_level_name(HL_LOG_WARN), "warn");
	hl_log_set_level(HL_LOG_DEBUG);
	T_EQ_INT(hl_log_get_level(), HL_LOG_DEBUG);
	hl_log_set_level(HL_LOG_INFO);
}

static void *log_many(void *arg)
{
	int id = (int)(long)arg;
	for (int i = 0; i < 500; i++)
		HL_LOG_INFO("tick", "thread=%d i=%d pad=%s", id, i,
			    "0123456789012345678901234567890123456789");
	return NULL;
}

static void test_concurrent_lines_do_not_interleave(void)
{
	pthread_t th[4];
	capture_begin();
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, log_many, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	char *out = capture_end();
	int lines = 0, bad = 0;
	for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		lines++;
		if (strncmp(p, "ts=", 3) != 0 ||
		    strcmp(nl - 45, " pad=0123456789012345678901234567890123456789") != 0 ||
		    count_char(p, '=') != 7)
			bad++;
	}
	free(out);
	T_EQ_INT(lines, 2000);
	T_EQ_INT(bad, 0);
}

int main(void)
{
	T_RUN(test_line_format);
	T_RUN(test_event_without_fields);
	T_RUN(test_disabled_level_skips_arguments);
	T_RUN(test_quote);
	T_RUN(test_quote_truncation);
	T_RUN(test_tail_control_bytes_escaped);
	T_RUN(test_long_line_truncated);
	T_RUN(test_truncation_keeps_utf8_and_escapes);
	T_RUN(test_level_parse);
	T_RUN(test_concurrent_lines_do_not_interleave);
	return T_DONE();
}
