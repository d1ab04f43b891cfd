/*
 * main.c - the outbox/inbox test peer process (hotline-testpeer): its own
 * configuration and state; everything else is the common program life of
 * every service (hl/program.h), outbox relay included.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hl/program.h"
#include "peer.h"

struct peer_config {
	char *fail;
	long long delay_ms;
};

#define F(field) offsetof(struct peer_config, field)
static const hl_config_item items[] = {
	{"HOTLINE_TESTPEER_FAIL", HL_CFG_STRING, "", 0, 32, F(fail),
	 "answer every receiving method with: unimplemented (as if not deployed) or invalid_argument", false},
	{"HOTLINE_TESTPEER_APPLY_DELAY_MS", HL_CFG_DURATION_MS, "0", 0, 600000, F(delay_ms),
	 "sleep after a receiving method commits, before it answers", false},
};

extern const hl_migration peer_migrations[];
extern const size_t peer_migrations_count;

static struct peer_config config;

static hl_status init(void *cfgp, const hl_common_config *common, void **out, hl_error *err)
{
	(void)common;
	struct peer_config *cfg = cfgp;
	hl_status fail;
	if (!cfg->fail[0])
		fail = HL_OK;
	else if (strcmp(cfg->fail, "unimplemented") == 0)
		fail = HL_UNIMPLEMENTED;
	else if (strcmp(cfg->fail, "invalid_argument") == 0)
		fail = HL_INVALID;
	else
		return hl_fail(err, HL_INVALID, "HOTLINE_TESTPEER_FAIL: unimplemented, invalid_argument or empty");
	peer_app *app = calloc(1, sizeof *app);
	if (!app)
		return hl_fail(err, HL_NOMEM, "out of memory");
	app->fail = fail;
	app->delay_ms = cfg->delay_ms;
	*out = app;
	return HL_OK;
}

static void release(void *app)
{
	free(app);
}

int main(int argc, char **argv)
{
	hl_program program = {
		.name = "testpeer",
		.summary = "Outbox/inbox test peer: Apply records versioned effects once, Enqueue writes outbox rows.",
		.items = items,
		.n_items = sizeof items / sizeof items[0],
		.config = &config,
		.migrations = peer_migrations,
		.n_migrations = peer_migrations_count,
		.services = peer_services,
		.n_services = peer_services_count,
		.init = init,
		.release = release,
	};
	return hl_program_main(&program, argc, argv);
}
