/*
 * status.h - the one status list of the platform.
 *
 * Every fallible function in the shared library and the services returns an
 * hl_status.  HL_STATUS_MAP is the single table that gives each status its
 * name, the gRPC status code it is answered with, and a generic message.  A
 * more precise message (naming the field, say) travels in an hl_error.
 *
 * The gRPC codes are the numbers fixed by the gRPC specification, so this
 * header does not need the gRPC headers and pure-logic modules stay free of
 * them.
 */
#ifndef HL_STATUS_H
#define HL_STATUS_H

#include <stdarg.h>
#include <stddef.h>

#define HL_MUST_CHECK __attribute__((warn_unused_result))
#define HL_PRINTF(a, b) __attribute__((format(printf, a, b)))

/*   name            gRPC code  generic message */
#define HL_STATUS_MAP(X)                                                    \
	X(OK,              0,  "ok")                                            \
	X(CANCELLED,       1,  "call cancelled")                                \
	X(INVALID,         3,  "invalid argument")                              \
	X(DEADLINE,        4,  "deadline exceeded")                             \
	X(NOT_FOUND,       5,  "not found")                                     \
	X(EXISTS,          6,  "already exists")                                \
	X(DENIED,          7,  "permission denied")                             \
	X(EXHAUSTED,       8,  "resource exhausted")                            \
	X(PRECONDITION,    9,  "failed precondition")                           \
	X(ABORTED,         10, "concurrent change, retry")                      \
	X(OUT_OF_RANGE,    11, "out of range")                                  \
	X(UNIMPLEMENTED,   12, "method not implemented")                        \
	X(INTERNAL,        13, "internal error")                                \
	X(UNAVAILABLE,     14, "service or dependency unavailable")             \
	X(DATA_LOSS,       15, "stored data cannot be read back")               \
	X(UNAUTHENTICATED, 16, "unauthenticated")                               \
	X(NOMEM,           8,  "out of memory")                                 \
	X(CRYPTO,          13, "cryptographic operation failed")                \
	X(IO,              13, "input/output error")                            \
	X(DB,              13, "database error")

typedef enum hl_status {
#define HL__STATUS_ENUM(name, code, msg) HL_##name,
	HL_STATUS_MAP(HL__STATUS_ENUM)
#undef HL__STATUS_ENUM
	HL__STATUS_COUNT
} hl_status;

/* An error with a precise, personal-data-free message for the caller. */
typedef struct hl_error {
	hl_status status;
	char msg[256];
} hl_error;

/* "INVALID", "NOT_FOUND", ... */
const char *hl_status_name(hl_status s);
/* The gRPC status code a status is answered with. */
int hl_status_grpc_code(hl_status s);
/* The gRPC name of a gRPC status code ("OK", "INVALID_ARGUMENT", ...). */
const char *hl_grpc_code_name(int code);

/* The generic message of a status. */
const char *hl_status_message(hl_status s);

/*
 * Record status s with a formatted message in *err (which may be NULL) and
 * return s, so that callers can write `return hl_fail(err, HL_INVALID, ...)`.
 * The message must never contain personal data.
 */
hl_status hl_fail(hl_error *err, hl_status s, const char *fmt, ...) HL_PRINTF(3, 4);
hl_status hl_failv(hl_error *err, hl_status s, const char *fmt, va_list ap);

/* Clear an error to HL_OK with an empty message. */
void hl_error_clear(hl_error *err);

/* The message of err, or the generic message when err has none. */
const char *hl_error_text(const hl_error *err);

#endif
