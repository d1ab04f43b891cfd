/*
 * tls.h - mutual TLS credentials and peer identities (DESIGN §5.1).
 *
 * Every port requires a client certificate signed by the deployment's CA.
 * Identities are SPIFFE URIs in the certificate's URI SAN:
 *   spiffe://hotline/service/<name>  - one of our services (trusted for internal methods)
 *   spiffe://hotline/client/<name>   - hotlinectl, back-office systems, the gateway
 * A client identity never passes as a service.
 */
#ifndef HL_TLS_H
#define HL_TLS_H

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <stddef.h>

#include "hl/status.h"

typedef enum hl_peer_kind {
	HL_PEER_UNKNOWN = 0, /* no or foreign identity */
	HL_PEER_SERVICE,
	HL_PEER_CLIENT,
} hl_peer_kind;

/* Server credentials that require and verify client certificates. */
hl_status hl_tls_server_credentials(const char *cert_path, const char *key_path, const char *ca_path,
				    grpc_server_credentials **out, hl_error *err) HL_MUST_CHECK;

/* Channel credentials presenting our certificate and trusting only the CA. */
hl_status hl_tls_channel_credentials(const char *cert_path, const char *key_path, const char *ca_path,
				     grpc_channel_credentials **out, hl_error *err) HL_MUST_CHECK;

/*
 * Classify a SPIFFE id of len bytes; on SERVICE or CLIENT copy the name
 * (`[a-z0-9-]{1,63}`) into name[cap].
 */
hl_peer_kind hl_spiffe_parse(const char *id, size_t len, char *name, size_t cap);

/* The verified identity of the peer of a server-side call. */
hl_peer_kind hl_tls_call_peer(grpc_call *call, char *name, size_t cap);

/* Read a whole (small) file into a malloc'd NUL-terminated string. */
hl_status hl_read_file(const char *path, size_t max, char **out, size_t *len, hl_error *err) HL_MUST_CHECK;

#endif
