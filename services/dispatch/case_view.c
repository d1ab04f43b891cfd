/*
 * case_view.c - the Case message of dispatch's answers (basis, result,
 * steps, deadlines, the edit-lock holder) and the commit-and-answer step of
 * the case handlers.  Stands on rpc_common.c and edit_lock.c.
 */
#include <string.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "hl/handler.h"
#include "store.h"

static Hotline__Dispatch__V1__Basis *basis_msg(hl_call *c, const dispatch_case *k)
{
	Hotline__Dispatch__V1__Basis *b = HL_NEW(c, hotline__dispatch__v1__basis__descriptor);
	if (b) {
		b->kind = k->basis_kind;
		b->rule_id = (char *)(k->basis_rule_id ? k->basis_rule_id : "");
		b->reason = (char *)k->basis_reason;
		b->return_reason = k->basis_return_reason;
		b->actor = (char *)k->basis_actor;
	}
	return b;
}

static Hotline__Dispatch__V1__Result *result_msg(hl_call *c, const dispatch_case *k)
{
	if (!k->result_text)
		return NULL;
	Hotline__Dispatch__V1__Result *r = HL_NEW(c, hotline__dispatch__v1__result__descriptor);
	if (r) {
		r->text = (char *)k->result_text;
		r->submitted_by = (char *)(k->result_by ? k->result_by : "");
		r->submitted_at = hl_call_timestamp(c, k->result_us);
		r->approved_by = (char *)(k->approved_by ? k->approved_by : "");
		r->approved_at = k->approved_us ? hl_call_timestamp(c, k->approved_us) : NULL;
		r->digest = (char *)(k->approved_digest ? k->approved_digest : "");
	}
	return r;
}

static hl_status steps_msg(hl_call *c, const dispatch_case *k, Hotline__Dispatch__V1__Case *m)
{
	dispatch_step_row **steps;
	int n;
	hl_error err;
	if (store_steps(hl_call_pg(c), hl_call_arena(c), k->id, &steps, &n, &err))
		return hl_call_fail_err(c, &err);
	m->steps = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof *m->steps);
	if (!m->steps)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		Hotline__Dispatch__V1__CaseStep *s = HL_NEW(c, hotline__dispatch__v1__case_step__descriptor);
		if (!s)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		s->seq = steps[i]->seq;
		s->action = (char *)steps[i]->action;
		s->actor = (char *)steps[i]->actor;
		s->at = hl_call_timestamp(c, steps[i]->at_us);
		s->note = (char *)steps[i]->note;
		s->department_id = (char *)steps[i]->department_id;
		m->steps[i] = s;
	}
	m->n_steps = (size_t)n;
	return HL_OK;
}

static hl_status deadlines_msg(hl_call *c, const dispatch_case *k, Hotline__Dispatch__V1__Case *m)
{
	dispatch_deadline **dl;
	int n;
	hl_error err;
	if (store_deadlines_latest(hl_call_pg(c), hl_call_arena(c), k->id, &dl, &n, &err))
		return hl_call_fail_err(c, &err);
	m->deadlines = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof *m->deadlines);
	if (!m->deadlines)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		Hotline__Dispatch__V1__Deadline *d = HL_NEW(c, hotline__dispatch__v1__deadline__descriptor);
		if (!d)
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		d->kind = dl[i]->kind;
		d->due_at = dl[i]->due_us ? hl_call_timestamp(c, dl[i]->due_us) : NULL;
		d->warn_at = dl[i]->warn_us ? hl_call_timestamp(c, dl[i]->warn_us) : NULL;
		d->met = dl[i]->met_us != 0;
		d->overdue = dl[i]->overdue_us != 0 && !dl[i]->cancelled_us;
		m->deadlines[i] = d;
	}
	m->n_deadlines = (size_t)n;
	return HL_OK;
}

hl_status dispatch_case_msg(hl_call *c, const dispatch_case *k, bool full, Hotline__Dispatch__V1__Case **out)
{
	Hotline__Dispatch__V1__Case *m = HL_NEW(c, hotline__dispatch__v1__case__descriptor);
	if (!m)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	m->id = (char *)k->id;
	m->ticket_id = (char *)k->ticket_id;
	m->ticket_no = (char *)k->ticket_no;
	m->status = k->status;
	m->role = k->role;
	m->lead_case_id = (char *)(k->lead_case_id ? k->lead_case_id : "");
	m->department_id = (char *)(k->department_id ? k->department_id : "");
	m->handler_id = (char *)(k->handler_id ? k->handler_id : "");
	m->basis = basis_msg(c, k);
	m->channel = k->channel;
	m->category = k->category;
	m->priority = k->priority;
	m->topic = (char *)k->topic;
	m->description = (char *)k->description;
	m->area = (char *)k->area;
	m->registered_by = (char *)k->registered_by;
	m->paused = k->paused_us != 0;
	m->return_count = k->return_count;
	m->reopen_count = k->reopen_count;
	m->result = result_msg(c, k);
	m->version = k->version;
	m->created_at = hl_call_timestamp(c, k->created_us);
	m->updated_at = hl_call_timestamp(c, k->updated_us);
	m->locked_by = (char *)(full ? dispatch_lock_holder(c, k) : "");
	hl_status st;
	if ((st = deadlines_msg(c, k, m)) || (full && (st = steps_msg(c, k, m))))
		return st;
	*out = m;
	return HL_OK;
}

/* ---- manual assignment, transfer, return ------------------------------------------------------------ */

hl_status dispatch_case_answer(hl_call *c, dispatch_case *k, const ProtobufCMessageDescriptor *d, void **resp)
{
	hl_status st;
	Hotline__Dispatch__V1__Case *m;
	if ((st = dispatch_case_msg(c, k, true, &m)) || (st = hl_call_commit(c)))
		return st;
	/* every response that returns the case has it as its first field, a Case message */
	ProtobufCMessage *out = hl_call_new_message(c, d);
	if (!out || d->fields[0].type != PROTOBUF_C_TYPE_MESSAGE ||
	    d->fields[0].descriptor != &hotline__dispatch__v1__case__descriptor)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	*(Hotline__Dispatch__V1__Case **)((char *)out + d->fields[0].offset) = m;
	*resp = out;
	return HL_OK;
}
