/*
 * test_config.c - unit tests of the environment configuration tables
 * (config.c): defaults, parsing of every type, bounds, reporting all
 * problems at once without values, --help text and the masked dump.
 */
#include "hl/config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hl/log.h"
#include "t.h"

struct cfg {
	char *dsn;
	char *secret;
	char *name;
	char *cert;
	long long workers;
	long long grace_ms;
	long long poll_ms;
	bool tls;
	bool debug;
};

#define OFF(f) offsetof(struct cfg, f)

static const hl_config_item items[] = {
	{"HLT_DSN", HL_CFG_STRING, NULL, 0, 0, OFF(dsn), "PostgreSQL URI", true},
	{"HLT_SECRET", HL_CFG_STRING, "dev-secret-0123456789", 16, 512, OFF(secret),
	 "HS256 key", true},
	{"HLT_NAME", HL_CFG_STRING, "intake", 0, 0, OFF(name), "service name", false},
	{"HLT_CERT", HL_CFG_PATH, "/etc/hotline/cert.pem", 0, 0, OFF(cert), "certificate", false},
	{"HLT_WORKERS", HL_CFG_INT, "4", 1, 256, OFF(workers), "handler threads", false},
	{"HLT_GRACE", HL_CFG_DURATION_MS, "10s", 0, 600000, OFF(grace_ms), "shutdown grace", false},
	{"HLT_POLL", HL_CFG_DURATION_MS, "500ms", 0, 0, OFF(poll_ms), "poll interval", false},
	{"HLT_TLS", HL_CFG_BOOL, "true", 0, 0, OFF(tls), "serve TLS", false},
	{"HLT_DEBUG", HL_CFG_BOOL, "off", 0, 0, OFF(debug), "debug mode", false},
};
#define N_ITEMS (sizeof items / sizeof items[0])

static void clear_env(void)
{
	for (size_t i = 0; i < N_ITEMS; i++)
		unsetenv(items[i].env);
}

static void test_defaults(void)
{
	struct cfg c = {0};
	hl_error err;
	clear_env();
	setenv("HLT_DSN", "postgresql://u@127.0.0.1:7020/db", 1);
	hl_status st = hl_config_load(items, N_ITEMS, &c, &err);
	if (st != HL_OK)
		T_FAILF("load: %s", err.msg);
	T_EQ_STR(c.dsn, "postgresql://u@127.0.0.1:7020/db");
	T_EQ_STR(c.secret, "dev-secret-0123456789");
	T_EQ_STR(c.name, "intake");
	T_EQ_STR(c.cert, "/etc/hotline/cert.pem");
	T_EQ_INT(c.workers, 4);
	T_EQ_INT(c.grace_ms, 10000);
	T_EQ_INT(c.poll_ms, 500);
	T_ASSERT(c.tls);
	T_ASSERT(!c.debug);
	hl_config_release(items, N_ITEMS, &c);
	T_ASSERT(c.dsn == NULL && c.secret == NULL && c.name == NULL && c.cert == NULL);
}

static void test_environment_overrides(void)
{
	struct cfg c = {0};
	hl_error err;
	clear_env();
	setenv("HLT_DSN", "x", 1);
	setenv("HLT_NAME", "", 1);             /* empty = unset: the default */
	setenv("HLT_WORKERS", "+256", 1);
	setenv("HLT_GRACE", "2m", 1);
	setenv("HLT_POLL", "1500", 1);
	setenv("HLT_TLS", "No", 1);
	setenv("HLT_DEBUG", "YES", 1);
	setenv("HLT_CERT", "/tmp/a b/cert.pem", 1);
	hl_status st = hl_config_load(items, N_ITEMS, &c, &err);
	if (st != HL_OK)
		T_FAILF("load: %s", err.msg);
	struct cfg copy = c;
	hl_config_release(items, N_ITEMS, &c);
	T_EQ_INT(copy.workers, 256);
	T_EQ_INT(copy.grace_ms, 120000);
	T_EQ_INT(copy.poll_ms, 1500);
	T_ASSERT(!copy.tls);
	T_ASSERT(copy.debug);
	clear_env();
}

static void test_duration_forms(void)
{
	static const struct {
		const char *in;
		long long ms;
	} ok[] = {{"0", 0}, {"500ms", 500}, {"5s", 5000}, {"2m", 120000}, {"1h", 3600000},
		  {"600000", 600000}, {"10m", 600000}};
	static const char *const bad[] = {"", "5 s", "-5s", "1.5s", "5d", "s", "5sec", "ms",
					  "99999999999999999999", "9999999999999999h", "10m1s"};
	static const hl_config_item it[] = {
		{"HLT_D", HL_CFG_DURATION_MS, NULL, 0, 0, 0, "d", false},
	};
	long long v;
	hl_error err;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		setenv("HLT_D", ok[i].in, 1);
		v = -1;
		if (hl_config_load(it, 1, &v, &err) != HL_OK || v != ok[i].ms)
			T_FAILF("%s -> %lld", ok[i].in, v);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("HLT_D", bad[i], 1);
		hl_status st = hl_config_load(it, 1, &v, &err);
		if (st != HL_INVALID)
			T_FAILF("\"%s\" accepted", bad[i]);
		const char *want = bad[i][0] ? "HLT_D: must be a duration such as 500ms, 5s, 2m or 1h"
					     : "HLT_D: required";
		if (strcmp(err.msg, want) != 0)
			T_FAILF("\"%s\": %s", bad[i], err.msg);
	}
	unsetenv("HLT_D");
}

static void test_int_forms(void)
{
	static const hl_config_item it[] = {
		{"HLT_I", HL_CFG_INT, NULL, 0, 0, 0, "i", false},
	};
	static const char *const bad[] = {" 5", "5 ", "0x10", "1e3", "abc",
					  "99999999999999999999", "--1"};
	long long v = 0;
	hl_error err;
	setenv("HLT_I", "-9223372036854775808", 1);
	T_EQ_INT(hl_config_load(it, 1, &v, &err), HL_OK);
	T_ASSERT(v == (-9223372036854775807LL - 1));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("HLT_I", bad[i], 1);
		if (hl_config_load(it, 1, &v, &err) != HL_INVALID)
			T_FAILF("\"%s\" accepted", bad[i]);
		T_EQ_STR(err.msg, "HLT_I: must be an integer");
	}
	unsetenv("HLT_I");
}

static void test_all_problems_at_once(void)
{
	struct cfg c = {0};
	hl_error err;
	clear_env();
	setenv("HLT_SECRET", "short-secret", 1);        /* 12 bytes < 16 */
	setenv("HLT_WORKERS", "0", 1);
	setenv("HLT_GRACE", "11m", 1);
	setenv("HLT_TLS", "maybe", 1);
	setenv("HLT_CERT", "/tmp/bad\npath", 1);
	setenv("HLT_NAME", "fine", 1);
	T_EQ_INT(hl_config_load(items, N_ITEMS, &c, &err), HL_INVALID);
	T_EQ_STR(err.msg, "HLT_DSN: required; "
			  "HLT_SECRET: must be between 16 and 512 bytes long; "
			  "HLT_CERT: path contains control characters; "
			  "HLT_WORKERS: must be between 1 and 256; "
			  "HLT_GRACE: must be between 0ms and 10m; "
			  "HLT_TLS: must be true or false");
	T_ASSERT(strstr(err.msg, "short-secret") == NULL);
	T_ASSERT(strstr(err.msg, "maybe") == NULL);
	/* nothing stays allocated after a failed load */
	T_ASSERT(c.dsn == NULL && c.secret == NULL && c.name == NULL && c.cert == NULL);
	clear_env();
}

static void test_bad_default_is_reported(void)
{
	static const hl_config_item it[] = {
		{"HLT_X", HL_CFG_INT, "four", 0, 0, 0, "x", false},
	};
	long long v;
	hl_error err;
	unsetenv("HLT_X");
	T_EQ_INT(hl_config_load(it, 1, &v, &err), HL_INVALID);
	T_EQ_STR(err.msg, "HLT_X: invalid default, must be an integer");
}

static void test_path_rules(void)
{
	static const hl_config_item it[] = {
		{"HLT_P", HL_CFG_PATH, "", 0, 0, 0, "p", false},
	};
	char *p = NULL;
	hl_error err;
	unsetenv("HLT_P");
	T_EQ_INT(hl_config_load(it, 1, &p, &err), HL_INVALID);
	T_EQ_STR(err.msg, "HLT_P: must be a non-empty path");
	T_ASSERT(p == NULL);
	char *longp = malloc(PATH_MAX + 10);
	memset(longp, 'a', PATH_MAX + 9);
	longp[PATH_MAX + 9] = '\0';
	setenv("HLT_P", longp, 1);
	free(longp);
	T_EQ_INT(hl_config_load(it, 1, &p, &err), HL_INVALID);
	T_EQ_STR(err.msg, "HLT_P: path too long");
	setenv("HLT_P", "relative/ok.pem", 1);
	T_EQ_INT(hl_config_load(it, 1, &p, &err), HL_OK);
	T_EQ_STR(p, "relative/ok.pem");
	hl_config_release(it, 1, &p);
	T_ASSERT(p == NULL);
	unsetenv("HLT_P");
}

static void test_many_problems_are_counted(void)
{
	hl_config_item many[40];
	char names[40][32];
	long long vals[40];
	hl_error err;
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof names[i], "HLT_REQUIRED_VARIABLE_%02d", i);
		unsetenv(names[i]);
		many[i] = (hl_config_item){names[i], HL_CFG_INT, NULL, 0, 0,
					   (size_t)i * sizeof(long long), "r", false};
	}
	T_EQ_INT(hl_config_load(many, 40, vals, &err), HL_INVALID);
	T_ASSERT(strncmp(err.msg, "HLT_REQUIRED_VARIABLE_00: required; ", 36) == 0);
	const char *more = strstr(err.msg, "; and ");
	T_ASSERT(more != NULL);
	int listed = 0, rest = 0;
	for (const char *s = err.msg; (s = strstr(s, ": required")); s++)
		listed++;
	T_EQ_INT(sscanf(more, "; and %d more", &rest), 1);
	T_EQ_INT(listed + rest, 40);
	T_ASSERT(strlen(err.msg) < sizeof err.msg - 1);
}

static void test_usage(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	hl_config_usage(f, "intake", "Hotline intake service.", items, N_ITEMS);
	fclose(f);
	T_ASSERT(strstr(text, "Usage: intake [--help]\nHotline intake service.\n") == text);
	T_ASSERT(strstr(text, "  VARIABLE     TYPE      DEFAULT                DESCRIPTION\n"));
	T_ASSERT(strstr(text, "  HLT_DSN      string    (required)             PostgreSQL URI "
			      "[secret]\n"));
	T_ASSERT(strstr(text, "  HLT_SECRET   string    (secret)               HS256 key "
			      "(16..512 bytes) [secret]\n"));
	T_ASSERT(strstr(text, "dev-secret") == NULL);
	T_ASSERT(strstr(text, "  HLT_CERT     path      /etc/hotline/cert.pem  certificate\n"));
	T_ASSERT(strstr(text, "  HLT_WORKERS  int       4                      handler threads "
			      "(1..256)\n"));
	T_ASSERT(strstr(text, "  HLT_GRACE    duration  10s                    shutdown grace "
			      "(0ms..10m)\n"));
	T_ASSERT(strstr(text, "  HLT_TLS      bool      true                   serve TLS\n"));
	free(text);
}

static void test_format_and_dump(void)
{
	struct cfg c = {0};
	hl_error err;
	clear_env();
	setenv("HLT_DSN", "postgresql://user:pw-canary-7731@db/x", 1);
	setenv("HLT_NAME", "my service", 1);
	setenv("HLT_GRACE", "90s", 1);
	T_EQ_INT(hl_config_load(items, N_ITEMS, &c, &err), HL_OK);
	char buf[64];
	T_EQ_STR(hl_config_format(&items[0], &c, buf, sizeof buf), "***");
	T_EQ_STR(hl_config_format(&items[5], &c, buf, sizeof buf), "90s");
	T_EQ_STR(hl_config_format(&items[6], &c, buf, sizeof buf), "500ms");
	T_EQ_STR(hl_config_format(&items[7], &c, buf, sizeof buf), "true");

	char path[] = "/tmp/test_config_XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	hl_log_set_level(HL_LOG_INFO);
	hl_config_dump(items, N_ITEMS, &c);
	dup2(saved, STDERR_FILENO);
	close(saved);
	char out[8192];
	ssize_t n = pread(fd, out, sizeof out - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	hl_config_release(items, N_ITEMS, &c);
	clear_env();
	T_ASSERT(strstr(out, "event=config var=HLT_DSN value=***\n") != NULL);
	T_ASSERT(strstr(out, "event=config var=HLT_SECRET value=***\n") != NULL);
	T_ASSERT(strstr(out, "event=config var=HLT_NAME value=\"my service\"\n") != NULL);
	T_ASSERT(strstr(out, "event=config var=HLT_WORKERS value=4\n") != NULL);
	T_ASSERT(strstr(out, "event=config var=HLT_GRACE value=90s\n") != NULL);
	T_ASSERT(strstr(out, "canary") == NULL);
	T_ASSERT(strstr(out, "dev-secret") == NULL);
}

int main(void)
{
	T_RUN(test_defaults);
	T_RUN(test_environment_overrides);
	T_RUN(test_duration_forms);
	T_RUN(test_int_forms);
	T_RUN(test_all_problems_at_once);
	T_RUN(test_bad_default_is_reported);
	T_RUN(test_path_rules);
	T_RUN(test_many_problems_are_counted);
	T_RUN(test_usage);
	T_RUN(test_format_and_dump);
	return T_DONE();
}
