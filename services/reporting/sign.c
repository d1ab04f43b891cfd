/*
 * sign.c - the daily report's signing key: an Ed25519 private key in a PEM
 * file (HOTLINE_REPORT_SIGNING_KEY_FILE, made with `openssl genpkey -algorithm
 * ed25519`), its public key (PEM, handed out with each report) and key id
 * (the first 16 hex digits of SHA-256 over the raw 32-byte public key).  The
 * only file of the service that talks to OpenSSL; its errors become hl_status.
 */
#include "reporting.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hl/crypto.h"

struct reporting_signer {
	EVP_PKEY *key;
	char key_id[17];
	char *public_pem;
};

static hl_status public_parts(reporting_signer *s, hl_error *err)
{
	uint8_t raw[32], digest[HL_SHA256_LEN];
	size_t len = sizeof raw;
	if (EVP_PKEY_get_raw_public_key(s->key, raw, &len) != 1 || len != sizeof raw ||
	    hl_sha256(raw, len, digest, err))
		return hl_fail(err, HL_INTERNAL, "report signing key: no public key");
	char hex[2 * HL_SHA256_LEN + 1];
	hl_hex_write(digest, sizeof digest, hex);
	memcpy(s->key_id, hex, 16);
	s->key_id[16] = '\0';
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	if (!b || PEM_write_bio_PUBKEY(b, s->key) != 1 || (n = BIO_get_mem_data(b, &p)) <= 0 ||
	    !(s->public_pem = calloc(1, (size_t)n + 1))) {
		BIO_free(b);
		return hl_fail(err, HL_INTERNAL, "report signing key: cannot write the public key");
	}
	memcpy(s->public_pem, p, (size_t)n);
	BIO_free(b);
	return HL_OK;
}

hl_status reporting_signer_load(const char *pem_path, reporting_signer **out, hl_error *err)
{
	*out = NULL;
	FILE *f = fopen(pem_path, "r");
	if (!f)
		return hl_fail(err, HL_INVALID, "HOTLINE_REPORT_SIGNING_KEY_FILE: cannot open %s", pem_path);
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		return hl_fail(err, HL_INVALID, "HOTLINE_REPORT_SIGNING_KEY_FILE: not an Ed25519 private key (PEM)");
	}
	reporting_signer *s = calloc(1, sizeof *s);
	if (!s) {
		EVP_PKEY_free(k);
		return hl_fail(err, HL_NOMEM, "out of memory");
	}
	s->key = k;
	hl_status st = public_parts(s, err);
	if (st) {
		reporting_signer_free(s);
		return st;
	}
	*out = s;
	return HL_OK;
}

void reporting_signer_free(reporting_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->key);
	free(s->public_pem);
	free(s);
}

const char *reporting_signer_key_id(const reporting_signer *s)
{
	return s->key_id;
}

const char *reporting_signer_public_pem(const reporting_signer *s)
{
	return s->public_pem;
}

hl_status reporting_sign(const reporting_signer *s, const uint8_t *msg, size_t len, uint8_t sig[64], hl_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = 64;
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->key) == 1 &&
		 EVP_DigestSign(ctx, sig, &n, msg, len) == 1 && n == 64;
	EVP_MD_CTX_free(ctx);
	return ok ? HL_OK : hl_fail(err, HL_INTERNAL, "cannot sign the report");
}
