/*
 * tls.c - mutual TLS credentials and SPIFFE peer identities (see tls.h).
 */
#include "hl/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPIFFE_SERVICE "spiffe://hotline/service/"
#define SPIFFE_CLIENT "spiffe://hotline/client/"

hl_status hl_read_file(const char *path, size_t max, char **out, size_t *len, hl_error *err)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return hl_fail(err, HL_IO, "%s: %s", path, strerror(errno));
	hl_status st = HL_OK;
	char *data = malloc(max + 1);
	if (!data) {
		st = hl_fail(err, HL_NOMEM, "%s: out of memory", path);
		goto out;
	}
	size_t n = fread(data, 1, max + 1, f);
	if (ferror(f) || n > max) {
		st = hl_fail(err, HL_IO, "%s: %s", path, ferror(f) ? "read error" : "file too large");
		free(data);
		goto out;
	}
	data[n] = '\0';
	*out = data;
	if (len)
		*len = n;
out:
	fclose(f);
	return st;
}

struct pem_set {
	char *cert, *key, *ca;
};

static void pem_set_release(struct pem_set *p)
{
	free(p->cert);
	if (p->key) {
		memset(p->key, 0, strlen(p->key));
		free(p->key);
	}
	free(p->ca);
}

static hl_status pem_set_load(struct pem_set *p, const char *cert, const char *key, const char *ca,
			      hl_error *err)
{
	memset(p, 0, sizeof *p);
	hl_status st;
	if ((st = hl_read_file(cert, 1 << 20, &p->cert, NULL, err)) ||
	    (st = hl_read_file(key, 1 << 20, &p->key, NULL, err)) ||
	    (st = hl_read_file(ca, 1 << 20, &p->ca, NULL, err)))
		pem_set_release(p);
	return st;
}

hl_status hl_tls_server_credentials(const char *cert_path, const char *key_path, const char *ca_path,
				    grpc_server_credentials **out, hl_error *err)
{
	struct pem_set p;
	hl_status st = pem_set_load(&p, cert_path, key_path, ca_path, err);
	if (st)
		return st;
	grpc_ssl_pem_key_cert_pair pair = {p.key, p.cert};
	grpc_ssl_server_certificate_config *conf = grpc_ssl_server_certificate_config_create(p.ca, &pair, 1);
	grpc_ssl_server_credentials_options *opts = grpc_ssl_server_credentials_create_options_using_config(
		GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, conf);
	*out = grpc_ssl_server_credentials_create_with_options(opts);
	pem_set_release(&p);
	if (!*out)
		return hl_fail(err, HL_CRYPTO, "cannot create TLS server credentials from %s", cert_path);
	return HL_OK;
}

hl_status hl_tls_channel_credentials(const char *cert_path, const char *key_path, const char *ca_path,
				     grpc_channel_credentials **out, hl_error *err)
{
	struct pem_set p;
	hl_status st = pem_set_load(&p, cert_path, key_path, ca_path, err);
	if (st)
		return st;
	grpc_ssl_pem_key_cert_pair pair = {p.key, p.cert};
	*out = grpc_ssl_credentials_create(p.ca, &pair, NULL, NULL);
	pem_set_release(&p);
	if (!*out)
		return hl_fail(err, HL_CRYPTO, "cannot create TLS channel credentials from %s", cert_path);
	return HL_OK;
}

static int name_valid(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return 0;
	}
	return 1;
}

static hl_peer_kind match_prefix(const char *id, size_t len, const char *prefix, hl_peer_kind kind,
				 char *name, size_t cap)
{
	size_t pl = strlen(prefix);
	if (len <= pl || memcmp(id, prefix, pl) != 0)
		return HL_PEER_UNKNOWN;
	const char *n = id + pl;
	size_t nl = len - pl;
	if (!name_valid(n, nl) || nl + 1 > cap)
		return HL_PEER_UNKNOWN;
	memcpy(name, n, nl);
	name[nl] = '\0';
	return kind;
}

hl_peer_kind hl_spiffe_parse(const char *id, size_t len, char *name, size_t cap)
{
	hl_peer_kind k = match_prefix(id, len, SPIFFE_SERVICE, HL_PEER_SERVICE, name, cap);
	if (k == HL_PEER_UNKNOWN)
		k = match_prefix(id, len, SPIFFE_CLIENT, HL_PEER_CLIENT, name, cap);
	return k;
}

hl_peer_kind hl_tls_call_peer(grpc_call *call, char *name, size_t cap)
{
	grpc_auth_context *ctx = grpc_call_auth_context(call);
	if (!ctx)
		return HL_PEER_UNKNOWN;
	hl_peer_kind kind = HL_PEER_UNKNOWN;
	/* gRPC sets peer_spiffe_id only when the certificate has exactly one URI SAN. */
	grpc_auth_property_iterator it =
		grpc_auth_context_find_properties_by_name(ctx, GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
	const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
	if (p && !grpc_auth_property_iterator_next(&it))
		kind = hl_spiffe_parse(p->value, p->value_length, name, cap);
	grpc_auth_context_release(ctx);
	return kind;
}
