/*
 * daily.c - the daily report (日报): at each tenant's cut-off the figures of
 * the day's window are read from the projections, frozen as the protobuf
 * serialization of DailyReportContent with the day's audit checkpoint, hashed
 * (SHA-256) and signed (Ed25519), and stored once (daily_reports is
 * append-only; (tenant, date) is its key, so a timer firing twice, the sweep
 * and a user's FreezeDailyReport cannot make two).  Events recorded after a
 * report was frozen are listed as corrections in the next one; a frozen
 * report is never rewritten.
 *
 * Who freezes: the Redis timer "daily:<date>" of each tenant at the window's
 * end (hl/timers.h; the next day's timer is put by the same transaction),
 * and, for days a timer missed (a tenant whose settings changed, a long
 * outage), the sweep that one replica at a time runs under the singleton
 * lock "daily-cutoff" (hl/lock.h), which stores its fencing number with the
 * reports it freezes.
 */
#include "reporting.h"

#include <string.h>

#include "hl/audit.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/log.h"
#include "hl/timers.h"
#include "store.h"

#define TIMER_KIND "report.daily"

/* The report message of a stored snapshot (content unpacked from its bytes). */
static hl_status report_msg(hl_arena *a, const store_report *rp, Hotline__Reporting__V1__DailyReport **out,
			    hl_error *err)
{
	Hotline__Reporting__V1__DailyReport *m = hl_arena_alloc(a, sizeof *m);
	if (!m)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hotline__reporting__v1__daily_report__init(m);
	m->content = hotline__reporting__v1__daily_report_content__unpack(hl_arena_pb_allocator(a), rp->content_len,
									   rp->content);
	if (!m->content)
		return hl_fail(err, HL_INTERNAL, "daily report %s: stored content unreadable", rp->date);
	m->content_bytes.data = (uint8_t *)rp->content;
	m->content_bytes.len = rp->content_len;
	m->content_sha256 = (char *)rp->sha256;
	m->signature.data = (uint8_t *)rp->signature;
	m->signature.len = rp->signature_len;
	m->key_id = (char *)rp->key_id;
	m->public_key_pem = (char *)rp->public_key;
	*out = m;
	return HL_OK;
}

hl_status reporting_report_get(hl_pg *pg, hl_arena *a, const char *date, Hotline__Reporting__V1__DailyReport **out,
			       hl_error *err)
{
	store_report *rp;
	*out = NULL;
	hl_status st = store_report_get(pg, a, date, &rp, err);
	if (st || !rp)
		return st;
	return report_msg(a, rp, out, err);
}

static hl_status checkpoint(hl_pg *pg, hl_arena *a, Hotline__Reporting__V1__DailyReportContent *c, hl_error *err)
{
	hl_audit_checkpoint cp;
	hl_status st = hl_audit_checkpoint_compute(pg, a, &cp, err);
	if (st)
		return st;
	Hotline__Reporting__V1__AuditCheckpoint *m = hl_arena_alloc(a, sizeof *m);
	char *hex = hl_arena_alloc(a, 2 * HL_AUDIT_HASH_LEN + 1);
	if (!m || !hex)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hotline__reporting__v1__audit_checkpoint__init(m);
	hl_hex_write(cp.digest, sizeof cp.digest, hex);
	m->chains = cp.chains;
	m->entries = cp.entries;
	m->digest = hex;
	c->audit_checkpoint = m;
	return HL_OK;
}

/* Serialize, hash and sign c into the snapshot row rp. */
static hl_status seal(reporting_app *app, hl_arena *a, const Hotline__Reporting__V1__DailyReportContent *c,
		      store_report *rp, hl_error *err)
{
	size_t len = hotline__reporting__v1__daily_report_content__get_packed_size(c);
	uint8_t *bytes = hl_arena_alloc(a, len ? len : 1), *sig = hl_arena_alloc(a, 64);
	char *hex = hl_arena_alloc(a, 2 * HL_SHA256_LEN + 1);
	uint8_t digest[HL_SHA256_LEN];
	if (!bytes || !sig || !hex)
		return hl_fail(err, HL_NOMEM, "out of memory");
	hotline__reporting__v1__daily_report_content__pack(c, bytes);
	hl_status st;
	if ((st = hl_sha256(bytes, len, digest, err)) || (st = reporting_sign(app->signer, bytes, len, sig, err)))
		return st;
	hl_hex_write(digest, sizeof digest, hex);
	rp->content = bytes;
	rp->content_len = len;
	rp->sha256 = hex;
	rp->signature = sig;
	rp->signature_len = 64;
	rp->key_id = reporting_signer_key_id(app->signer);
	rp->public_key = reporting_signer_public_pem(app->signer);
	return HL_OK;
}

hl_status reporting_freeze(reporting_app *app, hl_pg *pg, hl_arena *a, const char *tenant, const reporting_day *day,
			   const char *actor, int64_t fence, Hotline__Reporting__V1__DailyReport **out, bool *created,
			   hl_error *err)
{
	*created = false;
	hl_status st = reporting_report_get(pg, a, day->date, out, err);
	if (st || *out)
		return st;
	int64_t now_us = hl_now_ms() * 1000;
	if (now_us < day->end_us)
		return hl_fail(err, HL_PRECONDITION, "date: the day's cut-off has not passed yet");
	int64_t prev_frozen;
	Hotline__Reporting__V1__DailyReportContent c = HOTLINE__REPORTING__V1__DAILY_REPORT_CONTENT__INIT;
	c.tenant = (char *)tenant;
	c.date = (char *)day->date;
	c.zone = (char *)day->zone;
	c.window_start = hl_timestamp_new(a, day->start_us);
	c.window_end = hl_timestamp_new(a, day->end_us);
	c.frozen_at = hl_timestamp_new(a, now_us);
	c.key_id = (char *)reporting_signer_key_id(app->signer);
	if (!c.window_start || !c.window_end || !c.frozen_at)
		return hl_fail(err, HL_NOMEM, "out of memory");
	if ((st = store_prev_frozen(pg, a, day->date, &prev_frozen, err)) ||
	    (st = store_report_figures(pg, a, day->start_us, day->end_us, prev_frozen, day->zone, day->cutoff_minutes,
				       &c, err)))
		return st;
	/* the audit entry first, so that the checkpoint covers the report's own freezing */
	const char *subject = hl_arena_printf(a, "report:%s", day->date);
	const char *details = hl_arena_printf(a, "{\"date\":\"%s\",\"received\":%lld,\"corrections\":%lld,\"fence\":%lld}",
					      day->date, (long long)c.received, (long long)c.corrections_total,
					      (long long)fence);
	if (!subject || !details)
		return hl_fail(err, HL_NOMEM, "out of memory");
	if ((st = hl_audit_append(pg, a, tenant, "daily_report", subject, actor, "report.frozen", details, true, err)) ||
	    (st = checkpoint(pg, a, &c, err)))
		return st;
	store_report rp = {.date = day->date, .start_us = day->start_us, .end_us = day->end_us, .frozen_us = now_us,
			   .received = c.received, .corrections = c.corrections_total, .frozen_by = actor,
			   .fence = fence};
	bool inserted;
	if ((st = seal(app, a, &c, &rp, err)) || (st = store_report_insert(pg, a, tenant, &rp, &inserted, err)))
		return st;
	if (!inserted)
		return hl_fail(err, HL_ABORTED, "daily report %s frozen concurrently, retry", day->date);
	*created = true;
	HL_LOG_INFO("report_frozen", "tenant=%s date=%s received=%lld corrections=%lld", tenant, day->date,
		    (long long)c.received, (long long)c.corrections_total);
	return report_msg(a, &rp, out, err);
}

hl_status reporting_today_timer(hl_pg *pg, hl_arena *a, const char *zone, int cutoff_minutes, hl_timer_item *out,
				hl_error *err)
{
	const char *today;
	int64_t start_us, end_us;
	hl_status st;
	if ((st = store_day_of(pg, a, zone, cutoff_minutes, hl_now_ms() * 1000, &today, err)) ||
	    (st = store_day_window(pg, a, zone, cutoff_minutes, today, &start_us, &end_us, err)))
		return st;
	*out = (hl_timer_item){.key = hl_arena_printf(a, "daily:%s", today), .kind = TIMER_KIND, .subject = today,
			       .due_ms = end_us / 1000};
	return out->key ? HL_OK : hl_fail(err, HL_NOMEM, "out of memory");
}

hl_status reporting_schedule_next(hl_pg *pg, hl_arena *a, const char *tenant, const char *zone, int cutoff_minutes,
				  const char *after_date, int64_t *due_ms, const char **next_date, hl_error *err)
{
	const char *next;
	int64_t start_us, end_us;
	hl_status st;
	if ((st = store_date_add(pg, a, after_date, 1, &next, err)) ||
	    (st = store_day_window(pg, a, zone, cutoff_minutes, next, &start_us, &end_us, err)))
		return st;
	const char *key = hl_arena_printf(a, "daily:%s", next);
	if (!key)
		return hl_fail(err, HL_NOMEM, "out of memory");
	*due_ms = end_us / 1000;
	if (next_date)
		*next_date = next;
	return hl_timer_put(pg, a, tenant, key, TIMER_KIND, next, end_us / 1000, err);
}

static hl_status day_of_date(hl_pg *pg, hl_arena *a, const char *date, reporting_day *d, hl_error *err)
{
	hl_status st = store_settings_get(pg, a, &d->zone, &d->cutoff_minutes, err);
	if (st)
		return st;
	d->date = date;
	return store_day_window(pg, a, d->zone, d->cutoff_minutes, date, &d->start_us, &d->end_us, err);
}

hl_status reporting_timer_fire(void *appp, hl_pg *pg, hl_arena *a, const hl_timer *t, hl_error *err)
{
	reporting_app *app = appp;
	if (strcmp(t->kind, TIMER_KIND) != 0)
		return HL_OK; /* not ours */
	reporting_day day;
	Hotline__Reporting__V1__DailyReport *rep;
	bool created;
	int64_t due_ms;
	hl_status st;
	if ((st = day_of_date(pg, a, t->subject, &day, err)))
		return st;
	if (hl_now_ms() * 1000 < day.end_us) /* the cut-off moved later since the timer was put */
		return hl_timer_put(pg, a, t->tenant, t->key, TIMER_KIND, t->subject, day.end_us / 1000, err);
	const char *today, *after = day.date;
	if ((st = reporting_freeze(app, pg, a, t->tenant, &day, "system:reporting", 0, &rep, &created, err)) ||
	    (st = store_day_of(pg, a, day.zone, day.cutoff_minutes, hl_now_ms() * 1000, &today, err)))
		return st;
	/* the timer moves on to the current day; days it skipped (an outage) are the sweep's */
	if (strcmp(today, day.date) > 0 && (st = store_date_add(pg, a, today, -1, &after, err)))
		return st;
	return reporting_schedule_next(pg, a, t->tenant, day.zone, day.cutoff_minutes, after, &due_ms, NULL, err);
}

/* Freeze the due days of one tenant (at most 31 per pass, oldest first). */
static hl_status sweep_tenant(reporting_app *app, hl_pg *pg, hl_arena *a, const store_tenant *tn, int64_t fence,
			      hl_error *err)
{
	const char *first, *last, *today, *day_s;
	hl_status st;
	if ((st = store_days_bounds(pg, a, tn->zone, tn->cutoff_minutes, &first, &last, err)) ||
	    (st = store_day_of(pg, a, tn->zone, tn->cutoff_minutes, hl_now_ms() * 1000, &today, err)))
		return st;
	if (!first[0])
		return HL_OK; /* no event yet */
	/* from the day after the latest report, but never before the tenant's first day */
	day_s = first;
	if (last[0]) {
		const char *after_last;
		if ((st = store_date_add(pg, a, last, 1, &after_last, err)))
			return st;
		if (strcmp(after_last, first) > 0)
			day_s = after_last;
	}
	for (int i = 0; i < 31 && strcmp(day_s, today) < 0; i++) {
		reporting_day day = {.date = day_s, .zone = tn->zone, .cutoff_minutes = tn->cutoff_minutes};
		Hotline__Reporting__V1__DailyReport *rep;
		bool created;
		if ((st = store_day_window(pg, a, tn->zone, tn->cutoff_minutes, day_s, &day.start_us, &day.end_us, err)) ||
		    (st = reporting_freeze(app, pg, a, tn->tenant, &day, "system:reporting", fence, &rep, &created, err)) ||
		    (st = store_date_add(pg, a, day_s, 1, &day_s, err)))
			return st;
	}
	return HL_OK;
}

hl_status reporting_sweep(void *appp, int64_t fence, hl_error *err)
{
	reporting_app *app = appp;
	hl_arena *a = hl_arena_new();
	if (!a)
		return hl_fail(err, HL_NOMEM, "out of memory");
	store_tenant **tenants;
	int n = 0;
	hl_status st = hl_pg_begin(app->sweep_pg, NULL, 60000, err);
	if (!st)
		st = store_tenants(app->sweep_pg, a, &tenants, &n, err);
	hl_pg_rollback(app->sweep_pg);
	for (int i = 0; i < n && !st; i++) {
		/* one transaction per tenant: one tenant's trouble does not hold back the others */
		if ((st = hl_pg_begin(app->sweep_pg, tenants[i]->tenant, 60000, err)))
			break;
		hl_error terr;
		if (sweep_tenant(app, app->sweep_pg, a, tenants[i], fence, &terr) ||
		    hl_pg_commit(app->sweep_pg, &terr)) {
			HL_LOG_WARN("report_sweep_failed", "tenant=%s msg=%s", tenants[i]->tenant, hl_error_text(&terr));
			hl_pg_rollback(app->sweep_pg);
		}
	}
	hl_arena_free(a);
	return st;
}
