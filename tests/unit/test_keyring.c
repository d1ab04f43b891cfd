/*
 * test_keyring.c - unit tests of the personal-data key hierarchy (keyring.h):
 * master key files and rotation, period key files (creation races between
 * threads and processes, destruction with tombstones), data keys, field
 * encryption bound to its place, blind indexes (tenant-wide and per retention
 * period) and the listing of live periods.
 *
 * Each test works in its own mkdtemp directory, removed at the end.
 */
#define _GNU_SOURCE /* memmem, nftw */
#include "hl/keyring.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"

/* A scratch directory with a master key file and a period key directory. */
struct env {
	char root[64], master[128], keys[128];
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static bool env_init(struct env *e)
{
	snprintf(e->root, sizeof e->root, "/tmp/hl_keyring_XXXXXX");
	if (!mkdtemp(e->root))
		return false;
	snprintf(e->master, sizeof e->master, "%s/master.key", e->root);
	snprintf(e->keys, sizeof e->keys, "%s/periods", e->root);
	return hl_keyring_generate_master_file(e->master, NULL) == HL_OK;
}

static void env_release(struct env *e)
{
	nftw(e->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	bool ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

static bool read_text(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return true;
}

static bool exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* Entries of dir whose name contains needle. */
static int count_entries(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strstr(de->d_name, needle))
			n++;
	closedir(d);
	return n;
}

static hl_keyring *open_kr(const struct env *e)
{
	hl_keyring *kr = NULL;
	hl_error err = {0};
	if (hl_keyring_new(e->master, e->keys, &kr, &err) != HL_OK) {
		fprintf(stderr, "  keyring: %s\n", err.msg);
		return NULL;
	}
	return kr;
}

static void test_names(void)
{
	T_ASSERT(hl_keyring_tenant_valid("demo"));
	T_ASSERT(hl_keyring_tenant_valid("a1"));
	T_ASSERT(hl_keyring_tenant_valid("city-hotline-2"));
	T_ASSERT(hl_keyring_tenant_valid("abcdefghijklmnopqrstuvwxyz012345"));
	T_ASSERT(!hl_keyring_tenant_valid("abcdefghijklmnopqrstuvwxyz0123456"));
	T_ASSERT(!hl_keyring_tenant_valid("a"));
	T_ASSERT(!hl_keyring_tenant_valid("Demo"));
	T_ASSERT(!hl_keyring_tenant_valid("../x"));
	T_ASSERT(!hl_keyring_tenant_valid("de mo"));
	T_ASSERT(!hl_keyring_tenant_valid(NULL));
	T_ASSERT(hl_keyring_period_valid("2036"));
	T_ASSERT(hl_keyring_period_valid("2036-H1_long"));
	T_ASSERT(!hl_keyring_period_valid(""));
	T_ASSERT(!hl_keyring_period_valid("2036/x"));
	T_ASSERT(!hl_keyring_period_valid(".."));
	T_ASSERT(!hl_keyring_period_valid("abcdefghijklmnopqrstuvwxyz0123456"));
}

static void test_generate_master_file(void)
{
	struct env e;
	hl_error err = {0};
	char text[256];
	struct stat sb;
	T_ASSERT(env_init(&e));
	T_ASSERT(stat(e.master, &sb) == 0);
	T_EQ_INT(sb.st_mode & 0777, 0600);
	T_ASSERT(read_text(e.master, text, sizeof text));
	T_ASSERT(strncmp(text, "v1:", 3) == 0);
	T_EQ_INT(strlen(text), 3 + 44 + 1);
	T_EQ_INT(hl_keyring_generate_master_file(e.master, &err), HL_EXISTS);
	char again[256];
	T_ASSERT(read_text(e.master, again, sizeof again));
	T_EQ_STR(again, text); /* not overwritten */

	hl_keyring *kr = open_kr(&e);
	T_ASSERT(kr != NULL);
	T_EQ_INT(hl_keyring_master_version(kr), 1);
	hl_keyring_free(kr);
	env_release(&e);
}

static hl_status load_master_text(const struct env *e, const char *text, hl_error *err)
{
	hl_keyring *kr = NULL;
	if (!write_text(e->master, text))
		return HL_IO;
	hl_status st = hl_keyring_new(e->master, e->keys, &kr, err);
	hl_keyring_free(kr);
	return st;
}

#define K32 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" /* base64 of 32 bytes */
#define K32B "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="

static void test_master_file_formats(void)
{
	struct env e;
	hl_error err = {0};
	hl_keyring *kr = NULL;
	T_ASSERT(env_init(&e));

	/* missing file: the service must refuse to start */
	char missing[160];
	snprintf(missing, sizeof missing, "%s/nope.key", e.root);
	T_EQ_INT(hl_keyring_new(missing, e.keys, &kr, &err), HL_PRECONDITION);
	T_ASSERT(kr == NULL);
	T_EQ_INT(hl_keyring_new(NULL, e.keys, &kr, &err), HL_PRECONDITION);

	T_EQ_INT(load_master_text(&e, "", &err), HL_PRECONDITION);
	T_EQ_INT(load_master_text(&e, "\n# only a comment\n\n", &err), HL_PRECONDITION);
	T_EQ_INT(load_master_text(&e, "v1:notbase64!!\n", &err), HL_PRECONDITION);
	/* 31 bytes, 33 bytes, missing padding, whitespace inside */
	T_EQ_INT(load_master_text(&e, "v1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZQ==\n", &err),
		 HL_PRECONDITION);
	T_EQ_INT(load_master_text(&e, "v1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWZn\n", &err),
		 HL_PRECONDITION);
	T_EQ_INT(load_master_text(&e, "v1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\n", &err),
		 HL_PRECONDITION);
	T_EQ_INT(load_master_text(&e, "v1:MDEyMzQ1Njc4OWFi Y2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", &err),
		 HL_PRECONDITION);
	T_EQ_INT(load_master_text(&e, "v0:" K32 "\n", &err), HL_PRECONDITION);
	T_EQ_INT(load_master_text(&e, "v01:" K32 "\n", &err), HL_PRECONDITION);
	T_EQ_INT(load_master_text(&e, "v1:" K32 "\nv1:" K32B "\n", &err), HL_PRECONDITION);
	T_ASSERT(strstr(err.msg, "duplicate") != NULL);
	T_EQ_INT(load_master_text(&e, K32 "\nv2:" K32B "\n", &err), HL_PRECONDITION);
	T_EQ_INT(load_master_text(&e, "v2:" K32B "\n" K32 "\n", &err), HL_PRECONDITION);
	T_ASSERT(strstr(err.msg, K32) == NULL); /* never the key in a message */

	/* accepted: a bare line (version 1), comments, CRLF, several versions */
	T_EQ_INT(load_master_text(&e, K32 "\n", &err), HL_OK);
	T_EQ_INT(load_master_text(&e, K32, &err), HL_OK);
	T_EQ_INT(load_master_text(&e, "# master\r\nv1:" K32 "\r\n\r\n", &err), HL_OK);
	T_ASSERT(write_text(e.master, "v3:" K32B "\nv1:" K32 "\n  v2:" K32 "  \n"));
	T_EQ_INT(hl_keyring_new(e.master, e.keys, &kr, &err), HL_OK);
	T_EQ_INT(hl_keyring_master_version(kr), 3);
	hl_keyring_free(kr);
	env_release(&e);
}

static void test_data_key_round_trip(void)
{
	struct env e;
	hl_error err = {0};
	hl_arena *a = hl_arena_new();
	uint8_t dek[HL_KEY_LEN], dek2[HL_KEY_LEN], dek3[HL_KEY_LEN], *w = NULL, *w2 = NULL;
	size_t wlen = 0, wlen2 = 0;
	T_ASSERT(env_init(&e));
	hl_keyring *kr = open_kr(&e);
	T_ASSERT(kr != NULL);
	T_EQ_INT(hl_keyring_new_data_key(kr, "demo", "2036", "rec-1", dek, a, &w, &wlen, &err),
		 HL_OK);
	T_EQ_INT(wlen, HL_WRAPPED_KEY_LEN);
	T_ASSERT(memmem(w, wlen, dek, sizeof dek) == NULL);
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2036", "rec-1", w, wlen, dek2, &err),
		 HL_OK);
	T_ASSERT(memcmp(dek, dek2, sizeof dek) == 0);
	/* each record gets its own key */
	T_EQ_INT(hl_keyring_new_data_key(kr, "demo", "2036", "rec-2", dek3, a, &w2, &wlen2, &err),
		 HL_OK);
	T_ASSERT(memcmp(dek, dek3, sizeof dek) != 0);

	/* bound to tenant, period and record id */
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2036", "rec-2", w, wlen, dek2, &err),
		 HL_CRYPTO);
	T_EQ_INT(hl_keyring_new_data_key(kr, "other", "2036", "x", dek3, a, &w2, &wlen2, &err),
		 HL_OK);
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "other", "2036", "rec-1", w, wlen, dek2, &err),
		 HL_CRYPTO);
	T_EQ_INT(hl_keyring_new_data_key(kr, "demo", "2037", "x", dek3, a, &w2, &wlen2, &err),
		 HL_OK);
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2037", "rec-1", w, wlen, dek2, &err),
		 HL_CRYPTO);
	/* tampered */
	w[HL_WRAPPED_KEY_LEN / 2] ^= 1;
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2036", "rec-1", w, wlen, dek2, &err),
		 HL_CRYPTO);
	w[HL_WRAPPED_KEY_LEN / 2] ^= 1;
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2036", "rec-1", w, wlen - 1, dek2, &err),
		 HL_CRYPTO);
	/* a fresh keyring (another process, after a restart) reads the same key file */
	hl_keyring *kr2 = open_kr(&e);
	T_ASSERT(kr2 != NULL);
	T_EQ_INT(hl_keyring_unwrap_data_key(kr2, "demo", "2036", "rec-1", w, wlen, dek2, &err),
		 HL_OK);
	T_ASSERT(memcmp(dek, dek2, sizeof dek) == 0);
	/* bad names never reach the file system */
	T_EQ_INT(hl_keyring_new_data_key(kr, "../x", "2036", "r", dek3, a, &w2, &wlen2, &err),
		 HL_INVALID);
	T_EQ_INT(hl_keyring_new_data_key(kr, "demo", "../../x", "r", dek3, a, &w2, &wlen2, &err),
		 HL_INVALID);
	T_EQ_INT(hl_keyring_new_data_key(kr, "demo", "2036", "", dek3, a, &w2, &wlen2, &err),
		 HL_INVALID);
	hl_keyring_free(kr2);
	hl_keyring_free(kr);
	hl_arena_free(a);
	env_release(&e);
}

static void test_unwrap_never_creates(void)
{
	struct env e;
	hl_error err = {0};
	uint8_t dek[HL_KEY_LEN], wrapped[HL_WRAPPED_KEY_LEN] = {1};
	char path[256];
	T_ASSERT(env_init(&e));
	hl_keyring *kr = open_kr(&e);
	T_ASSERT(kr != NULL);
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2040", "r", wrapped, sizeof wrapped, dek,
					    &err),
		 HL_NOT_FOUND);
	T_EQ_STR(err.msg, "retention period key not found");
	snprintf(path, sizeof path, "%s/demo/2040.key", e.keys);
	T_ASSERT(!exists(path));
	T_EQ_INT(hl_keyring_ensure_period(kr, "demo", "2040", &err), HL_OK);
	T_ASSERT(exists(path));
	hl_keyring_free(kr);
	env_release(&e);
}

static void test_field_seal_open(void)
{
	hl_arena *a = hl_arena_new();
	hl_error err = {0};
	uint8_t dek[HL_KEY_LEN], other[HL_KEY_LEN];
	uint8_t *c1, *c2;
	size_t l1, l2, n = 0;
	char *pt = NULL;
	const char *name = "欧阳娜娜";
	T_EQ_INT(hl_random_bytes(dek, sizeof dek), HL_OK);
	T_EQ_INT(hl_random_bytes(other, sizeof other), HL_OK);
	T_EQ_INT(hl_field_seal(dek, "demo", "caller", "name", "t-1", name, a, &c1, &l1, &err),
		 HL_OK);
	T_EQ_INT(hl_field_seal(dek, "demo", "caller", "name", "t-1", name, a, &c2, &l2, &err),
		 HL_OK);
	T_ASSERT(l1 == l2 && memcmp(c1, c2, l1) != 0); /* same plaintext, new ciphertext */
	T_EQ_INT(hl_field_open(dek, "demo", "caller", "name", "t-1", c1, l1, a, &pt, &n, &err),
		 HL_OK);
	T_EQ_STR(pt, name);
	T_EQ_INT(n, strlen(name));
	pt = NULL;
	/* moved to another record, column, table or tenant: refused */
	T_EQ_INT(hl_field_open(dek, "demo", "caller", "name", "t-2", c1, l1, a, &pt, NULL, &err),
		 HL_CRYPTO);
	T_EQ_STR(err.msg, "decryption failed");
	T_EQ_INT(hl_field_open(dek, "demo", "caller", "phone", "t-1", c1, l1, a, &pt, NULL, &err),
		 HL_CRYPTO);
	T_EQ_INT(hl_field_open(dek, "demo", "visitor", "name", "t-1", c1, l1, a, &pt, NULL, &err),
		 HL_CRYPTO);
	T_EQ_INT(hl_field_open(dek, "acme", "caller", "name", "t-1", c1, l1, a, &pt, NULL, &err),
		 HL_CRYPTO);
	/* length prefixes: shifting bytes between the parts does not match */
	T_EQ_INT(hl_field_open(dek, "demo", "callern", "ame", "t-1", c1, l1, a, &pt, NULL, &err),
		 HL_CRYPTO);
	/* wrong key, tampered byte */
	T_EQ_INT(hl_field_open(other, "demo", "caller", "name", "t-1", c1, l1, a, &pt, NULL, &err),
		 HL_CRYPTO);
	c1[l1 - 1] ^= 0x01;
	T_EQ_INT(hl_field_open(dek, "demo", "caller", "name", "t-1", c1, l1, a, &pt, NULL, &err),
		 HL_CRYPTO);
	T_ASSERT(pt == NULL);
	/* empty field value round trip; invalid places */
	T_EQ_INT(hl_field_seal(dek, "demo", "caller", "email", "t-1", "", a, &c2, &l2, &err), HL_OK);
	T_EQ_INT(hl_field_open(dek, "demo", "caller", "email", "t-1", c2, l2, a, &pt, NULL, &err),
		 HL_OK);
	T_EQ_STR(pt, "");
	T_EQ_INT(hl_field_seal(dek, "demo", "", "name", "t-1", name, a, &c2, &l2, &err), HL_INVALID);
	T_EQ_INT(hl_field_seal(dek, "Demo", "caller", "name", "t-1", name, a, &c2, &l2, &err),
		 HL_INVALID);
	T_EQ_INT(hl_field_seal(dek, "demo", "caller", "name", NULL, name, a, &c2, &l2, &err),
		 HL_INVALID);
	hl_arena_free(a);
}

static void test_wrong_master_key(void)
{
	struct env e, e2;
	hl_error err = {0};
	hl_arena *a = hl_arena_new();
	uint8_t dek[HL_KEY_LEN], back[HL_KEY_LEN], *w;
	size_t wlen;
	T_ASSERT(env_init(&e));
	T_ASSERT(env_init(&e2)); /* another master key, also version 1 */
	hl_keyring *kr = open_kr(&e);
	T_ASSERT(kr != NULL);
	T_EQ_INT(hl_keyring_new_data_key(kr, "demo", "2036", "r1", dek, a, &w, &wlen, &err), HL_OK);
	hl_keyring_free(kr);

	hl_keyring *bad = NULL;
	T_EQ_INT(hl_keyring_new(e2.master, e.keys, &bad, &err), HL_OK);
	T_EQ_INT(hl_keyring_ensure_period(bad, "demo", "2036", &err), HL_CRYPTO);
	T_ASSERT(strstr(err.msg, "does not unwrap") != NULL);
	T_EQ_INT(hl_keyring_unwrap_data_key(bad, "demo", "2036", "r1", w, wlen, back, &err),
		 HL_CRYPTO);
	/* and it did not replace the key file: the right master still works */
	hl_keyring_free(bad);
	kr = open_kr(&e);
	T_ASSERT(kr != NULL);
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2036", "r1", w, wlen, back, &err), HL_OK);
	T_ASSERT(memcmp(dek, back, sizeof dek) == 0);
	hl_keyring_free(kr);
	hl_arena_free(a);
	env_release(&e);
	env_release(&e2);
}

static void test_rotation(void)
{
	struct env e;
	hl_error err = {0};
	hl_arena *a = hl_arena_new();
	uint8_t dek[HL_KEY_LEN], back[HL_KEY_LEN], *w;
	size_t wlen;
	char bi1[HL_BLIND_INDEX_HEX_LEN], bi2[HL_BLIND_INDEX_HEX_LEN], text[512], path[256];
	uint32_t v = 0;
	struct stat sb;
	T_ASSERT(env_init(&e));
	hl_keyring *kr = open_kr(&e);
	T_ASSERT(kr != NULL);
	T_EQ_INT(hl_keyring_new_data_key(kr, "demo", "2036", "r1", dek, a, &w, &wlen, &err), HL_OK);
	T_EQ_INT(hl_keyring_blind_index(kr, "demo", "13812345678", bi1, &err), HL_OK);
	hl_keyring_free(kr);

	T_EQ_INT(hl_keyring_master_file_add_version(e.master, &v, &err), HL_OK);
	T_EQ_INT(v, 2);
	T_ASSERT(stat(e.master, &sb) == 0);
	T_EQ_INT(sb.st_mode & 0777, 0600);
	T_EQ_INT(count_entries(e.root, ".tmp"), 0);
	kr = open_kr(&e);
	T_ASSERT(kr != NULL);
	T_EQ_INT(hl_keyring_master_version(kr), 2);
	/* the old period key (wrapped by v1) still opens */
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2036", "r1", w, wlen, back, &err), HL_OK);
	T_ASSERT(memcmp(dek, back, sizeof dek) == 0);
	/* a new period key is wrapped by v2 */
	T_EQ_INT(hl_keyring_ensure_period(kr, "demo", "2037", &err), HL_OK);
	snprintf(path, sizeof path, "%s/demo/2037.key", e.keys);
	T_ASSERT(read_text(path, text, sizeof text));
	T_ASSERT(strncmp(text, "v2:", 3) == 0);
	snprintf(path, sizeof path, "%s/demo/2036.key", e.keys);
	T_ASSERT(read_text(path, text, sizeof text));
	T_ASSERT(strncmp(text, "v1:", 3) == 0);
	/* blind indexes survive rotation */
	T_EQ_INT(hl_keyring_blind_index(kr, "demo", "13812345678", bi2, &err), HL_OK);
	T_EQ_STR(bi1, bi2);
	hl_keyring_free(kr);

	/* with v1 removed from the file, v1-wrapped period keys no longer open */
	T_ASSERT(read_text(e.master, text, sizeof text));
	char *v2line = strstr(text, "v2:");
	T_ASSERT(v2line != NULL);
	T_ASSERT(write_text(e.master, v2line));
	kr = open_kr(&e);
	T_ASSERT(kr != NULL);
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2036", "r1", w, wlen, back, &err),
		 HL_CRYPTO);
	T_ASSERT(strstr(err.msg, "version 1 not loaded") != NULL);
	T_EQ_INT(hl_keyring_ensure_period(kr, "demo", "2037", &err), HL_OK);
	hl_keyring_free(kr);
	hl_arena_free(a);
	env_release(&e);
}

/* ---- concurrent creation ---- */

#define N_THREADS 8

struct racer {
	const struct env *e;
	hl_keyring *shared; /* NULL: open an own keyring (like a separate process) */
	pthread_barrier_t *start;
	const char *period;
	char record[16];
	uint8_t dek[HL_KEY_LEN], wrapped[HL_WRAPPED_KEY_LEN];
	hl_status st;
};

static void *racer_run(void *arg)
{
	struct racer *r = arg;
	hl_keyring *kr = r->shared;
	hl_arena *a = hl_arena_new();
	uint8_t *w = NULL;
	size_t wlen = 0;
	r->st = HL_INTERNAL;
	if (!kr && hl_keyring_new(r->e->master, r->e->keys, &kr, NULL) != HL_OK)
		kr = NULL;
	pthread_barrier_wait(r->start);
	if (kr && a)
		r->st = hl_keyring_new_data_key(kr, "demo", r->period, r->record, r->dek, a, &w,
						&wlen, NULL);
	if (r->st == HL_OK)
		memcpy(r->wrapped, w, sizeof r->wrapped);
	if (!r->shared)
		hl_keyring_free(kr);
	hl_arena_free(a);
	return NULL;
}

/* All racers' data keys unwrap with one fresh keyring: they used one period key. */
static bool racers_agree(const struct env *e, struct racer *r, int n)
{
	hl_keyring *kr = open_kr(e);
	bool ok = kr != NULL;
	for (int i = 0; ok && i < n; i++) {
		uint8_t back[HL_KEY_LEN];
		ok = r[i].st == HL_OK &&
		     hl_keyring_unwrap_data_key(kr, "demo", r[i].period, r[i].record, r[i].wrapped,
						sizeof r[i].wrapped, back, NULL) == HL_OK &&
		     memcmp(back, r[i].dek, HL_KEY_LEN) == 0;
	}
	hl_keyring_free(kr);
	return ok;
}

static bool race_threads(const struct env *e, hl_keyring *shared, const char *period)
{
	pthread_t tid[N_THREADS];
	struct racer r[N_THREADS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, N_THREADS);
	for (int i = 0; i < N_THREADS; i++) {
		memset(&r[i], 0, sizeof r[i]);
		r[i].e = e;
		r[i].shared = shared;
		r[i].start = &start;
		r[i].period = period;
		snprintf(r[i].record, sizeof r[i].record, "rec-%d", i);
		pthread_create(&tid[i], NULL, racer_run, &r[i]);
	}
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&start);
	return racers_agree(e, r, N_THREADS);
}

static void test_concurrent_creation_threads(void)
{
	struct env e;
	char tdir[256];
	T_ASSERT(env_init(&e));
	hl_keyring *shared = open_kr(&e);
	T_ASSERT(shared != NULL);
	for (int round = 0; round < 10; round++) {
		char period[16];
		snprintf(period, sizeof period, "own-%d", round);
		T_ASSERT(race_threads(&e, NULL, period)); /* a keyring per thread */
		snprintf(period, sizeof period, "shared-%d", round);
		T_ASSERT(race_threads(&e, shared, period)); /* one keyring, many threads */
	}
	snprintf(tdir, sizeof tdir, "%s/demo", e.keys);
	T_EQ_INT(count_entries(tdir, ".key"), 20);
	T_EQ_INT(count_entries(tdir, ".tmp"), 0);
	hl_keyring_free(shared);
	env_release(&e);
}

/* A child process: wait for the go byte, create a data key, report it. */
static void child_run(const struct env *e, int go_fd, int out_fd, const char *period, int id)
{
	struct racer r;
	pthread_barrier_t one;
	char go;
	memset(&r, 0, sizeof r);
	pthread_barrier_init(&one, NULL, 1);
	r.e = e;
	r.start = &one;
	r.period = period;
	snprintf(r.record, sizeof r.record, "child-%d", id);
	if (read(go_fd, &go, 1) != 1)
		_exit(2);
	racer_run(&r);
	if (write(out_fd, &r, sizeof r) != (ssize_t)sizeof r)
		_exit(3);
	_exit(r.st == HL_OK ? 0 : 1);
}

static bool race_processes(const struct env *e, const char *period)
{
	int go[2], res[2][2];
	pid_t pid[2];
	struct racer r[2];
	if (pipe(go) != 0)
		return false;
	for (int i = 0; i < 2; i++) {
		if (pipe(res[i]) != 0)
			return false;
		fflush(NULL);
		pid[i] = fork();
		if (pid[i] < 0)
			return false;
		if (pid[i] == 0)
			child_run(e, go[0], res[i][1], period, i);
		close(res[i][1]);
	}
	/* both children are past fork and block on the pipe: release them together */
	if (write(go[1], "gg", 2) != 2)
		return false;
	close(go[0]);
	close(go[1]);
	bool ok = true;
	for (int i = 0; i < 2; i++) {
		int status = 0;
		ok &= read(res[i][0], &r[i], sizeof r[i]) == (ssize_t)sizeof r[i];
		close(res[i][0]);
		ok &= waitpid(pid[i], &status, 0) == pid[i] && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0;
		r[i].period = period; /* pointer from the child's copy of the same string */
	}
	return ok && racers_agree(e, r, 2);
}

static void test_concurrent_creation_processes(void)
{
	struct env e;
	char tdir[256];
	T_ASSERT(env_init(&e));
	for (int round = 0; round < 10; round++) {
		char period[16];
		snprintf(period, sizeof period, "p%d", round);
		T_ASSERT(race_processes(&e, period));
	}
	snprintf(tdir, sizeof tdir, "%s/demo", e.keys);
	T_EQ_INT(count_entries(tdir, ".key"), 10);
	T_EQ_INT(count_entries(tdir, ".tmp"), 0);
	env_release(&e);
}

/* ---- destruction ---- */

static void test_destroy_period(void)
{
	struct env e;
	hl_error err = {0};
	hl_arena *a = hl_arena_new();
	uint8_t dek[HL_KEY_LEN], back[HL_KEY_LEN], *w, *w2;
	size_t wlen, wlen2;
	char key_path[256], tomb[256], text[128];
	T_ASSERT(env_init(&e));
	hl_keyring *kr = open_kr(&e);
	T_ASSERT(kr != NULL);
	T_EQ_INT(hl_keyring_new_data_key(kr, "demo", "2036", "r1", dek, a, &w, &wlen, &err), HL_OK);
	T_EQ_INT(hl_keyring_new_data_key(kr, "demo", "2037", "r2", dek, a, &w2, &wlen2, &err),
		 HL_OK);
	snprintf(key_path, sizeof key_path, "%s/demo/2036.key", e.keys);
	snprintf(tomb, sizeof tomb, "%s/demo/2036.destroyed", e.keys);
	T_ASSERT(exists(key_path));

	T_EQ_INT(hl_keyring_destroy_period(kr, "demo", "2036", &err), HL_OK);
	T_ASSERT(!exists(key_path));
	T_ASSERT(read_text(tomb, text, sizeof text));
	T_ASSERT(strncmp(text, "destroyed-at ", 13) == 0);
	/* unreadable now, and never silently re-created */
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2036", "r1", w, wlen, back, &err),
		 HL_NOT_FOUND);
	T_EQ_STR(err.msg, "retention period key destroyed");
	T_EQ_INT(hl_keyring_new_data_key(kr, "demo", "2036", "r3", back, a, &w, &wlen, &err),
		 HL_NOT_FOUND);
	T_EQ_STR(err.msg, "retention period key destroyed");
	T_EQ_INT(hl_keyring_ensure_period(kr, "demo", "2036", &err), HL_NOT_FOUND);
	T_ASSERT(!exists(key_path));
	/* also for a fresh keyring (restart, other process) */
	hl_keyring *kr2 = open_kr(&e);
	T_ASSERT(kr2 != NULL);
	T_EQ_INT(hl_keyring_ensure_period(kr2, "demo", "2036", &err), HL_NOT_FOUND);
	T_ASSERT(!exists(key_path));
	/* other periods are untouched; destroying again is fine */
	T_EQ_INT(hl_keyring_unwrap_data_key(kr2, "demo", "2037", "r2", w2, wlen2, back, &err),
		 HL_OK);
	T_EQ_INT(hl_keyring_destroy_period(kr, "demo", "2036", &err), HL_OK);
	T_EQ_INT(hl_keyring_destroy_period(kr, "demo", "../x", &err), HL_INVALID);

	/* destroyed by another keyring (process) while cached here */
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2037", "r2", w2, wlen2, back, &err),
		 HL_OK);
	T_EQ_INT(hl_keyring_destroy_period(kr2, "demo", "2037", &err), HL_OK);
	T_EQ_INT(hl_keyring_unwrap_data_key(kr, "demo", "2037", "r2", w2, wlen2, back, &err),
		 HL_NOT_FOUND);

	/* a period destroyed before it ever existed can never be created */
	T_EQ_INT(hl_keyring_destroy_period(kr, "fresh", "2050", &err), HL_OK);
	T_EQ_INT(hl_keyring_ensure_period(kr, "fresh", "2050", &err), HL_NOT_FOUND);
	snprintf(key_path, sizeof key_path, "%s/fresh/2050.key", e.keys);
	T_ASSERT(!exists(key_path));
	hl_keyring_free(kr2);
	hl_keyring_free(kr);
	hl_arena_free(a);
	env_release(&e);
}

static void test_destroy_shreds_file_in_place(void)
{
	struct env e;
	hl_error err = {0};
	char key_path[256], observer[256], original[256], shredded[256];
	T_ASSERT(env_init(&e));
	hl_keyring *kr = open_kr(&e);
	T_ASSERT(kr != NULL);
	T_EQ_INT(hl_keyring_ensure_period(kr, "demo", "2036", &err), HL_OK);
	snprintf(key_path, sizeof key_path, "%s/demo/2036.key", e.keys);
	T_ASSERT(read_text(key_path, original, sizeof original));
	T_ASSERT(strncmp(original, "v1:", 3) == 0);
	/* a second link to the same inode shows what happened to the bytes */
	snprintf(observer, sizeof observer, "%s/observer", e.root);
	T_ASSERT(link(key_path, observer) == 0);
	T_EQ_INT(hl_keyring_destroy_period(kr, "demo", "2036", &err), HL_OK);
	T_ASSERT(!exists(key_path));
	FILE *f = fopen(observer, "rb");
	T_ASSERT(f != NULL);
	size_t n = fread(shredded, 1, sizeof shredded, f);
	fclose(f);
	T_EQ_INT(n, strlen(original));
	T_ASSERT(memcmp(shredded, original, n) != 0);
	T_ASSERT(memmem(shredded, n, original + 3, 16) == NULL);
	hl_keyring_free(kr);
	env_release(&e);
}

/* ---- blind index ---- */

static void test_blind_index(void)
{
	struct env e, e2;
	hl_error err = {0};
	char a1[HL_BLIND_INDEX_HEX_LEN], a2[HL_BLIND_INDEX_HEX_LEN], b1[HL_BLIND_INDEX_HEX_LEN];
	char c1[HL_BLIND_INDEX_HEX_LEN], d1[HL_BLIND_INDEX_HEX_LEN];
	T_ASSERT(env_init(&e));
	T_ASSERT(env_init(&e2));
	hl_keyring *kr = open_kr(&e), *kr2 = open_kr(&e);
	hl_keyring *other = open_kr(&e2);
	T_ASSERT(kr && kr2 && other);
	T_EQ_INT(hl_keyring_blind_index(kr, "demo", "13812345678", a1, &err), HL_OK);
	T_EQ_INT(hl_keyring_blind_index(kr2, "demo", "13812345678", a2, &err), HL_OK);
	T_EQ_STR(a1, a2);
	T_EQ_INT(strlen(a1), 64);
	T_ASSERT(strspn(a1, "0123456789abcdef") == 64);
	T_ASSERT(strstr(a1, "13812345678") == NULL);
	T_EQ_INT(hl_keyring_blind_index(kr, "acme", "13812345678", b1, &err), HL_OK);
	T_ASSERT(strcmp(a1, b1) != 0); /* per tenant */
	T_EQ_INT(hl_keyring_blind_index(kr, "demo", "13812345679", c1, &err), HL_OK);
	T_ASSERT(strcmp(a1, c1) != 0);
	T_EQ_INT(hl_keyring_blind_index(other, "demo", "13812345678", d1, &err), HL_OK);
	T_ASSERT(strcmp(a1, d1) != 0); /* per master key */
	T_EQ_INT(hl_keyring_blind_index(kr, "Demo", "13812345678", d1, &err), HL_INVALID);
	T_EQ_INT(hl_keyring_blind_index(kr, "demo", "", d1, &err), HL_INVALID);
	T_EQ_INT(hl_keyring_blind_index(kr, "demo", NULL, d1, &err), HL_INVALID);
	hl_keyring_free(kr);
	hl_keyring_free(kr2);
	hl_keyring_free(other);
	env_release(&e);
	env_release(&e2);
}

static void test_period_index(void)
{
	struct env e;
	hl_error err = {0};
	char a1[HL_BLIND_INDEX_HEX_LEN], a2[HL_BLIND_INDEX_HEX_LEN], b1[HL_BLIND_INDEX_HEX_LEN];
	char t1[HL_BLIND_INDEX_HEX_LEN], x[HL_BLIND_INDEX_HEX_LEN];
	const char **names;
	size_t n;
	T_ASSERT(env_init(&e));
	hl_keyring *kr = open_kr(&e), *kr2 = open_kr(&e);
	hl_arena *a = hl_arena_new();
	T_ASSERT(kr && kr2 && a);
	/* never creates a period */
	T_EQ_INT(hl_keyring_period_index(kr, "demo", "2036", "13812345678", a1, &err), HL_NOT_FOUND);
	T_EQ_INT(hl_keyring_live_periods(kr, "demo", a, &names, &n, &err), HL_OK);
	T_EQ_INT(n, 0);
	T_EQ_INT(hl_keyring_ensure_period(kr, "demo", "2036", &err), HL_OK);
	T_EQ_INT(hl_keyring_ensure_period(kr, "demo", "2035", &err), HL_OK);
	T_EQ_INT(hl_keyring_ensure_period(kr, "acme", "2036", &err), HL_OK);
	T_EQ_INT(hl_keyring_period_index(kr, "demo", "2036", "13812345678", a1, &err), HL_OK);
	T_EQ_INT(hl_keyring_period_index(kr2, "demo", "2036", "13812345678", a2, &err), HL_OK);
	T_EQ_STR(a1, a2); /* the same key file: the same index in every process */
	T_ASSERT(strspn(a1, "0123456789abcdef") == 64);
	T_EQ_INT(hl_keyring_period_index(kr, "demo", "2035", "13812345678", b1, &err), HL_OK);
	T_ASSERT(strcmp(a1, b1) != 0); /* per period */
	T_EQ_INT(hl_keyring_blind_index(kr, "demo", "13812345678", t1, &err), HL_OK);
	T_ASSERT(strcmp(a1, t1) != 0); /* not the tenant-wide index */
	T_EQ_INT(hl_keyring_period_index(kr, "acme", "2036", "13812345678", x, &err), HL_OK);
	T_ASSERT(strcmp(a1, x) != 0); /* per tenant */
	T_EQ_INT(hl_keyring_period_index(kr, "demo", "2036", "", x, &err), HL_INVALID);
	T_EQ_INT(hl_keyring_live_periods(kr, "demo", a, &names, &n, &err), HL_OK);
	T_EQ_INT(n, 2);
	T_EQ_STR(names[0], "2035");
	T_EQ_STR(names[1], "2036");
	/* destroyed in one process: unmatchable in both, and no longer live */
	T_EQ_INT(hl_keyring_destroy_period(kr, "demo", "2036", &err), HL_OK);
	T_EQ_INT(hl_keyring_period_index(kr, "demo", "2036", "13812345678", x, &err), HL_NOT_FOUND);
	T_EQ_INT(hl_keyring_period_index(kr2, "demo", "2036", "13812345678", x, &err), HL_NOT_FOUND);
	T_EQ_INT(hl_keyring_period_index(kr2, "demo", "2035", "13812345678", x, &err), HL_OK);
	T_EQ_STR(x, b1);
	T_EQ_INT(hl_keyring_live_periods(kr2, "demo", a, &names, &n, &err), HL_OK);
	T_EQ_INT(n, 1);
	T_EQ_STR(names[0], "2035");
	T_EQ_INT(hl_keyring_live_periods(kr2, "Demo", a, &names, &n, &err), HL_INVALID);
	hl_arena_free(a);
	hl_keyring_free(kr);
	hl_keyring_free(kr2);
	env_release(&e);
}

int main(void)
{
	T_RUN(test_names);
	T_RUN(test_generate_master_file);
	T_RUN(test_master_file_formats);
	T_RUN(test_data_key_round_trip);
	T_RUN(test_unwrap_never_creates);
	T_RUN(test_field_seal_open);
	T_RUN(test_wrong_master_key);
	T_RUN(test_rotation);
	T_RUN(test_concurrent_creation_threads);
	T_RUN(test_concurrent_creation_processes);
	T_RUN(test_destroy_period);
	T_RUN(test_destroy_shreds_file_in_place);
	T_RUN(test_blind_index);
	T_RUN(test_period_index);
	return T_DONE();
}
