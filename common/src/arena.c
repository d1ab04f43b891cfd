/*
 * arena.c - bump allocator with cleanups, one per call (see arena.h).
 *
 * Memory comes in chunks of at least CHUNK_MIN bytes; a request larger than a
 * chunk gets a chunk of its own.  Cleanups are a singly linked list allocated
 * from the arena itself, run newest first.
 */
#include "hl/arena.h"

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIN 8192
#define ALIGN 16

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(ALIGN) unsigned char data[];
};

struct cleanup {
	struct cleanup *next;
	void (*fn)(void *);
	void *ptr;
};

struct hl_arena {
	struct chunk *chunks;
	struct cleanup *cleanups;
	size_t total;
	ProtobufCAllocator pb;
};

static void *pb_alloc(void *data, size_t n)
{
	return hl_arena_alloc(data, n ? n : 1);
}

static void pb_free(void *data, void *p)
{
	(void)data;
	(void)p; /* released with the arena */
}

hl_arena *hl_arena_new(void)
{
	hl_arena *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->pb.alloc = pb_alloc;
	a->pb.free = pb_free;
	a->pb.allocator_data = a;
	return a;
}

void hl_arena_free(hl_arena *a)
{
	if (!a)
		return;
	for (struct cleanup *c = a->cleanups; c; c = c->next)
		c->fn(c->ptr);
	struct chunk *ch = a->chunks;
	while (ch) {
		struct chunk *next = ch->next;
		free(ch);
		ch = next;
	}
	free(a);
}

static struct chunk *chunk_new(size_t need)
{
	size_t size = need > CHUNK_MIN ? need : CHUNK_MIN;
	struct chunk *ch = malloc(sizeof *ch + size);
	if (!ch)
		return NULL;
	ch->size = size;
	ch->used = 0;
	return ch;
}

void *hl_arena_alloc(hl_arena *a, size_t n)
{
	size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (need < n)
		return NULL;
	struct chunk *ch = a->chunks;
	if (!ch || ch->size - ch->used < need) {
		ch = chunk_new(need);
		if (!ch)
			return NULL;
		if (a->chunks && need > CHUNK_MIN / 2) {
			/* keep the partly used chunk in front for small requests */
			ch->next = a->chunks->next;
			a->chunks->next = ch;
		} else {
			ch->next = a->chunks;
			a->chunks = ch;
		}
	}
	void *p = ch->data + ch->used;
	ch->used += need;
	a->total += need;
	memset(p, 0, n);
	return p;
}

void *hl_arena_memdup(hl_arena *a, const void *p, size_t n)
{
	void *q = hl_arena_alloc(a, n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

char *hl_arena_strndup(hl_arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *q = hl_arena_alloc(a, len + 1);
	if (q)
		memcpy(q, s, len);
	return q;
}

char *hl_arena_strdup(hl_arena *a, const char *s)
{
	return s ? hl_arena_memdup(a, s, strlen(s) + 1) : NULL;
}

char *hl_arena_vprintf(hl_arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	char *q = hl_arena_alloc(a, (size_t)n + 1);
	if (q)
		vsnprintf(q, (size_t)n + 1, fmt, ap);
	return q;
}

char *hl_arena_printf(hl_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *q = hl_arena_vprintf(a, fmt, ap);
	va_end(ap);
	return q;
}

hl_status hl_arena_defer(hl_arena *a, void (*fn)(void *), void *ptr)
{
	struct cleanup *c = hl_arena_alloc(a, sizeof *c);
	if (!c) {
		fn(ptr); /* never leak what the caller handed over */
		return HL_NOMEM;
	}
	c->fn = fn;
	c->ptr = ptr;
	c->next = a->cleanups;
	a->cleanups = c;
	return HL_OK;
}

ProtobufCAllocator *hl_arena_pb_allocator(hl_arena *a)
{
	return &a->pb;
}

size_t hl_arena_used(const hl_arena *a)
{
	return a->total;
}
