/*
 * rpc_questionnaire.c - questionnaires (问卷) for follow-up visits: templates
 * of questions with answer types (text, one of the options, a score 1-5,
 * yes/no), stored as append-only versions; a visit that names a
 * questionnaire has its answers checked against the latest version, which
 * the record keeps.
 */
#include <string.h>

#include "followup.h"
#include "hl/audit.h"
#include "hl/handler.h"
#include "hl/roles.h"
#include "store.h"

#define MAX_QUESTIONS 100
#define MAX_OPTIONS 50

static const char *const admin_roles[] = {HL_ROLE_TENANT_ADMIN, HL_ROLE_SUPERVISOR, NULL};

static hl_status validate_question(hl_call *c, size_t i, const Hotline__Followup__V1__Question *q)
{
	hl_status st;
	const char *field = hl_arena_printf(hl_call_arena(c), "questionnaire.questions[%zu]", i);
	if (!field)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if ((st = hl_call_check_text(c, "questionnaire.questions.id", q->id, 64, true)) ||
	    (st = hl_call_check_text(c, "questionnaire.questions.text", q->text, 500, true)))
		return st;
	if (!q->type || !protobuf_c_enum_descriptor_get_value(&hotline__followup__v1__answer_type__descriptor, q->type))
		return hl_call_fail(c, HL_INVALID, "%s.type: required, one of the AnswerType values", field);
	bool choice = q->type == HOTLINE__FOLLOWUP__V1__ANSWER_TYPE__ANSWER_TYPE_CHOICE;
	if (choice ? (q->n_options < 1 || q->n_options > MAX_OPTIONS) : q->n_options != 0)
		return hl_call_fail(c, HL_INVALID, "%s.options: 1 to %d for a choice, none otherwise", field, MAX_OPTIONS);
	for (size_t k = 0; k < q->n_options; k++)
		if ((st = hl_call_check_text(c, "questionnaire.questions.options", q->options[k], 200, true)))
			return st;
	return HL_OK;
}

static hl_status validate(hl_call *c, const Hotline__Followup__V1__Questionnaire *m)
{
	hl_status st;
	if (!m)
		return hl_call_fail(c, HL_INVALID, "questionnaire: required");
	if ((st = hl_call_check_text(c, "questionnaire.id", m->id, 64, true)) ||
	    (st = hl_call_check_text(c, "questionnaire.name", m->name, 200, true)))
		return st;
	if (m->n_questions < 1 || m->n_questions > MAX_QUESTIONS)
		return hl_call_fail(c, HL_INVALID, "questionnaire.questions: 1 to %d", MAX_QUESTIONS);
	for (size_t i = 0; i < m->n_questions; i++) {
		if ((st = validate_question(c, i, m->questions[i])))
			return st;
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->questions[i]->id, m->questions[j]->id) == 0)
				return hl_call_fail(c, HL_INVALID, "questionnaire.questions[%zu].id: given twice", i);
	}
	return HL_OK;
}

hl_status followup_put_questionnaire(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Followup__V1__PutQuestionnaireRequest *r = vreq;
	const Hotline__Followup__V1__Questionnaire *m = r->questionnaire;
	hl_status st;
	if ((st = hl_call_require_any(c, admin_roles)) || (st = validate(c, m)) || (st = hl_call_begin(c)))
		return st;
	hl_arena *a = hl_call_arena(c);
	size_t len = protobuf_c_message_get_packed_size(&m->base);
	uint8_t *body = hl_arena_alloc(a, len ? len : 1);
	if (!body)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	protobuf_c_message_pack(&m->base, body);
	int version;
	hl_error err;
	if (store_questionnaire_put(hl_call_pg(c), a, hl_call_tenant(c), m->id, m->name, body, len,
				    hl_call_principal(c)->actor, &version, &err) ||
	    hl_audit_append(hl_call_pg(c), a, hl_call_tenant(c), "questionnaire", m->id, hl_call_principal(c)->actor,
			    "questionnaire.put",
			    hl_arena_printf(a, "{\"version\":%d,\"questions\":%zu}", version, m->n_questions),
			    version == 1, &err))
		return hl_call_fail_err(c, &err);
	Hotline__Followup__V1__PutQuestionnaireResponse *out =
		HL_NEW(c, hotline__followup__v1__put_questionnaire_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->questionnaire = (Hotline__Followup__V1__Questionnaire *)m;
	out->version = version;
	if ((st = hl_call_commit(c)))
		return st;
	*resp = out;
	return HL_OK;
}

/* ---- answers of a visit ------------------------------------------------------------------------ */

static bool answer_fits(const Hotline__Followup__V1__Question *q, const char *answer)
{
	switch ((int)q->type) {
	case HOTLINE__FOLLOWUP__V1__ANSWER_TYPE__ANSWER_TYPE_CHOICE:
		for (size_t k = 0; k < q->n_options; k++)
			if (strcmp(q->options[k], answer) == 0)
				return true;
		return false;
	case HOTLINE__FOLLOWUP__V1__ANSWER_TYPE__ANSWER_TYPE_SCORE:
		return strlen(answer) == 1 && answer[0] >= '1' && answer[0] <= '5';
	case HOTLINE__FOLLOWUP__V1__ANSWER_TYPE__ANSWER_TYPE_YES_NO:
		return strcmp(answer, "yes") == 0 || strcmp(answer, "no") == 0;
	default:
		return answer[0] != '\0' || !q->required;
	}
}

static const Hotline__Followup__V1__Question *question(const Hotline__Followup__V1__Questionnaire *qn,
						       const char *id)
{
	for (size_t i = 0; i < qn->n_questions; i++)
		if (strcmp(qn->questions[i]->id, id) == 0)
			return qn->questions[i];
	return NULL;
}

static bool answered(Hotline__Followup__V1__VisitAnswer **answers, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(answers[i]->question, id) == 0)
			return true;
	return false;
}

hl_status followup_questionnaire_check(hl_call *c, const char *id, Hotline__Followup__V1__VisitAnswer **answers,
				       size_t n, int *version)
{
	uint8_t *body;
	size_t len;
	hl_error err;
	if (store_questionnaire_get(hl_call_pg(c), hl_call_arena(c), id, &body, &len, version, &err))
		return hl_call_fail_err(c, &err);
	if (!body)
		return hl_call_fail(c, HL_NOT_FOUND, "questionnaire_id: no such questionnaire");
	Hotline__Followup__V1__Questionnaire *qn = (void *)protobuf_c_message_unpack(
		&hotline__followup__v1__questionnaire__descriptor, hl_arena_pb_allocator(hl_call_arena(c)), len, body);
	if (!qn)
		return hl_call_fail(c, HL_DATA_LOSS, "questionnaire %s cannot be read back", id);
	for (size_t i = 0; i < n; i++) {
		const Hotline__Followup__V1__Question *q = question(qn, answers[i]->question);
		if (!q)
			return hl_call_fail(c, HL_INVALID, "answers[%zu].question: not a question of %s", i, id);
		if (answered(answers, i, answers[i]->question))
			return hl_call_fail(c, HL_INVALID, "answers[%zu].question: answered twice", i);
		if (!answer_fits(q, answers[i]->answer))
			return hl_call_fail(c, HL_INVALID, "answers[%zu].answer: does not fit question %s", i, q->id);
	}
	for (size_t i = 0; i < qn->n_questions; i++)
		if (qn->questions[i]->required && !answered(answers, n, qn->questions[i]->id))
			return hl_call_fail(c, HL_INVALID, "answers: question %s is required", qn->questions[i]->id);
	return HL_OK;
}
