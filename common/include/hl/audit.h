/*
 * audit.h - the tamper-evident audit trail (DESIGN §5.4, R4/R18/R29).
 *
 * Every state change appends an entry to its subject's hash chain in the
 * service's own audit_log, inside the same transaction as the change:
 *
 *   hash = SHA-256(prev_hash || canonical(entry))     prev_hash of seq 1 = 32 zero bytes
 *
 * canonical(entry) is, byte for byte (docs/audit.md says the same):
 *   "hotline.audit.v1" 0x00
 *   lp(tenant) lp(subject_type) lp(subject_id) be64(seq)
 *   lp(actor) lp(action) be64(at_us) lp(details)
 * where lp(s) is the 4-byte big-endian length of s followed by its UTF-8
 * bytes and be64 is a signed 64-bit big-endian integer.  at_us is
 * microseconds since the Unix epoch, as PostgreSQL stores time.
 *
 * audit_heads keeps, per subject, the number of entries and the latest hash,
 * so the verifier notices a truncated or deleted chain; a service also names
 * the subjects that must have a chain (e.g. every ticket).
 *
 * This module holds the SQL of the shared audit tables (they are the same in
 * every service schema); the AuditService handlers are here too.
 */
#ifndef HL_AUDIT_H
#define HL_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/pg.h"
#include "hl/rpc.h"
#include "hl/status.h"

#define HL_AUDIT_HASH_LEN 32

typedef struct hl_audit_entry {
	const char *tenant;
	const char *subject_type;
	const char *subject_id;
	int64_t seq;
	const char *actor;
	const char *action;
	int64_t at_us;
	const char *details; /* JSON object text; never personal data */
	uint8_t prev_hash[HL_AUDIT_HASH_LEN];
	uint8_t hash[HL_AUDIT_HASH_LEN];
} hl_audit_entry;

/* out = SHA-256(prev_hash || canonical(e)). */
hl_status hl_audit_hash(const hl_audit_entry *e, uint8_t out[HL_AUDIT_HASH_LEN]) HL_MUST_CHECK;

/*
 * Append an entry for subject (within the caller's open transaction; the
 * tenant is the transaction's).  new_subject: the caller knows the subject
 * had no chain before this transaction (saves the head lookup; a second
 * entry in the same transaction chains from the first).  details may be
 * NULL ("{}").
 * The entries of a transaction (of all the pieces of a held one) are
 * written with its COMMIT in one statement (hl_pg_rows_at_commit); a
 * subject appended twice in it chains from the head kept in memory, and
 * the verification below sends the waiting entries before it reads.
 */
hl_status hl_audit_append(hl_pg *pg, hl_arena *a, const char *tenant, const char *subject_type,
			  const char *subject_id, const char *actor, const char *action, const char *details,
			  bool new_subject, hl_error *err) HL_MUST_CHECK;
/*
 * The first entries of n subjects that have no chain yet, in the caller's
 * open transaction (with its COMMIT, like hl_audit_append): for a handler
 * that registers many subjects at once.  The caller fills tenant,
 * subject_type, subject_id, actor, action and details (NULL: "{}") of each;
 * seq, at_us, prev_hash and hash are set here.
 */
hl_status hl_audit_append_new(hl_pg *pg, hl_arena *a, hl_audit_entry *e, int n, hl_error *err) HL_MUST_CHECK;
/*
 * Lock the heads of n subjects of tenant with one statement (in subject
 * order) and keep them for this transaction, so that appends to them read
 * no head of their own: for the items of a batch (hl_method.prefetch).
 * Subjects without a chain yet, and any beyond what is kept, are left to
 * the appends.
 */
hl_status hl_audit_lock_heads(hl_pg *pg, hl_arena *a, const char *tenant, const char *const *subjects, int n,
			      hl_error *err) HL_MUST_CHECK;

typedef struct hl_audit_report {
	bool ok;
	int64_t chains, entries;
	const char *bad_subject; /* arena */
	const char *problem;     /* arena */
	hl_audit_entry bad;      /* valid when bad.seq > 0 */
} hl_audit_report;

/*
 * Verify one subject's chain, or (subject_id NULL) every chain of the tenant
 * plus the subjects that must have one (missing_sql: a statement of the
 * service's store returning up to one subject id that lacks a chain, or NULL).
 * Runs in the caller's open transaction.
 */
hl_status hl_audit_verify(hl_pg *pg, hl_arena *a, const char *subject_id, const char *missing_sql,
			  hl_audit_report *out, hl_error *err) HL_MUST_CHECK;

/*
 * A checkpoint of the acting tenant's whole trail, for a signed daily report
 * (DESIGN §5.4): the chained digest over every chain head in subject order,
 *   d0 = 32 zero bytes,  d(i) = SHA-256(d(i-1) || lp(subject_id) || be64(entries) || head_hash)
 * (docs/audit.md), with the number of chains and of entries.  A rewritten,
 * truncated or deleted chain changes the digest of every later checkpoint.
 * Runs in the caller's open transaction; constant memory (heads read by pages).
 */
typedef struct hl_audit_checkpoint {
	int64_t chains, entries;
	uint8_t digest[HL_AUDIT_HASH_LEN];
} hl_audit_checkpoint;
hl_status hl_audit_checkpoint_compute(hl_pg *pg, hl_arena *a, hl_audit_checkpoint *out, hl_error *err) HL_MUST_CHECK;

/*
 * The AuditService (ListAuditEntries, VerifyAuditChain) for a service whose
 * chains must exist for the subjects returned by missing_sql (see above).
 * Roles: auditor or tenant_admin (and supervisor for listing).
 */
hl_service hl_audit_service(const char *missing_sql);

#endif
