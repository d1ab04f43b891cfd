/*
 * arena.h - per-call memory arenas.
 *
 * Each RPC call (and each background job iteration) owns one arena.  Every
 * allocation made for the call comes from it, protobuf-c unpacks into it
 * through hl_arena_pb_allocator(), and foreign objects (PGresult, redisReply)
 * are attached as cleanups.  hl_arena_free() runs the cleanups in reverse
 * order and releases all memory at once: nothing allocated from an arena is
 * ever freed on its own.
 *
 * An arena is not thread-safe; it belongs to one call at a time.
 */
#ifndef HL_ARENA_H
#define HL_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "hl/status.h"

typedef struct hl_arena hl_arena;
struct ProtobufCAllocator;

/* A new, empty arena, or NULL when out of memory. */
hl_arena *hl_arena_new(void);

/* Run the cleanups (last registered first) and release all memory. NULL is ok. */
void hl_arena_free(hl_arena *a);

/* Zeroed memory aligned for any type; NULL only when out of memory. */
void *hl_arena_alloc(hl_arena *a, size_t n);

/* Copies owned by the arena. hl_arena_strndup stops at n bytes or a NUL. */
char *hl_arena_strdup(hl_arena *a, const char *s);
char *hl_arena_strndup(hl_arena *a, const char *s, size_t n);
void *hl_arena_memdup(hl_arena *a, const void *p, size_t n);

/* printf into arena memory. */
char *hl_arena_printf(hl_arena *a, const char *fmt, ...) HL_PRINTF(2, 3);
char *hl_arena_vprintf(hl_arena *a, const char *fmt, va_list ap);

/* Call fn(ptr) when the arena is freed (after later-registered cleanups). */
hl_status hl_arena_defer(hl_arena *a, void (*fn)(void *), void *ptr) HL_MUST_CHECK;

/* A protobuf-c allocator that allocates from the arena and never frees. */
struct ProtobufCAllocator *hl_arena_pb_allocator(hl_arena *a);

/* Bytes handed out so far (for metrics and tests). */
size_t hl_arena_used(const hl_arena *a);

#endif
