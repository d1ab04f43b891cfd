/*
 * config.h - service configuration from environment variables (12-factor).
 *
 * Each service describes its configuration in one table, like pgbouncer's:
 *
 *	struct intake_config { char *db_dsn; long long workers; long long grace_ms; bool tls; };
 *	static const hl_config_item intake_items[] = {
 *		{"HOTLINE_INTAKE_DSN", HL_CFG_STRING, NULL, 0, 0,
 *		 offsetof(struct intake_config, db_dsn), "PostgreSQL URI", true},
 *		{"HOTLINE_WORKERS", HL_CFG_INT, "4", 1, 256,
 *		 offsetof(struct intake_config, workers), "handler threads", false},
 *		...
 *	};
 *
 * hl_config_load() fills the struct at start; --help prints the table with
 * hl_config_usage(); hl_config_dump() logs the effective values.
 *
 * Types and the C type of the field at `offset`:
 *   HL_CFG_STRING       char *     malloc'd copy; min/max bound the length in
 *                                  bytes when max > 0
 *   HL_CFG_PATH         char *     like STRING, but must be non-empty, shorter
 *                                  than PATH_MAX and free of control bytes
 *   HL_CFG_INT          long long  decimal; min..max when min or max is non-zero
 *   HL_CFG_BOOL         bool       true/false, 1/0, yes/no, on/off (any case)
 *   HL_CFG_DURATION_MS  long long  milliseconds: "500ms", "5s", "2m", "1h",
 *                                  or a plain number of ms; min..max in ms
 *                                  when min or max is non-zero
 * An unset or empty variable takes default_value; a NULL default makes the
 * variable required.  Values of secret items are never printed, and no
 * value at all appears in error messages.
 */
#ifndef HL_CONFIG_H
#define HL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hl/status.h"

typedef enum hl_config_type {
	HL_CFG_STRING,
	HL_CFG_INT,
	HL_CFG_BOOL,
	HL_CFG_DURATION_MS,
	HL_CFG_PATH,
} hl_config_type;

typedef struct hl_config_item {
	const char *env;                /* variable name, e.g. "HOTLINE_WORKERS" */
	hl_config_type type;
	const char *default_value;      /* as it would be written in the environment; NULL = required */
	long long min, max;             /* bounds, see above */
	size_t offset;                  /* offsetof() the field in the target struct */
	const char *help;               /* one line for --help */
	bool secret;                    /* never print the value */
} hl_config_item;

/*
 * Read every item from the environment into the struct at target (which
 * must be zeroed, or released with hl_config_release() before a reload).
 * All problems are collected and reported at once, "; "-separated, as
 * HL_INVALID: "HOTLINE_DB_DSN: required; HOTLINE_WORKERS: must be between 1
 * and 256".  On any error nothing is left allocated and the string fields
 * are NULL.  HL_NOMEM when a copy fails.  Not thread-safe (reads environ;
 * call at start).
 */
hl_status hl_config_load(const hl_config_item *items, size_t n, void *target,
			 hl_error *err) HL_MUST_CHECK;

/* Free the strings hl_config_load() stored in target and set them to NULL. */
void hl_config_release(const hl_config_item *items, size_t n, void *target);

/*
 * Print the --help text to out: "Usage: <program> [--help]", the summary,
 * then one row per item with variable, type, default ("(required)" or
 * "(secret)" for a secret default), bounds and help.
 */
void hl_config_usage(FILE *out, const char *program, const char *summary,
		     const hl_config_item *items, size_t n);

/*
 * Log the effective configuration of a loaded target, one line per item
 * (event=config var=... value=...), secret values shown as "***" (or "" when
 * unset).  Uses the logger at info level (log.h).
 */
void hl_config_dump(const hl_config_item *items, size_t n, const void *target);

/*
 * Format a loaded value of item into buf (size bytes) as it would be
 * written in the environment, "***" for a non-empty secret.  Returns buf.
 */
char *hl_config_format(const hl_config_item *item, const void *target, char *buf, size_t size);

#endif
