/*
 * main.c - hotline-timerpeer: configuration, command line, output helpers,
 * `migrate`, and the dispatch to the subcommands (see README.md).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hl/config.h"
#include "hl/log.h"
#include "hl/migrate.h"
#include "timerpeer.h"

#define C(field) offsetof(tp_config, field)
static const hl_config_item items[] = {
	{"HOTLINE_DB_DSN", HL_CFG_STRING, NULL, 0, 0, C(db_dsn), "PostgreSQL DSN of the runtime role", true},
	{"HOTLINE_DB_OWNER_DSN", HL_CFG_STRING, "", 0, 0, C(db_owner_dsn), "PostgreSQL DSN of the schema owner (migrate)", true},
	{"HOTLINE_DB_SYSTEM_DSN", HL_CFG_STRING, "", 0, 0, C(db_system_dsn), "PostgreSQL DSN of the system role (work)", true},
	{"HOTLINE_DB_SCHEMA", HL_CFG_STRING, TP_SERVICE, 1, 63, C(db_schema), "schema", false},
	{"HOTLINE_DB_RUNTIME_ROLE", HL_CFG_STRING, TP_SERVICE "_runtime", 1, 63, C(runtime_role), "runtime role", false},
	{"HOTLINE_DB_SYSTEM_ROLE", HL_CFG_STRING, TP_SERVICE "_system", 1, 63, C(system_role), "system role", false},
	{"HOTLINE_REDIS_URL", HL_CFG_STRING, "redis://127.0.0.1:6379", 0, 0, C(redis_url), "Redis URL redis://host:port", false},
	{"HOTLINE_REDIS_PREFIX", HL_CFG_STRING, "hotline", 0, 64, C(redis_prefix), "prefix of every Redis key", false},
	{"HOTLINE_LOG_LEVEL", HL_CFG_STRING, "info", 0, 0, C(log_level), "debug, info, warn or error", false},
	{"HOTLINE_TIMER_THREADS", HL_CFG_INT, "2", 1, 16, C(timer_threads), "timer worker threads (work --threads)", false},
	{"HOTLINE_TIMER_LEASE_MS", HL_CFG_DURATION_MS, "30s", 100, 3600000, C(timer_lease_ms), "exclusive claim of a due timer", false},
	{"HOTLINE_TIMER_RESEED_MS", HL_CFG_DURATION_MS, "5m", 1000, 86400000, C(timer_reseed_ms), "periodic re-seed of Redis from PostgreSQL", false},
	{"HOTLINE_TIMER_BATCH", HL_CFG_INT, "256", 1, 10000, C(timer_batch), "timers claimed at once", false},
	{"HOTLINE_TIMER_POLL_MS", HL_CFG_DURATION_MS, "50ms", 1, 10000, C(timer_poll_ms), "sleep when nothing is due", false},
};
#define N_ITEMS (sizeof items / sizeof items[0])

static const char usage_text[] =
	"usage: hotline-timerpeer COMMAND [options]   (HOTLINE_* settings: hotline-timerpeer --help)\n"
	"  migrate\n"
	"  schedule N --spread-ms S [--delay-ms D] [--tenant T] [--key-prefix P] [--batch B] [--threads K]\n"
	"             [--no-push] [--align-second] [--revised]\n"
	"  work [--threads K] [--lease-ms L] [--reseed-ms R] [--batch B] [--stall-ms MS]\n"
	"       (stdin lines: schedule N SPREAD_MS DELAY_MS KEY_PREFIX [TENANT])\n"
	"  lock NAME --hold-ms H --lease-ms L --write V [--holder X] [--linger-ms M] [--tenant T]\n"
	"  singleton NAME --lease-ms L --interval-ms I [--holder X] [--job-ms J] [--tenant T]\n"
	"exit codes: 0 ok (lock: written), 1 error, 2 usage, 3 lock busy, 4 fenced write refused\n";

/* Options that take no value. */
static bool is_flag(const char *name)
{
	return strcmp(name, "--no-push") == 0 || strcmp(name, "--align-second") == 0 || strcmp(name, "--revised") == 0;
}

static bool parse_args(int argc, char **argv, tp_args *a)
{
	memset(a, 0, sizeof *a);
	a->cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *s = argv[i];
		if (strncmp(s, "--", 2) != 0) {
			if (a->npos == (int)(sizeof a->pos / sizeof a->pos[0]))
				return false;
			a->pos[a->npos++] = s;
			continue;
		}
		if (a->nopt == TP_MAX_OPTS)
			return false;
		a->name[a->nopt] = s;
		if (!is_flag(s)) {
			if (i + 1 >= argc)
				return false;
			a->value[a->nopt] = argv[++i];
		}
		a->nopt++;
	}
	return true;
}

const char *tp_opt(const tp_args *a, const char *name)
{
	for (int i = 0; i < a->nopt; i++)
		if (strcmp(a->name[i], name) == 0)
			return a->value[i] ? a->value[i] : "";
	return NULL;
}

static hl_status parse_int(const char *what, const char *s, long long min, long long max, long long *out,
			   hl_error *err)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return hl_fail(err, HL_INVALID, "%s: must be a whole number from %lld to %lld", what, min, max);
	*out = v;
	return HL_OK;
}

hl_status tp_opt_int(const tp_args *a, const char *name, long long def, long long min, long long max,
		     long long *out, hl_error *err)
{
	const char *v = tp_opt(a, name);
	if (!v) {
		*out = def;
		return HL_OK;
	}
	return parse_int(name, v, min, max, out, err);
}

hl_status tp_pos_int(const tp_args *a, int i, long long min, long long max, long long *out, hl_error *err)
{
	if (i >= a->npos)
		return hl_fail(err, HL_INVALID, "%s: argument %d missing", a->cmd, i + 1);
	return parse_int(a->cmd, a->pos[i], min, max, out, err);
}

void tp_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	flockfile(stdout);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	funlockfile(stdout);
	va_end(ap);
}

void tp_sleep_ms(long long ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

extern const hl_migration timerpeer_migrations[];
extern const size_t timerpeer_migrations_count;

int tp_cmd_migrate(const tp_config *cfg, const tp_args *a)
{
	(void)a;
	hl_error err;
	if (!cfg->db_owner_dsn[0]) {
		fprintf(stderr, "hotline-timerpeer: HOTLINE_DB_OWNER_DSN: required for migrate\n");
		return TP_EXIT_USAGE;
	}
	hl_migrate_config mc = {cfg->db_owner_dsn, cfg->db_schema, cfg->runtime_role, cfg->system_role, 60000};
	const hl_migration *lists[2] = {hl_common_migrations, timerpeer_migrations};
	size_t counts[2] = {hl_common_migrations_count, timerpeer_migrations_count};
	if (hl_migrate(&mc, lists, counts, 2, &err)) {
		fprintf(stderr, "hotline-timerpeer: migrate: %s\n", hl_error_text(&err));
		return TP_EXIT_ERROR;
	}
	tp_say("migrated schema=%s", cfg->db_schema);
	return TP_EXIT_OK;
}

static const char *const no_opts[] = {NULL};
static const char *const schedule_opts[] = {"--spread-ms", "--delay-ms", "--tenant",  "--key-prefix",   "--batch",
					    "--threads",   "--no-push",  "--align-second", "--revised", NULL};
static const char *const work_opts[] = {"--threads", "--lease-ms", "--reseed-ms", "--batch", "--stall-ms", NULL};
static const char *const lock_opts[] = {"--hold-ms", "--lease-ms", "--write", "--holder", "--linger-ms", "--tenant",
					NULL};
static const char *const singleton_opts[] = {"--lease-ms", "--interval-ms", "--holder", "--job-ms", "--tenant",
					     NULL};

static const struct command {
	const char *name;
	int (*run)(const tp_config *cfg, const tp_args *a);
	int npos; /* positional arguments */
	const char *const *opts;
} commands[] = {
	{"migrate", tp_cmd_migrate, 0, no_opts},     {"schedule", tp_cmd_schedule, 1, schedule_opts},
	{"work", tp_cmd_work, 0, work_opts},         {"lock", tp_cmd_lock, 1, lock_opts},
	{"singleton", tp_cmd_singleton, 1, singleton_opts},
};

/* The command named by a, if a has the arguments and only the options it takes. */
static const struct command *find_command(const tp_args *a)
{
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, a->cmd) == 0)
			cmd = &commands[i];
	if (!cmd || a->npos != cmd->npos)
		return NULL;
	for (int i = 0; i < a->nopt; i++) {
		bool known = false;
		for (const char *const *o = cmd->opts; *o && !known; o++)
			known = strcmp(*o, a->name[i]) == 0;
		if (!known)
			return NULL;
	}
	return cmd;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		hl_config_usage(stdout, "hotline-timerpeer", "The timers and locks test peer (tests/timerpeer/).",
				items, N_ITEMS);
		return TP_EXIT_OK;
	}
	tp_args args;
	const struct command *cmd = NULL;
	if (argc < 2 || !parse_args(argc, argv, &args) || !(cmd = find_command(&args))) {
		fputs(usage_text, stderr);
		return TP_EXIT_USAGE;
	}
	hl_log_set_service(TP_SERVICE);
	signal(SIGPIPE, SIG_IGN); /* a Redis or PostgreSQL peer that went away is an error, not death */
	tp_config cfg;
	memset(&cfg, 0, sizeof cfg);
	hl_error err;
	hl_log_level level;
	if (hl_config_load(items, N_ITEMS, &cfg, &err)) {
		fprintf(stderr, "hotline-timerpeer: %s\n", hl_error_text(&err));
		return TP_EXIT_USAGE;
	}
	if (hl_log_level_parse(cfg.log_level, &level, &err)) {
		fprintf(stderr, "hotline-timerpeer: HOTLINE_LOG_LEVEL: %s\n", hl_error_text(&err));
		hl_config_release(items, N_ITEMS, &cfg);
		return TP_EXIT_USAGE;
	}
	hl_log_set_level(level);
	int code = cmd->run(&cfg, &args);
	hl_config_release(items, N_ITEMS, &cfg);
	return code;
}
