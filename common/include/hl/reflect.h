/*
 * reflect.h - gRPC server reflection (v1 and v1alpha) answered from the
 * FileDescriptorSet embedded at build time (proto/CMakeLists.txt).
 *
 * The index is built once at start-up and is read-only afterwards, so one
 * index serves every completion-queue thread.
 *
 * One reflection stream is bounded (rpc_server.c): after HL_REFLECT_MAX_REQUESTS
 * requests, or HL_REFLECT_MAX_STREAM_BYTES bytes of answers (the whole
 * descriptor set is some 30 KiB), the stream ends with RESOURCE_EXHAUSTED; a
 * client opens a new one.  Tools such as grpcurl need a few dozen.
 */
#ifndef HL_REFLECT_H
#define HL_REFLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/arena.h"
#include "hl/status.h"

#define HL_REFLECT_MAX_REQUESTS 256
#define HL_REFLECT_MAX_STREAM_BYTES (1024 * 1024)

typedef struct hl_reflect hl_reflect;

/* Index the embedded descriptor set; `services` are the full service names listed. */
hl_status hl_reflect_new(const char *const *services, size_t n_services, hl_reflect **out,
			 hl_error *err) HL_MUST_CHECK;
void hl_reflect_free(hl_reflect *r);

/*
 * Answer one serialized ServerReflectionRequest with a serialized
 * ServerReflectionResponse (arena memory).  Unknown symbols and files are
 * answered with an error_response inside the stream, as the protocol wants.
 */
hl_status hl_reflect_answer(const hl_reflect *r, const uint8_t *req, size_t len, hl_arena *a,
			    uint8_t **out, size_t *out_len) HL_MUST_CHECK;

/*
 * Whether method `method` of service `service` (full name) streams requests
 * or responses, from the embedded descriptor set (protobuf-c's service
 * descriptors do not say; rpc_server.c asks when a service is added).
 * HL_NOT_FOUND when the set has no such method.
 */
hl_status hl_reflect_streaming(const char *service, const char *method, bool *client_streaming,
			       bool *server_streaming, hl_error *err) HL_MUST_CHECK;

/* The serialized FileDescriptorProto of a file name, or NULL (for tests). */
const uint8_t *hl_reflect_file(const hl_reflect *r, const char *name, size_t *len);

#endif
