/*
 * rpc_violation.c - the accountability record (R22): violations against
 * people and departments, from other services (RecordViolation, internal,
 * through their outboxes: overdue cases, missed follow-ups) and from people
 * (FileViolation by an inspector, supervisor or reviewer), listed with their
 * points for performance assessment, and appealed once by the person or the
 * head of the department concerned.  Violations are an append-only record;
 * each is in the audit chain, goes to reporting (violation.recorded) and is
 * made known to the person and the department.
 */
#include <string.h>

#include "hl/audit.h"
#include "hl/buf.h"
#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/inbox.h"
#include "hl/roles.h"
#include "store.h"

static const char *const file_roles[] = {HL_ROLE_INSPECTOR, HL_ROLE_SUPERVISOR, HL_ROLE_REVIEWER, NULL};
static const char *const oversight_roles[] = {HL_ROLE_INSPECTOR, HL_ROLE_SUPERVISOR, HL_ROLE_REVIEWER,
					      HL_ROLE_AUDITOR,   HL_ROLE_ANALYST,    HL_ROLE_TENANT_ADMIN, NULL};

int compliance_kind_points(int kind)
{
	switch (kind) {
	case HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_LATE_ACCEPTANCE:
		return 1;
	case HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_LATE_HANDLING:
	case HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_MISSED_FOLLOW_UP:
		return 2;
	case HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_LATE_RISK_REPORT:
		return 3;
	case HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_DATA_LEAK:
	case HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_CONCEALMENT:
	case HOTLINE__COMPLIANCE__V1__VIOLATION_KIND__VIOLATION_KIND_GATE_BYPASS:
		return 5;
	default:
		return 1;
	}
}

static bool kind_valid(int kind)
{
	return kind > 0 && protobuf_c_enum_descriptor_get_value(&hotline__compliance__v1__violation_kind__descriptor, kind);
}

static const char *recorded_details(hl_arena *a, const compliance_violation *v)
{
	hl_buf b = HL_BUF_INIT;
	hl_buf_printf(&b, "{\"kind\":%d,\"points\":%d,\"source\":", v->kind, v->points);
	hl_buf_json_string(&b, v->source);
	hl_buf_printf(&b, ",\"department\":");
	hl_buf_json_string(&b, v->department_id);
	hl_buf_printf(&b, ",\"person\":");
	hl_buf_json_string(&b, v->person_id);
	hl_buf_printf(&b, ",\"subject\":");
	hl_buf_json_string(&b, v->subject_id);
	hl_buf_putc(&b, '}');
	const char *out = hl_buf_failed(&b) ? "{}" : hl_arena_strdup(a, b.data);
	hl_buf_release(&b);
	return out;
}

/* The effects of a new violation: audit, event, notices (inside the open transaction). */
static hl_status violation_effects(hl_pg *pg, hl_arena *a, const char *tenant, const char *actor,
				   const compliance_violation *v, hl_error *err)
{
	hl_status st = hl_audit_append(pg, a, tenant, "violation", v->id, actor, "violation.recorded",
				       recorded_details(a, v), true, err);
	if (st)
		return st;
	Hotline__Common__V1__ComplianceChanged p = HOTLINE__COMMON__V1__COMPLIANCE_CHANGED__INIT;
	p.subject_id = (char *)v->id;
	p.department_id = (char *)v->department_id;
	p.person_id = (char *)v->person_id;
	p.level = v->points;
	p.kind = v->kind;
	p.source = (char *)v->source;
	p.due_at = hl_timestamp_new(a, v->due_us);
	if ((st = compliance_event(pg, a, tenant, actor, "violation.recorded", v->ticket_id, &p, err)))
		return st;
	const char *body = hl_arena_printf(a, "违规记录 (kind %d, %d points): %s", v->kind, v->points, v->description);
	if (!body)
		return hl_fail(err, HL_NOMEM, "out of memory");
	if (v->person_id[0] && (st = compliance_notify(pg, a, "violation.recorded", v->id,
						       hl_arena_printf(a, "user:%s", v->person_id), body, err)))
		return st;
	if (v->department_id[0] && (st = compliance_notify(pg, a, "violation.recorded", v->id,
							   hl_arena_printf(a, "dept:%s", v->department_id), body, err)))
		return st;
	return HL_OK;
}

hl_status compliance_violation_record(hl_pg *pg, hl_arena *a, const char *tenant, const char *actor,
				      compliance_violation *v, hl_error *err)
{
	bool created;
	compliance_violation *existing;
	v->recorded_by = actor;
	hl_status st = store_violation_insert(pg, a, v, &created, &existing, err);
	if (st || !created)
		return st;
	return violation_effects(pg, a, tenant, actor, v, err);
}

/* Text fields of RecordViolation and FileViolation. */
static hl_status check_fields(hl_call *c, int kind, const char *subject_type, const char *subject_id,
			      const char *ticket_id, const char *dept, const char *person, const char *description)
{
	hl_status st;
	if (!kind_valid(kind))
		return hl_call_fail(c, HL_INVALID, "kind: required, one of the ViolationKind values");
	if ((st = hl_call_check_text(c, "subject_type", subject_type, 64, false)) ||
	    (st = compliance_check_id(c, "subject_id", subject_id, false)) ||
	    (st = compliance_check_id(c, "department_id", dept, false)) ||
	    (st = compliance_check_id(c, "person_id", person, false)) ||
	    (st = hl_call_check_text(c, "description", description, COMPLIANCE_TEXT_CHARS, false)))
		return st;
	if (ticket_id[0] && !hl_uuid_valid(ticket_id))
		return hl_call_fail(c, HL_INVALID, "ticket_id: not a UUID");
	if (!dept[0] && !person[0])
		return hl_call_fail(c, HL_INVALID, "department_id: a department or a person_id is required");
	return HL_OK;
}

hl_status compliance_record_violation(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__RecordViolationRequest *r = vreq;
	hl_status st;
	bool replayed;
	if ((st = check_fields(c, r->kind, r->subject_type, r->subject_id, r->ticket_id, r->department_id,
			       r->person_id, r->description)) ||
	    (st = hl_inbox_begin(c, &hotline__compliance__v1__record_violation_response__descriptor, resp, &replayed)) ||
	    replayed)
		return st;
	const hl_principal *who = hl_call_principal(c);
	hl_arena *a = hl_call_arena(c);
	compliance_violation v = {
		.kind = r->kind, .subject_type = r->subject_type, .subject_id = r->subject_id, .ticket_id = r->ticket_id,
		.department_id = r->department_id, .person_id = r->person_id, .description = r->description,
		.points = compliance_kind_points(r->kind), .occurred_us = hl_timestamp_us(r->occurred_at),
		.due_us = hl_timestamp_us(r->due_at),
		.source = hl_arena_printf(a, "%s.%s", who->peer_service, r->subject_type[0] ? r->subject_type : "other"),
	};
	Hotline__Compliance__V1__RecordViolationResponse *out =
		HL_NEW(c, hotline__compliance__v1__record_violation_response__descriptor);
	hl_error err;
	if (!out || !v.source)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = compliance_new_id(c, &v.id)))
		return st;
	if (compliance_violation_record(hl_call_pg(c), a, who->tenant, who->actor, &v, &err))
		return hl_call_fail_err(c, &err);
	out->violation_id = (char *)v.id;
	if ((st = hl_inbox_commit(c, out)))
		return st;
	*resp = out;
	return HL_OK;
}

static Hotline__Compliance__V1__Violation *violation_msg(hl_call *c, const compliance_violation *v)
{
	hl_arena *a = hl_call_arena(c);
	Hotline__Compliance__V1__Violation *m = HL_NEW(c, hotline__compliance__v1__violation__descriptor);
	if (!m)
		return NULL;
	m->id = (char *)v->id;
	m->kind = v->kind;
	m->subject_type = (char *)v->subject_type;
	m->subject_id = (char *)v->subject_id;
	m->ticket_id = (char *)v->ticket_id;
	m->department_id = (char *)v->department_id;
	m->person_id = (char *)v->person_id;
	m->description = (char *)v->description;
	m->points = v->points;
	m->source = (char *)v->source;
	m->occurred_at = hl_timestamp_new(a, v->occurred_us);
	m->due_at = hl_timestamp_new(a, v->due_us);
	m->recorded_by = (char *)v->recorded_by;
	m->recorded_at = hl_timestamp_new(a, v->recorded_us);
	m->appeal_note = (char *)(v->appeal_note ? v->appeal_note : "");
	m->appealed_by = (char *)(v->appealed_by ? v->appealed_by : "");
	m->appealed_at = hl_timestamp_new(a, v->appealed_us);
	return m;
}

hl_status compliance_file_violation(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__FileViolationRequest *r = vreq;
	hl_status st;
	if ((st = hl_call_require_any(c, file_roles)) ||
	    (st = check_fields(c, r->kind, r->subject_type, r->subject_id, r->ticket_id, r->department_id,
			       r->person_id, r->description)) ||
	    (st = hl_call_check_request_id(c, r->request_id)))
		return st;
	if (!r->description[0])
		return hl_call_fail(c, HL_INVALID, "description: required");
	if (r->points < 0 || r->points > 100)
		return hl_call_fail(c, HL_INVALID, "points: 0 (the kind's default) to 100");
	if ((st = hl_call_begin(c)))
		return st;
	const hl_principal *who = hl_call_principal(c);
	compliance_violation v = {
		.request_id = r->request_id, .kind = r->kind, .source = "manual", .subject_type = r->subject_type,
		.subject_id = r->subject_id, .ticket_id = r->ticket_id, .department_id = r->department_id,
		.person_id = r->person_id, .description = r->description,
		.points = r->points ? r->points : compliance_kind_points(r->kind),
		.occurred_us = hl_timestamp_us(r->occurred_at), .recorded_by = who->actor,
	};
	bool created;
	compliance_violation *existing;
	hl_error err;
	if ((st = compliance_new_id(c, &v.id)))
		return st;
	if (store_violation_insert(hl_call_pg(c), hl_call_arena(c), &v, &created, &existing, &err) ||
	    (created && violation_effects(hl_call_pg(c), hl_call_arena(c), who->tenant, who->actor, &v, &err)))
		return hl_call_fail_err(c, &err);
	Hotline__Compliance__V1__FileViolationResponse *out =
		HL_NEW(c, hotline__compliance__v1__file_violation_response__descriptor);
	if (!out || !(out->violation = violation_msg(c, created ? &v : existing)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

/* Who sees which violations: oversight roles all, a department head their department's, anyone their own. */
static hl_status scope(hl_call *c, store_violation_filter *f)
{
	if (hl_call_has_any(c, oversight_roles))
		return HL_OK;
	const hl_principal *who = hl_call_principal(c);
	if (hl_call_has_role(c, HL_ROLE_DEPT_HEAD) && who->claims->dept) {
		if (f->department_id && strcmp(f->department_id, who->claims->dept) != 0)
			return hl_call_fail(c, HL_DENIED, "department_id: a department head sees their own department");
		f->department_id = who->claims->dept;
		return HL_OK;
	}
	if (f->person_id && strcmp(f->person_id, who->actor) != 0)
		return hl_call_fail(c, HL_DENIED, "person_id: staff see their own violations");
	f->person_id = who->actor;
	return HL_OK;
}

hl_status compliance_list_violations(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__ListViolationsRequest *r = vreq;
	hl_status st;
	store_violation_filter f = {.kind = r->kind, .from_us = hl_timestamp_us(r->from), .to_us = hl_timestamp_us(r->to)};
	if ((st = compliance_check_id(c, "department_id", r->department_id, false)) ||
	    (st = compliance_check_id(c, "person_id", r->person_id, false)) ||
	    (st = compliance_page(c, r->page_size, r->page_token, &f.limit, &f.after_id)))
		return st;
	if (r->kind && !kind_valid(r->kind))
		return hl_call_fail(c, HL_INVALID, "kind: not a ViolationKind value");
	f.department_id = r->department_id[0] ? r->department_id : NULL;
	f.person_id = r->person_id[0] ? r->person_id : NULL;
	if ((st = scope(c, &f)) || (st = hl_call_begin(c)))
		return st;
	compliance_violation **list;
	int n;
	hl_error err;
	if (store_violations(hl_call_pg(c), hl_call_arena(c), &f, &list, &n, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Compliance__V1__ListViolationsResponse *out =
		HL_NEW(c, hotline__compliance__v1__list_violations_response__descriptor);
	if (!out || !(out->violations = hl_arena_alloc(hl_call_arena(c), (size_t)(n ? n : 1) * sizeof *out->violations)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		if (!(out->violations[out->n_violations++] = violation_msg(c, list[i])))
			return hl_call_fail(c, HL_NOMEM, "out of memory");
		out->total_points += list[i]->points;
	}
	out->next_page_token = (char *)(n == f.limit ? list[n - 1]->id : "");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

hl_status compliance_appeal_violation(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Compliance__V1__AppealViolationRequest *r = vreq;
	hl_status st;
	if (!hl_uuid_valid(r->violation_id))
		return hl_call_fail(c, HL_INVALID, "violation_id: not a UUID");
	if ((st = hl_call_check_text(c, "note", r->note, COMPLIANCE_NOTE_CHARS, true)) || (st = hl_call_begin(c)))
		return st;
	compliance_violation *v;
	hl_error err;
	hl_pg *pg = hl_call_pg(c);
	hl_arena *a = hl_call_arena(c);
	if (store_violation_get(pg, a, r->violation_id, &v, &err))
		return hl_call_fail_err(c, &err);
	if (!v)
		return hl_call_fail(c, HL_NOT_FOUND, "violation not found");
	const hl_principal *who = hl_call_principal(c);
	bool own = v->person_id[0] && strcmp(v->person_id, who->actor) == 0;
	bool head = hl_call_has_role(c, HL_ROLE_DEPT_HEAD) && who->claims->dept && v->department_id[0] &&
		    strcmp(v->department_id, who->claims->dept) == 0;
	if (!own && !head)
		return hl_call_fail(c, HL_DENIED, "only the person concerned or the head of the department appeals");
	bool created;
	if (store_violation_appeal(pg, a, v->id, r->note, who->actor, &created, &err))
		return hl_call_fail_err(c, &err);
	if (!created)
		return hl_call_fail(c, HL_PRECONDITION, "the violation was already appealed");
	if ((st = compliance_audit(c, "violation", v->id, "violation.appealed", NULL, false)))
		return st;
	if (store_violation_get(pg, a, r->violation_id, &v, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Compliance__V1__AppealViolationResponse *out =
		HL_NEW(c, hotline__compliance__v1__appeal_violation_response__descriptor);
	if (!out || !(out->violation = violation_msg(c, v)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}
