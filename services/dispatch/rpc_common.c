/*
 * rpc_common.c - what dispatch's handlers share: who the caller is in the
 * directory, which cases they may see (role, department, recusal 回避),
 * the state and membership checks of case handlers, saving a case with its
 * step and audit entry, and the outbox rows to intake (ticket status) and
 * reporting (case events).  It calls no other handler file: edit_lock.c,
 * case_view.c and the rpc_*.c handlers stand on it.
 */
#include <string.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/enqueue.h"
#include "hl/handler.h"
#include "hl/timers.h"
#include "hl/roles.h"
#include "hotline/common/v1/common.pb-c.h"
#include "hotline/intake/v1/intake.pb-c.h"
#include "store.h"

bool dispatch_in(const char *const *list, int n, const char *dept)
{
	for (int i = 0; dept && i < n; i++)
		if (strcmp(list[i], dept) == 0)
			return true;
	return false;
}

hl_status dispatch_caller_staff(hl_call *c, dispatch_staff **out)
{
	hl_error err;
	if (store_staff_get(hl_call_pg(c), hl_call_arena(c), hl_call_principal(c)->actor, out, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

/* Roles that see every case of the tenant (except where recusal hides it). */
static bool sees_all(hl_call *c)
{
	return hl_call_has_role(c, HL_ROLE_DISPATCHER) || hl_call_has_role(c, HL_ROLE_SUPERVISOR) ||
	       hl_call_has_role(c, HL_ROLE_TENANT_ADMIN) || hl_call_has_role(c, HL_ROLE_AUDITOR);
}

static bool is_complaint_or_report(const dispatch_case *k)
{
	return k->category == HOTLINE__COMMON__V1__CATEGORY__CATEGORY_COMPLAINT ||
	       k->category == HOTLINE__COMMON__V1__CATEGORY__CATEGORY_REPORT;
}

dispatch_local *dispatch_local_of(hl_call *c)
{
	void **slot = hl_call_local(c);
	if (!*slot && (*slot = hl_arena_alloc(hl_call_arena(c), sizeof(dispatch_local))))
		*(dispatch_local *)*slot = (dispatch_local){0};
	return *slot;
}

hl_status dispatch_viewer_load(hl_call *c, dispatch_viewer *v)
{
	dispatch_local *l = dispatch_local_of(c);
	if (l && l->viewer_loaded) { /* the directory does not change within the call */
		*v = l->viewer;
		return HL_OK;
	}
	dispatch_staff *me;
	hl_error err;
	hl_status st = dispatch_caller_staff(c, &me);
	if (st)
		return st;
	v->me = me;
	if (store_departments_led(hl_call_pg(c), hl_call_arena(c), hl_call_principal(c)->actor, &v->led, &v->n_led,
				  &err))
		return hl_call_fail_err(c, &err);
	if (l) {
		l->viewer = *v;
		l->viewer_loaded = true;
	}
	return HL_OK;
}

bool dispatch_case_member(hl_call *c, const dispatch_case *k, const dispatch_viewer *v)
{
	if (!k->department_id)
		return false;
	bool staff = v->me && v->me->active && strcmp(v->me->department_id, k->department_id) == 0 &&
		     (hl_call_has_role(c, HL_ROLE_HANDLER) || hl_call_has_role(c, HL_ROLE_DEPT_HEAD));
	return staff || (hl_call_has_role(c, HL_ROLE_DEPT_HEAD) && dispatch_in(v->led, v->n_led, k->department_id));
}

/* Recusal: the caller belongs to, heads or deputizes a department the case implicates. */
static bool recused(const dispatch_case *k, const dispatch_viewer *v)
{
	if (v->me && dispatch_in(k->implicated, k->n_implicated, v->me->department_id))
		return true;
	for (int i = 0; i < v->n_led; i++)
		if (dispatch_in(k->implicated, k->n_implicated, v->led[i]))
			return true;
	return false;
}

bool dispatch_case_visible(hl_call *c, const dispatch_case *k, const dispatch_viewer *v)
{
	if (recused(k, v)) /* whatever their role */
		return false;
	if (sees_all(c))
		return true;
	if (hl_call_has_role(c, HL_ROLE_INSPECTOR) && is_complaint_or_report(k))
		return true; /* R9: discipline inspection supervises complaints and reports */
	if (hl_call_has_role(c, HL_ROLE_AGENT) && strcmp(k->registered_by, hl_call_principal(c)->actor) == 0)
		return true; /* R13: the first-contact agent follows their tickets */
	return dispatch_case_member(c, k, v);
}

hl_status dispatch_case_load(hl_call *c, const char *id, bool for_update, dispatch_case **out)
{
	hl_error err;
	dispatch_viewer v;
	hl_status st;
	if (!hl_uuid_valid(id))
		return hl_call_fail(c, HL_INVALID, "case_id: not a UUID");
	if ((st = dispatch_viewer_load(c, &v)))
		return st;
	if (store_case_get(hl_call_pg(c), hl_call_arena(c), id, for_update, out, &err))
		return hl_call_fail_err(c, &err);
	if (!*out || !dispatch_case_visible(c, *out, &v))
		return hl_call_fail(c, HL_NOT_FOUND, "case not found");
	return HL_OK;
}

/* The audit details of a step: ids and status, never the note itself (it may quote the citizen). */
static const char *step_details(hl_arena *a, const dispatch_case *k, const char *note)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"status\":%d,\"department\":", k->status);
	hl_buf_json_string(&b, k->department_id ? k->department_id : "");
	hl_buf_puts(&b, ",\"handler\":");
	hl_buf_json_string(&b, k->handler_id ? k->handler_id : "");
	const char *digest = note && note[0] ? hl_sha256_text(a, note) : NULL;
	if (digest)
		hl_buf_printf(&b, ",\"note_sha256\":\"%s\"", digest);
	hl_buf_putc(&b, '}');
	const char *out = hl_buf_failed(&b) ? "{}" : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	return out;
}

hl_status dispatch_record_step(hl_pg *pg, hl_arena *a, const dispatch_case *k, const char *actor, const char *action,
			      const char *note, hl_error *err)
{
	hl_status st = store_step_add(pg, a, k->tenant, k->id, action, actor, k->department_id, note, err);
	return st ? st
		  : hl_audit_append(pg, a, k->tenant, "case", k->id, actor, action, step_details(a, k, note), k->fresh,
				    err);
}

hl_status dispatch_step(hl_call *c, const dispatch_case *k, const char *action, const char *note)
{
	hl_error err;
	if (dispatch_record_step(hl_call_pg(c), hl_call_arena(c), k, hl_call_principal(c)->actor, action, note, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

hl_status dispatch_case_save(hl_call *c, dispatch_case *k)
{
	hl_error err;
	bool ok;
	if (store_case_update(hl_call_pg(c), hl_call_arena(c), k, &ok, &err))
		return hl_call_fail_err(c, &err);
	if (!ok)
		return hl_call_fail(c, HL_ABORTED, "case was changed by a newer edit-lock holder");
	return HL_OK;
}

static hl_enqueue_row row_for(hl_call *c, const dispatch_case *k)
{
	return (hl_enqueue_row){.tenant = k->tenant, .subject_id = k->ticket_id, .actor = hl_call_principal(c)->actor};
}

hl_status dispatch_enqueue_case_event(hl_pg *pg, hl_arena *a, const dispatch_case *k, const char *actor,
				      const char *type, int deadline_kind, int64_t due_us, hl_error *err)
{
	Hotline__Common__V1__CaseChanged p = HOTLINE__COMMON__V1__CASE_CHANGED__INIT;
	Google__Protobuf__Timestamp due = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	due.seconds = due_us / 1000000;
	due.nanos = (int32_t)(due_us % 1000000) * 1000;
	p.case_id = (char *)k->id;
	p.department_id = (char *)(k->department_id ? k->department_id : "");
	p.handler_id = (char *)(k->handler_id ? k->handler_id : "");
	p.case_status = k->status;
	p.basis_kind = k->basis_kind;
	p.rule_id = (char *)(k->basis_rule_id ? k->basis_rule_id : "");
	p.return_reason = k->basis_return_reason;
	p.deadline_kind = deadline_kind;
	p.due_at = due_us ? &due : NULL;
	p.lead = k->role == ROLE_LEAD;
	p.category = k->category;
	p.priority = k->priority;
	Hotline__Common__V1__Event ev = HOTLINE__COMMON__V1__EVENT__INIT;
	ev.payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_CASE_CHANGED;
	ev.case_changed = &p;
	hl_enqueue_row row = {.tenant = k->tenant, .subject_id = k->ticket_id, .actor = actor};
	return hl_enqueue_event(pg, a, &row, type, k->ticket_id, k->version, &ev.base, err);
}

hl_status dispatch_case_event(hl_call *c, const dispatch_case *k, const char *type, int deadline_kind, int64_t due_us)
{
	hl_error err;
	if (dispatch_enqueue_case_event(hl_call_pg(c), hl_call_arena(c), k, hl_call_principal(c)->actor, type,
					deadline_kind, due_us, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

hl_status dispatch_ticket_status(hl_call *c, const dispatch_case *k, int status, const char *note)
{
	if (k->role != ROLE_LEAD)
		return HL_OK; /* the lead case speaks for the ticket */
	hl_arena *a = hl_call_arena(c);
	/* one clock for every service that reports a ticket status: later changes win */
	int64_t version = hl_now_ms() * 1000;
	Hotline__Intake__V1__UpdateTicketStatusRequest m = HOTLINE__INTAKE__V1__UPDATE_TICKET_STATUS_REQUEST__INIT;
	m.ticket_id = (char *)k->ticket_id;
	m.status = status;
	m.version = version;
	m.public_note = (char *)(note ? note : "");
	hl_enqueue_row row = row_for(c, k);
	row.service = &hotline__intake__v1__intake_service__descriptor;
	row.method = "UpdateTicketStatus";
	row.idempotency_key = hl_arena_printf(a, "%s:status:%lld", k->id, (long long)version);
	return hl_call_enqueue(c, &row, &m.base);
}

/* ---- what case handlers require ------------------------------------------------------------ */

hl_status dispatch_require_status(hl_call *c, const dispatch_case *k, unsigned mask, const char *action)
{
	if (mask & DISPATCH_MASK(k->status))
		return HL_OK;
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&hotline__dispatch__v1__case_status__descriptor, k->status);
	return hl_call_fail(c, HL_PRECONDITION, "cannot %s a case in status %s", action, v ? v->name : "?");
}

/* The caller works in the case's department (staff with a handling role, or its head or deputy). */
hl_status dispatch_require_member(hl_call *c, const dispatch_case *k)
{
	static const char *const dept_roles[] = {HL_ROLE_HANDLER, HL_ROLE_DEPT_HEAD, NULL};
	hl_status st;
	dispatch_viewer v;
	if ((st = hl_call_require_any(c, dept_roles)) || (st = dispatch_viewer_load(c, &v)))
		return st;
	if (!dispatch_case_member(c, k, &v))
		return hl_call_fail(c, HL_DENIED, "only staff of the case's department");
	return HL_OK;
}
