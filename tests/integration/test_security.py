"""test_security - identity, tenancy and authorization (DESIGN §5.1, §5.2, §5.8; docs/security.md).

Against the real stack (PostgreSQL, Redis, intake over mTLS):

- Tenant isolation: another tenant's ticket is NOT_FOUND (by id, by number, to amend, to
  reveal, in lists and phone lookups, in the public query and for internal callers), exactly like
  an unknown id; x-tenant-id outside the token's tenants is PERMISSION_DENIED; a group HQ token
  acts in the tenants its `tenants` claim lists.
- SQL as the intake runtime role: row-level security shows nothing of tenant demo with another
  or no tenant set, refuses writes into another tenant, and cannot be turned off (RLS, FORCE,
  triggers, session_replication_role, row_security, policies) - while the superuser can run the
  very same statements (so the refusals are about privilege, not syntax).
- JWT: missing, malformed, expired, not yet valid, wrong audience or issuer, wrong signature,
  alg none, unknown algorithms, HS256 "signed" with an RSA public key PEM (algorithm confusion)
  are UNAUTHENTICATED; RS256 and ES256 tokens made by Debian's python3-jwt are accepted once
  intake is restarted with HOTLINE_JWT_KEYS_FILE (JWKS with kids, then PEM without), and a
  wrong kid or another key is refused. The default configuration is restored at the end.
- mTLS: no client certificate, an expired one, or one of a foreign CA cannot call (UNAVAILABLE);
  the client certificate is refused on the internal UpdateTicketStatus, dispatch's and
  followup's service certificates are accepted, other services' are not; a user method called
  with a service certificate still needs a JWT.
- Roles: methods refuse tokens without their role (PERMISSION_DENIED naming it).
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import uuid

import grpc
import jwt  # Debian's python3-jwt: an implementation independent of ours
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import hotline_test as ht
from hotline.audit.v1 import audit_pb2
from hotline.batch.v1 import batch_pb2
from hotline.common.v1 import common_pb2
from hotline.intake.v1 import intake_pb2

INTAKE = "hotline.intake.v1.IntakeService"
AUDIT = "hotline.audit.v1.AuditService"
RUN = ht.ENV["HOTLINE_RUN_DIR"]
OK = None  # what ht.code_of returns for a call that succeeds
UNAUTH = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def chan(cert="client", ca=None):
    """A channel to intake presenting the named certificate (None: no client certificate), with
    its own subchannel pool so that no TLS connection is shared with another channel."""
    with open(ca or ht.ENV["HOTLINE_CA"], "rb") as f:
        ca_pem = f.read()
    if cert:
        c, k = ht.cert_paths(cert)
        with open(c, "rb") as fc, open(k, "rb") as fk:
            creds = grpc.ssl_channel_credentials(ca_pem, fk.read(), fc.read())
    else:
        creds = grpc.ssl_channel_credentials(ca_pem)
    return grpc.secure_channel(ht.ENV["HOTLINE_INTAKE_ADDR"], creds, options=[("grpc.use_local_subchannel_pool", 1)])


def slug(prefix):
    return prefix + uuid.uuid4().hex[:8]


def bearer(token):
    return [("authorization", "Bearer " + token)]


def claims(**over):
    now = int(time.time())
    c = {"sub": "agent-1", "tenant": "demo", "roles": ["agent"], "iss": ht.ENV["HOTLINE_JWT_ISSUER"],
         "aud": ht.ENV["HOTLINE_JWT_AUDIENCE"], "iat": now, "exp": now + 600}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def unsigned(header, body):
    """header.payload. (no signature), for alg none and friends."""
    return ht.b64url(json.dumps(header).encode()) + "." + ht.b64url(json.dumps(body).encode()) + "."


def ticket_request(phone=None, topic=None):
    return intake_pb2.CreateTicketRequest(
        request_id=ht.request_id(), channel=common_pb2.CHANNEL_PHONE, category=common_pb2.CATEGORY_COMPLAINT,
        topic=topic or ("安全测试 " + uuid.uuid4().hex), description="测试工单", area="海淀区",
        caller=intake_pb2.Caller(name="赵六", phone=phone or ("13" + str(uuid.uuid4().int)[:9])))


class Intake(unittest.TestCase):
    """A channel and short-hands for the intake calls."""

    @classmethod
    def setUpClass(cls):
        cls.ch = chan("client")
        grpc.channel_ready_future(cls.ch).result(timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    @classmethod
    def rpc(cls, method, req, resp_cls, md, ch=None):
        return ht.rpc(ch or cls.ch, INTAKE, method, req, resp_cls, metadata=md, timeout=10)

    @classmethod
    def create(cls, md=None, **kw):
        return cls.rpc("CreateTicket", ticket_request(**kw), intake_pb2.CreateTicketResponse, md or ht.auth())

    def get(self, md, ch=None, **key):
        return ht.code_of(self.rpc, "GetTicket", intake_pb2.GetTicketRequest(**key), intake_pb2.GetTicketResponse,
                          md, ch)

    def amend(self, md, ticket_id, **kw):
        req = intake_pb2.AmendTicketRequest(id=ticket_id, field=kw.get("field", "topic"),
                                            new_value=kw.get("value", "改写 " + uuid.uuid4().hex),
                                            reason="测试", request_id=ht.request_id())
        return ht.code_of(self.rpc, "AmendTicket", req, intake_pb2.AmendTicketResponse, md)

    def reveal(self, md, ticket_id):
        return ht.code_of(self.rpc, "RevealCaller", intake_pb2.RevealCallerRequest(id=ticket_id, reason="核实"),
                          intake_pb2.RevealCallerResponse, md)

    def assertCode(self, result, code, what="", contains=None):
        got, details = result
        self.assertEqual(got, code, "%s: %s" % (what, details))
        if contains:
            self.assertIn(contains, details or "", what)


# ---- tenant isolation ---------------------------------------------------------------------------

class TenantIsolation(Intake):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.b = slug("sec-b-")
        cls.phone = "13" + str(uuid.uuid4().int)[:9]
        cls.keyword = "隔离" + uuid.uuid4().hex
        created = cls.create(phone=cls.phone, topic="租户隔离 " + cls.keyword)
        cls.a_ticket, cls.a_code = created.ticket, created.query_code
        cls.b_ticket = cls.create(ht.auth(tenant=cls.b)).ticket

    def test_other_tenants_ticket_is_not_found(self):
        a, b_md = self.a_ticket, ht.auth(tenant=self.b)
        self.assertCode(self.get(ht.auth(), id=a.id), OK, "own tenant by id")
        self.assertCode(self.get(ht.auth(), ticket_no=a.ticket_no), OK, "own tenant by number")
        self.assertCode(self.get(b_md, id=a.id), NOT_FOUND, "by id")
        self.assertCode(self.get(b_md, ticket_no=a.ticket_no), NOT_FOUND, "by number")
        self.assertCode(self.amend(b_md, a.id), NOT_FOUND, "amend")
        self.assertCode(self.amend(ht.auth(tenant=self.b, roles=("supervisor",)), a.id, field="caller.phone",
                                   value="13800000000"), NOT_FOUND, "amend a caller field")
        self.assertCode(self.reveal(ht.auth(tenant=self.b, roles=("pii_reader",)), a.id), NOT_FOUND, "reveal")
        # exactly like an id that exists nowhere: nothing tells the other tenant's ticket exists
        unknown = str(uuid.uuid4())
        self.assertEqual(self.get(b_md, id=a.id), self.get(b_md, id=unknown))
        self.assertEqual(self.reveal(ht.auth(tenant=self.b, roles=("pii_reader",)), a.id),
                         self.reveal(ht.auth(tenant=self.b, roles=("pii_reader",)), unknown))
        # and the other way round
        self.assertCode(self.get(ht.auth(), id=self.b_ticket.id), NOT_FOUND, "B's ticket from demo")
        self.assertCode(self.get(b_md, id=self.b_ticket.id), OK, "B's ticket from B")
        # nothing of B's attempts reached A's ticket
        got = self.rpc("GetTicket", intake_pb2.GetTicketRequest(id=a.id), intake_pb2.GetTicketResponse,
                       ht.auth()).ticket
        self.assertEqual((got.topic, len(got.amendments), got.tenant), (a.topic, 0, "demo"))

    def test_lists_lookups_and_public_query_stay_in_the_tenant(self):
        b_md = ht.auth(tenant=self.b)
        lst = intake_pb2.ListTicketsRequest(keyword=self.keyword, page_size=10)
        own = self.rpc("ListTickets", lst, intake_pb2.ListTicketsResponse, ht.auth())
        self.assertEqual([t.id for t in own.tickets], [self.a_ticket.id])
        other = self.rpc("ListTickets", lst, intake_pb2.ListTicketsResponse, b_md)
        self.assertEqual(len(other.tickets), 0)
        everything = self.rpc("ListTickets", intake_pb2.ListTicketsRequest(page_size=500),
                              intake_pb2.ListTicketsResponse, b_md)
        self.assertEqual({t.tenant for t in everything.tickets}, {self.b})
        find = intake_pb2.FindTicketsByPhoneRequest(phone=self.phone)
        self.assertEqual([t.id for t in self.rpc("FindTicketsByPhone", find, intake_pb2.FindTicketsByPhoneResponse,
                                                 ht.auth(roles=("pii_reader",))).tickets], [self.a_ticket.id])
        self.assertEqual(len(self.rpc("FindTicketsByPhone", find, intake_pb2.FindTicketsByPhoneResponse,
                                      ht.auth(tenant=self.b, roles=("pii_reader",))).tickets), 0)
        pub = intake_pb2.GetPublicStatusRequest(ticket_no=self.a_ticket.ticket_no, query_code=self.a_code)
        self.assertCode(ht.code_of(self.rpc, "GetPublicStatus", pub, intake_pb2.GetPublicStatusResponse,
                                   [("x-tenant-id", "demo")]), OK, "public query in its tenant")
        self.assertCode(ht.code_of(self.rpc, "GetPublicStatus", pub, intake_pb2.GetPublicStatusResponse,
                                   [("x-tenant-id", self.b)]), NOT_FOUND, "public query in another tenant")

    def test_acting_tenant_outside_the_token_is_denied(self):
        a = self.a_ticket
        self.assertCode(self.get(ht.auth(tenant=self.b, act_as="demo"), id=a.id), DENIED, "B acting as demo",
                        "tenant demo")
        self.assertCode(self.get(ht.auth(act_as=self.b), id=self.b_ticket.id), DENIED, "demo acting as B")
        self.assertCode(self.get(ht.auth(act_as=slug("sec-c-"), tenants=[self.b]), id=a.id), DENIED,
                        "a tenant not in the list")
        self.assertCode(self.get(ht.auth(act_as="demo"), id=a.id), OK, "x-tenant-id = home tenant")
        self.assertCode(self.get(ht.auth(act_as="DEMO"), id=a.id), grpc.StatusCode.INVALID_ARGUMENT, "not a slug")
        req = ticket_request()
        self.assertCode(ht.code_of(self.rpc, "CreateTicket", req, intake_pb2.CreateTicketResponse,
                                   ht.auth(tenant=self.b, act_as="demo")), DENIED, "create in another tenant")

    def test_group_hq_acts_in_listed_tenants(self):
        hq = slug("hq-")
        md = lambda act_as=None, **kw: ht.auth(tenant=hq, tenants=["demo", self.b], act_as=act_as, sub="hq-1", **kw)
        code, _ = self.get(md("demo"), id=self.a_ticket.id)
        self.assertIsNone(code)
        got = self.rpc("GetTicket", intake_pb2.GetTicketRequest(id=self.a_ticket.id), intake_pb2.GetTicketResponse,
                       md("demo")).ticket
        self.assertEqual((got.id, got.tenant), (self.a_ticket.id, "demo"))
        self.assertCode(self.get(md(self.b), id=self.b_ticket.id), OK, "HQ in B")
        self.assertCode(self.get(md(self.b), id=self.a_ticket.id), NOT_FOUND, "HQ in B sees only B")
        self.assertCode(self.get(md(), id=self.a_ticket.id), NOT_FOUND, "HQ without x-tenant-id acts at home")
        self.assertCode(self.get(md(slug("sec-c-")), id=self.a_ticket.id), DENIED, "HQ outside its list")
        made = self.create(md("demo")).ticket
        self.assertEqual((made.tenant, made.registered_by), ("demo", "hq-1"))
        self.assertCode(self.get(ht.auth(), id=made.id), OK, "HQ's ticket belongs to demo")


# ---- SQL as the runtime role -----------------------------------------------------------------------

TENANT_TABLES = ("tickets", "registrations", "amendments", "public_notes", "audit_log", "audit_heads", "outbox",
                 "inbox")


def count_all(where="true"):
    return "SELECT " + ", ".join("(SELECT count(*) FROM intake.%s WHERE %s)" % (t, where) for t in TENANT_TABLES)


def psql_session(dsn, *statements):
    """Run statements in one psql session (one -c each, in order); (ok, last output line, stderr)."""
    cmd = ["psql", dsn, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
    for s in statements:
        cmd += ["-c", s]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [x for x in out.stdout.splitlines() if x]
    return out.returncode == 0, lines[-1] if lines else "", out.stderr.strip()


class RuntimeRoleSql(Intake):
    RUNTIME = ht.ENV["HOTLINE_INTAKE_DSN"]
    SUPER = ht.ENV["HOTLINE_PG_SUPERUSER_DSN"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        t = cls.create(ht.auth()).ticket
        cls.ticket = t
        cls.rpc("AmendTicket", intake_pb2.AmendTicketRequest(id=t.id, field="area", new_value="西城区", reason="更正"),
                intake_pb2.AmendTicketResponse, ht.auth())
        cls.create(ht.auth(tenant=slug("sec-o-")))  # rows of a tenant that is not demo

    def counts(self, *setup, where="true"):
        ok, line, err = psql_session(self.RUNTIME, *setup, count_all(where))
        self.assertTrue(ok, err)
        return dict(zip(TENANT_TABLES, map(int, line.split("|"))))

    def test_rls_hides_every_row_of_demo(self):
        demo = self.counts("SELECT set_config('hotline.tenant', 'demo', false)", where="tenant_id = 'demo'")
        for table in ("tickets", "registrations", "amendments", "public_notes", "audit_log", "audit_heads", "outbox"):
            self.assertGreater(demo[table], 0, "control: the runtime role reads demo's %s" % table)
        zero = dict.fromkeys(TENANT_TABLES, 0)
        # tenant 'other' (which other tests may use) sees no row that is not its own, none of demo
        self.assertEqual(self.counts("SELECT set_config('hotline.tenant', 'other', false)",
                                     where="tenant_id <> 'other'"), zero)
        fresh = slug("sec-x-")
        self.assertEqual(self.counts("SELECT set_config('hotline.tenant', '%s', false)" % fresh), zero, fresh)
        self.assertEqual(self.counts(), zero, "no tenant set")
        self.assertEqual(self.counts("SELECT set_config('hotline.tenant', '', false)"), zero, "tenant ''")
        sup = ht.psql(count_all("tenant_id <> 'demo'"))[0]
        self.assertGreater(sum(map(int, sup)), 0, "control: other tenants' rows exist (the superuser sees them)")
        ok, line, err = psql_session(self.RUNTIME, "SELECT set_config('hotline.tenant', 'other', false)",
                                     "WITH u AS (UPDATE intake.tickets SET topic = 'overwritten' WHERE id = '%s' "
                                     "RETURNING 1) SELECT count(*) FROM u" % self.ticket.id)
        self.assertEqual((ok, line), (True, "0"), err)
        ok, _, err = psql_session(self.RUNTIME, "SELECT set_config('hotline.tenant', 'other', false)",
                                  "INSERT INTO intake.public_notes (tenant_id, ticket_id, status, note) "
                                  "VALUES ('demo', '%s', 1, 'planted')" % self.ticket.id)
        self.assertFalse(ok)
        self.assertIn("row-level security", err)
        topic = ht.psql("SELECT topic FROM intake.tickets WHERE id = '%s'" % self.ticket.id)[0][0]
        self.assertEqual(topic, self.ticket.topic)

    def test_runtime_role_cannot_switch_protection_off(self):
        attrs = ht.psql("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'intake_runtime'")
        self.assertEqual(attrs, [["f", "f"]])
        owned = ht.psql("SELECT count(*) FROM pg_tables WHERE tableowner = 'intake_runtime'")
        self.assertEqual(owned, [["0"]])
        forbidden = {
            "ALTER TABLE intake.tickets DISABLE ROW LEVEL SECURITY": "must be owner",
            "ALTER TABLE intake.tickets NO FORCE ROW LEVEL SECURITY": "must be owner",
            "ALTER TABLE intake.audit_log NO FORCE ROW LEVEL SECURITY": "must be owner",
            "ALTER TABLE intake.registrations DISABLE TRIGGER registrations_append_only": "must be owner",
            "ALTER TABLE intake.audit_log DISABLE TRIGGER ALL": "must be owner",
            "SET session_replication_role = replica": "permission denied",
            "DROP POLICY tenant_rows ON intake.tickets": "must be owner",
            "CREATE POLICY open_rows ON intake.tickets USING (true)": "must be owner",
            "ALTER ROLE intake_runtime BYPASSRLS": "must be superuser",
        }
        for sql, msg in forbidden.items():
            ok, _, err = psql_session(self.RUNTIME, sql)
            self.assertFalse(ok, "the runtime role ran: " + sql)
            self.assertIn(msg, err, sql)
            # control: the statement itself is fine, the superuser can run it (and rolls back)
            if not sql.startswith("ALTER ROLE"):
                ok, _, err = psql_session(self.SUPER, "BEGIN; %s; ROLLBACK" % sql)
                self.assertTrue(ok, "superuser control failed for %s: %s" % (sql, err))
        ok, _, err = psql_session(self.RUNTIME, "SET row_security = off",
                                  "SELECT set_config('hotline.tenant', 'other', false)",
                                  "SELECT count(*) FROM intake.tickets")
        self.assertFalse(ok)
        self.assertIn("row-level security", err)
        # still all in place
        flags = ht.psql("SELECT bool_and(relrowsecurity AND relforcerowsecurity), count(*) FROM pg_class "
                        "WHERE relnamespace = 'intake'::regnamespace AND relname IN (%s)"
                        % ",".join("'%s'" % t for t in TENANT_TABLES))
        self.assertEqual(flags, [["t", str(len(TENANT_TABLES))]])
        enabled = ht.psql("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'intake.registrations'::regclass "
                          "AND tgname = 'registrations_append_only' AND tgenabled = 'O'")
        self.assertEqual(enabled, [["1"]])


# ---- JWT -------------------------------------------------------------------------------------------

class JwtRules(Intake):
    """The default configuration: the HS256 dev secret only."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ticket = cls.create(ht.auth()).ticket
        cls.rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def check(self, md):
        return self.get(md, id=self.ticket.id)

    def test_valid_token_is_accepted(self):
        self.assertCode(self.check(bearer(ht.hs256_token())), OK, "control")
        self.assertCode(self.check(bearer(ht.hs256_token(aud=["other", ht.ENV["HOTLINE_JWT_AUDIENCE"]]))), OK,
                        "aud array containing ours")
        self.assertCode(self.check(bearer(ht.hs256_token(exp=int(time.time()) - 5))), OK, "within the leeway")

    def test_bad_tokens_are_unauthenticated(self):
        now = int(time.time())
        good = ht.hs256_token()
        head, body, sig = good.split(".")
        forged_body = ht.b64url(json.dumps(claims(roles=["pii_reader", "tenant_admin"])).encode())
        cases = {
            "missing": ([], "bearer token required"),
            "not bearer": ([("authorization", "Basic " + base64.b64encode(b"a:b").decode())], "bearer token required"),
            "empty bearer": (bearer(""), None),
            "garbage": (bearer("not-a-token"), "malformed"),
            "expired": (bearer(ht.hs256_token(exp=now - 120)), "token expired"),
            "no exp": (bearer(ht.hs256_token(exp=None)), "no exp"),
            "not yet valid": (bearer(ht.hs256_token(nbf=now + 300)), "not yet valid"),
            "issued in the future": (bearer(ht.hs256_token(iat=now + 600, exp=now + 900)), "future"),
            "wrong audience": (bearer(ht.hs256_token(aud="someone-else")), "audience mismatch"),
            "audience list without ours": (bearer(ht.hs256_token(aud=["a", "b"])), "audience mismatch"),
            "wrong issuer": (bearer(ht.hs256_token(iss="https://evil.example")), "issuer mismatch"),
            "no issuer": (bearer(ht.hs256_token(iss=None)), "no issuer"),
            "other secret": (bearer(ht.hs256_token(secret="x" * 40)), "bad signature"),
            "forged payload": (bearer(head + "." + forged_body + "." + sig), "bad signature"),
            "signature cut": (bearer(head + "." + body + "."), None),
            "alg none": (bearer(unsigned({"alg": "none", "typ": "JWT"}, claims())), "algorithm none"),
            "alg None": (bearer(unsigned({"alg": "None"}, claims())), "algorithm none"),
            "alg none, signature kept": (bearer(ht.b64url(json.dumps({"alg": "none"}).encode()) + "." + body + "."
                                                + sig), "algorithm none"),
            "alg HS512": (bearer(ht.hs256_token(header={"alg": "HS512", "typ": "JWT"})), "unsupported algorithm"),
            "alg RS256 without keys": (bearer(ht.hs256_token(header={"alg": "RS256", "typ": "JWT"})), None),
            "HS256 with the RSA public key PEM as secret": (bearer(ht.hs256_token(secret=self.rsa_pem)),
                                                            "bad signature"),
            "no tenant": (bearer(ht.hs256_token(tenant=None)), "no tenant"),
            "no sub": (bearer(ht.hs256_token(sub=None)), "no sub"),
            "crit header": (bearer(ht.hs256_token(header={"alg": "HS256", "crit": ["exp"]})), "critical"),
        }
        for name, (md, msg) in cases.items():
            self.assertCode(self.check(md), UNAUTH, name, msg)
            if md:
                token = md[0][1].split(" ", 1)[-1]
                _, details = self.check(md)
                if len(token) > 20:
                    self.assertNotIn(token[-20:], details, "the error does not repeat the token")


def jwk_int(n):
    return ht.b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def jwks(rsa_pub, ec_pub):
    rn, en = rsa_pub.public_numbers().n, rsa_pub.public_numbers().e
    ecn = ec_pub.public_numbers()
    return {"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": jwk_int(rn), "e": jwk_int(en)},
        {"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
         "x": ht.b64url(ecn.x.to_bytes(32, "big")), "y": ht.b64url(ecn.y.to_bytes(32, "big"))},
    ]}


def pem(pub):
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class JwtKeysFile(Intake):
    """RS256/ES256 from an enterprise IdP: intake restarted with HOTLINE_JWT_KEYS_FILE."""

    EXTRA = os.path.join(RUN, "extra-intake.env")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ticket = cls.create(ht.auth()).ticket
        cls.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cls.ec = ec.generate_private_key(ec.SECP256R1())
        cls.other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cls.other_ec = ec.generate_private_key(ec.SECP256R1())
        cls.dir = tempfile.mkdtemp(prefix="h2-jwt-", dir=RUN)
        cls.jwks_file = os.path.join(cls.dir, "jwks.json")
        with open(cls.jwks_file, "w") as f:
            json.dump(jwks(cls.rsa.public_key(), cls.ec.public_key()), f)
        cls.pem_file = os.path.join(cls.dir, "keys.pem")
        with open(cls.pem_file, "wb") as f:
            f.write(b"# the IdP's signing keys\n" + pem(cls.rsa.public_key()) + pem(cls.ec.public_key()))
        cls.original_extra = None
        if os.path.exists(cls.EXTRA):
            with open(cls.EXTRA) as f:
                cls.original_extra = f.read()
        cls.changed = False
        cls.addClassCleanup(cls.restore)

    @classmethod
    def configure(cls, keys_file):
        """Restart intake with the key file (keeping any other extra settings)."""
        with open(cls.EXTRA, "w") as f:
            f.write((cls.original_extra or "") + "HOTLINE_JWT_KEYS_FILE=%s\n" % keys_file)
        cls.changed = True
        ht.stack("restart-service", "intake")
        cls.ch.close()
        cls.ch = chan("client")
        grpc.channel_ready_future(cls.ch).result(timeout=30)

    @classmethod
    def restore(cls):
        """The default configuration again, for the tests that run after these."""
        if not cls.changed:
            shutil.rmtree(cls.dir, ignore_errors=True)
            return
        if cls.original_extra is None:
            if os.path.exists(cls.EXTRA):
                os.remove(cls.EXTRA)
        else:
            with open(cls.EXTRA, "w") as f:
                f.write(cls.original_extra)
        ht.stack("restart-service", "intake")
        cls.changed = False
        shutil.rmtree(cls.dir, ignore_errors=True)

    def token(self, key, alg, kid=None, **over):
        return jwt.encode(claims(**over), key, algorithm=alg, headers={"kid": kid} if kid else None)

    def check(self, token):
        return self.get(bearer(token), id=self.ticket.id)

    def test_rs256_and_es256_with_jwks_then_pem_then_default(self):
        rs, es = self.token(self.rsa, "RS256", "rsa-1"), self.token(self.ec, "ES256", "ec-1")
        # before: the default configuration has no public keys
        self.assertCode(self.check(rs), UNAUTH, "RS256 before the keys file", "no key for kid")
        self.assertCode(self.check(self.token(self.rsa, "RS256")), UNAUTH, "RS256 before, no kid",
                        "no key for algorithm")
        self.assertCode(self.check(es), UNAUTH, "ES256 before the keys file")

        self.configure(self.jwks_file)
        with open(os.path.join(RUN, "logs", "intake.log"), encoding="utf-8", errors="replace") as f:
            self.assertIn("HOTLINE_JWT_KEYS_FILE value=%s" % self.jwks_file, f.read())
        self.assertCode(self.check(rs), OK, "RS256 with kid")
        self.assertCode(self.check(self.token(self.rsa, "RS256")), OK, "RS256 without kid")
        self.assertCode(self.check(es), OK, "ES256 with kid")
        self.assertCode(self.check(self.token(self.ec, "ES256")), OK, "ES256 without kid")
        self.assertCode(self.check(ht.hs256_token()), OK, "HS256 dev tokens still work")
        got = self.rpc("GetTicket", intake_pb2.GetTicketRequest(id=self.ticket.id), intake_pb2.GetTicketResponse,
                       bearer(es)).ticket
        self.assertEqual(got.id, self.ticket.id)
        refused = {
            "ES256 wrong kid": (self.token(self.ec, "ES256", "ec-2"), "no key for kid"),
            "ES256 with the RSA key's kid": (self.token(self.ec, "ES256", "rsa-1"), "does not match"),
            "ES256 by another key, kid ec-1": (self.token(self.other_ec, "ES256", "ec-1"), "bad signature"),
            "ES256 by another key, no kid": (self.token(self.other_ec, "ES256"), "bad signature"),
            "RS256 by another key": (self.token(self.other_rsa, "RS256", "rsa-1"), "bad signature"),
            "RS256 with the EC key's kid": (self.token(self.rsa, "RS256", "ec-1"), "does not match"),
            "RS256 expired": (self.token(self.rsa, "RS256", "rsa-1", exp=int(time.time()) - 120), "expired"),
            "ES256 wrong audience": (self.token(self.ec, "ES256", "ec-1", aud="x"), "audience"),
            "HS256 with the RSA public PEM as secret": (ht.hs256_token(secret=pem(self.rsa.public_key())),
                                                        "bad signature"),
            "HS256 with the RSA public PEM as secret, kid rsa-1": (
                ht.hs256_token(secret=pem(self.rsa.public_key()), header={"alg": "HS256", "kid": "rsa-1"}),
                "does not match"),
            "HS256 with the EC public PEM as secret, kid ec-1": (
                ht.hs256_token(secret=pem(self.ec.public_key()), header={"alg": "HS256", "kid": "ec-1"}),
                "does not match"),
            "alg none with kid": (unsigned({"alg": "none", "kid": "rsa-1"}, claims()), "algorithm none"),
        }
        for name, (token, msg) in refused.items():
            self.assertCode(self.check(token), UNAUTH, name, msg)

        self.configure(self.pem_file)
        self.assertCode(self.check(self.token(self.rsa, "RS256")), OK, "PEM: RS256")
        self.assertCode(self.check(self.token(self.ec, "ES256")), OK, "PEM: ES256")
        self.assertCode(self.check(self.token(self.ec, "ES256", "ec-1")), UNAUTH, "PEM keys have no kid",
                        "no key for kid")
        self.assertCode(self.check(self.token(self.other_ec, "ES256")), UNAUTH, "PEM: another EC key",
                        "bad signature")
        self.assertCode(self.check(ht.hs256_token(secret=pem(self.rsa.public_key()))), UNAUTH,
                        "PEM: algorithm confusion")

        self.restore()
        self.ch.close()
        type(self).ch = chan("client")
        grpc.channel_ready_future(self.ch).result(timeout=30)
        now = None
        if os.path.exists(self.EXTRA):
            with open(self.EXTRA) as f:
                now = f.read()
        self.assertEqual(now, self.original_extra, "extra-intake.env as it was before")
        self.assertCode(self.check(self.token(self.rsa, "RS256")), UNAUTH, "default again: RS256 refused")
        self.assertCode(self.check(ht.hs256_token()), OK, "default again: HS256")


# ---- mutual TLS --------------------------------------------------------------------------------

class MutualTls(Intake):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ticket = cls.create(ht.auth()).ticket

    def call_with(self, cert, md=None, method="GetTicket"):
        ch = chan(cert)
        try:
            if method == "GetTicket":
                return self.get(md if md is not None else ht.auth(), ch=ch, id=self.ticket.id)
            return ht.code_of(self.rpc, method, md[0], md[1], md[2], ch)
        finally:
            ch.close()

    def status_update(self, cert, version, status=common_pb2.TICKET_STATUS_IN_HANDLING, tenant="demo",
                      extra_md=()):
        req = intake_pb2.UpdateTicketStatusRequest(ticket_id=self.ticket.id, status=status, version=version,
                                                   public_note="已转办 transferred")
        md = ([("x-tenant-id", tenant)] if tenant else []) + [("x-actor", "handler-1")] + list(extra_md)
        ch = chan(cert)
        try:
            try:
                return None, ht.rpc(ch, INTAKE, "UpdateTicketStatus", req, intake_pb2.UpdateTicketStatusResponse,
                                    metadata=md)
            except grpc.RpcError as e:
                return e.code(), e.details()
        finally:
            ch.close()

    def test_only_valid_client_certificates_connect(self):
        self.assertCode(self.call_with("client"), OK, "control: client")
        self.assertCode(self.call_with("test-client"), OK, "control: test-client")
        for cert in (None, "expired-client", "foreign-client"):
            self.assertCode(self.call_with(cert), grpc.StatusCode.UNAVAILABLE, "certificate %s" % cert)
        # a client that does not trust the server's CA cannot call either
        self.assertCode(self.call_with_ca("foreign-ca.pem"), grpc.StatusCode.UNAVAILABLE, "foreign server CA")

    def call_with_ca(self, ca_name):
        ch = chan("client", ca=os.path.join(ht.ENV["HOTLINE_CERT_DIR"], ca_name))
        try:
            return self.get(ht.auth(), ch=ch, id=self.ticket.id)
        finally:
            ch.close()

    def test_internal_method_only_for_listed_services(self):
        for cert in ("client", "test-client", "intake", "compliance", "reporting"):
            code, details = self.status_update(cert, 2)
            self.assertEqual(code, DENIED, "%s: %s" % (cert, details))
            self.assertIn("internal method", details)
        code, details = self.status_update("client", 2, extra_md=ht.auth(roles=("tenant_admin",)))
        self.assertEqual(code, DENIED, "a JWT does not open an internal method: %s" % details)
        code, _ = self.status_update("dispatch", 2, tenant=None)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, "internal calls name their tenant")
        code, _ = self.status_update("dispatch", 2, tenant=slug("sec-b-"))
        self.assertEqual(code, NOT_FOUND, "a service acting in another tenant does not see the ticket")
        # versions above the microsecond clock the running dispatch uses, so its own report cannot overtake
        v = 10 ** 17
        code, resp = self.status_update("dispatch", v + 2)
        self.assertIsNone(code, resp)
        self.assertEqual((resp.applied, resp.status, resp.version),
                         (True, common_pb2.TICKET_STATUS_IN_HANDLING, v + 2))
        code, resp = self.status_update("followup", v + 3, status=common_pb2.TICKET_STATUS_REPLIED)
        self.assertIsNone(code, resp)
        self.assertTrue(resp.applied)
        got = self.rpc("GetTicket", intake_pb2.GetTicketRequest(id=self.ticket.id), intake_pb2.GetTicketResponse,
                       ht.auth()).ticket
        self.assertEqual((got.status, got.status_version), (common_pb2.TICKET_STATUS_REPLIED, v + 3))
        # the change is audited from the status it replaced; an older version changes nothing and is
        # answered with the ticket's current status and version
        [[details]] = ht.psql("SELECT details FROM intake.audit_log WHERE subject_id = '%s' AND action = "
                              "'ticket.status' ORDER BY seq DESC LIMIT 1" % self.ticket.id)
        self.assertEqual(json.loads(details), {"from": common_pb2.TICKET_STATUS_IN_HANDLING,
                                               "to": common_pb2.TICKET_STATUS_REPLIED, "version": v + 3})
        code, resp = self.status_update("dispatch", v + 1)
        self.assertIsNone(code, resp)
        self.assertEqual((resp.applied, resp.status, resp.version), (False, common_pb2.TICKET_STATUS_REPLIED, v + 3))

    @staticmethod
    def status_item(t, status, version, key=None, note=""):
        """One UpdateTicketStatus item of a BatchService/Apply call, as dispatch's relay sends it."""
        req = intake_pb2.UpdateTicketStatusRequest(ticket_id=t.id, status=status, version=version, public_note=note)
        return batch_pb2.Item(method="/%s/UpdateTicketStatus" % INTAKE, payload=req.SerializeToString(),
                              idempotency_key=key or str(uuid.uuid4()), actor="handler-1")

    @staticmethod
    def apply_items(items):
        """The items' answers as (applied, status, version), after checking that each succeeded."""
        ch = chan("dispatch")
        try:
            results = ht.rpc(ch, "hotline.batch.v1.BatchService", "Apply", batch_pb2.ApplyRequest(items=items),
                             batch_pb2.ApplyResponse, metadata=[("x-tenant-id", "demo")]).results
        finally:
            ch.close()
        if [r.code for r in results] != [0] * len(items):
            raise AssertionError("items failed: %s" % [r.message for r in results])
        answers = [intake_pb2.UpdateTicketStatusResponse.FromString(r.payload) for r in results]
        return [(x.applied, x.status, x.version) for x in answers]

    def status_audit(self, ids, since):
        """(ticket, from, to, version, transaction) of the tickets' status changes from version since."""
        rows = ht.psql("SELECT subject_id, details, xmin::text FROM intake.audit_log WHERE subject_id IN (%s) "
                       "AND action = 'ticket.status' AND (details::jsonb->>'version')::bigint >= %d ORDER BY "
                       "subject_id, seq" % (", ".join("'%s'" % i for i in ids), since))
        return [(r[0], json.loads(r[1])["from"], json.loads(r[1])["to"], json.loads(r[1])["version"], r[2])
                for r in rows]

    def test_a_batch_of_status_changes_locks_ahead_and_keeps_each_chain(self):
        """UpdateTicketStatus items of one BatchService/Apply call (as dispatch's relay sends them):
        their tickets and audit heads are locked ahead for all of them (hl_method.prefetch); every
        change lands in the batch's one transaction, each ticket's chain stays whole, and a stale
        version changes nothing and answers with the current status."""
        a, b = self.create(ht.auth()).ticket, self.create(ht.auth()).ticket
        in_handling, replied = common_pb2.TICKET_STATUS_IN_HANDLING, common_pb2.TICKET_STATUS_REPLIED
        v = 10 ** 17 + 100  # above the clock versions of the running dispatch's own reports
        item = self.status_item
        answers = self.apply_items([item(a, in_handling, v), item(b, in_handling, v), item(a, replied, v + 1),
                                    item(b, replied, v - 1)])
        self.assertEqual(answers, [(True, in_handling, v), (True, in_handling, v), (True, replied, v + 1),
                                   (False, in_handling, v)])
        rows = self.status_audit((a.id, b.id), v - 1)
        self.assertEqual(sorted((r[0], r[2]) for r in rows),
                         sorted([(a.id, in_handling), (a.id, replied), (b.id, in_handling)]))
        self.assertEqual(len({r[4] for r in rows}), 1, "the batch's changes in one transaction")
        for t in (a, b):
            got = ht.rpc(self.ch, AUDIT, "VerifyAuditChain", audit_pb2.VerifyAuditChainRequest(subject_id=t.id),
                         audit_pb2.VerifyAuditChainResponse, metadata=ht.auth(roles=("auditor",)))
            self.assertTrue(got.ok, str(got))

    def test_a_batch_of_distinct_tickets_is_changed_by_one_statement(self):
        """When no ticket appears twice in a batch, its changes are applied ahead by one UPDATE
        (store_tickets_set_status), and each item answers from its own ticket's row: applied or not,
        audited from the status it replaced, with its own public note; an item answered from the
        inbox (a redelivery) answers as it first did and changes nothing again."""
        in_handling, replied = common_pb2.TICKET_STATUS_IN_HANDLING, common_pb2.TICKET_STATUS_REPLIED
        a, b, c, d = (self.create(ht.auth()).ticket for _ in range(4))
        v = 10 ** 17 + 300
        item = self.status_item
        # alone first (one item is not held): b moves ahead to v + 5, d's change is recorded in the inbox
        d_first = item(d, in_handling, v, key=str(uuid.uuid4()))
        self.assertEqual(self.apply_items([item(b, in_handling, v + 5)]), [(True, in_handling, v + 5)])
        self.assertEqual(self.apply_items([d_first]), [(True, in_handling, v)])
        ht.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        ahead = ("SELECT COALESCE(sum(calls), 0), COALESCE(sum(rows), 0) FROM pg_stat_statements "
                 "WHERE query LIKE 'UPDATE tickets SET status = u.u_status%'")
        [[calls0, rows0]] = ht.psql(ahead)
        answers = self.apply_items([item(a, in_handling, v + 1, note="已受理 accepted"), item(b, replied, v + 2),
                                    item(c, replied, v + 3), d_first])
        [[calls1, rows1]] = ht.psql(ahead)
        self.assertEqual(answers, [(True, in_handling, v + 1), (False, in_handling, v + 5), (True, replied, v + 3),
                                   (True, in_handling, v)])
        self.assertGreaterEqual(int(calls1) - int(calls0), 1, "the batch's changes applied ahead")
        self.assertGreaterEqual(int(rows1) - int(rows0), 2, "a's and c's rows changed by the statement ahead")
        # (the status each replaced depends on whether the running dispatch has routed the ticket yet)
        self.assertEqual(sorted((r[0], r[2], r[3]) for r in self.status_audit((a.id, b.id, c.id, d.id), v)),
                         sorted([(a.id, in_handling, v + 1), (b.id, in_handling, v + 5), (c.id, replied, v + 3),
                                 (d.id, in_handling, v)]))
        got = {t.id: self.rpc("GetTicket", intake_pb2.GetTicketRequest(id=t.id), intake_pb2.GetTicketResponse,
                              ht.auth()).ticket for t in (a, b, c, d)}
        self.assertEqual([(got[t.id].status, got[t.id].status_version) for t in (a, b, c, d)],
                         [(in_handling, v + 1), (in_handling, v + 5), (replied, v + 3), (in_handling, v)])
        notes = ht.psql("SELECT ticket_id::text FROM intake.public_notes WHERE note = '已受理 accepted' AND "
                        "ticket_id IN ('%s', '%s', '%s', '%s')" % (a.id, b.id, c.id, d.id))
        self.assertEqual(notes, [[a.id]])

    def test_user_method_needs_a_jwt_whatever_the_peer(self):
        for cert in ("dispatch", "followup", "intake"):
            self.assertCode(self.call_with(cert, md=[("x-tenant-id", "demo")]), UNAUTH, cert, "bearer token")
        self.assertCode(self.call_with("dispatch", md=ht.auth()), OK, "a service with a user's JWT")
        req = ticket_request()
        code, _ = self.call_with("dispatch", method="CreateTicket",
                                 md=(req, intake_pb2.CreateTicketResponse, [("x-tenant-id", "demo")]))
        self.assertEqual(code, UNAUTH)


# ---- roles -------------------------------------------------------------------------------------

class Roles(Intake):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ticket = cls.create(ht.auth()).ticket

    def test_methods_refuse_tokens_without_their_role(self):
        t = self.ticket
        create = lambda roles: ht.code_of(self.rpc, "CreateTicket", ticket_request(), intake_pb2.CreateTicketResponse,
                                          ht.auth(roles=roles))
        find = lambda roles: ht.code_of(self.rpc, "FindTicketsByPhone",
                                        intake_pb2.FindTicketsByPhoneRequest(phone="13800000000"),
                                        intake_pb2.FindTicketsByPhoneResponse, ht.auth(roles=roles))
        verify = lambda roles: ht.code_of(ht.rpc, self.ch, AUDIT, "VerifyAuditChain",
                                          audit_pb2.VerifyAuditChainRequest(subject_id=t.id),
                                          audit_pb2.VerifyAuditChainResponse, ht.auth(roles=roles))
        cases = [
            ("CreateTicket", create, [("analyst",), ("pii_reader",), ()], ("agent",), "agent"),
            ("RevealCaller", lambda r: self.reveal(ht.auth(roles=r), t.id),
             [("agent",), ("supervisor", "tenant_admin", "auditor")], ("pii_reader",), "pii_reader"),
            ("AmendTicket", lambda r: self.amend(ht.auth(roles=r), t.id), [("pii_reader", "analyst"), ("handler",)],
             ("supervisor",), "agent"),
            ("FindTicketsByPhone", find, [("agent",), ("supervisor", "tenant_admin"), ("handler",)], ("pii_reader",),
             "pii_reader"),
            ("GetTicket", lambda r: self.get(ht.auth(roles=r), id=t.id), [(), ("citizen",)], ("handler",), "agent"),
            ("VerifyAuditChain", verify, [("agent",), ("pii_reader",)], ("auditor",), None),
        ]
        for method, call, refused, allowed, named in cases:
            for roles in refused:
                self.assertCode(call(roles), DENIED, "%s with %s" % (method, roles), named and ("role " + named))
            self.assertCode(call(allowed), OK, "%s with %s" % (method, allowed))
        # roles as a space-separated string work too, and an unknown claim name is no role
        self.assertCode(self.reveal(bearer(ht.hs256_token(roles="agent pii_reader")), t.id), OK, "roles string")
        self.assertCode(self.reveal(bearer(ht.hs256_token(roles=None, role="pii_reader")), t.id), DENIED,
                        "claim 'role' is not 'roles'")


if __name__ == "__main__":
    unittest.main()
