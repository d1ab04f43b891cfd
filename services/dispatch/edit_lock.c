/*
 * edit_lock.c - the edit lock as the case handlers see it: who holds a
 * case's lock (for the Case message) and the check every change makes with
 * or without a token (see rpc_lock.c for the design).  Stands on
 * rpc_common.c only.
 */
#include <string.h>

#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/lock.h"
#include "hl/redis.h"
#include "store.h"

const char *dispatch_lock_name(hl_call *c, const dispatch_case *k)
{
	return hl_arena_printf(hl_call_arena(c), "case:%s:%s", k->tenant, k->id);
}

/* Whether token is the one LockCase handed out last for k (its digest is on the case row). */
static bool token_recorded(hl_call *c, const dispatch_case *k, const char *token)
{
	const char *digest = hl_sha256_text(hl_call_arena(c), token);
	return digest && k->lock_digest && strcmp(digest, k->lock_digest) == 0;
}

const char *dispatch_lock_holder(hl_call *c, const dispatch_case *k)
{
	const dispatch_app *app = hl_call_app(c);
	const char *name = dispatch_lock_name(c, k), *out;
	hl_redis *r = hl_call_redis(c);
	char holder[160];
	hl_error err;
	if (!r || !name || hl_lock_holder(r, app->common->redis_prefix, "dispatch", name, holder, sizeof holder, &err))
		return "";
	return (out = hl_arena_strdup(hl_call_arena(c), holder)) ? out : "";
}

hl_status dispatch_lock_check(hl_call *c, dispatch_case *k, const char *token)
{
	const dispatch_app *app = hl_call_app(c);
	const char *me = hl_call_principal(c)->actor, *name = dispatch_lock_name(c, k);
	hl_redis *r = hl_call_redis(c);
	hl_error err;
	if (!name)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	if (token && token[0]) {
		hl_lock l;
		if (hl_lock_from_token(app->common->redis_prefix, "dispatch", name, me, token, &l, &err))
			return hl_call_fail_err(c, &err);
		hl_status renewed = r ? hl_lock_renew(r, &l, app->lock_lease_ms, &err) : HL_UNAVAILABLE;
		if (renewed == HL_ABORTED) /* not the lock Redis holds, or its fence was altered */
			return hl_call_fail(c, HL_ABORTED, "lock_token: the edit lock was lost; lock again");
		if (renewed && !token_recorded(c, k, token)) /* Redis cannot vouch: only the case's own token */
			return hl_call_fail(c, HL_ABORTED, "case was changed by a newer edit-lock holder");
		k->fence = l.fence; /* vouched for; the store still refuses it if a newer holder wrote since */
		return HL_OK;
	}
	const char *holder = dispatch_lock_holder(c, k);
	if (holder[0] && strcmp(holder, me) != 0)
		return hl_call_fail(c, HL_ABORTED, "case is being edited by %s", holder);
	return HL_OK;
}
