/*
 * rpc_common.c - what reporting's handlers share: the app state, date
 * checks, the tenant's settings, and who may read which department.
 */
#include "reporting.h"

#include <stdio.h>
#include <string.h>

#include "hl/handler.h"
#include "store.h"

reporting_app *reporting_app_of(hl_call *c)
{
	return hl_call_app(c);
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

hl_status reporting_check_date(hl_call *c, const char *field, const char *v, bool required)
{
	if (!v[0])
		return required ? hl_call_fail(c, HL_INVALID, "%s: required (YYYY-MM-DD)", field) : HL_OK;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;
	char tail;
	bool shape = strlen(v) == 10 && v[4] == '-' && v[7] == '-';
	for (int i = 0; shape && i < 10; i++)
		shape = i == 4 || i == 7 || (v[i] >= '0' && v[i] <= '9');
	if (!shape || sscanf(v, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 2000 || y > 2999 || m < 1 || m > 12 ||
	    d < 1 || d > mdays[m - 1] + (m == 2 && leap(y)))
		return hl_call_fail(c, HL_INVALID, "%s: not a date YYYY-MM-DD", field);
	return HL_OK;
}

hl_status reporting_settings(hl_call *c, const char **zone, int *cutoff_minutes)
{
	hl_error err;
	if (store_settings_get(hl_call_pg(c), hl_call_arena(c), zone, cutoff_minutes, &err))
		return hl_call_fail_err(c, &err);
	return HL_OK;
}
