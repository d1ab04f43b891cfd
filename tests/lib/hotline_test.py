"""hotline_test - what the integration and interop tests share.

The tests run against the real stack that the ctest fixture started
(scripts/stack up): real PostgreSQL, Redis and services over mutual TLS. This
module reads its stack.env, mints tokens, opens mTLS channels with Debian's
python3-grpcio, calls methods with the generated protobuf classes, runs SQL
through psql, and drives the stack script for fault injection.
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid

import grpc

REPO = os.environ.get("HOTLINE_REPO") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _run_dir():
    return os.environ.get("HOTLINE_RUN_DIR") or os.path.join(REPO, ".run-test")


def load_env(path=None):
    """stack.env as a dict (plain KEY=value lines)."""
    path = path or os.path.join(_run_dir(), "stack.env")
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


ENV = load_env()
SERVICES = ("intake", "dispatch", "followup", "compliance", "reporting")


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hs256_token(claims=None, secret=None, header=None, **over):
    """An HS256 JWT for the dev stack's issuer and audience; `over` overrides claims."""
    now = int(time.time())
    body = {
        "sub": "agent-1",
        "tenant": "demo",
        "roles": ["agent"],
        "iss": ENV["HOTLINE_JWT_ISSUER"],
        "aud": ENV["HOTLINE_JWT_AUDIENCE"],
        "iat": now,
        "exp": now + 600,
    }
    body.update(claims or {})
    body.update(over)
    body = {k: v for k, v in body.items() if v is not None}
    head = header or {"alg": "HS256", "typ": "JWT"}
    signing = b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(body).encode())
    key = (secret or ENV["HOTLINE_JWT_SECRET"]).encode() if isinstance(secret or "", str) else secret
    sig = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


def auth(roles=("agent",), tenant="demo", sub="agent-1", act_as=None, **claims):
    """Metadata for a user call: bearer token (+ x-tenant-id when act_as)."""
    md = [("authorization", "Bearer " + hs256_token(dict(claims, roles=list(roles), tenant=tenant, sub=sub)))]
    if act_as:
        md.append(("x-tenant-id", act_as))
    return md


def cert_paths(name="client"):
    """(cert, key) of a certificate made by scripts/certs: client, test-client,
    expired-client, foreign-client, or a service name."""
    d = ENV["HOTLINE_CERT_DIR"]
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


def read_bytes(path):
    """The whole content of a file, as bytes."""
    with open(path, "rb") as f:
        return f.read()


def channel(service="intake", cert="client", ca=None):
    """A secure channel to a service presenting the named certificate."""
    c, k = cert_paths(cert)
    creds = grpc.ssl_channel_credentials(read_bytes(ca or ENV["HOTLINE_CA"]), read_bytes(k), read_bytes(c))
    return grpc.secure_channel(ENV["HOTLINE_%s_ADDR" % service.upper()], creds)


def rpc(ch, service_full, method, req, resp_cls, metadata=(), timeout=10):
    """Call /service_full/method with a protobuf request; returns the response."""
    f = ch.unary_unary("/%s/%s" % (service_full, method),
                       request_serializer=lambda m: m.SerializeToString(),
                       response_deserializer=resp_cls.FromString)
    return f(req, metadata=list(metadata), timeout=timeout)


def raw_rpc(ch, path, payload, metadata=(), timeout=10):
    """Call a method with raw request bytes; returns raw response bytes."""
    f = ch.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return f(payload, metadata=list(metadata), timeout=timeout)


def code_of(fn, *args, **kw):
    """The grpc.StatusCode a call fails with (None when it succeeds), and details."""
    try:
        fn(*args, **kw)
    except grpc.RpcError as e:
        return e.code(), e.details()
    return None, None


def psql(sql, dsn=None, role="superuser", params=None):
    """Run SQL with psql as the superuser (default) or a service role DSN key,
    e.g. role='INTAKE' for HOTLINE_INTAKE_DSN. Returns rows as lists of str."""
    if dsn is None:
        dsn = ENV["HOTLINE_PG_SUPERUSER_DSN"] if role == "superuser" else ENV["HOTLINE_%s_DSN" % role]
    cmd = ["psql", dsn, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql]
    for k, v in (params or {}).items():
        cmd[1:1] = ["-v", "%s=%s" % (k, v)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return [line.split("\t") for line in out.stdout.splitlines() if line != ""]


def stack(*args, check=True):
    """Run scripts/stack with the test stack's environment."""
    env = dict(os.environ, HOTLINE_RUN_DIR=ENV["HOTLINE_RUN_DIR"], HOTLINE_BASE_PORT=ENV["HOTLINE_BASE_PORT"],
               HOTLINE_BUILD_DIR=ENV["HOTLINE_BUILD_DIR"])
    return subprocess.run(["bash", os.path.join(REPO, "scripts", "stack")] + list(args), env=env, check=check,
                          capture_output=True, text=True)


def request_id():
    return "req-" + uuid.uuid4().hex


def wait_for(pred, timeout=30.0, interval=0.2, what="condition"):
    """Poll pred() until it returns a truthy value; raise AssertionError on timeout."""
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def new_tenant(prefix="t"):
    """A tenant slug no other test uses ([a-z0-9-]{2,32}); tenants are created on first use."""
    return ("%s-%s" % (prefix, uuid.uuid4().hex))[:32].rstrip("-")


def count_rows(table, where="true", dsn=None):
    """SELECT count(*) of a table (schema-qualified, e.g. intake.tickets) as the superuser,
    which row-level security does not filter; `where` is trusted SQL written by the test."""
    return int(psql("SELECT count(*) FROM %s WHERE %s" % (table, where), dsn=dsn)[0][0])


def sql_literal(s):
    """A string as a SQL literal (standard_conforming_strings on): for values tests made up."""
    return "'" + str(s).replace("'", "''") + "'"


# ---- appended by the privacy/security tests: Redis, pg_dump, free ports ----------------------

def redis(*args, timeout=10):
    """One Redis command (RESP2) to the stack's Redis, e.g. redis("SCAN", "0").
    Returns bytes, int, None or nested lists; an error reply raises RuntimeError."""
    import socket
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    req = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection(("127.0.0.1", int(ENV["HOTLINE_REDIS_PORT"])), timeout=timeout) as s, \
            s.makefile("rb") as f:
        s.sendall(req)

        def read():
            line = f.readline()
            if not line.endswith(b"\r\n"):
                raise RuntimeError("redis: connection closed")
            kind, rest = line[:1], line[1:-2]
            if kind == b"+":
                return rest
            if kind == b"-":
                raise RuntimeError("redis: " + rest.decode("utf-8", "replace"))
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                if n < 0:
                    return None
                data = f.read(n + 2)
                return data[:-2]
            if kind == b"*":
                n = int(rest)
                return None if n < 0 else [read() for _ in range(n)]
            raise RuntimeError("redis: unexpected reply %r" % line[:20])

        return read()


def pg_dump(*args, dsn=None):
    """The plain-text pg_dump of the whole stack database (superuser DSN), as bytes."""
    exe = "/usr/lib/postgresql/15/bin/pg_dump"
    if not os.path.exists(exe):
        exe = "pg_dump"
    out = subprocess.run([exe, "--no-password", "--dbname", dsn or ENV["HOTLINE_PG_SUPERUSER_DSN"]] + list(args),
                         capture_output=True)
    if out.returncode != 0:
        raise RuntimeError("pg_dump: " + out.stderr.decode("utf-8", "replace").strip())
    return out.stdout


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_generated(rel, name):
    """A module generated by protoc --python_out (e.g. grpc/reflection/v1/reflection_pb2.py),
    found on sys.path by its file path and loaded under name; SkipTest when it is not built."""
    import importlib.util
    import unittest
    for d in sys.path:
        path = os.path.join(d or ".", rel)
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location(name, path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
    raise unittest.SkipTest("%s not on PYTHONPATH (build target pygen)" % rel)
