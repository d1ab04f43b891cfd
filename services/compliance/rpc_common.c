/*
 * rpc_common.c - what compliance's handlers share: the app state, audit
 * entries, ids and pages, and the two effects every part of the service
 * has: an event to reporting (one ComplianceChanged payload for risk events,
 * violations, warnings and review decisions) and a notice to a person, a
 * role or a department.
 */
#include <string.h>

#include "hl/audit.h"
#include "hl/crypto.h"
#include "hl/enqueue.h"
#include "hl/handler.h"
#include "store.h"

compliance_app *compliance_app_of(hl_call *c)
{
	return hl_call_app(c);
}

hl_status compliance_audit(hl_call *c, const char *type, const char *id, const char *action, const char *details,
			   bool new_subject)
{
	hl_error err;
	if (hl_audit_append(hl_call_pg(c), hl_call_arena(c), hl_call_principal(c)->tenant, type, id,
			    hl_call_principal(c)->actor, action, details, new_subject, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}

hl_status compliance_new_id(hl_call *c, const char **out)
{
	char *id = hl_arena_alloc(hl_call_arena(c), HL_UUID_STR_LEN);
	if (!id || hl_uuid_v7(id))
		return hl_call_fail(c, HL_NOMEM, "cannot make an id");
	*out = id;
	return HL_OK;
}

hl_status compliance_page(hl_call *c, int32_t page_size, const char *token, int *limit, const char **after)
{
	if (page_size < 0 || page_size > 200)
		return hl_call_fail(c, HL_INVALID, "page_size: 0 to 200");
	if (token[0] && !hl_uuid_valid(token))
		return hl_call_fail(c, HL_INVALID, "page_token: not a token from a previous page");
	*limit = page_size ? page_size : 50;
	*after = token[0] ? token : NULL;
	return HL_OK;
}

hl_status compliance_check_id(hl_call *c, const char *field, const char *v, bool required)
{
	return hl_call_check_text(c, field, v, COMPLIANCE_ID_CHARS, required);
}

hl_status compliance_event(hl_pg *pg, hl_arena *a, const char *tenant, const char *actor, const char *type,
			   const char *ticket_id, Hotline__Common__V1__ComplianceChanged *p, hl_error *err)
{
	Hotline__Common__V1__Event ev = HOTLINE__COMMON__V1__EVENT__INIT;
	ev.payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_COMPLIANCE_CHANGED;
	ev.compliance_changed = p;
	hl_enqueue_row row = {.tenant = tenant, .subject_id = p->subject_id, .actor = actor};
	return hl_enqueue_event(pg, a, &row, type, ticket_id ? ticket_id : "", 0, &ev.base, err);
}

hl_status compliance_notify(hl_pg *pg, hl_arena *a, const char *kind, const char *subject_id, const char *recipient,
			    const char *body, hl_error *err)
{
	char id[HL_UUID_STR_LEN];
	if (hl_uuid_v7(id))
		return hl_fail(err, HL_INTERNAL, "cannot make an id");
	compliance_notice n = {.id = id, .kind = kind, .subject_id = subject_id, .recipient = recipient, .body = body};
	return store_notice_insert(pg, a, &n, err);
}
