/*
 * roles.c - the list of the platform's roles (see roles.h).
 */
#include "hl/roles.h"

#include <string.h>

const char *const hl_roles_staff[] = {
	HL_ROLE_AGENT,	   HL_ROLE_DISPATCHER, HL_ROLE_HANDLER,	     HL_ROLE_DEPT_HEAD, HL_ROLE_SUPERVISOR,
	HL_ROLE_INSPECTOR, HL_ROLE_REVIEWER,   HL_ROLE_PII_READER, HL_ROLE_ANALYST,	HL_ROLE_TENANT_ADMIN,
	HL_ROLE_AUDITOR,   NULL,
};

bool hl_role_known(const char *name)
{
	for (const char *const *r = hl_roles_staff; name && *r; r++)
		if (strcmp(*r, name) == 0)
			return true;
	return false;
}
