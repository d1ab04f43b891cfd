/*
 * intake.h - the intake service's shared types: its state, the ticket as the
 * store reads and writes it, and the helpers its handlers share.
 */
#ifndef INTAKE_H
#define INTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/group.h"
#include "hl/handler.h"
#include "hl/keyring.h"
#include "hl/program.h"
#include "hl/rpc.h"
#include "hotline/intake/v1/intake.pb-c.h"

/* Caller fields, in the order of the Caller message and the table columns. */
enum intake_caller_field { F_NAME, F_PHONE, F_ID_NUMBER, F_ADDRESS, F_EMAIL, F_COUNT };
extern const char *const intake_caller_fields[F_COUNT]; /* "name", "phone", ... */

typedef struct intake_app {
	const hl_common_config *common; /* Redis URL and key prefix */
	hl_keyring *keys;
	int phone_lookups_per_minute;   /* FindTicketsByPhone calls per user and tenant (Redis) */
	int retention_years;
	const char *time_zone; /* for ticket numbers (date part) */
	hl_group *registrations; /* CreateTicket's group commit (rpc_create.c) */
} intake_app;

typedef struct intake_blob {
	const uint8_t *p;
	size_t n;
} intake_blob;

/*
 * What finds a phone's tickets (docs/security.md §5.2): its blind index under each live retention
 * period of the tenant ("v2:<hex>"), and its index under the former tenant-wide key, which matches
 * rows indexed before migration 004 only while their period is live.
 */
typedef struct intake_phone_keys {
	const char **indexes;
	size_t n_indexes;
	const char *legacy;
	const char **periods;
	size_t n_periods;
} intake_phone_keys;

typedef struct intake_ticket {
	const char *tenant, *id, *ticket_no, *request_id;
	const char *request_digest; /* intake_request_digest of the creating request; NULL for old rows */
	int status;
	int64_t status_version;
	int channel, category, priority, confidentiality;
	const char *topic, *description, *area, *answer, *registered_by;
	bool anonymous, repeat_caller;
	const char *phone_index, *key_period;
	const intake_phone_keys *phone_keys; /* registration only: what tells a repeat caller */
	intake_blob wrapped_key;
	intake_blob caller[F_COUNT]; /* ciphertexts; p NULL when absent */
	const char *masked[F_COUNT]; /* set at registration only; NULL: derived from caller[] at read time */
	intake_blob query_code;
	int64_t created_us, updated_us;
	const char *const *implicated; /* departments a report implicates (recusal, R33; sent to dispatch) */
	size_t n_implicated;
} intake_ticket;

/*
 * Who may see a ticket at intake (docs/security.md §3.1): recusal first - a principal whose
 * JWT dept is one of the ticket's implicated departments never sees it - then confidentiality:
 * the registering principal sees its own tickets, others up to their clearance (inspector:
 * secret; supervisor, auditor, tenant_admin: confidential; every other staff role: internal).
 */
typedef struct intake_viewer {
	const char *actor; /* sees the tickets it registered */
	const char *dept;  /* NULL: none; tickets implicating it are hidden */
	int clearance;     /* highest Confidentiality value seen on others' tickets */
} intake_viewer;


/* The viewer the calling principal is. */
void intake_viewer_of(hl_call *c, intake_viewer *v);
/* True when v may see t. */
bool intake_may_see(const intake_viewer *v, const intake_ticket *t);

/* methods.c */
extern const hl_service intake_service;

Hotline__Intake__V1__Ticket *intake_ticket_msg(hl_call *c, const intake_ticket *t);
struct store_amendment;
/* An amendment of ticket t as a message: caller-field values masked from their ciphertexts, empty when the
 * ticket's retention period was destroyed. */
Hotline__Intake__V1__Amendment *intake_amendment_msg(hl_call *c, const intake_ticket *t,
						     const struct store_amendment *am);
/* The mask of caller field f (hl/mask.h) of the clear value v into *out (arena a). */
hl_status intake_mask_field(int f, const char *v, hl_arena *a, char **out, hl_error *err) HL_MUST_CHECK;
/* The public notes of a ticket as messages (arena memory), in order. */
hl_status intake_notes_msg(hl_call *c, const char *ticket_id, Hotline__Intake__V1__PublicNote ***out,
			   size_t *n) HL_MUST_CHECK;
hl_status intake_unwrap_key(hl_call *c, const intake_ticket *t, uint8_t dek[32]) HL_MUST_CHECK;
/*
 * The digest that tells whether a repeated request_id carries the same request (R31): the
 * HMAC, under the tenant's keyed-index key, of the SHA-256 of msg packed (the caller clears its
 * request_id first).  Keyed because requests hold caller data: a stored digest must not let
 * anyone confirm a guessed phone.  *out is lowercase hex in the arena.
 */
hl_status intake_request_digest(hl_call *c, const char *method, const ProtobufCMessage *msg,
				const char **out) HL_MUST_CHECK;
/* Fail the call with INVALID_ARGUMENT when request_id was first used for a request of another digest. */
hl_status intake_same_request(hl_call *c, const char *first_digest, const char *digest) HL_MUST_CHECK;

/* rpc_create.c, shared with the other handlers */
/* The group commit of CreateTicket's registrations; NULL when out of memory. */
hl_group *intake_registrations_new(void);
/* Seal one caller field of ticket t with its data key; empty value: no cipher, "" mask. */
hl_status intake_seal_field(hl_call *c, const intake_ticket *t, const uint8_t dek[32], int f, const char *value,
			    intake_blob *cipher, const char **masked) HL_MUST_CHECK;
/* The blind index of a phone (R6) under the key of retention period (stored as "v2:<hex>"), NULL for
 * an empty phone; INVALID for a malformed one. */
hl_status intake_phone_index(hl_call *c, const char *period, const char *phone, const char **index) HL_MUST_CHECK;
/* What finds the tickets of phone (rpc_common.c): its indexes under every live period and the legacy one. */
hl_status intake_phone_keys_of(hl_call *c, const char *phone, intake_phone_keys *k) HL_MUST_CHECK;
/* Queue one event about ticket t to reporting; ev is an Event with its payload set. */
hl_status intake_outbox_event(hl_call *c, const intake_ticket *t, const char *type, int64_t version,
			      const ProtobufCMessage *ev) HL_MUST_CHECK;

/* destroy.c: `hotline-intake destroy-period TENANT PERIOD` (argv[1] is "destroy-period"); the exit code. */
int intake_destroy_period_main(int argc, char **argv);

/* rpc_*.c handlers */
hl_status intake_create_ticket(hl_call *c, const void *req, void **resp);
hl_status intake_get_ticket(hl_call *c, const void *req, void **resp);
hl_status intake_list_tickets(hl_call *c, const void *req, void **resp);
hl_status intake_amend_ticket(hl_call *c, const void *req, void **resp);
hl_status intake_reveal_caller(hl_call *c, const void *req, void **resp);
hl_status intake_find_by_phone(hl_call *c, const void *req, void **resp);
hl_status intake_public_status(hl_call *c, const void *req, void **resp);
hl_status intake_update_status(hl_call *c, const void *req, void **resp);
hl_status intake_update_status_prefetch(hl_pg *pg, hl_arena *a, const char *tenant, const void *const *reqs, int n,
					hl_error *err);

#endif
