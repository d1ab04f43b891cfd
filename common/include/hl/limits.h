/*
 * limits.h - the one definition of each free-text limit that crosses a
 * service boundary.
 *
 * A field that one service accepts from a user and another receives over
 * the outbox (intake's CreateTicket → dispatch's SubmitTicket) must have the
 * same bound on both sides, or the receiver dead-letters what the sender
 * accepted.  So each limit is named once here, in characters, and both the
 * senders' handlers (hl_call_check_text) and the receivers' wire-check
 * override tables (hl_validate_override, in bytes: HL_LIMIT_WIRE_BYTES) use
 * it.  A character is at most 4 bytes of UTF-8, so the wire bound of a
 * field is 4 bytes per character; the character bound is then checked by
 * the handler after unpacking.
 */
#ifndef HL_LIMITS_H
#define HL_LIMITS_H

#include <stddef.h>

#define HL_LIMIT_TOPIC_CHARS 200        /* a ticket's topic (also a case's) */
#define HL_LIMIT_DESCRIPTION_CHARS 5000 /* a ticket's description (also a case's) */
#define HL_LIMIT_AREA_CHARS 100         /* a ticket's area (also a case's) */
#define HL_LIMIT_ANSWER_CHARS 5000      /* an on-the-spot answer */
#define HL_LIMIT_RESULT_CHARS 5000      /* a case's handling result (dispatch SubmitResult, followup ScheduleReply) */

/* The wire-check bound in bytes of a field of at most chars characters. */
#define HL_LIMIT_WIRE_BYTES(chars) ((size_t)4 * (chars))

#endif
