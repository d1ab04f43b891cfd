/*
 * group.h - group commit: concurrent calls that each bring one piece of
 * work of the same kind (a ticket to register, say) hand it to a group, and
 * one of them, the leader, runs the pieces waiting at that moment together,
 * in one transaction on its own connection, while the others wait for their
 * piece's outcome.  Under load a transaction then writes many pieces with
 * one statement per table and one commit; a lone call runs its piece alone,
 * at once, without waiting for company.
 *
 * Pieces run together only when their key (the tenant) is the same, at most
 * max_items at a time, by at most max_leaders leaders at once.  The run
 * function sets every piece's outcome; when it fails as a whole (say one
 * piece breaks a unique key and the transaction is rolled back) it returns
 * that status, and each piece is run once more alone by its own caller,
 * where only the piece at fault fails.
 */
#ifndef HL_GROUP_H
#define HL_GROUP_H

#include "hl/rpc.h"
#include "hl/status.h"

typedef struct hl_group hl_group;

#define HL_GROUP_MAX_ITEMS 256 /* max_items above this is this */

typedef struct hl_group_item {
	hl_call *call;   /* the submitting call (only passed on to the run function) */
	void *work;      /* the piece */
	hl_status st;    /* its outcome, set by the run function */
	/* the group's own */
	const char *key;
	int state;
	struct hl_group_item *next;
} hl_group_item;

/*
 * Run n pieces (n >= 1, items[0] the leader's own) on leader's connection.
 * Returns HL_OK when every items[i]->st is set (a piece that failed has
 * failed its own call), or the status of a failure of the whole, when the
 * pieces are run again alone.  A piece run alone (n == 1) always gets its
 * outcome set, whatever the return.
 */
typedef hl_status (*hl_group_run)(hl_call *leader, hl_group_item **items, int n);

hl_group *hl_group_new(int max_leaders, int max_items, hl_group_run run);
void hl_group_free(hl_group *g);

/*
 * Hand c's piece work (of key) to g and wait for its outcome, which is
 * returned (a failed piece has failed its own call with hl_call_fail).
 */
hl_status hl_group_submit(hl_group *g, hl_call *c, const char *key, void *work);

#endif
