/*
 * store.h - intake's data access: the only code with SQL for schema intake.
 * Every function runs inside the caller's transaction (hl_pg_begin with the
 * acting tenant); row-level security confines it to that tenant.  Results
 * are arena memory.
 */
#ifndef INTAKE_STORE_H
#define INTAKE_STORE_H

#include "hl/pg.h"
#include "intake.h"

typedef struct store_list_filter {
	int status, category, channel;
	const char *area, *keyword, *registered_by;
	int64_t from_us, to_us;        /* 0: open */
	int64_t after_us;              /* page token: created_at of the last row, 0: first page */
	const char *after_id;
	int limit;
	const intake_viewer *viewer;   /* only what it may see */
} store_list_filter;

typedef struct store_amendment {
	const char *id, *ticket_id, *request_id, *field, *old_value, *new_value, *reason, *author;
	const char *request_digest; /* intake_request_digest of the amending request; NULL for old rows */
	intake_blob old_cipher, new_cipher; /* caller fields: the values (old_value, new_value are "") */
	int64_t created_us;
} store_amendment;

typedef struct store_note {
	int status;
	const char *note;
	int64_t created_us;
} store_note;

/* Subjects (ticket ids) lacking an audit chain, for VerifyAuditChain. */
extern const char store_missing_chain_sql[];

/*
 * Registering n tickets together (rpc_create.c), in the open transaction: store_tickets_open
 * numbers them (sets ticket_no, created_us, and repeat_caller for a phone seen in an earlier
 * ticket; a repeat within the n is the caller's to find; the rest of the transaction uses each
 * statement's generic plan, made once per connection); store_tickets_insert then writes
 * them with their registration records (deferred: a failure shows at the COMMIT), and
 * store_first_notes their first public notes (with the COMMIT, as store_note_insert's).  store_request_taken: the transaction failed on a
 * repeated request_id.
 */
hl_status store_tickets_open(hl_pg *pg, hl_arena *a, intake_ticket *const *t, int n, const char *time_zone,
			     hl_error *err) HL_MUST_CHECK;
hl_status store_tickets_insert(hl_pg *pg, hl_arena *a, intake_ticket *const *t, int n, hl_error *err) HL_MUST_CHECK;
hl_status store_first_notes(hl_pg *pg, hl_arena *a, intake_ticket *const *t, const char *const *notes, int n,
			    hl_error *err) HL_MUST_CHECK;
bool store_request_taken(const hl_pg *pg);
/* by id (ticket_no NULL) or by ticket_no; *out NULL when not found */
hl_status store_ticket_get(hl_pg *pg, hl_arena *a, const char *id, const char *ticket_no, bool for_update,
			   intake_ticket **out, hl_error *err) HL_MUST_CHECK;
hl_status store_ticket_by_request(hl_pg *pg, hl_arena *a, const char *request_id, intake_ticket **out,
				  hl_error *err) HL_MUST_CHECK;
hl_status store_ticket_list(hl_pg *pg, hl_arena *a, const store_list_filter *f, intake_ticket ***out, int *n,
			    hl_error *err) HL_MUST_CHECK;
/* The newest tickets of a phone (its indexes k) that v may see. */
hl_status store_ticket_by_phone(hl_pg *pg, hl_arena *a, const intake_phone_keys *k, const intake_viewer *v,
				int limit, intake_ticket ***out, int *n, hl_error *err) HL_MUST_CHECK;
/* Set the current value of an amendable field (see rpc_amend.c for the list). */
hl_status store_ticket_set_field(hl_pg *pg, hl_arena *a, const char *id, const char *field, const char *text,
				 int number, intake_blob cipher, const char *phone_index, hl_error *err) HL_MUST_CHECK;
/* Lock the tickets ids[] (in id order; sent with the next read). */
hl_status store_tickets_lock(hl_pg *pg, hl_arena *a, const char *const *ids, int n, hl_error *err) HL_MUST_CHECK;
/* Apply status if version is newer (the ticket locked first); *before: the ticket as it was, with its
 * former status and version, or NULL when nothing changed (no such ticket, or not a newer version). */
hl_status store_ticket_set_status(hl_pg *pg, hl_arena *a, const char *id, int status, int64_t version,
				  intake_ticket **before, hl_error *err) HL_MUST_CHECK;
/* Apply a held batch's changes ahead, in one statement, when no ticket appears twice (the tickets
 * locked first): store_ticket_set_status then answers each item's own change from them. */
hl_status store_tickets_set_status(hl_pg *pg, hl_arena *a, const char *const *ids, const int *status,
				   const int64_t *version, int n, hl_error *err) HL_MUST_CHECK;

/* After the key of period was destroyed: clear the phone indexes its tickets still have under the former
 * tenant-wide key (made before migration 004); *cleared: how many. */
hl_status store_period_destroyed(hl_pg *pg, hl_arena *a, const char *period, long long *cleared,
				 hl_error *err) HL_MUST_CHECK;

/* Insert am; sets am->created_us to the stored time. */
hl_status store_amendment_insert(hl_pg *pg, hl_arena *a, store_amendment *am, hl_error *err) HL_MUST_CHECK;
hl_status store_amendment_by_request(hl_pg *pg, hl_arena *a, const char *request_id, store_amendment **out,
				     hl_error *err) HL_MUST_CHECK;
hl_status store_amendments(hl_pg *pg, hl_arena *a, const char *ticket_id, store_amendment ***out, int *n,
			   hl_error *err) HL_MUST_CHECK;

/* A public note, written with the COMMIT (hl_pg_rows_at_commit); store_notes sends waiting ones first. */
hl_status store_note_insert(hl_pg *pg, hl_arena *a, const char *ticket_id, int status, const char *note,
			    hl_error *err) HL_MUST_CHECK;
hl_status store_notes(hl_pg *pg, hl_arena *a, const char *ticket_id, store_note ***out, int *n,
		      hl_error *err) HL_MUST_CHECK;

#endif
