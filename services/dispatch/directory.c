/*
 * directory.c - the directory as routing and deadlines read it: active
 * routing rules, departments, SLA policies and the working-time calendar.
 * Inside a held transaction (the items of one BatchService/Apply call, all
 * internal methods, none of which changes the directory) the first item's
 * reads are kept for the others (hl_pg_tx_memo): a batch of submissions
 * reads the rules, the calendar and each policy and department once, and
 * builds the calendar once; and it takes each department's pick lock once.
 * Anywhere else every call reads the store, so a
 * handler that changes the directory reads its own change.
 */
#include "dispatch.h"

#include <string.h>

#include "store.h"

#define MEMO_SLOTS 32 /* departments, and policies, kept per transaction */

struct memo {
	hl_arena *mem; /* the transaction's (hl_pg_tx_mem) */
	bool have_rules, have_calendar;
	dispatch_rule **rules;
	int n_rules;
	const struct hl_calendar *calendar;
	struct {
		const char *id;
		dispatch_department *d;
	} depts[MEMO_SLOTS];
	int n_depts;
	struct {
		int category, priority;
		dispatch_sla *sla;
	} slas[MEMO_SLOTS];
	int n_slas;
	const char *locked[MEMO_SLOTS]; /* departments whose pick lock the transaction holds */
	int n_locked;
};

/* The held transaction's memo (made on first use); NULL outside one, or when out of memory. */
static struct memo *memo_of(hl_pg *pg)
{
	if (!hl_pg_held(pg))
		return NULL;
	static const char owner = 0;
	struct memo **slot = (struct memo **)hl_pg_tx_memo(pg, &owner);
	hl_arena *mem = hl_pg_tx_mem(pg);
	if (slot && !*slot && mem && (*slot = hl_arena_alloc(mem, sizeof **slot)))
		**slot = (struct memo){.mem = mem};
	return slot ? *slot : NULL;
}

hl_status dispatch_dir_rules(hl_pg *pg, hl_arena *a, dispatch_rule ***out, int *n, hl_error *err)
{
	struct memo *m = memo_of(pg);
	if (!m)
		return store_rules(pg, a, true, out, n, err);
	if (!m->have_rules) {
		hl_status st = store_rules(pg, m->mem, true, &m->rules, &m->n_rules, err);
		if (st)
			return st;
		m->have_rules = true;
	}
	*out = m->rules;
	*n = m->n_rules;
	return HL_OK;
}

hl_status dispatch_dir_department(hl_pg *pg, hl_arena *a, const char *id, dispatch_department **out, hl_error *err)
{
	struct memo *m = memo_of(pg);
	if (!m)
		return store_department_get(pg, a, id, out, err);
	for (int i = 0; i < m->n_depts; i++)
		if (strcmp(m->depts[i].id, id) == 0) {
			*out = m->depts[i].d;
			return HL_OK;
		}
	const char *key = hl_arena_strdup(m->mem, id);
	hl_status st = key ? store_department_get(pg, m->mem, id, out, err) : hl_fail(err, HL_NOMEM, "out of memory");
	if (st == HL_OK && m->n_depts < MEMO_SLOTS) {
		m->depts[m->n_depts].id = key;
		m->depts[m->n_depts++].d = *out;
	}
	return st;
}

hl_status dispatch_dir_sla(hl_pg *pg, hl_arena *a, int category, int priority, dispatch_sla **out, hl_error *err)
{
	struct memo *m = memo_of(pg);
	if (!m)
		return store_sla_get(pg, a, category, priority, out, err);
	for (int i = 0; i < m->n_slas; i++)
		if (m->slas[i].category == category && m->slas[i].priority == priority) {
			*out = m->slas[i].sla;
			return HL_OK;
		}
	hl_status st = store_sla_get(pg, m->mem, category, priority, out, err);
	if (st == HL_OK && m->n_slas < MEMO_SLOTS) {
		m->slas[m->n_slas].category = category;
		m->slas[m->n_slas].priority = priority;
		m->slas[m->n_slas++].sla = *out;
	}
	return st;
}

hl_status dispatch_dir_calendar(hl_pg *pg, hl_arena *a, const struct hl_calendar **out, hl_error *err)
{
	struct memo *m = memo_of(pg);
	if (!m)
		return dispatch_calendar_load(pg, a, out, err);
	if (!m->have_calendar) {
		hl_status st = dispatch_calendar_load(pg, m->mem, &m->calendar, err);
		if (st)
			return st;
		m->have_calendar = true;
	}
	*out = m->calendar;
	return HL_OK;
}

bool dispatch_dir_pick_locked(hl_pg *pg, const char *dept)
{
	struct memo *m = memo_of(pg);
	if (!m)
		return false;
	for (int i = 0; i < m->n_locked; i++)
		if (strcmp(m->locked[i], dept) == 0)
			return true;
	if (m->n_locked < MEMO_SLOTS && (m->locked[m->n_locked] = hl_arena_strdup(m->mem, dept)))
		m->n_locked++;
	return false;
}
