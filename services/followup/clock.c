/*
 * clock.c - followup's notion of time for visits (planning, due times,
 * overdue): the wall clock, or - for tests only - a compressed clock that
 * runs `scale` times faster than the wall clock from a fixed anchor, so
 * that a year of visits passes in minutes.  The mapping is fixed by the
 * configuration, so timers stored in PostgreSQL (wall-clock milliseconds)
 * stay right across restarts and Redis flushes.  Reply deadlines come from
 * dispatch and stay on the wall clock.
 */
#include <stdio.h>

#include "followup.h"
#include "hl/timers.h"

#define MAX_SCALE 1000000LL
/* how old the anchor may be: (now - anchor) * scale must stay far inside int64 microseconds */
#define MAX_ANCHOR_AGE_S (30LL * 86400)

hl_status followup_clock_parse(const char *spec, followup_clock *out, hl_error *err)
{
	*out = (followup_clock){.anchor_us = 0, .scale = 1};
	if (!spec[0])
		return HL_OK;
	long long anchor = -1, scale = -1;
	char tail = 0;
	if (sscanf(spec, "anchor=%lld,scale=%lld%c", &anchor, &scale, &tail) != 2 || anchor < 0 || scale < 1 ||
	    scale > MAX_SCALE)
		return hl_fail(err, HL_INVALID,
			       "HOTLINE_FOLLOWUP_TEST_CLOCK: expected anchor=<unix seconds>,scale=<1-%lld>", MAX_SCALE);
	if (anchor > hl_now_ms() / 1000 + 86400 || anchor < hl_now_ms() / 1000 - MAX_ANCHOR_AGE_S)
		return hl_fail(err, HL_INVALID, "HOTLINE_FOLLOWUP_TEST_CLOCK: anchor must be within the last 30 days");
	out->anchor_us = anchor * 1000000LL;
	out->scale = scale;
	return HL_OK;
}

int64_t followup_clock_now_us(const followup_clock *k)
{
	int64_t real_us = hl_now_ms() * 1000;
	if (k->scale == 1)
		return real_us;
	return k->anchor_us + (real_us - k->anchor_us) * k->scale;
}

int64_t followup_clock_wall_ms(const followup_clock *k, int64_t at_us)
{
	if (k->scale == 1)
		return at_us / 1000;
	int64_t since = at_us - k->anchor_us; /* rounded up: the timer never fires before at_us */
	int64_t wall = since > 0 ? (since + k->scale - 1) / k->scale : since / k->scale;
	return (k->anchor_us + wall + 999) / 1000;
}
