/*
 * keyring.c - master key file, retention-period key files, data keys, field
 * encryption and blind indexes (see keyring.h for the hierarchy).
 *
 * Files:
 *   master key file        "v<N>:<base64 32 bytes>\n" per version (or one
 *                          bare base64 line = version 1)
 *   <dir>/<T>/<P>.key      "v<N>:<base64 of the AEAD blob>\n": the period
 *                          key sealed by master version N, associated data
 *                          lp("hotline/period-key") lp(T) lp(P) lp(N as
 *                          4 bytes big-endian); lp = 4-byte length + bytes
 *   <dir>/<T>/<P>.destroyed  tombstone: "destroyed-at <unix seconds>\n"
 *
 * Period keys are cached per keyring in a small hash table under a rwlock.
 * Every use first checks the tombstone (one stat), so a destruction made by
 * another process takes effect at the next use here.  File creation and
 * destruction run under the write lock; across processes, link() decides
 * which key wins and the tombstone, written before the key file is shredded
 * and checked again after a key file is linked, keeps a destroyed period
 * from coming back.
 */
#include "hl/keyring.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MASTER_FILE_MAX 65536
#define MASTER_VERSIONS_MAX 256
#define MASTER_VERSION_MAX 999999999u
#define DIR_PATH_MAX 1024
#define PATH_CAP (DIR_PATH_MAX + 192)
#define SMALL_FILE_MAX 512
#define NAME_MAX_LEN 32
#define CACHE_BUCKETS 64
#define AAD_MAX 512

struct master_key {
	uint32_t version;
	uint8_t key[HL_KEY_LEN];
};

struct period_entry {
	struct period_entry *next;
	char tenant[NAME_MAX_LEN + 1], period[NAME_MAX_LEN + 1];
	uint8_t key[HL_KEY_LEN];
};

struct hl_keyring {
	struct master_key *masters; /* ascending versions, n_masters >= 1 */
	size_t n_masters;
	char dir[DIR_PATH_MAX];
	pthread_rwlock_t lock;
	struct period_entry *cache[CACHE_BUCKETS];
};

struct period_paths {
	char tdir[PATH_CAP], key[PATH_CAP], tomb[PATH_CAP];
};

/* ---- names ---- */

bool hl_keyring_tenant_valid(const char *s)
{
	if (!s)
		return false;
	size_t n;
	for (n = 0; s[n]; n++) {
		char c = s[n];
		if (n >= NAME_MAX_LEN ||
		    !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return n >= 2;
}

bool hl_keyring_period_valid(const char *s)
{
	if (!s)
		return false;
	size_t n;
	for (n = 0; s[n]; n++) {
		char c = s[n];
		if (n >= NAME_MAX_LEN ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return n >= 1;
}

static hl_status check_names(const char *tenant, const char *period, hl_error *err)
{
	if (!hl_keyring_tenant_valid(tenant))
		return hl_fail(err, HL_INVALID, "tenant: must match [a-z0-9-]{2,32}");
	if (!hl_keyring_period_valid(period))
		return hl_fail(err, HL_INVALID, "retention period: must match [0-9A-Za-z_-]{1,32}");
	return HL_OK;
}

static hl_status check_text(const char *what, const char *s, size_t max, hl_error *err)
{
	if (!s || !*s)
		return hl_fail(err, HL_INVALID, "%s: missing", what);
	if (strnlen(s, max + 1) > max)
		return hl_fail(err, HL_INVALID, "%s: longer than %zu bytes", what, max);
	return HL_OK;
}

/* ---- associated data: length-prefixed fields ---- */

struct aad {
	uint8_t b[AAD_MAX];
	size_t n;
	bool overflow;
};

static void aad_add(struct aad *x, const void *p, size_t n)
{
	if (x->overflow || n > sizeof x->b - 4 - x->n) {
		x->overflow = true;
		return;
	}
	x->b[x->n++] = (uint8_t)(n >> 24);
	x->b[x->n++] = (uint8_t)(n >> 16);
	x->b[x->n++] = (uint8_t)(n >> 8);
	x->b[x->n++] = (uint8_t)n;
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

static void aad_str(struct aad *x, const char *s)
{
	aad_add(x, s, strlen(s));
}

static void aad_u32(struct aad *x, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	aad_add(x, b, 4);
}

static void period_aad(struct aad *x, const char *tenant, const char *period, uint32_t version)
{
	aad_str(x, "hotline/period-key");
	aad_str(x, tenant);
	aad_str(x, period);
	aad_u32(x, version);
}

static void data_key_aad(struct aad *x, const char *tenant, const char *period,
			 const char *record_id)
{
	aad_str(x, "hotline/data-key");
	aad_str(x, tenant);
	aad_str(x, period);
	aad_str(x, record_id);
}

/* ---- base64 (canonical, padded) ---- */

/* Encode n (<= 300) bytes; out must hold 4 * ceil(n / 3) + 1 bytes. */
static void b64_encode(const uint8_t *p, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

/*
 * Decode s[0..n), which must be the canonical padded base64 of exactly want
 * bytes (so no whitespace, no stray bits), into out.
 */
static bool b64_decode_exact(const char *s, size_t n, uint8_t *out, size_t want)
{
	uint8_t tmp[SMALL_FILE_MAX];
	char check[SMALL_FILE_MAX];
	size_t enc_len = 4 * ((want + 2) / 3);
	if (n != enc_len || enc_len >= sizeof check)
		return false;
	bool ok = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n) == (int)(enc_len / 4 * 3);
	if (ok) {
		b64_encode(tmp, want, check);
		ok = memcmp(check, s, n) == 0;
	}
	if (ok)
		memcpy(out, tmp, want);
	OPENSSL_cleanse(tmp, sizeof tmp);
	OPENSSL_cleanse(check, sizeof check);
	return ok;
}

/*
 * Parse "v<N>:" at s (N decimal, 1..MASTER_VERSION_MAX, no leading zero).
 * On success *rest points after the colon.
 */
static bool parse_version_prefix(const char *s, uint32_t *version, const char **rest)
{
	if (s[0] != 'v' || s[1] < '1' || s[1] > '9')
		return false;
	uint64_t v = 0;
	const char *p = s + 1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > MASTER_VERSION_MAX)
			return false;
		p++;
	}
	if (*p != ':')
		return false;
	*version = (uint32_t)v;
	*rest = p + 1;
	return true;
}

/* ---- files ---- */

/*
 * Read the whole file at path into buf (cap bytes, NUL-terminated).
 * Returns 0 or an errno value; EFBIG when the file does not fit.
 */
static int read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t n = 0;
	int e = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			e = EFBIG;
			break;
		}
	}
	close(fd);
	if (e) {
		OPENSSL_cleanse(buf, n);
		n = 0;
	}
	buf[n < cap ? n : cap - 1] = '\0';
	*len = n;
	return e;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *q = p;
	while (n > 0) {
		ssize_t w = write(fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int e = fsync(fd) == 0 ? 0 : errno;
	close(fd);
	return e;
}

/* The directory part of path ("." when none) into out. */
static void parent_dir(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, cap, ".");
	else if (slash == path)
		snprintf(out, cap, "/");
	else
		snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

/* Write content to a new file with mode 0600, fsync it; 0 or an errno. */
static int write_new_file(const char *path, const void *content, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	int e = write_all(fd, content, n);
	if (!e && fsync(fd) != 0)
		e = errno;
	if (close(fd) != 0 && !e)
		e = errno;
	if (e)
		unlink(path);
	return e;
}

/* A unique temporary name next to path. */
static hl_status temp_name(const char *dir, const char *base, char *out, size_t cap,
			   hl_error *err)
{
	uint8_t r[8];
	char hex[17];
	if (hl_random_bytes(r, sizeof r) != HL_OK)
		return hl_fail(err, HL_CRYPTO, "random generator failed");
	hl_hex_write(r, sizeof r, hex);
	int n = snprintf(out, cap, "%s/.%s.%ld.%s.tmp", dir, base, (long)getpid(), hex);
	if (n < 0 || (size_t)n >= cap)
		return hl_fail(err, HL_INVALID, "key file path too long");
	return HL_OK;
}

/* mkdir path 0700 if missing (fsync'ing its parent then). */
static hl_status ensure_dir(const char *path, const char *parent, hl_error *err)
{
	if (mkdir(path, 0700) == 0) {
		int e = fsync_dir(parent);
		if (e)
			return hl_fail(err, HL_IO, "key directory %s: fsync: %s", parent, strerror(e));
		return HL_OK;
	}
	if (errno != EEXIST)
		return hl_fail(err, HL_IO, "key directory %s: %s", path, strerror(errno));
	struct stat sb;
	if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return hl_fail(err, HL_IO, "key directory %s: not a directory", path);
	return HL_OK;
}

/* ---- master key file ---- */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int master_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct master_key *)a)->version;
	uint32_t y = ((const struct master_key *)b)->version;
	return (x > y) - (x < y);
}

static void masters_free(struct master_key *keys, size_t n)
{
	if (!keys)
		return;
	OPENSSL_cleanse(keys, n * sizeof *keys);
	free(keys);
}

/* Parse one non-empty line as key number n of keys (which holds n keys). */
static hl_status master_parse_line(const char *line, int line_no, struct master_key *keys,
				   size_t n, bool *bare, hl_error *err)
{
	uint32_t version = 1;
	const char *b64 = line;
	if (*bare || n == MASTER_VERSIONS_MAX)
		return hl_fail(err, HL_PRECONDITION,
			       "master key file: line %d: unexpected extra key", line_no);
	if (!parse_version_prefix(line, &version, &b64)) {
		if (n > 0)
			return hl_fail(err, HL_PRECONDITION,
				       "master key file: line %d: expected v<N>:<base64>", line_no);
		*bare = true;
	}
	for (size_t i = 0; i < n; i++)
		if (keys[i].version == version)
			return hl_fail(err, HL_PRECONDITION,
				       "master key file: line %d: duplicate version %u", line_no,
				       version);
	if (!b64_decode_exact(b64, strlen(b64), keys[n].key, HL_KEY_LEN))
		return hl_fail(err, HL_PRECONDITION,
			       "master key file: line %d: key is not base64 of 32 bytes", line_no);
	keys[n].version = version;
	return HL_OK;
}

/* Parse the master file text (modified in place) into sorted keys. */
static hl_status master_parse(char *text, struct master_key **out, size_t *n_out, hl_error *err)
{
	struct master_key *keys = calloc(MASTER_VERSIONS_MAX, sizeof *keys);
	if (!keys)
		return hl_fail(err, HL_NOMEM, "master key file: out of memory");
	size_t n = 0;
	bool bare = false;
	int line_no = 0;
	hl_status st = HL_OK;
	for (char *line = text, *next; line; line = next) {
		line_no++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line = trim(line);
		if (!*line || *line == '#')
			continue;
		st = master_parse_line(line, line_no, keys, n, &bare, err);
		if (st != HL_OK)
			goto out;
		n++;
	}
	if (n == 0) {
		st = hl_fail(err, HL_PRECONDITION, "master key file: no key");
		goto out;
	}
	qsort(keys, n, sizeof *keys, master_cmp);
	*out = keys;
	*n_out = n;
	keys = NULL;
out:
	masters_free(keys, MASTER_VERSIONS_MAX);
	return st;
}

static hl_status master_load(const char *path, struct master_key **out, size_t *n_out,
			     hl_error *err)
{
	if (!path || !*path)
		return hl_fail(err, HL_PRECONDITION, "master key file: no path configured");
	char *buf = malloc(MASTER_FILE_MAX + 1);
	if (!buf)
		return hl_fail(err, HL_NOMEM, "master key file: out of memory");
	size_t len = 0;
	hl_status st;
	int e = read_file(path, buf, MASTER_FILE_MAX + 1, &len);
	if (e == EFBIG)
		st = hl_fail(err, HL_PRECONDITION, "master key file %s: too large", path);
	else if (e)
		st = hl_fail(err, HL_PRECONDITION, "master key file %s: %s", path, strerror(e));
	else if (memchr(buf, '\0', len))
		st = hl_fail(err, HL_PRECONDITION, "master key file %s: binary content", path);
	else
		st = master_parse(buf, out, n_out, err);
	OPENSSL_cleanse(buf, MASTER_FILE_MAX + 1);
	free(buf);
	return st;
}

static const struct master_key *master_find(const hl_keyring *kr, uint32_t version)
{
	for (size_t i = 0; i < kr->n_masters; i++)
		if (kr->masters[i].version == version)
			return &kr->masters[i];
	return NULL;
}

static const struct master_key *master_current(const hl_keyring *kr)
{
	return &kr->masters[kr->n_masters - 1];
}

uint32_t hl_keyring_master_version(const hl_keyring *kr)
{
	return master_current(kr)->version;
}

/* "v<N>:<base64>\n" for a 32-byte key into line (>= 64 bytes). */
static void master_line(const struct master_key *m, char *line, size_t cap)
{
	char b64[4 * ((HL_KEY_LEN + 2) / 3) + 1];
	b64_encode(m->key, HL_KEY_LEN, b64);
	snprintf(line, cap, "v%u:%s\n", m->version, b64);
	OPENSSL_cleanse(b64, sizeof b64);
}

hl_status hl_keyring_generate_master_file(const char *path, hl_error *err)
{
	if (!path || !*path)
		return hl_fail(err, HL_INVALID, "master key file: no path");
	struct master_key m = {.version = 1};
	char line[80], dir[PATH_CAP];
	if (hl_random_bytes(m.key, HL_KEY_LEN) != HL_OK)
		return hl_fail(err, HL_CRYPTO, "random generator failed");
	master_line(&m, line, sizeof line);
	OPENSSL_cleanse(&m, sizeof m);
	hl_status st = HL_OK;
	int e = write_new_file(path, line, strlen(line));
	OPENSSL_cleanse(line, sizeof line);
	if (e == EEXIST)
		return hl_fail(err, HL_EXISTS, "master key file %s: already exists", path);
	if (e)
		return hl_fail(err, HL_IO, "master key file %s: %s", path, strerror(e));
	parent_dir(path, dir, sizeof dir);
	e = fsync_dir(dir);
	if (e)
		st = hl_fail(err, HL_IO, "master key file %s: fsync directory: %s", path,
			     strerror(e));
	return st;
}

hl_status hl_keyring_master_file_add_version(const char *path, uint32_t *new_version,
					     hl_error *err)
{
	struct master_key *keys = NULL;
	size_t n = 0;
	char *text = NULL;
	size_t cap = 0;
	char tmp[PATH_CAP + 64], dir[PATH_CAP];
	hl_status st = master_load(path, &keys, &n, err);
	if (st != HL_OK)
		return st;
	if (n == MASTER_VERSIONS_MAX || keys[n - 1].version == MASTER_VERSION_MAX) {
		st = hl_fail(err, HL_PRECONDITION, "master key file: no room for another version");
		goto out;
	}
	keys[n].version = keys[n - 1].version + 1;
	if (hl_random_bytes(keys[n].key, HL_KEY_LEN) != HL_OK) {
		st = hl_fail(err, HL_CRYPTO, "random generator failed");
		goto out;
	}
	n++;
	cap = n * 80;
	text = calloc(1, cap);
	if (!text) {
		st = hl_fail(err, HL_NOMEM, "master key file: out of memory");
		goto out;
	}
	for (size_t i = 0, len = 0; i < n; i++) {
		master_line(&keys[i], text + len, cap - len);
		len += strlen(text + len);
	}
	parent_dir(path, dir, sizeof dir);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	st = temp_name(dir, base, tmp, sizeof tmp, err);
	if (st != HL_OK)
		goto out;
	int e = write_new_file(tmp, text, strlen(text));
	if (!e && rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
	}
	if (!e)
		e = fsync_dir(dir);
	if (e) {
		st = hl_fail(err, HL_IO, "master key file %s: %s", path, strerror(e));
		goto out;
	}
	if (new_version)
		*new_version = keys[n - 1].version;
out:
	if (text) {
		OPENSSL_cleanse(text, cap);
		free(text);
	}
	masters_free(keys, MASTER_VERSIONS_MAX);
	return st;
}

/* ---- keyring lifecycle ---- */

hl_status hl_keyring_new(const char *master_path, const char *period_key_dir,
			 hl_keyring **out, hl_error *err)
{
	if (!period_key_dir || !*period_key_dir)
		return hl_fail(err, HL_INVALID, "period key directory: not configured");
	if (strlen(period_key_dir) >= DIR_PATH_MAX)
		return hl_fail(err, HL_INVALID, "period key directory: path too long");
	hl_keyring *kr = calloc(1, sizeof *kr);
	if (!kr)
		return hl_fail(err, HL_NOMEM, "keyring: out of memory");
	snprintf(kr->dir, sizeof kr->dir, "%s", period_key_dir);
	hl_status st = master_load(master_path, &kr->masters, &kr->n_masters, err);
	if (st != HL_OK) {
		free(kr);
		return st;
	}
	char parent[PATH_CAP];
	parent_dir(kr->dir, parent, sizeof parent);
	st = ensure_dir(kr->dir, parent, err);
	if (st == HL_OK && pthread_rwlock_init(&kr->lock, NULL) != 0)
		st = hl_fail(err, HL_NOMEM, "keyring: cannot create lock");
	if (st != HL_OK) {
		masters_free(kr->masters, MASTER_VERSIONS_MAX);
		free(kr);
		return st;
	}
	*out = kr;
	return HL_OK;
}

static void entry_free(struct period_entry *e)
{
	OPENSSL_cleanse(e, sizeof *e);
	free(e);
}

void hl_keyring_free(hl_keyring *kr)
{
	if (!kr)
		return;
	for (size_t b = 0; b < CACHE_BUCKETS; b++) {
		struct period_entry *e = kr->cache[b];
		while (e) {
			struct period_entry *next = e->next;
			entry_free(e);
			e = next;
		}
	}
	masters_free(kr->masters, MASTER_VERSIONS_MAX);
	pthread_rwlock_destroy(&kr->lock);
	free(kr);
}

/* ---- period key cache (callers hold kr->lock) ---- */

static unsigned cache_bucket(const char *tenant, const char *period)
{
	uint32_t h = 2166136261u;
	for (const char *p = tenant; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *p = period; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % CACHE_BUCKETS;
}

static struct period_entry **cache_slot(hl_keyring *kr, const char *tenant, const char *period)
{
	struct period_entry **pp = &kr->cache[cache_bucket(tenant, period)];
	while (*pp && (strcmp((*pp)->tenant, tenant) != 0 || strcmp((*pp)->period, period) != 0))
		pp = &(*pp)->next;
	return pp;
}

static bool cache_get(hl_keyring *kr, const char *tenant, const char *period,
		      uint8_t key[HL_KEY_LEN])
{
	struct period_entry *e = *cache_slot(kr, tenant, period);
	if (e)
		memcpy(key, e->key, HL_KEY_LEN);
	return e != NULL;
}

static hl_status cache_put(hl_keyring *kr, const char *tenant, const char *period,
			   const uint8_t key[HL_KEY_LEN], hl_error *err)
{
	struct period_entry *e = calloc(1, sizeof *e);
	if (!e)
		return hl_fail(err, HL_NOMEM, "keyring: out of memory");
	snprintf(e->tenant, sizeof e->tenant, "%s", tenant);
	snprintf(e->period, sizeof e->period, "%s", period);
	memcpy(e->key, key, HL_KEY_LEN);
	unsigned b = cache_bucket(tenant, period);
	e->next = kr->cache[b];
	kr->cache[b] = e;
	return HL_OK;
}

static void cache_drop(hl_keyring *kr, const char *tenant, const char *period)
{
	struct period_entry **pp = cache_slot(kr, tenant, period);
	struct period_entry *e = *pp;
	if (e) {
		*pp = e->next;
		entry_free(e);
	}
}

/* ---- period key files ---- */

static void period_paths(const hl_keyring *kr, const char *tenant, const char *period,
			 struct period_paths *p)
{
	/* kr->dir < DIR_PATH_MAX and names <= 32 bytes: these never truncate */
	snprintf(p->tdir, sizeof p->tdir, "%s/%s", kr->dir, tenant);
	snprintf(p->key, sizeof p->key, "%s/%s/%s.key", kr->dir, tenant, period);
	snprintf(p->tomb, sizeof p->tomb, "%s/%s/%s.destroyed", kr->dir, tenant, period);
}

static hl_status fail_destroyed(hl_error *err)
{
	return hl_fail(err, HL_NOT_FOUND, "retention period key destroyed");
}

/* HL_OK when the period has no tombstone, HL_NOT_FOUND when destroyed. */
static hl_status check_tombstone(const struct period_paths *p, hl_error *err)
{
	struct stat sb;
	if (stat(p->tomb, &sb) == 0)
		return fail_destroyed(err);
	if (errno == ENOENT || errno == ENOTDIR)
		return HL_OK;
	return hl_fail(err, HL_IO, "period key tombstone %s: %s", p->tomb, strerror(errno));
}

/*
 * Read and unwrap the key file of p into key.  *missing tells a file that
 * does not exist (HL_NOT_FOUND) from other errors.
 */
static hl_status period_read(const hl_keyring *kr, const struct period_paths *p,
			     const char *tenant, const char *period, uint8_t key[HL_KEY_LEN],
			     bool *missing, hl_error *err)
{
	char buf[SMALL_FILE_MAX];
	uint8_t blob[HL_WRAPPED_KEY_LEN];
	struct aad aad = {0};
	size_t len = 0;
	uint32_t version = 0;
	const char *b64 = NULL;
	const struct master_key *m;
	hl_status st = HL_OK;
	*missing = false;
	int e = read_file(p->key, buf, sizeof buf, &len);
	if (e == ENOENT) {
		*missing = true;
		return hl_fail(err, HL_NOT_FOUND, "retention period key not found");
	}
	if (e)
		return hl_fail(err, HL_IO, "period key file %s: %s", p->key, strerror(e));
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (!parse_version_prefix(buf, &version, &b64) ||
	    !b64_decode_exact(b64, len - (size_t)(b64 - buf), blob, sizeof blob)) {
		st = hl_fail(err, HL_CRYPTO, "period key file %s: malformed", p->key);
		goto out;
	}
	m = master_find(kr, version);
	if (!m) {
		st = hl_fail(err, HL_CRYPTO, "period key file %s: master key version %u not loaded",
			     p->key, version);
		goto out;
	}
	period_aad(&aad, tenant, period, version);
	if (hl_aead_open_buf(m->key, aad.b, aad.n, blob, sizeof blob, key, NULL) != HL_OK)
		st = hl_fail(err, HL_CRYPTO,
			     "period key file %s: does not unwrap with master key version %u",
			     p->key, version);
out:
	OPENSSL_cleanse(buf, sizeof buf);
	OPENSSL_cleanse(blob, sizeof blob);
	return st;
}

/* The key file line for key wrapped by the current master key. */
static hl_status period_wrap_line(const hl_keyring *kr, const char *tenant, const char *period,
				  const uint8_t key[HL_KEY_LEN], char *line, size_t cap,
				  hl_error *err)
{
	const struct master_key *m = master_current(kr);
	uint8_t blob[HL_WRAPPED_KEY_LEN];
	char b64[4 * ((HL_WRAPPED_KEY_LEN + 2) / 3) + 1];
	struct aad aad = {0};
	period_aad(&aad, tenant, period, m->version);
	hl_status st = hl_aead_seal_buf(m->key, aad.b, aad.n, key, HL_KEY_LEN, blob, err);
	if (st != HL_OK)
		return st;
	b64_encode(blob, sizeof blob, b64);
	snprintf(line, cap, "v%u:%s\n", m->version, b64);
	return HL_OK;
}

/*
 * Create the key file of p with a new random key, or - when another thread
 * or process linked one first - read that one.  Caller holds the write lock.
 */
static hl_status period_create(hl_keyring *kr, const struct period_paths *p,
			       const char *tenant, const char *period, uint8_t key[HL_KEY_LEN],
			       hl_error *err)
{
	char line[SMALL_FILE_MAX], tmp[PATH_CAP + 64];
	bool missing;
	hl_status st = ensure_dir(p->tdir, kr->dir, err);
	if (st != HL_OK)
		return st;
	if (hl_random_bytes(key, HL_KEY_LEN) != HL_OK)
		return hl_fail(err, HL_CRYPTO, "random generator failed");
	st = period_wrap_line(kr, tenant, period, key, line, sizeof line, err);
	if (st == HL_OK)
		st = temp_name(p->tdir, period, tmp, sizeof tmp, err);
	if (st != HL_OK)
		goto fail;
	int e = write_new_file(tmp, line, strlen(line));
	if (e) {
		st = hl_fail(err, HL_IO, "period key file %s: %s", tmp, strerror(e));
		goto fail;
	}
	int rc = link(tmp, p->key);
	e = errno;
	unlink(tmp);
	if (rc != 0 && e == EEXIST) {
		OPENSSL_cleanse(key, HL_KEY_LEN);
		return period_read(kr, p, tenant, period, key, &missing, err);
	}
	if (rc != 0) {
		st = hl_fail(err, HL_IO, "period key file %s: link: %s", p->key, strerror(e));
		goto fail;
	}
	e = fsync_dir(p->tdir);
	if (e) {
		st = hl_fail(err, HL_IO, "period key directory %s: fsync: %s", p->tdir,
			     strerror(e));
		goto fail;
	}
	st = check_tombstone(p, err);
	if (st == HL_NOT_FOUND) {
		/* destroyed while we created it: take ours back */
		unlink(p->key);
		fsync_dir(p->tdir);
	}
	if (st != HL_OK)
		goto fail;
	return HL_OK;
fail:
	OPENSSL_cleanse(key, HL_KEY_LEN);
	return st;
}

/* Load (or create) the key of p from disk.  Caller holds the write lock. */
static hl_status period_load(hl_keyring *kr, const struct period_paths *p, const char *tenant,
			     const char *period, bool create, uint8_t key[HL_KEY_LEN],
			     hl_error *err)
{
	bool missing = false;
	hl_status st = period_read(kr, p, tenant, period, key, &missing, err);
	if (st == HL_NOT_FOUND && missing && create)
		st = period_create(kr, p, tenant, period, key, err);
	if (st != HL_OK) {
		OPENSSL_cleanse(key, HL_KEY_LEN);
		/* a file shredded or unlinked under us reads as destroyed */
		if (check_tombstone(p, NULL) == HL_NOT_FOUND)
			st = fail_destroyed(err);
	}
	return st;
}

/* The key of (tenant, period) into key: cache, else disk.  Thread-safe. */
static hl_status period_key(hl_keyring *kr, const char *tenant, const char *period, bool create,
			    uint8_t key[HL_KEY_LEN], hl_error *err)
{
	struct period_paths p;
	hl_status st = check_names(tenant, period, err);
	if (st != HL_OK)
		return st;
	period_paths(kr, tenant, period, &p);
	st = check_tombstone(&p, err);
	if (st == HL_NOT_FOUND) {
		pthread_rwlock_wrlock(&kr->lock);
		cache_drop(kr, tenant, period);
		pthread_rwlock_unlock(&kr->lock);
	}
	if (st != HL_OK)
		return st;

	pthread_rwlock_rdlock(&kr->lock);
	bool hit = cache_get(kr, tenant, period, key);
	pthread_rwlock_unlock(&kr->lock);
	if (hit)
		return HL_OK;

	pthread_rwlock_wrlock(&kr->lock);
	if (!cache_get(kr, tenant, period, key)) {
		st = period_load(kr, &p, tenant, period, create, key, err);
		if (st == HL_OK)
			st = cache_put(kr, tenant, period, key, err);
	}
	pthread_rwlock_unlock(&kr->lock);
	if (st != HL_OK)
		OPENSSL_cleanse(key, HL_KEY_LEN);
	return st;
}

hl_status hl_keyring_ensure_period(hl_keyring *kr, const char *tenant, const char *period,
				   hl_error *err)
{
	uint8_t key[HL_KEY_LEN];
	hl_status st = period_key(kr, tenant, period, true, key, err);
	OPENSSL_cleanse(key, sizeof key);
	return st;
}

/* ---- destruction ---- */

static hl_status write_tombstone(const struct period_paths *p, hl_error *err)
{
	char text[64];
	snprintf(text, sizeof text, "destroyed-at %lld\n", (long long)time(NULL));
	int e = write_new_file(p->tomb, text, strlen(text));
	if (e == EEXIST)
		return HL_OK; /* destroyed before */
	if (!e)
		e = fsync_dir(p->tdir);
	if (e)
		return hl_fail(err, HL_IO, "period key tombstone %s: %s", p->tomb, strerror(e));
	return HL_OK;
}

/* Overwrite the key file with random bytes, fsync, unlink, fsync the directory. */
static hl_status shred_key_file(const struct period_paths *p, hl_error *err)
{
	uint8_t noise[SMALL_FILE_MAX];
	struct stat sb;
	int e = 0;
	int fd = open(p->key, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return HL_OK;
	if (fd < 0)
		return hl_fail(err, HL_IO, "period key file %s: %s", p->key, strerror(errno));
	if (fstat(fd, &sb) != 0)
		e = errno;
	for (off_t done = 0; !e && done < sb.st_size;) {
		size_t chunk = (size_t)(sb.st_size - done) < sizeof noise ?
				       (size_t)(sb.st_size - done) : sizeof noise;
		if (hl_random_bytes(noise, chunk) != HL_OK)
			memset(noise, 0, chunk);
		e = write_all(fd, noise, chunk);
		done += (off_t)chunk;
	}
	if (!e && fsync(fd) != 0)
		e = errno;
	close(fd);
	if (!e && unlink(p->key) != 0)
		e = errno;
	if (!e)
		e = fsync_dir(p->tdir);
	if (e)
		return hl_fail(err, HL_IO, "period key file %s: shred: %s", p->key, strerror(e));
	return HL_OK;
}

hl_status hl_keyring_destroy_period(hl_keyring *kr, const char *tenant, const char *period,
				    hl_error *err)
{
	struct period_paths p;
	hl_status st = check_names(tenant, period, err);
	if (st != HL_OK)
		return st;
	period_paths(kr, tenant, period, &p);
	pthread_rwlock_wrlock(&kr->lock);
	cache_drop(kr, tenant, period);
	st = ensure_dir(p.tdir, kr->dir, err);
	if (st == HL_OK)
		st = write_tombstone(&p, err);
	if (st == HL_OK)
		st = shred_key_file(&p, err);
	pthread_rwlock_unlock(&kr->lock);
	return st;
}

/* ---- data keys ---- */

hl_status hl_keyring_new_data_key(hl_keyring *kr, const char *tenant, const char *period,
				  const char *record_id, uint8_t dek[HL_KEY_LEN], hl_arena *a,
				  uint8_t **wrapped, size_t *wrapped_len, hl_error *err)
{
	uint8_t pk[HL_KEY_LEN];
	struct aad aad = {0};
	hl_status st = check_text("record id", record_id, HL_RECORD_ID_MAX, err);
	if (st == HL_OK)
		st = period_key(kr, tenant, period, true, pk, err);
	if (st != HL_OK)
		goto out;
	if (hl_random_bytes(dek, HL_KEY_LEN) != HL_OK) {
		st = hl_fail(err, HL_CRYPTO, "random generator failed");
		goto out;
	}
	data_key_aad(&aad, tenant, period, record_id);
	st = hl_aead_seal(pk, aad.b, aad.n, dek, HL_KEY_LEN, a, wrapped, wrapped_len, err);
out:
	OPENSSL_cleanse(pk, sizeof pk);
	if (st != HL_OK)
		OPENSSL_cleanse(dek, HL_KEY_LEN);
	return st;
}

hl_status hl_keyring_unwrap_data_key(hl_keyring *kr, const char *tenant, const char *period,
				     const char *record_id, const uint8_t *wrapped,
				     size_t wrapped_len, uint8_t dek[HL_KEY_LEN], hl_error *err)
{
	uint8_t pk[HL_KEY_LEN];
	struct aad aad = {0};
	hl_status st = check_text("record id", record_id, HL_RECORD_ID_MAX, err);
	if (st == HL_OK && (!wrapped || wrapped_len != HL_WRAPPED_KEY_LEN))
		st = hl_fail(err, HL_CRYPTO, "data key: malformed wrapped key");
	if (st == HL_OK)
		st = period_key(kr, tenant, period, false, pk, err);
	if (st != HL_OK)
		goto out;
	data_key_aad(&aad, tenant, period, record_id);
	if (hl_aead_open_buf(pk, aad.b, aad.n, wrapped, wrapped_len, dek, NULL) != HL_OK)
		st = hl_fail(err, HL_CRYPTO, "data key: decryption failed");
out:
	OPENSSL_cleanse(pk, sizeof pk);
	if (st != HL_OK)
		OPENSSL_cleanse(dek, HL_KEY_LEN);
	return st;
}

/* ---- fields ---- */

static hl_status field_aad(struct aad *x, const char *tenant, const char *table,
			   const char *column, const char *record_id, hl_error *err)
{
	if (!hl_keyring_tenant_valid(tenant))
		return hl_fail(err, HL_INVALID, "tenant: must match [a-z0-9-]{2,32}");
	hl_status st = check_text("table", table, HL_SQL_NAME_MAX, err);
	if (st == HL_OK)
		st = check_text("column", column, HL_SQL_NAME_MAX, err);
	if (st == HL_OK)
		st = check_text("record id", record_id, HL_RECORD_ID_MAX, err);
	if (st != HL_OK)
		return st;
	aad_str(x, tenant);
	aad_str(x, table);
	aad_str(x, column);
	aad_str(x, record_id);
	return HL_OK;
}

hl_status hl_field_seal(const uint8_t dek[HL_KEY_LEN], const char *tenant, const char *table,
			const char *column, const char *record_id, const char *plaintext,
			hl_arena *a, uint8_t **out, size_t *out_len, hl_error *err)
{
	struct aad aad = {0};
	if (!plaintext)
		return hl_fail(err, HL_INVALID, "field: missing plaintext");
	hl_status st = field_aad(&aad, tenant, table, column, record_id, err);
	if (st != HL_OK)
		return st;
	return hl_aead_seal(dek, aad.b, aad.n, plaintext, strlen(plaintext), a, out, out_len, err);
}

hl_status hl_field_open(const uint8_t dek[HL_KEY_LEN], const char *tenant, const char *table,
			const char *column, const char *record_id, const uint8_t *ct,
			size_t ct_len, hl_arena *a, char **out, size_t *out_len, hl_error *err)
{
	struct aad aad = {0};
	uint8_t *pt;
	size_t n;
	if (!ct)
		return hl_fail(err, HL_INVALID, "field: missing ciphertext");
	hl_status st = field_aad(&aad, tenant, table, column, record_id, err);
	if (st != HL_OK)
		return st;
	st = hl_aead_open(dek, aad.b, aad.n, ct, ct_len, a, &pt, &n, err);
	if (st != HL_OK)
		return st;
	*out = (char *)pt;
	if (out_len)
		*out_len = n;
	return HL_OK;
}

/* ---- blind index ---- */

hl_status hl_keyring_blind_index(hl_keyring *kr, const char *tenant, const char *normalized,
				 char out_hex[HL_BLIND_INDEX_HEX_LEN], hl_error *err)
{
	char info[64];
	uint8_t bk[HL_KEY_LEN], mac[HL_SHA256_LEN];
	if (!hl_keyring_tenant_valid(tenant))
		return hl_fail(err, HL_INVALID, "tenant: must match [a-z0-9-]{2,32}");
	if (!normalized || !*normalized)
		return hl_fail(err, HL_INVALID, "blind index: empty value");
	snprintf(info, sizeof info, "hotline/blind-index/v1/%s", tenant);
	/* the lowest master version: stable across rotation (keyring.h) */
	hl_status st = hl_hkdf_sha256(kr->masters[0].key, HL_KEY_LEN, NULL, 0, info, strlen(info),
				      bk, sizeof bk, err);
	if (st == HL_OK)
		st = hl_hmac_sha256(bk, sizeof bk, normalized, strlen(normalized), mac, err);
	if (st == HL_OK)
		hl_hex_write(mac, sizeof mac, out_hex);
	OPENSSL_cleanse(bk, sizeof bk);
	OPENSSL_cleanse(mac, sizeof mac);
	return st;
}

/* ---- per-period blind index ---- */

hl_status hl_keyring_period_index(hl_keyring *kr, const char *tenant, const char *period,
				  const char *normalized, char out_hex[HL_BLIND_INDEX_HEX_LEN],
				  hl_error *err)
{
	char info[128];
	uint8_t pk[HL_KEY_LEN], ik[HL_KEY_LEN], mac[HL_SHA256_LEN];
	if (!normalized || !*normalized)
		return hl_fail(err, HL_INVALID, "blind index: empty value");
	hl_status st = period_key(kr, tenant, period, false, pk, err);
	if (st != HL_OK)
		return st;
	snprintf(info, sizeof info, "hotline/period-index/v1/%s/%s", tenant, period);
	st = hl_hkdf_sha256(pk, HL_KEY_LEN, NULL, 0, info, strlen(info), ik, sizeof ik, err);
	if (st == HL_OK)
		st = hl_hmac_sha256(ik, sizeof ik, normalized, strlen(normalized), mac, err);
	if (st == HL_OK)
		hl_hex_write(mac, sizeof mac, out_hex);
	OPENSSL_cleanse(pk, sizeof pk);
	OPENSSL_cleanse(ik, sizeof ik);
	OPENSSL_cleanse(mac, sizeof mac);
	return st;
}

static int name_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

hl_status hl_keyring_live_periods(hl_keyring *kr, const char *tenant, hl_arena *a, const char ***out,
				  size_t *n, hl_error *err)
{
	struct period_paths p;
	size_t cap = 16, count = 0;
	*out = NULL;
	*n = 0;
	if (!hl_keyring_tenant_valid(tenant))
		return hl_fail(err, HL_INVALID, "tenant: must match [a-z0-9-]{2,32}");
	period_paths(kr, tenant, "x", &p);
	DIR *d = opendir(p.tdir);
	if (!d && (errno == ENOENT || errno == ENOTDIR)) {
		*out = hl_arena_alloc(a, sizeof **out);
		return *out ? HL_OK : hl_fail(err, HL_NOMEM, "out of memory");
	}
	if (!d)
		return hl_fail(err, HL_IO, "period key directory %s: %s", p.tdir, strerror(errno));
	const char **names = hl_arena_alloc(a, cap * sizeof *names);
	hl_status st = names ? HL_OK : hl_fail(err, HL_NOMEM, "out of memory");
	struct dirent *e;
	while (st == HL_OK && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len <= 4 || strcmp(e->d_name + len - 4, ".key") != 0)
			continue;
		char *name = hl_arena_alloc(a, len - 3);
		if (!name) {
			st = hl_fail(err, HL_NOMEM, "out of memory");
			break;
		}
		memcpy(name, e->d_name, len - 4);
		name[len - 4] = '\0';
		if (!hl_keyring_period_valid(name))
			continue;
		period_paths(kr, tenant, name, &p);
		if (check_tombstone(&p, NULL) != HL_OK)
			continue; /* destroyed (or unreadable): not live */
		if (count == cap) {
			const char **more = hl_arena_alloc(a, 2 * cap * sizeof *more);
			if (!more) {
				st = hl_fail(err, HL_NOMEM, "out of memory");
				break;
			}
			memcpy(more, names, cap * sizeof *more);
			names = more;
			cap *= 2;
		}
		names[count++] = name;
	}
	closedir(d);
	if (st != HL_OK)
		return st;
	qsort(names, count, sizeof *names, name_cmp);
	*out = names;
	*n = count;
	return HL_OK;
}
