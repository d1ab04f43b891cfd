/*
 * hotlinectl.h - what the files of hotlinectl share: the command table that
 * describes every command (commands.c), the generic binding of command-line
 * values to request fields (bind.c), and the context a command runs in
 * (main.c).
 *
 * A command is one row of the table: its words ("ticket create"), the
 * service it calls by default, the gRPC method path, the request and
 * response descriptors, and its arguments, each bound to a field path of the
 * request ("caller.phone").  main.c parses the command line against the row,
 * binds every value with ctl_bind(), runs the row's optional build function
 * for what a binding cannot express (a choice between two arguments, say),
 * and then makes the call and prints the response through one generic path
 * (pbfmt.h).  Adding a command of another service is adding a row.
 */
#ifndef HOTLINECTL_H
#define HOTLINECTL_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "hl/arena.h"
#include "hl/status.h"

/* Exit statuses. */
enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1, /* the call failed, or the configuration is unusable */
	CTL_EXIT_USAGE = 2,  /* the command line is wrong */
};

typedef enum ctl_arg_kind {
	CTL_OPT,      /* --name VALUE (or --name=VALUE); repeated fields take it several times */
	CTL_FLAG,     /* --name sets a bool field (--name=false clears it) */
	CTL_POS,      /* a required positional argument */
	CTL_POS_OPT,  /* an optional positional argument (after the required ones) */
	CTL_POS_REST, /* all remaining positional arguments, into a repeated field */
} ctl_arg_kind;

/* Argument flags. */
#define CTL_REQUIRED 0x1u /* an option that must be given */
#define CTL_NEW_ID 0x2u   /* when not given, the field gets a fresh UUID (request_id) */

/* One argument of a command and the request field it fills. */
typedef struct ctl_arg {
	const char *name; /* "--channel", or "ID" for positional arguments */
	ctl_arg_kind kind;
	const char *field; /* dot-separated path in the request: "caller.name" */
	unsigned flags;
	const char *help; /* enum fields get "one of: ..." appended in --help */
} ctl_arg;

/* Command flags. */
#define CTL_PUBLIC 0x1u      /* no JWT; x-tenant-id from --act-as or --tenant */
#define CTL_ANY_SERVICE 0x2u /* a method every service serves: --service picks one */
#define CTL_STREAM 0x4u      /* server streaming: each message printed; a lone bytes field written raw */

typedef struct ctl_ctx ctl_ctx;

/*
 * Optional hook after binding: check or complete the request.  Returns
 * HL_OK, or HL_INVALID with a message for a usage error (exit status 2).
 */
typedef hl_status (*ctl_build_fn)(ctl_ctx *x, ProtobufCMessage *req, hl_error *err);

/* A command that makes no call (token): returns the exit status. */
typedef int (*ctl_local_fn)(ctl_ctx *x);

typedef struct ctl_cmd {
	const char *group;   /* "ticket", or NULL for a top-level command */
	const char *name;    /* "create" */
	const char *summary; /* one line for --help */
	const char *service; /* "intake": HOTLINE_INTAKE_ADDR (CTL_ANY_SERVICE: the default) */
	const char *method;  /* "/hotline.intake.v1.IntakeService/CreateTicket"; NULL for local commands */
	const ProtobufCMessageDescriptor *req, *resp;
	const ctl_arg *args;
	size_t n_args;
	unsigned flags;
	ctl_build_fn build;
	ctl_local_fn local;
} ctl_cmd;

/* The command table (commands.c). */
extern const ctl_cmd ctl_commands[];
extern const size_t ctl_n_commands;

/* The service names that --service accepts (commands.c). */
extern const char *const ctl_services[];

/* The token command (main.c): print the token calls would carry. */
int ctl_run_token(ctl_ctx *x);
/* Whether the argument called name ("--active") was given on the command line (main.c). */
bool ctl_arg_given(const ctl_ctx *x, const char *name);
/* The arena of this run (main.c). */
hl_arena *ctl_arena(ctl_ctx *x);

/*
 * The field at path (dot-separated field names, every one but the last a
 * singular message field) of messages of type d, or NULL.
 */
const ProtobufCFieldDescriptor *ctl_field(const ProtobufCMessageDescriptor *d, const char *path);

/*
 * Set the field at path of m from the command-line text s: strings as
 * given, numbers in decimal, bools as true/false/yes/no/on/off/1/0, enums
 * by short or full name (pbfmt_enum_parse), bytes in base64,
 * google.protobuf.Timestamp in RFC 3339 or as a date, wrappers as their
 * value; a repeated field gets s appended; oneof cases and proto2 has_ flags
 * are set; intermediate messages are created.  All memory is arena memory.
 * Errors: HL_INVALID with a message that names the accepted values (the
 * caller prefixes the option name), HL_NOMEM.
 */
hl_status ctl_bind(hl_arena *a, ProtobufCMessage *m, const char *path, const char *s, hl_error *err) HL_MUST_CHECK;

/* A zeroed, initialised message of type d in the arena, or NULL. */
ProtobufCMessage *ctl_new_message(hl_arena *a, const ProtobufCMessageDescriptor *d);

#endif
