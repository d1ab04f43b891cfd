/*
 * roles.h - the platform's roles (DESIGN §5.1), named once.
 *
 * Roles come in the JWT's `roles` claim and are coarse; object-level rules
 * (the head of *this* department, the recorder of *this* visit) are checked
 * by the owning service.  Handlers name roles through these macros and build
 * their role lists from them, so a misspelt role is a compile error rather
 * than a method nobody can call.
 */
#ifndef HL_ROLES_H
#define HL_ROLES_H

#include <stdbool.h>

#define HL_ROLE_AGENT "agent"               /* 受理: registers contacts, first-contact responsibility */
#define HL_ROLE_DISPATCHER "dispatcher"     /* routes and transfers cases */
#define HL_ROLE_HANDLER "handler"           /* 承办: handles cases of their department */
#define HL_ROLE_DEPT_HEAD "dept_head"       /* signs off results, assigns within the department */
#define HL_ROLE_SUPERVISOR "supervisor"     /* 领导小组办公室, 督办: supervision, escalation */
#define HL_ROLE_INSPECTOR "inspector"       /* 纪检监察: sees complaints and misconduct reports */
#define HL_ROLE_REVIEWER "reviewer"         /* 法务/合规: compliance reviews */
#define HL_ROLE_PII_READER "pii_reader"     /* may see callers' personal data, with a reason */
#define HL_ROLE_ANALYST "analyst"           /* reports and KPIs */
#define HL_ROLE_TENANT_ADMIN "tenant_admin" /* tenant settings, operators' tools */
#define HL_ROLE_AUDITOR "auditor"           /* audit chains, read-only oversight */

/*
 * Every role above, NULL-terminated: "any member of staff" for methods that
 * only need a signed-in user of the tenant (object rules still apply).
 */
extern const char *const hl_roles_staff[];

/* Whether name is one of the roles above. */
bool hl_role_known(const char *name);

#endif
