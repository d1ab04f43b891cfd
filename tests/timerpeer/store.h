/*
 * store.h - the test peer's SQL on its own tables (001_timerpeer.sql); the
 * timers table and fence_seq belong to libhl (timers.c, lock.c).
 */
#ifndef TIMERPEER_STORE_H
#define TIMERPEER_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/pg.h"
#include "hl/status.h"
#include "hl/timers.h"

/*
 * In the firing transaction (system role): the timer's effect, unique per
 * tenant and key; a repeated firing only counts itself in `fires`.
 */
hl_status store_effect(hl_pg *pg, hl_arena *a, const hl_timer *t, const char *fired_by,
		       hl_error *err) HL_MUST_CHECK;

/*
 * In the caller's transaction (acting tenant set): write value to the
 * protected row `name` with fencing number fence, accepted only when no
 * writer with a higher number came before.  *written says whether it was;
 * *stored_fence is the row's fence afterwards.
 */
hl_status store_guard_write(hl_pg *pg, hl_arena *a, const char *name, const char *value, int64_t fence,
			    const char *holder, bool *written, int64_t *stored_fence, hl_error *err) HL_MUST_CHECK;

/* In the caller's transaction: one run of the singleton job. */
hl_status store_singleton_run(hl_pg *pg, hl_arena *a, const char *name, const char *holder, int64_t fence,
			      int64_t started_ms, int64_t ended_ms, bool wrote, hl_error *err) HL_MUST_CHECK;

#endif
