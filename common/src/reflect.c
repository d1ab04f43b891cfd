/*
 * reflect.c - server reflection from the embedded descriptor set (see reflect.h).
 *
 * At start-up the FileDescriptorSet is unpacked; every file is re-serialized
 * once, and every symbol (package-qualified messages, nested messages, enums,
 * services, methods) is put in a sorted table pointing at its file.  A
 * file_by_filename or file_containing_symbol request is answered with the file
 * and its transitive dependencies, dependencies first.
 */
#include "hl/reflect.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

extern const unsigned char hl_descriptor_set[];
extern const unsigned long hl_descriptor_set_len;

struct file {
	const char *name;
	uint8_t *bytes;
	size_t len;
	size_t *deps; /* indexes of direct dependencies */
	size_t n_deps;
};

struct symbol {
	char *name;
	size_t file;
};

struct hl_reflect {
	Google__Protobuf__FileDescriptorSet *set;
	struct file *files;
	size_t n_files;
	struct symbol *syms;
	size_t n_syms, cap_syms;
	char **services;
	size_t n_services;
};

static hl_status add_symbol(hl_reflect *r, const char *scope, const char *name, size_t file)
{
	if (r->n_syms == r->cap_syms) {
		size_t cap = r->cap_syms ? r->cap_syms * 2 : 256;
		struct symbol *s = realloc(r->syms, cap * sizeof *s);
		if (!s)
			return HL_NOMEM;
		r->syms = s;
		r->cap_syms = cap;
	}
	size_t n = strlen(scope) + strlen(name) + 2;
	char *full = malloc(n);
	if (!full)
		return HL_NOMEM;
	snprintf(full, n, "%s%s%s", scope, *scope ? "." : "", name);
	r->syms[r->n_syms++] = (struct symbol){full, file};
	return HL_OK;
}

static hl_status add_message(hl_reflect *r, const char *scope, const Google__Protobuf__DescriptorProto *m,
			     size_t file)
{
	hl_status st = add_symbol(r, scope, m->name, file);
	if (st)
		return st;
	char inner[512];
	snprintf(inner, sizeof inner, "%s%s%s", scope, *scope ? "." : "", m->name);
	for (size_t i = 0; i < m->n_nested_type && !st; i++)
		st = add_message(r, inner, m->nested_type[i], file);
	for (size_t i = 0; i < m->n_enum_type && !st; i++)
		st = add_symbol(r, inner, m->enum_type[i]->name, file);
	return st;
}

static hl_status index_file(hl_reflect *r, size_t idx)
{
	const Google__Protobuf__FileDescriptorProto *f = r->set->file[idx];
	const char *pkg = f->package ? f->package : "";
	hl_status st = HL_OK;
	for (size_t i = 0; i < f->n_message_type && !st; i++)
		st = add_message(r, pkg, f->message_type[i], idx);
	for (size_t i = 0; i < f->n_enum_type && !st; i++)
		st = add_symbol(r, pkg, f->enum_type[i]->name, idx);
	for (size_t i = 0; i < f->n_service && !st; i++) {
		const Google__Protobuf__ServiceDescriptorProto *s = f->service[i];
		st = add_symbol(r, pkg, s->name, idx);
		char svc[512];
		snprintf(svc, sizeof svc, "%s%s%s", pkg, *pkg ? "." : "", s->name);
		for (size_t j = 0; j < s->n_method && !st; j++)
			st = add_symbol(r, svc, s->method[j]->name, idx);
	}
	return st;
}

static int sym_cmp(const void *a, const void *b)
{
	return strcmp(((const struct symbol *)a)->name, ((const struct symbol *)b)->name);
}

static long find_file(const hl_reflect *r, const char *name)
{
	for (size_t i = 0; i < r->n_files; i++)
		if (strcmp(r->files[i].name, name) == 0)
			return (long)i;
	return -1;
}

static hl_status build_file(hl_reflect *r, size_t i)
{
	const Google__Protobuf__FileDescriptorProto *f = r->set->file[i];
	struct file *out = &r->files[i];
	out->name = f->name;
	out->len = protobuf_c_message_get_packed_size(&f->base);
	out->bytes = malloc(out->len ? out->len : 1);
	out->deps = calloc(f->n_dependency ? f->n_dependency : 1, sizeof *out->deps);
	if (!out->bytes || !out->deps)
		return HL_NOMEM;
	protobuf_c_message_pack(&f->base, out->bytes);
	return HL_OK;
}

static hl_status link_deps(hl_reflect *r, size_t i, hl_error *err)
{
	const Google__Protobuf__FileDescriptorProto *f = r->set->file[i];
	for (size_t j = 0; j < f->n_dependency; j++) {
		long d = find_file(r, f->dependency[j]);
		if (d < 0)
			return hl_fail(err, HL_INTERNAL, "descriptor set lacks %s", f->dependency[j]);
		r->files[i].deps[r->files[i].n_deps++] = (size_t)d;
	}
	return HL_OK;
}

hl_status hl_reflect_new(const char *const *services, size_t n_services, hl_reflect **out, hl_error *err)
{
	*out = NULL;
	hl_reflect *r = calloc(1, sizeof *r);
	if (!r)
		return hl_fail(err, HL_NOMEM, "reflection: out of memory");
	hl_status st = HL_OK;
	r->set = google__protobuf__file_descriptor_set__unpack(NULL, hl_descriptor_set_len, hl_descriptor_set);
	if (!r->set) {
		st = hl_fail(err, HL_INTERNAL, "reflection: embedded descriptor set is malformed");
		goto fail;
	}
	r->n_files = r->set->n_file;
	r->files = calloc(r->n_files ? r->n_files : 1, sizeof *r->files);
	r->services = calloc(n_services ? n_services : 1, sizeof *r->services);
	if (!r->files || !r->services) {
		st = hl_fail(err, HL_NOMEM, "reflection: out of memory");
		goto fail;
	}
	for (size_t i = 0; i < r->n_files && !st; i++)
		st = build_file(r, i);
	for (size_t i = 0; i < r->n_files && !st; i++)
		st = link_deps(r, i, err);
	for (size_t i = 0; i < r->n_files && !st; i++)
		st = index_file(r, i);
	for (size_t i = 0; i < n_services && !st; i++) {
		r->services[i] = strdup(services[i]);
		st = r->services[i] ? HL_OK : HL_NOMEM;
		r->n_services = i + 1;
	}
	if (st) {
		if (!err || err->status == HL_OK)
			hl_fail(err, st, "reflection: cannot index descriptors");
		goto fail;
	}
	qsort(r->syms, r->n_syms, sizeof *r->syms, sym_cmp);
	*out = r;
	return HL_OK;
fail:
	hl_reflect_free(r);
	return st;
}

void hl_reflect_free(hl_reflect *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_files; i++) {
		free(r->files[i].bytes);
		free(r->files[i].deps);
	}
	free(r->files);
	for (size_t i = 0; i < r->n_syms; i++)
		free(r->syms[i].name);
	free(r->syms);
	for (size_t i = 0; i < r->n_services; i++)
		free(r->services[i]);
	free(r->services);
	if (r->set)
		google__protobuf__file_descriptor_set__free_unpacked(r->set, NULL);
	free(r);
}

const uint8_t *hl_reflect_file(const hl_reflect *r, const char *name, size_t *len)
{
	long i = find_file(r, name);
	if (i < 0)
		return NULL;
	*len = r->files[i].len;
	return r->files[i].bytes;
}

static long find_symbol(const hl_reflect *r, const char *name)
{
	struct symbol key = {(char *)name, 0};
	const struct symbol *s = bsearch(&key, r->syms, r->n_syms, sizeof *r->syms, sym_cmp);
	return s ? (long)s->file : -1;
}

/* Depth-first: dependencies before the file itself, each file once. */
static void collect(const hl_reflect *r, size_t i, bool *seen, size_t *order, size_t *n)
{
	if (seen[i])
		return;
	seen[i] = true;
	for (size_t j = 0; j < r->files[i].n_deps; j++)
		collect(r, r->files[i].deps[j], seen, order, n);
	order[(*n)++] = i;
}

static void *file_response(const hl_reflect *r, size_t idx, hl_arena *a)
{
	bool *seen = hl_arena_alloc(a, r->n_files * sizeof *seen);
	size_t *order = hl_arena_alloc(a, r->n_files * sizeof *order);
	Grpc__Reflection__V1__FileDescriptorResponse *fr = hl_arena_alloc(a, sizeof *fr);
	if (!seen || !order || !fr)
		return NULL;
	grpc__reflection__v1__file_descriptor_response__init(fr);
	size_t n = 0;
	collect(r, idx, seen, order, &n);
	/* the requested file first, as grpc clients expect, then its dependencies */
	fr->file_descriptor_proto = hl_arena_alloc(a, n * sizeof *fr->file_descriptor_proto);
	if (!fr->file_descriptor_proto)
		return NULL;
	fr->n_file_descriptor_proto = n;
	for (size_t k = 0; k < n; k++) {
		const struct file *f = &r->files[order[n - 1 - k]];
		fr->file_descriptor_proto[k] = (ProtobufCBinaryData){f->len, f->bytes};
	}
	return fr;
}

static void *list_services(const hl_reflect *r, hl_arena *a)
{
	Grpc__Reflection__V1__ListServiceResponse *ls = hl_arena_alloc(a, sizeof *ls);
	Grpc__Reflection__V1__ServiceResponse *items = hl_arena_alloc(a, (r->n_services + 1) * sizeof *items);
	Grpc__Reflection__V1__ServiceResponse **ptrs = hl_arena_alloc(a, (r->n_services + 1) * sizeof *ptrs);
	if (!ls || !items || !ptrs)
		return NULL;
	grpc__reflection__v1__list_service_response__init(ls);
	for (size_t i = 0; i < r->n_services; i++) {
		grpc__reflection__v1__service_response__init(&items[i]);
		items[i].name = r->services[i];
		ptrs[i] = &items[i];
	}
	ls->service = ptrs;
	ls->n_service = r->n_services;
	return ls;
}

static void *error_response(hl_arena *a, int code, const char *msg)
{
	Grpc__Reflection__V1__ErrorResponse *e = hl_arena_alloc(a, sizeof *e);
	if (!e)
		return NULL;
	grpc__reflection__v1__error_response__init(e);
	e->error_code = code;
	e->error_message = hl_arena_strdup(a, msg);
	return e;
}

hl_status hl_reflect_answer(const hl_reflect *r, const uint8_t *req, size_t len, hl_arena *a, uint8_t **out,
			    size_t *out_len)
{
	Grpc__Reflection__V1__ServerReflectionRequest *q =
		grpc__reflection__v1__server_reflection_request__unpack(hl_arena_pb_allocator(a), len, req);
	if (!q)
		return HL_INVALID;
	Grpc__Reflection__V1__ServerReflectionResponse *resp = hl_arena_alloc(a, sizeof *resp);
	if (!resp)
		return HL_NOMEM;
	grpc__reflection__v1__server_reflection_response__init(resp);
	resp->valid_host = q->host;
	resp->original_request = q;
	long idx = -1;
	void *body = NULL;
	switch (q->message_request_case) {
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
		resp->message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
		body = resp->list_services_response = list_services(r, a);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
		idx = find_file(r, q->file_by_filename);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
		idx = find_symbol(r, q->file_containing_symbol);
		break;
	default:
		break;
	}
	if (!body && idx >= 0) {
		resp->message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
		body = resp->file_descriptor_response = file_response(r, (size_t)idx, a);
	} else if (!body) {
		resp->message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
		body = resp->error_response = error_response(a, 5 /* NOT_FOUND */, "not found");
	}
	if (!body)
		return HL_NOMEM;
	*out_len = protobuf_c_message_get_packed_size(&resp->base);
	*out = hl_arena_alloc(a, *out_len ? *out_len : 1);
	if (!*out)
		return HL_NOMEM;
	protobuf_c_message_pack(&resp->base, *out);
	return HL_OK;
}

/* The method's flags within one file of the set (false: not in this file). */
static bool find_streaming(const Google__Protobuf__FileDescriptorProto *f, const char *service, const char *method,
			   bool *cs, bool *ss)
{
	const char *pkg = f->package ? f->package : "";
	size_t pl = strlen(pkg);
	if (pl && (strncmp(service, pkg, pl) != 0 || service[pl] != '.'))
		return false;
	const char *short_name = pl ? service + pl + 1 : service;
	for (size_t i = 0; i < f->n_service; i++) {
		const Google__Protobuf__ServiceDescriptorProto *sv = f->service[i];
		if (strcmp(sv->name, short_name) != 0)
			continue;
		for (size_t j = 0; j < sv->n_method; j++) {
			const Google__Protobuf__MethodDescriptorProto *m = sv->method[j];
			if (strcmp(m->name, method) == 0) {
				*cs = m->has_client_streaming && m->client_streaming;
				*ss = m->has_server_streaming && m->server_streaming;
				return true;
			}
		}
	}
	return false;
}

hl_status hl_reflect_streaming(const char *service, const char *method, bool *client_streaming,
			       bool *server_streaming, hl_error *err)
{
	*client_streaming = *server_streaming = false;
	Google__Protobuf__FileDescriptorSet *set =
		google__protobuf__file_descriptor_set__unpack(NULL, hl_descriptor_set_len, hl_descriptor_set);
	if (!set)
		return hl_fail(err, HL_INTERNAL, "embedded descriptor set unreadable");
	bool found = false;
	for (size_t i = 0; i < set->n_file && !found; i++)
		found = find_streaming(set->file[i], service, method, client_streaming, server_streaming);
	google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
	return found ? HL_OK : hl_fail(err, HL_NOT_FOUND, "%s.%s: not in the embedded descriptor set", service, method);
}
