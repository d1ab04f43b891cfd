/*
 * rpc_lock.c - the user-visible edit lock of a case ("case is being edited
 * by X", DESIGN §5.3): a Redis token lock with a lease, plus a fencing
 * number from PostgreSQL stored on the case row.  LockCase hands the token
 * to the editor; each change that carries it renews the lease and writes
 * with the token's fence, and cases.fence refuses a write with an older
 * fence, so an editor whose lease ran out while someone else took over
 * cannot overwrite the newer work, even after Redis forgot the lock.  The
 * fence is stored with the lock in Redis (part of the value a renewal
 * compares) and the token's digest on the case, so a client cannot write
 * with a fence it made up: while Redis answers, an altered token is "lost";
 * while it cannot, only the token the case recorded last is accepted.  A
 * change without a token is refused while another user holds the lock.
 * When Redis is down nobody can take the lock and changes without a token
 * go on (degraded).
 */
#include <string.h>

#include "hl/crypto.h"
#include "hl/handler.h"
#include "hl/lock.h"
#include "hl/redis.h"
#include "hl/roles.h"
#include "store.h"

static const char *const lock_roles[] = {HL_ROLE_HANDLER, HL_ROLE_DEPT_HEAD, HL_ROLE_DISPATCHER, HL_ROLE_SUPERVISOR, NULL};

hl_status dispatch_lock_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__LockCaseRequest *r = vreq;
	const dispatch_app *app = hl_call_app(c);
	hl_status st;
	dispatch_case *k;
	if ((st = hl_call_require_any(c, lock_roles)) || (st = hl_call_begin(c)) ||
	    (st = dispatch_case_load(c, r->case_id, true, &k)))
		return st;
	hl_redis *redis = hl_call_redis(c);
	if (!redis)
		return hl_call_fail(c, HL_UNAVAILABLE, "edit locks are unavailable");
	hl_lock l;
	char holder[160] = "";
	hl_error err;
	const char *me = hl_call_principal(c)->actor;
	st = hl_lock_acquire(redis, hl_call_pg(c), app->common->redis_prefix, "dispatch", dispatch_lock_name(c, k), me,
			     app->lock_lease_ms, &l, holder, sizeof holder, &err);
	if (st == HL_ABORTED)
		return hl_call_fail(c, HL_ABORTED, "case is being edited by %s", holder[0] ? holder : "someone else");
	if (st)
		return hl_call_fail_err(c, &err);
	char *token = hl_arena_alloc(hl_call_arena(c), HL_LOCK_TOKEN_MAX);
	if (!token)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	hl_lock_token(&l, token);
	k->fence = l.fence; /* from now on older tokens cannot write */
	k->lock_digest = hl_sha256_text(hl_call_arena(c), token);
	if (!k->lock_digest || (st = dispatch_case_save(c, k)) || (st = hl_call_commit(c))) {
		st = st ? st : hl_call_fail(c, HL_NOMEM, "out of memory");
		hl_error ignored;
		hl_status released = hl_lock_release(redis, &l, &ignored);
		(void)released; /* when it fails, the lease ends the lock */
		return st;
	}
	Hotline__Dispatch__V1__LockCaseResponse *out = HL_NEW(c, hotline__dispatch__v1__lock_case_response__descriptor);
	if (!out)
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	out->lock_token = token;
	out->expires_at = hl_call_timestamp(c, (hl_now_ms() + app->lock_lease_ms) * 1000);
	*resp = out;
	return HL_OK;
}

hl_status dispatch_unlock_case(hl_call *c, const void *vreq, void **resp)
{
	const Hotline__Dispatch__V1__UnlockCaseRequest *r = vreq;
	const dispatch_app *app = hl_call_app(c);
	hl_status st;
	dispatch_case *k;
	if ((st = hl_call_require_any(c, lock_roles)) || (st = hl_call_begin(c)) ||
	    (st = dispatch_case_load(c, r->case_id, false, &k)))
		return st;
	hl_pg_rollback(hl_call_pg(c));
	hl_lock l;
	hl_error err;
	hl_redis *redis = hl_call_redis(c);
	if (hl_lock_from_token(app->common->redis_prefix, "dispatch", dispatch_lock_name(c, k), hl_call_principal(c)->actor,
			       r->lock_token, &l, &err))
		return hl_call_fail_err(c, &err);
	if (redis && hl_lock_release(redis, &l, &err))
		return hl_call_fail_err(c, &err);
	if (!(*resp = HL_NEW(c, hotline__dispatch__v1__unlock_case_response__descriptor)))
		return hl_call_fail(c, HL_NOMEM, "out of memory");
	return HL_OK;
}
