/*
 * deadlines.c - compliance's timers on the shared timer service
 * (hl/timers.h: PostgreSQL holds them, Redis schedules them, a flushed Redis
 * is re-seeded): a risk event still waiting for the compliance office at its
 * statutory deadline (2 h major, 24 h general) is marked overdue once,
 * audited, raised as a late-risk-report violation against its department,
 * and escalated to the leadership group (supervisors); reporting learns
 * the lateness from risk_event.closed (on_time).  An event accepted in time makes its timer fire without effect.
 */
#include <string.h>

#include "hl/audit.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "store.h"

#define KIND_RISK_EVENT "risk_event.due"
#define KIND_RISK_CHECK "risk.check_due"
#define ACTOR "system:compliance"

hl_status compliance_risk_event_timer(hl_call *c, const compliance_risk_event *e)
{
	hl_error err;
	hl_timer_item item = {.key = hl_arena_printf(hl_call_arena(c), "risk_event:%s", e->id),
			      .kind = KIND_RISK_EVENT, .subject = e->id, .due_ms = e->due_us / 1000};
	if (!item.key)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (hl_call_timers_put(c, &item, 1, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

static hl_status risk_event_overdue(hl_pg *pg, hl_arena *a, const hl_timer *tm, hl_error *err)
{
	compliance_risk_event *e;
	hl_status st = store_risk_event_mark_overdue(pg, a, tm->subject, &e, err);
	if (st || !e)
		return st; /* accepted or closed in time, or already overdue: no effect */
	const char *d = hl_arena_printf(a, "{\"level\":%d,\"due_us\":%lld}", e->level, (long long)e->due_us);
	if ((st = hl_audit_append(pg, a, e->tenant, "risk_event", e->id, ACTOR, "risk_event.overdue", d, false, err)))
		return st;
	const char *body = hl_arena_printf(a, "风险事件逾期未报送: %s", e->description);
	if (!body)
		return hl_fail(err, HL_NOMEM, "out of memory");
	const char *what = e->level == RE_MAJOR ? "重大风险事件超过2小时未报送合规办" : "一般风险事件超过24小时未报备";
	if ((st = compliance_late_report_violation(pg, a, e, ACTOR, what, e->due_us, err)))
		return st;
	return compliance_notify(pg, a, "risk_event.overdue", e->id, "role:" HL_ROLE_SUPERVISOR, body, err);
}

static const char *risk_timer_key(hl_arena *a, const char *id, int64_t due_us)
{
	return hl_arena_printf(a, "risk:%s:%lld", id, (long long)(due_us / 1000000));
}

hl_status compliance_risk_timer(hl_call *c, const compliance_risk *r)
{
	hl_error err;
	hl_timer_item item = {.key = risk_timer_key(hl_call_arena(c), r->id, r->next_review_us), .kind = KIND_RISK_CHECK,
			      .subject = r->id, .due_ms = r->next_review_us / 1000};
	if (!item.key)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (hl_call_timers_put(c, &item, 1, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

static hl_status risk_check_due(hl_pg *pg, hl_arena *a, const hl_timer *tm, hl_error *err)
{
	compliance_risk *r;
	hl_status st = store_risk_remind(pg, a, tm->subject, tm->due_ms * 1000, &r, err);
	if (st || !r)
		return st; /* retired, or its check date was changed: no effect */
	const char *d = hl_arena_printf(a, "{\"checked_due_ms\":%lld,\"next_review_us\":%lld}", (long long)tm->due_ms,
					(long long)r->next_review_us);
	const char *subject = hl_arena_printf(a, "%s@%lld", r->id, (long long)tm->due_ms);
	const char *to = hl_arena_printf(a, "user:%s", r->owner_id);
	const char *body = hl_arena_printf(a, "风险定期检查到期: %s", r->name);
	const char *key = risk_timer_key(a, r->id, r->next_review_us);
	if (!d || !subject || !to || !body || !key)
		return hl_fail(err, HL_NOMEM, "out of memory");
	if ((st = hl_audit_append(pg, a, r->tenant, "risk", r->id, ACTOR, "risk.check_reminded", d, false, err)) ||
	    (st = compliance_notify(pg, a, "risk.check_due", subject, to, body, err)))
		return st;
	/* the next reminder, days away: the timers' periodic re-seed tells Redis once this commits */
	return hl_timer_put(pg, a, r->tenant, key, KIND_RISK_CHECK, r->id, r->next_review_us / 1000, err);
}

hl_status compliance_timer_fire(void *app, hl_pg *pg, hl_arena *a, const hl_timer *t, hl_error *err)
{
	(void)app;
	bool event = strcmp(t->kind, KIND_RISK_EVENT) == 0;
	if ((!event && strcmp(t->kind, KIND_RISK_CHECK) != 0) || !hl_uuid_valid(t->subject))
		return HL_OK; /* not ours: nothing to do */
	return event ? risk_event_overdue(pg, a, t, err) : risk_check_due(pg, a, t, err);
}
