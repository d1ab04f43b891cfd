/*
 * status.c - names, gRPC codes and messages of the status list (status.h).
 */
#include "hl/status.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int code;
	const char *msg;
} status_table[HL__STATUS_COUNT] = {
#define HL__STATUS_ROW(name, code, msg) [HL_##name] = {#name, code, msg},
	HL_STATUS_MAP(HL__STATUS_ROW)
#undef HL__STATUS_ROW
};

static int valid(hl_status s)
{
	return (int)s >= 0 && s < HL__STATUS_COUNT;
}

const char *hl_status_name(hl_status s)
{
	return valid(s) ? status_table[s].name : "UNKNOWN";
}

int hl_status_grpc_code(hl_status s)
{
	return valid(s) ? status_table[s].code : 2 /* UNKNOWN */;
}

const char *hl_grpc_code_name(int code)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
		"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};
	return code >= 0 && code < (int)(sizeof names / sizeof names[0]) ? names[code] : "UNKNOWN";
}

const char *hl_status_message(hl_status s)
{
	return valid(s) ? status_table[s].msg : "unknown status";
}

hl_status hl_failv(hl_error *err, hl_status s, const char *fmt, va_list ap)
{
	if (err) {
		err->status = s;
		if (fmt)
			vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		else
			err->msg[0] = '\0';
	}
	return s;
}

hl_status hl_fail(hl_error *err, hl_status s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hl_failv(err, s, fmt, ap);
	va_end(ap);
	return s;
}

void hl_error_clear(hl_error *err)
{
	if (err) {
		err->status = HL_OK;
		err->msg[0] = '\0';
	}
}

const char *hl_error_text(const hl_error *err)
{
	if (!err)
		return "";
	return err->msg[0] ? err->msg : hl_status_message(err->status);
}
