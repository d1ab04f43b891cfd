/*
 * main.c - hotlinectl, the command-line client of the hotline platform:
 * global options, the stack.env settings, parsing a command line against a
 * row of the command table (commands.c), minting dev tokens, and the one
 * generic path that calls a method over mutual TLS and prints the answer as
 * "key: value" text or JSON (pbfmt.c).
 *
 * Exit status: 0 success, 1 the call failed or the settings are unusable
 * ("hotlinectl: <gRPC code>: <server message>" on stderr), 2 the command
 * line is wrong.
 */
#include <grpc/grpc.h>
#include <grpc/support/log.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/jwt.h"
#include "hl/rpc_client.h"
#include "hotlinectl.h"
#include "pbfmt.h"

#define PROG "hotlinectl"
#define MAX_ARGS 32
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_TTL_S 3600
#define DEFAULT_TENANT "demo"

typedef struct setting {
	char *key, *value;
} setting;

struct ctl_ctx {
	hl_arena *a;
	/* global options */
	const char *env_path, *sub, *roles, *tenant, *tenants, *act_as, *token, *addr, *service;
	long long timeout_ms, ttl_s;
	bool json, verbose, help;
	/* the settings file */
	setting *settings;
	size_t n_settings;
	/* the command being parsed */
	const char *group;
	const ctl_cmd *cmd;
	ProtobufCMessage *req;
	bool given[MAX_ARGS];
	size_t n_pos;
	bool rest; /* after "--": only positional arguments */
};

hl_arena *ctl_arena(ctl_ctx *x)
{
	return x->a;
}

bool ctl_arg_given(const ctl_ctx *x, const char *name)
{
	for (size_t i = 0; i < x->cmd->n_args; i++)
		if (strcmp(x->cmd->args[i].name, name) == 0)
			return x->given[i];
	return false;
}

/* ---- messages ------------------------------------------------------------ */

/* One line on stderr; control characters (from server messages) become spaces. */
static void say(const char *prefix, const char *msg)
{
	fputs(PROG ": ", stderr);
	if (prefix) {
		fputs(prefix, stderr);
		fputs(": ", stderr);
	}
	for (const char *p = msg; *p; p++)
		fputc((unsigned char)*p < 0x20 ? ' ' : *p, stderr);
	fputc('\n', stderr);
}

static int usage_error(const char *fmt, ...) HL_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	say(NULL, msg);
	return CTL_EXIT_USAGE;
}

static int failure(const char *fmt, ...) HL_PRINTF(1, 2);
static int failure(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	say(NULL, msg);
	return CTL_EXIT_FAILED;
}

/* "ticket create" or "token", for messages and help. */
static const char *cmd_words(ctl_ctx *x, const ctl_cmd *c)
{
	return c->group ? hl_arena_printf(x->a, "%s %s", c->group, c->name) : c->name;
}

/* "intake, dispatch, ...", for messages and help. */
static const char *service_names(ctl_ctx *x)
{
	const char *s = "";
	for (const char *const *p = ctl_services; *p; p++)
		s = hl_arena_printf(x->a, "%s%s%s", s, p == ctl_services ? "" : ", ", *p);
	return s;
}

/* ---- global options --------------------------------------------------- */

typedef enum gopt_kind {
	G_STR,
	G_INT,
	G_FLAG,
} gopt_kind;

typedef struct gopt {
	const char *name, *metavar;
	gopt_kind kind;
	size_t offset;
	long long min, max;
	const char *help;
} gopt;

#define G(f) offsetof(struct ctl_ctx, f)
static const gopt gopts[] = {
	{"--env", "FILE", G_STR, G(env_path), 0, 0,
	 "KEY=value settings (default: $HOTLINE_ENV, else ./.run/stack.env if present); the environment fills in"},
	{"--as", "SUB", G_STR, G(sub), 0, 0, "principal (sub) of the minted token"},
	{"--roles", "A,B", G_STR, G(roles), 0, 0, "roles of the minted token"},
	{"--tenant", "T", G_STR, G(tenant), 0, 0,
	 "home tenant of the minted token, and the tenant of public calls (default: $HOTLINE_TENANT, else demo)"},
	{"--tenants", "X,Y", G_STR, G(tenants), 0, 0, "more tenants the minted token may act in"},
	{"--act-as", "T", G_STR, G(act_as), 0, 0, "acting tenant of the call (x-tenant-id)"},
	{"--token", "JWT", G_STR, G(token), 0, 0, "send this token instead of minting one"},
	{"--ttl", "SECONDS", G_INT, G(ttl_s), 1, 30 * 86400, "lifetime of a minted token (default 3600)"},
	{"--addr", "HOST:PORT", G_STR, G(addr), 0, 0, "service address instead of HOTLINE_<SERVICE>_ADDR"},
	{"--timeout", "MS", G_INT, G(timeout_ms), 1, 3600000, "deadline of the call in milliseconds (default 10000)"},
	{"--json", NULL, G_FLAG, G(json), 0, 0, "print the response as JSON"},
	{"--verbose", NULL, G_FLAG, G(verbose), 0, 0, "show method, address and request id, and gRPC's own log"},
	{"--help", NULL, G_FLAG, G(help), 0, 0, "help; COMMAND --help lists a command's options"},
};

static const gopt *find_gopt(const char *name)
{
	if (strcmp(name, "-h") == 0)
		name = "--help";
	for (size_t i = 0; i < sizeof gopts / sizeof gopts[0]; i++)
		if (strcmp(gopts[i].name, name) == 0)
			return &gopts[i];
	return NULL;
}

static int set_gopt(ctl_ctx *x, const gopt *g, const char *value)
{
	char *p = (char *)x + g->offset, *end;
	if (g->kind == G_FLAG) {
		if (value && strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
			return usage_error("%s: takes no value", g->name);
		*(bool *)p = !value || strcmp(value, "true") == 0;
	} else if (g->kind == G_INT) {
		long long v = strtoll(value, &end, 10);
		if (!*value || *end || v < g->min || v > g->max)
			return usage_error("%s: '%s' is not a number from %lld to %lld", g->name, value, g->min,
					   g->max);
		*(long long *)p = v;
	} else {
		*(const char **)p = value;
	}
	return CTL_EXIT_OK;
}

/* ---- settings: the env file, then the environment ---------------------- */

static bool key_valid(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_'))
			return false;
	return true;
}

static int load_settings(ctl_ctx *x)
{
	const char *path = x->env_path;
	if (!path)
		path = getenv("HOTLINE_ENV");
	if (!path && access(".run/stack.env", R_OK) == 0)
		path = ".run/stack.env";
	if (!path || !*path)
		return CTL_EXIT_OK;
	FILE *f = fopen(path, "r");
	if (!f)
		return failure("%s: cannot read the settings file", path);
	char *line = NULL;
	size_t cap = 0, max = 0;
	ssize_t n;
	int rc = CTL_EXIT_OK;
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		char *eq = strchr(line, '=');
		if (!n || line[0] == '#' || !eq)
			continue;
		*eq = '\0';
		if (!key_valid(line))
			continue;
		if (x->n_settings == max) {
			max = max ? 2 * max : 64;
			setting *grown = hl_arena_alloc(x->a, max * sizeof *grown);
			if (!grown) {
				rc = failure("out of memory");
				break;
			}
			if (x->n_settings)
				memcpy(grown, x->settings, x->n_settings * sizeof *grown);
			x->settings = grown;
		}
		setting *s = &x->settings[x->n_settings++];
		s->key = hl_arena_strdup(x->a, line);
		s->value = hl_arena_strdup(x->a, eq + 1);
		if (!s->key || !s->value) {
			rc = failure("out of memory");
			break;
		}
	}
	if (rc == CTL_EXIT_OK && ferror(f))
		rc = failure("%s: cannot read the settings file", path);
	free(line);
	fclose(f);
	return rc;
}

/* The value of key from the settings file (last one wins), else the environment; NULL when unset or empty. */
static const char *setting_get(ctl_ctx *x, const char *key)
{
	const char *v = NULL;
	for (size_t i = 0; i < x->n_settings; i++)
		if (strcmp(x->settings[i].key, key) == 0)
			v = x->settings[i].value;
	if (!v)
		v = getenv(key);
	return v && *v ? v : NULL;
}

static const char *home_tenant(ctl_ctx *x)
{
	if (x->tenant)
		return x->tenant;
	const char *t = setting_get(x, "HOTLINE_TENANT");
	return t ? t : DEFAULT_TENANT;
}

/* ---- tokens ------------------------------------------------------------- */

/* Append a comma-separated list as a JSON array of strings (blanks trimmed, empty items dropped). */
static void json_list(hl_buf *b, const char *list)
{
	bool first = true;
	hl_buf_putc(b, '[');
	while (list && *list) {
		const char *comma = strchr(list, ','), *end = comma ? comma : list + strlen(list);
		while (list < end && *list == ' ')
			list++;
		const char *last = end;
		while (last > list && last[-1] == ' ')
			last--;
		if (last > list) {
			char item[256];
			snprintf(item, sizeof item, "%.*s", (int)(last - list), list);
			if (!first)
				hl_buf_putc(b, ',');
			first = false;
			hl_buf_json_string(b, item);
		}
		list = comma ? comma + 1 : end;
	}
	hl_buf_putc(b, ']');
}

/* The token of a user call: --token, or one minted with the dev secret. */
static int token_for(ctl_ctx *x, const char **out)
{
	if (x->token) {
		*out = x->token;
		return CTL_EXIT_OK;
	}
	const char *secret = setting_get(x, "HOTLINE_JWT_SECRET"), *iss = setting_get(x, "HOTLINE_JWT_ISSUER"),
		   *aud = setting_get(x, "HOTLINE_JWT_AUDIENCE");
	if (!secret || !iss || !aud)
		return failure("HOTLINE_JWT_SECRET, HOTLINE_JWT_ISSUER and HOTLINE_JWT_AUDIENCE are needed to mint a "
			       "token (--env FILE), or give --token JWT");
	if (!x->sub)
		return usage_error("--as SUB is needed to mint a token (or give --token JWT)");
	long long now = (long long)time(NULL);
	hl_buf b = HL_BUF_INIT;
	hl_buf_puts(&b, "{\"iss\":");
	hl_buf_json_string(&b, iss);
	hl_buf_puts(&b, ",\"aud\":");
	hl_buf_json_string(&b, aud);
	hl_buf_puts(&b, ",\"sub\":");
	hl_buf_json_string(&b, x->sub);
	hl_buf_puts(&b, ",\"tenant\":");
	hl_buf_json_string(&b, home_tenant(x));
	if (x->tenants) {
		hl_buf_puts(&b, ",\"tenants\":");
		json_list(&b, x->tenants);
	}
	hl_buf_puts(&b, ",\"roles\":");
	json_list(&b, x->roles);
	hl_buf_printf(&b, ",\"iat\":%lld,\"exp\":%lld}", now, now + (x->ttl_s ? x->ttl_s : DEFAULT_TTL_S));
	hl_error err;
	char *tok;
	hl_status st = hl_buf_failed(&b) ? hl_fail(&err, HL_NOMEM, "out of memory")
					 : hl_jwt_sign_hs256(secret, strlen(secret), NULL, b.data, x->a, &tok, &err);
	hl_buf_release(&b);
	if (st)
		return failure("cannot mint a token: %s", hl_error_text(&err));
	*out = tok;
	return CTL_EXIT_OK;
}

int ctl_run_token(ctl_ctx *x)
{
	const char *tok;
	int rc = token_for(x, &tok);
	if (rc)
		return rc;
	if (x->json) {
		hl_buf b = HL_BUF_INIT;
		hl_buf_puts(&b, "{\"token\": ");
		hl_buf_json_string(&b, tok);
		hl_buf_puts(&b, "}");
		printf("%s\n", hl_buf_failed(&b) ? "{}" : b.data);
		hl_buf_release(&b);
	} else {
		printf("%s\n", tok);
	}
	return CTL_EXIT_OK;
}

/* ---- help ---------------------------------------------------------------- */

/* The placeholder of an argument's value, from the field's type. */
static const char *metavar(const ctl_cmd *c, const ctl_arg *arg)
{
	const ProtobufCFieldDescriptor *f = ctl_field(c->req, arg->field);
	if (arg->kind != CTL_OPT || !f)
		return "";
	switch (f->type) {
	case PROTOBUF_C_TYPE_ENUM:
		return " NAME";
	case PROTOBUF_C_TYPE_STRING:
		return " TEXT";
	case PROTOBUF_C_TYPE_BYTES:
		return " BASE64";
	case PROTOBUF_C_TYPE_BOOL:
		return " true|false";
	case PROTOBUF_C_TYPE_MESSAGE:
		return strcmp(((const ProtobufCMessageDescriptor *)f->descriptor)->name, "google.protobuf.Timestamp")
			       ? " VALUE"
			       : " TIME";
	default:
		return " N";
	}
}

static void help_row(FILE *out, const char *left, const char *help)
{
	fprintf(out, "  %-26s %s\n", left, help);
}

static void help_global(FILE *out)
{
	fputs("Global options (before or after the command):\n", out);
	for (size_t i = 0; i < sizeof gopts / sizeof gopts[0]; i++) {
		char left[64];
		snprintf(left, sizeof left, "%s%s%s", gopts[i].name, gopts[i].metavar ? " " : "",
			 gopts[i].metavar ? gopts[i].metavar : "");
		help_row(out, left, gopts[i].help);
	}
}

static void help_commands(ctl_ctx *x, FILE *out, const char *group)
{
	for (size_t i = 0; i < ctl_n_commands; i++) {
		const ctl_cmd *c = &ctl_commands[i];
		if (!group || (c->group && strcmp(c->group, group) == 0))
			help_row(out, cmd_words(x, c), c->summary);
	}
}

static void help_top(ctl_ctx *x, FILE *out)
{
	fputs("Usage: " PROG " [global options] COMMAND [options] [arguments]\n\n"
	      "The command-line client of the hotline platform: calls the services over mutual TLS\n"
	      "with a JWT (minted from the dev secret of --env, or given with --token) and prints the\n"
	      "answer as \"key: value\" lines, or as JSON with --json.\n\nCommands:\n",
	      out);
	help_commands(x, out, NULL);
	fputc('\n', out);
	help_global(out);
	fputs("\nExit status: 0 done, 1 the call failed (\"" PROG ": CODE: message\" on stderr), 2 usage error.\n",
	      out);
}

static void help_usage_line(ctl_ctx *x, FILE *out, const ctl_cmd *c)
{
	fprintf(out, "Usage: " PROG " %s [options]", cmd_words(x, c));
	for (size_t i = 0; i < c->n_args; i++) {
		const ctl_arg *arg = &c->args[i];
		if (arg->kind == CTL_POS)
			fprintf(out, " %s", arg->name);
		else if (arg->kind == CTL_POS_OPT)
			fprintf(out, " [%s]", arg->name);
		else if (arg->kind == CTL_POS_REST)
			fprintf(out, " [%s...]", arg->name);
	}
	fputc('\n', out);
}

static void help_arg(ctl_ctx *x, FILE *out, const ctl_cmd *c, const ctl_arg *arg)
{
	const ProtobufCFieldDescriptor *f = ctl_field(c->req, arg->field);
	hl_buf h = HL_BUF_INIT;
	hl_buf_puts(&h, arg->help);
	if (arg->flags & CTL_REQUIRED)
		hl_buf_puts(&h, " (required)");
	if (f && f->type == PROTOBUF_C_TYPE_ENUM) {
		hl_buf_puts(&h, "; one of: ");
		pbfmt_enum_names(&h, f->descriptor, ", ");
	}
	help_row(out, hl_arena_printf(x->a, "%s%s", arg->name, metavar(c, arg)), hl_buf_failed(&h) ? "" : h.data);
	hl_buf_release(&h);
}

static void help_cmd(ctl_ctx *x, FILE *out, const ctl_cmd *c)
{
	help_usage_line(x, out, c);
	fprintf(out, "\n%c%s.\n",
		c->summary[0] >= 'a' && c->summary[0] <= 'z' ? c->summary[0] - 'a' + 'A' : c->summary[0],
		c->summary + 1);
	if (c->method)
		fprintf(out, "Calls %s%s.\n", c->method, c->flags & CTL_PUBLIC ? " without a token" : "");
	bool pos = false, opt = false;
	for (size_t i = 0; i < c->n_args; i++) {
		if (c->args[i].kind >= CTL_POS && !pos) {
			fputs("\nArguments:\n", out);
			pos = true;
		}
		if (c->args[i].kind >= CTL_POS)
			help_arg(x, out, c, &c->args[i]);
	}
	for (size_t i = 0; i < c->n_args; i++) {
		if (c->args[i].kind < CTL_POS && !opt) {
			fputs("\nOptions:\n", out);
			opt = true;
		}
		if (c->args[i].kind < CTL_POS)
			help_arg(x, out, c, &c->args[i]);
	}
	if (c->flags & CTL_ANY_SERVICE) {
		hl_buf h = HL_BUF_INIT;
		hl_buf_printf(&h, "the service to ask (default %s); one of: %s", c->service, service_names(x));
		if (!opt)
			fputs("\nOptions:\n", out);
		help_row(out, "--service NAME", hl_buf_failed(&h) ? "" : h.data);
		hl_buf_release(&h);
	}
	fputs("\nGlobal options: see " PROG " --help.\n", out);
}

static int help(ctl_ctx *x)
{
	if (x->cmd)
		help_cmd(x, stdout, x->cmd);
	else if (x->group) {
		fprintf(stdout, "Usage: " PROG " %s COMMAND [options] [arguments]\n\nCommands:\n", x->group);
		help_commands(x, stdout, x->group);
		fprintf(stdout,
			"\n" PROG " %s COMMAND --help lists a command's options; global options: " PROG " --help.\n",
			x->group);
	} else {
		help_top(x, stdout);
	}
	return fflush(stdout) ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

/* ---- parsing the command line ------------------------------------------ */

static bool is_group(const char *word)
{
	for (size_t i = 0; i < ctl_n_commands; i++)
		if (ctl_commands[i].group && strcmp(ctl_commands[i].group, word) == 0)
			return true;
	return false;
}

static const ctl_cmd *find_cmd(const char *group, const char *name)
{
	for (size_t i = 0; i < ctl_n_commands; i++) {
		const ctl_cmd *c = &ctl_commands[i];
		if (!group == !c->group && (!group || strcmp(group, c->group) == 0) && strcmp(name, c->name) == 0)
			return c;
	}
	return NULL;
}

static const char *group_names(ctl_ctx *x, const char *group)
{
	const char *s = "";
	for (size_t i = 0; i < ctl_n_commands; i++)
		if (ctl_commands[i].group && strcmp(ctl_commands[i].group, group) == 0)
			s = hl_arena_printf(x->a, "%s%s%s", s, *s ? ", " : "", ctl_commands[i].name);
	return s;
}

static int enter_cmd(ctl_ctx *x, const ctl_cmd *c)
{
	x->cmd = c;
	if (c->n_args > MAX_ARGS)
		return failure("%s: too many arguments in the command table", c->name);
	if (c->req && !(x->req = ctl_new_message(x->a, c->req)))
		return failure("out of memory");
	return CTL_EXIT_OK;
}

/* A word before the command is complete: a group or a command name. */
static int command_word(ctl_ctx *x, const char *word)
{
	const ctl_cmd *c = find_cmd(x->group, word);
	if (c)
		return enter_cmd(x, c);
	if (x->group)
		return usage_error("unknown %s command '%s' (one of: %s)", x->group, word, group_names(x, x->group));
	if (is_group(word)) {
		x->group = word;
		return CTL_EXIT_OK;
	}
	return usage_error("unknown command '%s' (see " PROG " --help)", word);
}

static int bind_arg(ctl_ctx *x, const ctl_arg *arg, const char *value)
{
	hl_error err;
	if (ctl_bind(x->a, x->req, arg->field, value, &err))
		return err.status == HL_NOMEM ? failure("out of memory")
					      : usage_error("%s: %s", arg->name, hl_error_text(&err));
	x->given[arg - x->cmd->args] = true;
	return CTL_EXIT_OK;
}

static int positional(ctl_ctx *x, const char *value)
{
	const ctl_cmd *c = x->cmd;
	size_t k = 0;
	for (size_t i = 0; i < c->n_args; i++) {
		const ctl_arg *arg = &c->args[i];
		if (arg->kind < CTL_POS)
			continue;
		if (arg->kind == CTL_POS_REST || k++ == x->n_pos) {
			x->n_pos++;
			return bind_arg(x, arg, value);
		}
	}
	return usage_error("unexpected argument '%s' (see " PROG " %s --help)", value, cmd_words(x, c));
}

static const ctl_arg *find_arg(const ctl_cmd *c, const char *name)
{
	for (size_t i = 0; c && i < c->n_args; i++)
		if (c->args[i].kind < CTL_POS && strcmp(c->args[i].name, name) == 0)
			return &c->args[i];
	return NULL;
}

/* The option at argv[*i] ("--name", "--name=value" or "--name value"). */
static int option(ctl_ctx *x, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	const char *name = eq ? hl_arena_strndup(x->a, arg, (size_t)(eq - arg)) : arg, *value = eq ? eq + 1 : NULL;
	if (!name)
		return failure("out of memory");
	const gopt *g = find_gopt(name);
	const ctl_arg *ca = g ? NULL : find_arg(x->cmd, name);
	bool service = !g && !ca && x->cmd && (x->cmd->flags & CTL_ANY_SERVICE) && strcmp(name, "--service") == 0;
	if (!g && !ca && !service) {
		if (x->cmd)
			return usage_error("unknown option %s (see " PROG " %s --help)", name, cmd_words(x, x->cmd));
		return usage_error("unknown option %s (see " PROG " --help)", name);
	}
	bool flag = (g && g->kind == G_FLAG) || (ca && ca->kind == CTL_FLAG);
	if (!flag && !value) {
		if (*i + 1 >= argc)
			return usage_error("%s: needs a value", name);
		value = argv[++*i];
	}
	if (g)
		return set_gopt(x, g, value);
	if (service) {
		x->service = value;
		return CTL_EXIT_OK;
	}
	return bind_arg(x, ca, value ? value : "true");
}

static int parse(ctl_ctx *x, int argc, char **argv)
{
	int rc = CTL_EXIT_OK;
	for (int i = 1; i < argc && rc == CTL_EXIT_OK; i++) {
		const char *a = argv[i];
		if (!x->rest && strcmp(a, "--") == 0)
			x->rest = true;
		else if (!x->rest && (strncmp(a, "--", 2) == 0 || strcmp(a, "-h") == 0))
			rc = option(x, argc, argv, &i);
		else if (!x->cmd)
			rc = command_word(x, a);
		else
			rc = positional(x, a);
	}
	return rc;
}

/* What the command line must hold once it is read, and the defaults. */
static int complete(ctl_ctx *x)
{
	const ctl_cmd *c = x->cmd;
	for (size_t i = 0; i < c->n_args; i++) {
		const ctl_arg *arg = &c->args[i];
		if (x->given[i])
			continue;
		if (arg->kind == CTL_POS)
			return usage_error("missing %s (see " PROG " %s --help)", arg->name, cmd_words(x, c));
		if (arg->flags & CTL_REQUIRED)
			return usage_error("%s is required (see " PROG " %s --help)", arg->name, cmd_words(x, c));
		if (arg->flags & CTL_NEW_ID) {
			char id[HL_UUID_STR_LEN];
			if (hl_uuid_v7(id))
				return failure("cannot make a request id");
			int rc = bind_arg(x, arg, id);
			if (rc)
				return rc;
		}
	}
	if (x->service) {
		const char *const *s = ctl_services;
		while (*s && strcmp(*s, x->service) != 0)
			s++;
		if (!*s)
			return usage_error("--service: '%s' is not one of %s", x->service, service_names(x));
	}
	hl_error err;
	if (c->build && c->build(x, x->req, &err))
		return err.status == HL_INVALID ? usage_error("%s", hl_error_text(&err))
						: failure("%s", hl_error_text(&err));
	return CTL_EXIT_OK;
}

/* ---- the call ------------------------------------------------------------ */

static void grpc_log_quiet(gpr_log_func_args *args)
{
	(void)args;
}

static int print_response(ctl_ctx *x, const ProtobufCMessage *resp)
{
	hl_buf b = HL_BUF_INIT;
	if (x->json) {
		pbfmt_json(&b, resp, true, x->a);
		hl_buf_putc(&b, '\n');
	} else {
		pbfmt_text(&b, resp, 0);
	}
	int rc = CTL_EXIT_OK;
	if (hl_buf_failed(&b))
		rc = failure("out of memory");
	else if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout))
		rc = failure("cannot write the output");
	hl_buf_release(&b);
	return rc;
}

/* Where the command's service listens: --addr, else HOTLINE_<SERVICE>_ADDR. */
static int target(ctl_ctx *x, const char **addr)
{
	const char *svc = x->service ? x->service : x->cmd->service;
	if (x->addr) {
		*addr = x->addr;
		return CTL_EXIT_OK;
	}
	char key[64];
	size_t n = (size_t)snprintf(key, sizeof key, "HOTLINE_%s_ADDR", svc);
	for (size_t i = 0; i < n && i < sizeof key; i++)
		if (key[i] >= 'a' && key[i] <= 'z')
			key[i] = (char)(key[i] - 'a' + 'A');
	if (!(*addr = setting_get(x, key)))
		return failure("%s is not set: give --env FILE or --addr HOST:PORT", key);
	return CTL_EXIT_OK;
}

/* authorization, x-tenant-id and x-request-id. */
static int metadata(ctl_ctx *x, hl_md *md, size_t *n, const char *request_id)
{
	const char *tok;
	*n = 0;
	if (!(x->cmd->flags & CTL_PUBLIC)) {
		int rc = token_for(x, &tok);
		if (rc)
			return rc;
		const char *bearer = hl_arena_printf(x->a, "Bearer %s", tok);
		if (!bearer)
			return failure("out of memory");
		md[(*n)++] = (hl_md){"authorization", bearer};
	}
	if (x->act_as || (x->cmd->flags & CTL_PUBLIC))
		md[(*n)++] = (hl_md){"x-tenant-id", x->act_as ? x->act_as : home_tenant(x)};
	md[(*n)++] = (hl_md){"x-request-id", request_id};
	return CTL_EXIT_OK;
}

/* One message of a stream: a message that is one bytes field (an export's chunk) goes raw to stdout. */
static hl_status stream_message(void *arg, const uint8_t *msg, size_t len, hl_error *err)
{
	ctl_ctx *x = arg;
	const ProtobufCMessageDescriptor *d = x->cmd->resp;
	hl_arena *a = hl_arena_new();
	if (!a)
		return hl_fail(err, HL_NOMEM, "out of memory");
	ProtobufCMessage *m = protobuf_c_message_unpack(d, hl_arena_pb_allocator(a), len, msg);
	hl_status st = HL_OK;
	if (!m) {
		st = hl_fail(err, HL_INVALID, "malformed %s from the server", d->name);
	} else if (d->n_fields == 1 && d->fields[0].type == PROTOBUF_C_TYPE_BYTES) {
		const ProtobufCBinaryData *b = (const void *)((const char *)m + d->fields[0].offset);
		if (fwrite(b->data, 1, b->len, stdout) != b->len)
			st = hl_fail(err, HL_INTERNAL, "cannot write the output");
	} else if (print_response(x, m)) {
		st = hl_fail(err, HL_INTERNAL, "cannot write the output");
	}
	hl_arena_free(a);
	return st;
}

static int stream_call(ctl_ctx *x, hl_client *cl, const hl_md *md, size_t n_md, const uint8_t *body, size_t len)
{
	int code;
	hl_error err;
	if (hl_client_stream_raw(cl, x->cmd->method, body, len, md, n_md,
				 x->timeout_ms ? x->timeout_ms : DEFAULT_TIMEOUT_MS, stream_message, x, &code, &err)) {
		say(hl_grpc_code_name(code), hl_error_text(&err));
		return CTL_EXIT_FAILED;
	}
	return fflush(stdout) ? failure("cannot write the output") : CTL_EXIT_OK;
}

static int call(ctl_ctx *x, hl_client *cl, const char *addr)
{
	const ctl_cmd *c = x->cmd;
	char request_id[HL_UUID_STR_LEN];
	hl_md md[3];
	size_t n_md;
	if (hl_uuid_v7(request_id))
		return failure("cannot make a request id");
	int rc = metadata(x, md, &n_md, request_id);
	if (rc)
		return rc;
	if (x->verbose)
		fprintf(stderr, PROG ": %s at %s, x-request-id %s\n", c->method, addr, request_id);
	size_t len = protobuf_c_message_get_packed_size(x->req);
	uint8_t *body = hl_arena_alloc(x->a, len ? len : 1), *resp;
	size_t resp_len;
	int code;
	hl_error err;
	if (!body)
		return failure("out of memory");
	protobuf_c_message_pack(x->req, body);
	if (c->flags & CTL_STREAM)
		return stream_call(x, cl, md, n_md, body, len);
	if (hl_client_call_raw(cl, c->method, body, len, md, n_md, x->timeout_ms ? x->timeout_ms : DEFAULT_TIMEOUT_MS,
			       x->a, &resp, &resp_len, &code, &err)) {
		say(hl_grpc_code_name(code), hl_error_text(&err));
		return CTL_EXIT_FAILED;
	}
	ProtobufCMessage *m = protobuf_c_message_unpack(c->resp, hl_arena_pb_allocator(x->a), resp_len, resp);
	if (!m)
		return failure("malformed %s from the server", c->resp->name);
	return print_response(x, m);
}

static int run_call(ctl_ctx *x)
{
	const char *addr, *cert = setting_get(x, "HOTLINE_CLIENT_CERT"), *key = setting_get(x, "HOTLINE_CLIENT_KEY"),
			  *ca = setting_get(x, "HOTLINE_CA");
	int rc = target(x, &addr);
	if (rc)
		return rc;
	if (!cert || !key || !ca)
		return failure("HOTLINE_CLIENT_CERT, HOTLINE_CLIENT_KEY and HOTLINE_CA are needed (--env FILE)");
	if (!x->verbose)
		gpr_set_log_function(grpc_log_quiet);
	grpc_init();
	hl_client *cl;
	hl_error err;
	if (hl_client_new(addr, cert, key, ca, &cl, &err)) {
		rc = failure("%s", hl_error_text(&err));
	} else {
		rc = call(x, cl, addr);
		hl_client_free(cl);
	}
	hl_client_thread_release();
	grpc_shutdown();
	return rc;
}

static int run(ctl_ctx *x, int argc, char **argv)
{
	int rc = parse(x, argc, argv);
	if (rc)
		return rc;
	if (x->help)
		return help(x);
	if (!x->cmd) {
		if (x->group)
			return usage_error("%s: missing command (one of: %s)", x->group, group_names(x, x->group));
		help_top(x, stderr);
		return CTL_EXIT_USAGE;
	}
	if ((rc = complete(x)) || (rc = load_settings(x)))
		return rc;
	return x->cmd->local ? x->cmd->local(x) : run_call(x);
}

int main(int argc, char **argv)
{
	ctl_ctx x;
	memset(&x, 0, sizeof x);
	if (!(x.a = hl_arena_new())) {
		fputs(PROG ": out of memory\n", stderr);
		return CTL_EXIT_FAILED;
	}
	int rc = run(&x, argc, argv);
	hl_arena_free(x.a);
	return rc;
}
