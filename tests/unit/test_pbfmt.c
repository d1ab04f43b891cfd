/*
 * test_pbfmt.c - hotlinectl's generic protobuf formatter (tools/hotlinectl/
 * pbfmt.c): enum short names, RFC 3339 times both ways, JSON that the strict
 * parser accepts (int64 as strings, bytes in base64, oneofs, U+FFFD for
 * bytes that are not UTF-8) and the "key: value" text form.
 */
#include "pbfmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "hl/json.h"
#include "hotline/audit/v1/audit.pb-c.h"
#include "hotline/common/v1/common.pb-c.h"
#include "hotline/intake/v1/intake.pb-c.h"
#include "hotline/outbox/v1/outbox.pb-c.h"
#include "t.h"

static hl_arena *A;

static const char *time_str(int64_t s, int32_t n, bool frac)
{
	static char out[64];
	hl_buf b = HL_BUF_INIT;
	pbfmt_time(&b, s, n, frac);
	snprintf(out, sizeof out, "%s", hl_buf_failed(&b) ? "?" : b.data);
	hl_buf_release(&b);
	return out;
}

static void test_enum_names(void)
{
	char buf[64];
	int v = 0;
	const ProtobufCEnumDescriptor *st = &hotline__common__v1__ticket_status__descriptor;
	T_EQ_STR(pbfmt_enum_short(st, 3, buf, sizeof buf), "in_handling");
	T_EQ_STR(pbfmt_enum_short(st, 0, buf, sizeof buf), "unspecified");
	T_EQ_STR(pbfmt_enum_short(st, 99, buf, sizeof buf), "99");
	T_ASSERT(pbfmt_enum_parse(st, "in-handling", &v) && v == 3);
	v = 0;
	T_ASSERT(pbfmt_enum_parse(st, "TICKET_STATUS_IN_HANDLING", &v) && v == 3);
	v = 0;
	T_ASSERT(pbfmt_enum_parse(st, "Answered_On-Spot", &v) && v == 2);
	T_ASSERT(!pbfmt_enum_parse(st, "unspecified", &v));
	T_ASSERT(!pbfmt_enum_parse(st, "TICKET_STATUS_UNSPECIFIED", &v));
	T_ASSERT(!pbfmt_enum_parse(st, "", &v));
	T_ASSERT(!pbfmt_enum_parse(st, "in_handlin", &v));
	hl_buf b = HL_BUF_INIT;
	pbfmt_enum_names(&b, &hotline__common__v1__channel__descriptor, ", ");
	T_EQ_STR(b.data, "phone, web, wechat, email, walk_in, open311");
	hl_buf_release(&b);
}

static void test_time_format(void)
{
	T_EQ_STR(time_str(0, 0, true), "1970-01-01T00:00:00Z");
	T_EQ_STR(time_str(1714552200, 0, true), "2024-05-01T08:30:00Z");
	T_EQ_STR(time_str(1714552200, 500000000, true), "2024-05-01T08:30:00.500Z");
	T_EQ_STR(time_str(1714552200, 123000, true), "2024-05-01T08:30:00.000123Z");
	T_EQ_STR(time_str(1714552200, 1, true), "2024-05-01T08:30:00.000000001Z");
	T_EQ_STR(time_str(1714552200, 1, false), "2024-05-01T08:30:00Z");
	T_EQ_STR(time_str(-1, 0, true), "1969-12-31T23:59:59Z");
	T_EQ_STR(time_str(1709164800, 0, true), "2024-02-29T00:00:00Z");
	T_EQ_STR(time_str(253402300799LL, 0, true), "9999-12-31T23:59:59Z");
	T_EQ_STR(time_str(-62135596800LL, 0, true), "0001-01-01T00:00:00Z");
}

static void test_time_parse(void)
{
	int64_t s = 0;
	int32_t n = -1;
	T_ASSERT(pbfmt_time_parse("2024-05-01T08:30:00+08:00", &s, &n));
	T_EQ_INT(s, 1714523400);
	T_EQ_INT(n, 0);
	T_ASSERT(pbfmt_time_parse("2024-05-01", &s, &n));
	T_EQ_INT(s, 1714521600);
	T_ASSERT(pbfmt_time_parse("2024-05-01 08:30:00.5z", &s, &n));
	T_EQ_INT(s, 1714552200);
	T_EQ_INT(n, 500000000);
	T_ASSERT(pbfmt_time_parse("2024-05-01t08:30:00.1234567891234-00:30", &s, &n));
	T_EQ_INT(s, 1714552200 + 1800);
	T_EQ_INT(n, 123456789);
	T_ASSERT(pbfmt_time_parse("2024-02-29T23:59:59Z", &s, &n));
	T_EQ_STR(time_str(s, n, true), "2024-02-29T23:59:59Z");
	static const char *const bad[] = {
		"",
		"2024-02-30",
		"2023-02-29",
		"2024-13-01",
		"2024-00-10",
		"2024-5-1",
		"2024-05-01T24:00:00Z",
		"2024-05-01T08:60:00Z",
		"2024-05-01T08:30:00",
		"2024-05-01T08:30:00.Z",
		"2024-05-01T08:30:00+8:00",
		"2024-05-01T08:30:00Zx",
		"2024-05-01X08:30:00Z",
		"0000-01-01",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (pbfmt_time_parse(bad[i], &s, &n))
			T_FAILF("accepted %s", bad[i]);
}

/* A ticket with Chinese text, a bad byte, a control character, nested and repeated messages. */
static Hotline__Intake__V1__Ticket *sample_ticket(void)
{
	static Hotline__Intake__V1__Ticket t = HOTLINE__INTAKE__V1__TICKET__INIT;
	static Hotline__Intake__V1__Caller caller = HOTLINE__INTAKE__V1__CALLER__INIT;
	static Hotline__Intake__V1__Amendment am = HOTLINE__INTAKE__V1__AMENDMENT__INIT;
	static Hotline__Intake__V1__Amendment *ams[] = {&am, &am};
	static Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	ts.seconds = 1714552200;
	ts.nanos = 250000000;
	caller.name = "张*";
	caller.phone = "138****5678";
	am.field = "topic";
	am.new_value = "噪音";
	am.created_at = &ts;
	t.id = "01a2325c-80b4-7926-8c80-9d64862eb6ab";
	t.ticket_no = "202405010000001";
	t.status = HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_IN_HANDLING;
	t.status_version = 9007199254740993LL;
	t.topic = "小区\"噪音\"\xff扰民";
	t.description = "第一行\n第二行\x01";
	t.caller = &caller;
	t.created_at = &ts;
	t.n_amendments = 2;
	t.amendments = ams;
	return &t;
}

static hl_json *to_json(const ProtobufCMessage *m, bool pretty)
{
	hl_buf b = HL_BUF_INIT;
	hl_json *v = NULL;
	pbfmt_json(&b, m, pretty, A);
	if (hl_buf_failed(&b) || hl_json_parse(A, b.data, b.len, &v, NULL) != HL_OK)
		v = NULL;
	hl_buf_release(&b);
	return v;
}

static void test_json_ticket(void)
{
	for (int pretty = 0; pretty < 2; pretty++) {
		hl_json *v = to_json(&sample_ticket()->base, pretty);
		T_ASSERT(v);
		T_EQ_STR(hl_json_string(hl_json_get(v, "ticket_no")), "202405010000001");
		T_EQ_STR(hl_json_string(hl_json_get(v, "status")), "TICKET_STATUS_IN_HANDLING");
		T_EQ_STR(hl_json_string(hl_json_get(v, "channel")), "CHANNEL_UNSPECIFIED");
		T_EQ_STR(hl_json_string(hl_json_get(v, "status_version")), "9007199254740993");
		T_EQ_STR(hl_json_string(hl_json_get(v, "topic")), "小区\"噪音\"\xef\xbf\xbd扰民");
		T_EQ_STR(hl_json_string(hl_json_get(v, "description")), "第一行\n第二行\x01");
		T_EQ_STR(hl_json_string(hl_json_get(hl_json_get(v, "caller"), "name")), "张*");
		T_EQ_STR(hl_json_string(hl_json_get(hl_json_get(v, "caller"), "email")), "");
		T_EQ_STR(hl_json_string(hl_json_get(v, "created_at")), "2024-05-01T08:30:00.250Z");
		T_ASSERT(hl_json_get(v, "updated_at") == NULL);
		T_EQ_INT(hl_json_array_len(hl_json_get(v, "amendments")), 2);
		T_EQ_STR(hl_json_string(hl_json_get(hl_json_array_item(hl_json_get(v, "amendments"), 1), "new_value")),
			 "噪音");
		T_ASSERT(hl_json_typeof(hl_json_get(v, "public_notes")) == HL_JSON_ARRAY);
		T_EQ_INT(hl_json_array_len(hl_json_get(v, "public_notes")), 0);
		bool anon = true;
		T_ASSERT(hl_json_bool(hl_json_get(v, "anonymous"), &anon) && !anon);
	}
}

static void test_json_oneof_bytes_double(void)
{
	Hotline__Common__V1__TicketStatusChanged p = HOTLINE__COMMON__V1__TICKET_STATUS_CHANGED__INIT;
	Hotline__Common__V1__Event ev = HOTLINE__COMMON__V1__EVENT__INIT;
	p.status = HOTLINE__COMMON__V1__TICKET_STATUS__TICKET_STATUS_CLOSED;
	ev.payload_case = HOTLINE__COMMON__V1__EVENT__PAYLOAD_TICKET_STATUS_CHANGED;
	ev.ticket_status_changed = &p;
	hl_json *v = to_json(&ev.base, true);
	T_ASSERT(v);
	T_ASSERT(hl_json_get(v, "ticket_registered") == NULL);
	T_EQ_STR(hl_json_string(hl_json_get(hl_json_get(v, "ticket_status_changed"), "status")),
		 "TICKET_STATUS_CLOSED");

	uint8_t h[3] = {0xfb, 0xff, 0x00};
	Hotline__Audit__V1__AuditEntry e = HOTLINE__AUDIT__V1__AUDIT_ENTRY__INIT;
	e.hash = (ProtobufCBinaryData){3, h};
	v = to_json(&e.base, false);
	T_ASSERT(v);
	T_EQ_STR(hl_json_string(hl_json_get(v, "hash")), "+/8A");
	T_EQ_STR(hl_json_string(hl_json_get(v, "prev_hash")), "");

	Hotline__Outbox__V1__GetOutboxStatsResponse s = HOTLINE__OUTBOX__V1__GET_OUTBOX_STATS_RESPONSE__INIT;
	s.oldest_pending_seconds = 0.1;
	s.pending = -3;
	v = to_json(&s.base, false);
	double d = 0;
	T_ASSERT(v && hl_json_number(hl_json_get(v, "oldest_pending_seconds"), &d) && d == 0.1);
	T_EQ_STR(hl_json_string(hl_json_get(v, "pending")), "-3");
	s.oldest_pending_seconds = INFINITY;
	v = to_json(&s.base, false);
	T_EQ_STR(hl_json_string(hl_json_get(v, "oldest_pending_seconds")), "Infinity");
}

static void test_text(void)
{
	hl_buf b = HL_BUF_INIT;
	pbfmt_text(&b, &sample_ticket()->base, 0);
	T_ASSERT(!hl_buf_failed(&b));
	T_ASSERT(strstr(b.data, "id: 01a2325c-80b4-7926-8c80-9d64862eb6ab\nticket_no: 202405010000001\n"
				"status: in_handling\nstatus_version: 9007199254740993\n"));
	T_ASSERT(!strstr(b.data, "channel:"));     /* enum 0 */
	T_ASSERT(!strstr(b.data, "area:"));        /* empty string */
	T_ASSERT(!strstr(b.data, "updated_at"));   /* unset message */
	T_ASSERT(!strstr(b.data, "public_notes")); /* empty list */
	T_ASSERT(strstr(b.data, "topic: 小区\"噪音\"?扰民\n"));
	/* the second line continues under the value column, the control character is '?' */
	T_ASSERT(strstr(b.data, "description: 第一行\n             第二行?\n"));
	T_ASSERT(strstr(b.data, "caller:\n  name: 张*\n  phone: 138****5678\n"));
	T_ASSERT(strstr(b.data, "created_at: 2024-05-01T08:30:00Z\n"));
	T_ASSERT(strstr(b.data, "amendments:\n  - field: topic\n    new_value: 噪音\n"
				"    created_at: 2024-05-01T08:30:00Z\n  - field: topic\n"));
	T_ASSERT(strstr(b.data, "anonymous: false\n"));

	Hotline__Outbox__V1__RedriveDeadLettersRequest r = HOTLINE__OUTBOX__V1__REDRIVE_DEAD_LETTERS_REQUEST__INIT;
	int64_t ids[] = {7, 8};
	r.n_ids = 2;
	r.ids = ids;
	hl_buf_reset(&b);
	pbfmt_text(&b, &r.base, 2);
	T_EQ_STR(b.data, "  ids:\n    - 7\n    - 8\n  all: false\n");
	hl_buf_release(&b);
}

int main(void)
{
	A = hl_arena_new();
	T_RUN(test_enum_names);
	T_RUN(test_time_format);
	T_RUN(test_time_parse);
	T_RUN(test_json_ticket);
	T_RUN(test_json_oneof_bytes_double);
	T_RUN(test_text);
	hl_arena_free(A);
	return T_DONE();
}
