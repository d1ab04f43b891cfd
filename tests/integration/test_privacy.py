"""test_privacy - citizens' personal data stays encrypted (DESIGN §5.5, §9; R5, R6, R28).

Against the real stack (PostgreSQL, Redis, intake over mTLS):

- Canary caller data, random for each run (name, phone, ID number, address, e-mail, and an
  amended name and phone), registered through CreateTicket and AmendTicket, is absent from the
  pg_dump of the whole database, every file under RUN_DIR/logs, Redis (dump.rdb after SAVE, the
  append-only files, every key and value), the outbox payloads, intake's /metrics and the staff
  responses - searched raw, as hex, as base64 (standard and url-safe, at every byte offset of a
  longer base64 text) and escaped. Each place also gets a CONTROL: a clear canary planted there
  by the test (a row and a comment the superuser writes, a line in a copy of the logs or the
  metrics, Redis keys, an outbox row) that the very same scan must find, so the scan is proven
  able to fail.
- The same phone twice: two ciphertexts, one blind index (and another tenant's index differs).
- Ciphertexts swapped between tickets by the superuser do not decrypt, and never show the other
  ticket's data; swapped back, they do again.
- No master, retention-period, blind-index or data key appears in any form in the pg_dump; the
  data keys in the database are wrapped in the versioned AEAD format, which this test opens
  independently (python3-cryptography) through the documented key hierarchy.
- hotline-intake refuses to start without a usable master key file.
"""
import base64
import glob
import hashlib
import hmac
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.request
import uuid

import grpc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import hotline_test as ht
from hotline.common.v1 import common_pb2
from hotline.intake.v1 import intake_pb2

INTAKE = "hotline.intake.v1.IntakeService"
RUN = ht.ENV["HOTLINE_RUN_DIR"]
B64URL = bytes.maketrans(b"+/", b"-_")


# ---- canaries and the scan ---------------------------------------------------------------------

def han(n):
    """n random CJK ideographs."""
    return "".join(chr(random.randint(0x4E00, 0x9FA5)) for _ in range(n))


def digits(n):
    return "".join(random.choice("0123456789") for _ in range(n))


def new_canaries(prefix):
    """A fresh set of caller values nobody else uses; prefix tells real ones from controls."""
    tag = uuid.uuid4().hex[:12]
    return {
        prefix + "name": han(5),
        prefix + "phone": "13" + digits(9),
        prefix + "id_number": digits(17) + "X",
        prefix + "address": "北京市" + han(6) + "路" + digits(4) + "号",
        prefix + "email": "c%s@example.test" % tag,
        prefix + "amended name": han(6),
        prefix + "amended phone": "15" + digits(9),
    }


def b64_cores(v):
    """The base64 texts (standard and url-safe) that the bytes v always produce inside a longer
    base64 text, whatever their offset in the encoded data: for each of the 3 alignments, the
    characters that depend on v's bytes only."""
    out = set()
    n = len(v)
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + v)
        core = enc[-(-8 * k // 6):(8 * (k + n)) // 6]
        out.add(core)
        out.add(core.translate(B64URL))
    return out


def forms(value):
    """{form name: [needles]} under which a value could be stored or printed."""
    v = value if isinstance(value, bytes) else value.encode("utf-8")
    f = {
        "raw": [v],
        "hex": [v.hex().encode(), v.hex().upper().encode()],
        "base64": sorted(b64_cores(v)),
    }
    if any(b >= 0x80 for b in v):
        f["\\x-escaped"] = ["".join("\\x%02x" % b for b in v).encode(), "".join("\\x%02X" % b for b in v).encode()]
        if not isinstance(value, bytes):
            f["json-escaped"] = [json.dumps(value)[1:-1].encode(), json.dumps(value)[1:-1].lower().encode()]
    return f


def scan(sources, secrets):
    """Every (place, secret name, form) where a secret value shows up in one of the sources
    [(place, bytes)]. The one function used for every absence check and every control."""
    needles = [(name, form, n) for name, value in secrets.items() for form, ns in forms(value).items() for n in ns]
    hits = set()
    for place, blob in sources:
        for name, form, n in needles:
            if n in blob:
                hits.add((place, name, form))
    return sorted(hits)


def found_names(hits):
    return {name for _, name, _ in hits}


# ---- what is scanned ------------------------------------------------------------------------------

def log_sources(directory):
    """[(file, bytes)] of every file under directory, following symbolic links (postgres.log)."""
    out = []
    for root, _, files in os.walk(directory, followlinks=True):
        for name in sorted(files):
            path = os.path.join(root, name)
            with open(os.path.realpath(path), "rb") as f:
                out.append((os.path.relpath(path, directory), f.read()))
    return out


def flatten(v):
    if v is None:
        return b""
    if isinstance(v, list):
        return b"\n".join(flatten(x) for x in v)
    if isinstance(v, int):
        return str(v).encode()
    return v


REDIS_READ = {
    b"string": lambda k: ht.redis("GET", k),
    b"hash": lambda k: ht.redis("HGETALL", k),
    b"list": lambda k: ht.redis("LRANGE", k, 0, -1),
    b"set": lambda k: ht.redis("SMEMBERS", k),
    b"zset": lambda k: ht.redis("ZRANGE", k, 0, -1, "WITHSCORES"),
    b"stream": lambda k: ht.redis("XRANGE", k, "-", "+"),
}


def redis_sources():
    """Redis as files (dump.rdb written by SAVE without compression, the append-only files) and
    as data (every key with its value, read by type, plus its DUMP serialization)."""
    old = ht.redis("CONFIG", "GET", "rdbcompression")[1]
    ht.redis("CONFIG", "SET", "rdbcompression", "no")
    try:
        ht.redis("SAVE")
    finally:
        ht.redis("CONFIG", "SET", "rdbcompression", old)
    rdir = os.path.join(RUN, "redis")
    files = [(os.path.join("redis", p), b) for p, b in log_sources(rdir) if not p.endswith(".conf")]
    data, cursor = [], b"0"
    while True:
        cursor, keys = ht.redis("SCAN", cursor, "COUNT", 1000)
        for k in keys:
            kind = ht.redis("TYPE", k)
            read = REDIS_READ.get(kind)
            data.append(k + b"\n" + (flatten(read(k)) if read else b"") + b"\n" + flatten(ht.redis("DUMP", k)))
        if cursor == b"0":
            break
    return files + [("redis keys and values", b"\n".join(data))]


def outbox_sources():
    """[(outbox row, payload bytes)] of every row of intake.outbox, every tenant."""
    return [("outbox %s/%s" % (t, i), bytes.fromhex(p))
            for t, i, p in ht.psql("SELECT tenant_id, id, encode(payload, 'hex') FROM intake.outbox")]


# ---- the key hierarchy, independently of the C code (docs/security.md §5.1) ----------------------

def lp(b):
    b = b if isinstance(b, bytes) else b.encode()
    return struct.pack(">I", len(b)) + b


def aead_open(key, blob, aad):
    """Open an AEAD blob 0x01 | nonce(12) | ciphertext | tag(16); the version byte is in the AAD."""
    if blob[:1] != b"\x01":
        raise ValueError("not an AEAD blob of version 1")
    return AESGCM(key).decrypt(blob[1:13], blob[13:], b"\x01" + aad)


def master_keys():
    """{version: 32 bytes} of RUN_DIR/keys/master.key ("v<N>:<base64>" lines or one bare line)."""
    keys = {}
    with open(ht.ENV["HOTLINE_MASTER_KEY_FILE"], encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("v") and ":" in line:
                ver, b64 = line[1:].split(":", 1)
                keys[int(ver)] = base64.b64decode(b64, validate=True)
            else:
                keys[1] = base64.b64decode(line, validate=True)
    return keys


def period_keys(masters):
    """{(tenant, period): (period key, wrapped file blob)} of every key file under HOTLINE_KEY_DIR."""
    out = {}
    for path in glob.glob(os.path.join(ht.ENV["HOTLINE_KEY_DIR"], "*", "*.key")):
        tenant = os.path.basename(os.path.dirname(path))
        period = os.path.basename(path)[:-len(".key")]
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
        ver, b64 = text[1:].split(":", 1)
        blob = base64.b64decode(b64, validate=True)
        aad = lp("hotline/period-key") + lp(tenant) + lp(period) + lp(struct.pack(">I", int(ver)))
        try:
            key = aead_open(masters[int(ver)], blob, aad)
        except Exception:  # noqa: BLE001 - e.g. a file another test made with its own master key
            key = None
        out[(tenant, period)] = (key, blob)
    return out


def blind_index_key(masters, tenant):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=("hotline/blind-index/v1/" + tenant).encode()).derive(masters[min(masters)])


# ---- calls --------------------------------------------------------------------------------------

def ticket_request(caller, topic=None):
    return intake_pb2.CreateTicketRequest(
        request_id=ht.request_id(),
        channel=common_pb2.CHANNEL_PHONE,
        category=common_pb2.CATEGORY_COMPLAINT,
        topic=topic or ("隐私测试工单 " + uuid.uuid4().hex),
        description="市民来电反映小区噪音问题。",
        area="朝阳区",
        caller=caller,
    )


class PrivacyBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ch = ht.channel("intake")
        grpc.channel_ready_future(cls.ch).result(timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    @classmethod
    def call(cls, method, req, resp_cls, md):
        return ht.rpc(cls.ch, INTAKE, method, req, resp_cls, metadata=md)

    @classmethod
    def create(cls, caller, tenant="demo", topic=None):
        return cls.call("CreateTicket", ticket_request(caller, topic), intake_pb2.CreateTicketResponse,
                        ht.auth(tenant=tenant)).ticket

    @classmethod
    def reveal(cls, ticket_id, tenant="demo"):
        return cls.call("RevealCaller", intake_pb2.RevealCallerRequest(id=ticket_id, reason="隐私测试核实"),
                        intake_pb2.RevealCallerResponse, ht.auth(roles=("pii_reader",), sub="pii-1", tenant=tenant))


# ---- the canary scan ----------------------------------------------------------------------------

class CanaryScan(PrivacyBase):
    """Registers canaries, plants controls, then collects every place once and scans it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.canaries = new_canaries("")
        cls.controls = new_canaries("control ")
        c = cls.canaries
        cls.topic = "隐私扫描 " + uuid.uuid4().hex
        t = cls.create(intake_pb2.Caller(name=c["name"], phone=c["phone"], id_number=c["id_number"],
                                         address=c["address"], email=c["email"]), topic=cls.topic)
        cls.ticket = t
        cls.responses = [("CreateTicket", t.SerializeToString())]
        for field, key in (("caller.name", "amended name"), ("caller.phone", "amended phone")):
            r = cls.call("AmendTicket", intake_pb2.AmendTicketRequest(id=t.id, field=field, new_value=c[key],
                                                                      reason="来电人更正", request_id=ht.request_id()),
                         intake_pb2.AmendTicketResponse, ht.auth())
            cls.responses.append(("AmendTicket " + field, r.SerializeToString()))
        cls.revealed = cls.reveal(t.id).caller
        cls.got = cls.call("GetTicket", intake_pb2.GetTicketRequest(id=t.id), intake_pb2.GetTicketResponse,
                           ht.auth()).ticket
        cls.responses.append(("GetTicket", cls.got.SerializeToString()))
        found = cls.call("FindTicketsByPhone", intake_pb2.FindTicketsByPhoneRequest(phone=c["amended phone"]),
                         intake_pb2.FindTicketsByPhoneResponse, ht.auth(roles=("pii_reader",)))
        cls.found_ids = [x.id for x in found.tickets]
        cls.responses.append(("FindTicketsByPhone", found.SerializeToString()))
        listed = cls.call("ListTickets", intake_pb2.ListTicketsRequest(keyword=cls.topic, page_size=5),
                          intake_pb2.ListTicketsResponse, ht.auth())
        cls.listed_ids = [x.id for x in listed.tickets]
        cls.responses.append(("ListTickets", listed.SerializeToString()))
        cls.wait_relay(t.id)
        cls.collect()

    @classmethod
    def wait_relay(cls, ticket_id):
        """Give the outbox relay the chance to handle the ticket (its first row delivered, or an
        attempt made against a service that is not running: rows of one ticket go in order), so
        that what the relay does with the ticket is part of the scan."""
        sql = ("SELECT count(*) FROM intake.outbox WHERE subject_id = '%s' AND "
               "(attempts > 0 OR delivered_at IS NOT NULL OR dead_at IS NOT NULL)" % ticket_id)
        end = time.time() + 15
        while time.time() < end and ht.psql(sql)[0][0] == "0":
            time.sleep(0.2)

    @classmethod
    def collect(cls):
        k = cls.controls
        schema = "h2_scan_control_" + uuid.uuid4().hex[:8]
        cls.control_key = os.urandom(32)
        cls.control_sql_values = {
            "control name": "raw text in a row",
            "control phone": "bytea (hex in the dump)",
            "control address": "base64 text at an odd offset",
            "control email": "a comment",
            "control key": "a 32-byte bytea value",
        }
        sql = ("CREATE SCHEMA %(s)s; CREATE TABLE %(s)s.planted (t text, b bytea); "
               "INSERT INTO %(s)s.planted VALUES ('%(name)s', NULL), (NULL, '\\x%(phone)s'), "
               "('%(addr)s', NULL), (NULL, '\\x%(key)s'); "
               "COMMENT ON TABLE %(s)s.planted IS 'planted %(email)s'") % {
            "s": schema, "name": k["control name"], "phone": k["control phone"].encode().hex(),
            "addr": base64.b64encode(b"\x07" + k["control address"].encode()).decode(),
            "key": cls.control_key.hex(), "email": k["control email"]}
        ctl_redis = "h2-control:{%s}" % uuid.uuid4().hex
        ht.psql(sql)
        try:
            ht.redis("SET", ctl_redis, k["control id_number"])
            ht.redis("HSET", ctl_redis + ":h", "f", k["control amended name"])
            ht.psql("INSERT INTO intake.outbox (tenant_id, subject_id, target, method, idempotency_key, actor, "
                    "payload, delivered_at) VALUES ('zz-control', 'control', 'nowhere', '/x.Y/Z', '%s', 'test', "
                    "'\\x0a%02x%s', now())" % (ctl_redis, len(k["control amended phone"]),
                                               k["control amended phone"].encode().hex()))
            cls.dump = ht.pg_dump()
            cls.redis = redis_sources()
            cls.outbox = outbox_sources()
        finally:
            ht.psql("DROP SCHEMA IF EXISTS %s CASCADE" % schema)
            ht.psql("DELETE FROM intake.outbox WHERE tenant_id = 'zz-control'")
            ht.redis("DEL", ctl_redis, ctl_redis + ":h")
        cls.logs = log_sources(os.path.join(RUN, "logs"))
        with urllib.request.urlopen("http://%s/metrics" % ht.ENV["HOTLINE_INTAKE_OPS"], timeout=10) as r:
            cls.metrics = [("intake /metrics", r.read())]

    def test_canaries_were_registered(self):
        """The scan is about real data: reveal gives the canaries back, GetTicket masks them."""
        c = self.canaries
        self.assertEqual((self.revealed.name, self.revealed.phone, self.revealed.id_number, self.revealed.address,
                          self.revealed.email),
                         (c["amended name"], c["amended phone"], c["id_number"], c["address"], c["email"]))
        self.assertEqual(self.found_ids, [self.ticket.id])
        self.assertEqual(self.listed_ids, [self.ticket.id])
        self.assertEqual(scan(self.responses, c), [], "staff responses carry masked values only")
        self.assertEqual(self.got.caller.phone, c["amended phone"][:3] + "****" + c["amended phone"][-4:])
        self.assertEqual([a.field for a in self.got.amendments], ["caller.name", "caller.phone"])

    def test_pg_dump_holds_no_caller_data(self):
        self.assertIn(self.ticket.id.encode(), self.dump, "the dump holds the canary ticket")
        row = ht.psql("SELECT encode(caller_phone, 'hex'), encode(caller_email, 'hex') FROM intake.tickets "
                      "WHERE id = '%s'" % self.ticket.id)[0]
        for cipher_hex in row:
            self.assertIn(cipher_hex.encode(), self.dump, "the dump holds the ticket's ciphertexts")
        self.assertEqual(scan([("pg_dump", self.dump)], self.canaries), [])
        # control: values the superuser planted in clear are found, in each encoding
        hits = scan([("pg_dump", self.dump)], self.controls)
        self.assertIn(("pg_dump", "control name", "raw"), hits)
        self.assertIn(("pg_dump", "control phone", "hex"), hits)
        self.assertIn(("pg_dump", "control address", "base64"), hits)
        self.assertIn(("pg_dump", "control email", "raw"), hits)

    def test_logs_hold_no_caller_data(self):
        names = [p for p, _ in self.logs]
        self.assertIn("intake.log", names)
        self.assertIn("postgres.log", names)
        self.assertIn(b"IntakeService/CreateTicket code=OK", dict(self.logs)["intake.log"], "the log records the calls")
        self.assertIn(b"IntakeService/RevealCaller code=OK", dict(self.logs)["intake.log"])
        self.assertEqual(scan(self.logs, self.canaries), [])
        # control: the same scan over a copy of the logs with planted lines finds them
        k = self.controls
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "logs")
            shutil.copytree(os.path.join(RUN, "logs"), copy)
            with open(os.path.join(copy, "intake.log"), "ab") as f:
                f.write(("ts=x level=info svc=intake event=planted name=%s\n" % k["control name"]).encode())
                f.write(b"ts=x event=planted hex=" + k["control phone"].encode().hex().encode() + b"\n")
                f.write(b"ts=x event=planted b64=" + base64.urlsafe_b64encode(b"ab" + k["control email"].encode())
                        + b"\n")
            hits = scan(log_sources(copy), k)
        self.assertIn(("intake.log", "control name", "raw"), hits)
        self.assertIn(("intake.log", "control phone", "hex"), hits)
        self.assertIn(("intake.log", "control email", "base64"), hits)
        self.assertEqual({p for p, _, _ in hits}, {"intake.log"})

    def test_metrics_hold_no_caller_data(self):
        text = self.metrics[0][1]
        self.assertIn(b'method="/hotline.intake.v1.IntakeService/RevealCaller",code="OK"', text)
        self.assertEqual(scan(self.metrics, self.canaries), [])
        planted = text + ('hotline_planted{caller="%s"} 1\n' % self.controls["control name"]).encode()
        self.assertEqual(scan([("metrics copy", planted)], self.controls), [("metrics copy", "control name", "raw")])

    def test_redis_holds_no_caller_data(self):
        places = [p for p, _ in self.redis]
        self.assertIn("redis/dump.rdb", places)
        self.assertTrue(any(p.startswith("redis/appendonlydir/") for p in places), places)
        self.assertEqual(scan(self.redis, self.canaries), [])
        # control: the planted keys are found in the RDB file, the AOF and the key scan
        hits = scan(self.redis, self.controls)
        for name in ("control id_number", "control amended name"):
            where = {p for p, n, f in hits if n == name and f == "raw"}
            self.assertIn("redis/dump.rdb", where, name)
            self.assertIn("redis keys and values", where, name)
            self.assertTrue(any(p.startswith("redis/appendonlydir/") for p in where), (name, where))

    def test_outbox_payloads_hold_no_caller_data(self):
        mine = [b for p, b in self.outbox if p.startswith("outbox demo/")]
        self.assertTrue(any(self.ticket.id.encode() in b and self.topic.encode() in b for b in mine),
                        "the ticket's SubmitTicket payload is in the outbox")
        self.assertEqual(scan(self.outbox, self.canaries), [])
        hits = scan(self.outbox, self.controls)
        self.assertEqual(found_names(hits), {"control amended phone"})
        self.assertTrue(all(p.startswith("outbox zz-control/") for p, _, _ in hits))

    def test_no_key_in_pg_dump_and_keys_stored_wrapped(self):
        masters = master_keys()
        periods = period_keys(masters)
        t = self.ticket
        row = ht.psql("SELECT key_period, encode(wrapped_key, 'hex'), encode(caller_phone, 'hex'), phone_index "
                      "FROM intake.tickets WHERE id = '%s'" % t.id)[0]
        period, wrapped, phone_ct, phone_index = row[0], bytes.fromhex(row[1]), bytes.fromhex(row[2]), row[3]
        self.assertIn(("demo", period), periods, "the ticket's period key file exists outside the database")
        period_key = periods[("demo", period)][0]
        self.assertIsNotNone(period_key, "the period key file unwraps with the master key")
        # the data key is stored wrapped: AEAD v1 blob of 32 + 29 bytes, opened only by the period key
        self.assertEqual((len(wrapped), wrapped[0]), (61, 1))
        dek = aead_open(period_key, wrapped, lp("hotline/data-key") + lp("demo") + lp(period) + lp(t.id))
        self.assertEqual(len(dek), 32)
        phone = aead_open(dek, phone_ct, lp("demo") + lp("ticket") + lp("phone") + lp(t.id))
        self.assertEqual(phone.decode(), self.canaries["amended phone"])
        # the blind index is keyed per retention period (destroyed with it): "v2:" HMAC-SHA-256 keyed by
        # HKDF(period key, "hotline/period-index/v1/<tenant>/<period>")
        pik = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=("hotline/period-index/v1/demo/" + period).encode()).derive(period_key)
        self.assertEqual("v2:" + hmac.new(pik, phone, hashlib.sha256).hexdigest(), phone_index)
        # every stored key and ciphertext of every ticket has the versioned format
        bad = ht.psql(
            "SELECT (SELECT count(*) FROM intake.tickets), "
            "(SELECT count(*) FROM intake.tickets WHERE length(wrapped_key) <> 61 OR get_byte(wrapped_key, 0) <> 1), "
            "(SELECT count(*) FROM intake.tickets, unnest(ARRAY[caller_name, caller_phone, caller_id_number, "
            " caller_address, caller_email, query_code]) c WHERE c IS NOT NULL AND (length(c) < 29 OR "
            " get_byte(c, 0) <> 1)), "
            "(SELECT count(*) FROM intake.registrations, unnest(ARRAY[caller_name, caller_phone, caller_id_number, "
            " caller_address, caller_email]) c WHERE c IS NOT NULL AND (length(c) < 29 OR get_byte(c, 0) <> 1)), "
            "(SELECT count(*) FROM intake.amendments WHERE new_cipher IS NOT NULL AND (length(new_cipher) < 29 "
            " OR get_byte(new_cipher, 0) <> 1))")[0]
        self.assertGreater(int(bad[0]), 0)
        self.assertEqual(bad[1:], ["0", "0", "0", "0"])
        # no key in any form in the dump: master, period (clear and as wrapped in its file),
        # blind-index and the ticket's data key
        secrets = {"master v%d" % v: k for v, k in masters.items()}
        for (tenant, p), (key, blob) in periods.items():
            if key is not None:
                secrets["period %s/%s" % (tenant, p)] = key
                secrets["period index key %s/%s" % (tenant, p)] = HKDF(
                    algorithm=hashes.SHA256(), length=32, salt=None,
                    info=("hotline/period-index/v1/%s/%s" % (tenant, p)).encode()).derive(key)
            secrets["period file %s/%s" % (tenant, p)] = blob
        for tenant in {tn for tn, _ in periods}:
            secrets["blind-index key %s" % tenant] = blind_index_key(masters, tenant)
        secrets["data key of the canary ticket"] = dek
        self.assertGreaterEqual(len(secrets), 5)
        self.assertEqual(scan([("pg_dump", self.dump)], secrets), [])
        # control: a 32-byte key the superuser planted as bytea is found by the same scan
        self.assertEqual(scan([("pg_dump", self.dump)], {"planted key": self.control_key}),
                         [("pg_dump", "planted key", "hex")])


# ---- ciphertexts and blind indexes ---------------------------------------------------------------

def tickets_cols(ids, cols):
    rows = ht.psql("SELECT id, %s FROM intake.tickets WHERE id IN (%s)" % (cols, ",".join("'%s'" % i for i in ids)))
    return {r[0]: r[1:] for r in rows}


class Ciphertexts(PrivacyBase):

    def test_same_phone_twice_two_ciphertexts_one_blind_index(self):
        phone = "13" + digits(9)
        a = self.create(intake_pb2.Caller(name="张三", phone=phone))
        b = self.create(intake_pb2.Caller(name="张三", phone=phone))
        c = self.create(intake_pb2.Caller(name="李四", phone="%s-%s-%s" % (phone[:3], phone[3:7], phone[7:])))
        d = self.create(intake_pb2.Caller(name="王五", phone="13" + digits(9)))
        other = self.create(intake_pb2.Caller(name="张三", phone=phone), tenant="priv-" + uuid.uuid4().hex[:8])
        rows = tickets_cols([a.id, b.id, c.id, d.id], "encode(caller_phone, 'hex'), encode(caller_name, 'hex'), "
                                                      "phone_index")
        other_index = ht.psql("SELECT phone_index FROM intake.tickets WHERE id = '%s'" % other.id)[0][0]
        self.assertNotEqual(rows[a.id][0], rows[b.id][0], "the same phone encrypts differently")
        self.assertNotEqual(rows[a.id][1], rows[b.id][1], "the same name encrypts differently")
        self.assertNotIn(phone.encode().hex(), rows[a.id][0])
        self.assertRegex(rows[a.id][2], "^v2:[0-9a-f]{64}$")
        self.assertEqual(rows[a.id][2], rows[b.id][2], "one blind index for the same phone")
        self.assertEqual(rows[a.id][2], rows[c.id][2], "the blind index is of the normalised phone")
        self.assertNotEqual(rows[a.id][2], rows[d.id][2], "another phone, another index")
        self.assertNotEqual(rows[a.id][2], other_index, "another tenant, another index")
        regs = ht.psql("SELECT encode(caller_phone, 'hex') FROM intake.registrations WHERE ticket_id IN ('%s', '%s')"
                       % (a.id, b.id))
        self.assertEqual(len({r[0] for r in regs}), 2)
        self.assertEqual((a.repeat_caller, b.repeat_caller, c.repeat_caller), (False, True, True))

    def swap(self, col, x, y):
        ht.psql("UPDATE intake.tickets t SET {c} = s.{c} FROM intake.tickets s "
                "WHERE t.id IN ('{x}', '{y}') AND s.id IN ('{x}', '{y}') AND s.id <> t.id".format(c=col, x=x, y=y))

    def test_swapped_ciphertexts_do_not_decrypt(self):
        pa, pb = "13" + digits(9), "13" + digits(9)
        na, nb = han(3), han(3)
        a = self.create(intake_pb2.Caller(name=na, phone=pa))
        b = self.create(intake_pb2.Caller(name=nb, phone=pb))
        before = tickets_cols([a.id, b.id], "encode(caller_phone, 'hex'), encode(caller_name, 'hex'), "
                                            "encode(wrapped_key, 'hex')")
        for cols in (("caller_phone",), ("caller_name", "caller_phone"), ("wrapped_key",)):
            for col in cols:
                self.swap(col, a.id, b.id)
            try:
                swapped = tickets_cols([a.id, b.id], "encode(caller_phone, 'hex'), encode(caller_name, 'hex'), "
                                                     "encode(wrapped_key, 'hex')")
                idx = {"caller_phone": 0, "caller_name": 1, "wrapped_key": 2}[cols[0]]
                self.assertEqual(swapped[a.id][idx], before[b.id][idx], "the superuser did swap %s" % cols[0])
                for t in (a, b):
                    code, details = ht.code_of(self.reveal, t.id)
                    self.assertEqual(code, grpc.StatusCode.DATA_LOSS, (cols, details))
                    self.assertIn("cannot be decrypted", details)
                    for v in (pa, pb, na, nb):
                        self.assertNotIn(v, details)
            finally:
                for col in cols:
                    self.swap(col, a.id, b.id)
            self.assertEqual(tickets_cols([a.id, b.id], "encode(caller_phone, 'hex'), encode(caller_name, 'hex'), "
                                                        "encode(wrapped_key, 'hex')"), before)
            ra, rb = self.reveal(a.id).caller, self.reveal(b.id).caller
            self.assertEqual((ra.name, ra.phone, rb.name, rb.phone), (na, pa, nb, pb), "swapped back, both open")


# ---- the master key -------------------------------------------------------------------------------

def intake_env(master_key_file, key_dir, port, ops_port):
    """The environment scripts/stack gives intake (svc_env), on other ports, without relay."""
    e, cert = ht.ENV, ht.ENV["HOTLINE_CERT_DIR"]
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "HOTLINE_LISTEN": "127.0.0.1:%d" % port,
        "HOTLINE_OPS_LISTEN": "127.0.0.1:%d" % ops_port,
        "HOTLINE_TLS_CERT": os.path.join(cert, "intake.pem"),
        "HOTLINE_TLS_KEY": os.path.join(cert, "intake.key"),
        "HOTLINE_TLS_CA": os.path.join(cert, "ca.pem"),
        "HOTLINE_DB_DSN": e["HOTLINE_INTAKE_DSN"],
        "HOTLINE_DB_OWNER_DSN": e["HOTLINE_INTAKE_OWNER_DSN"],
        "HOTLINE_DB_SYSTEM_DSN": e["HOTLINE_INTAKE_SYSTEM_DSN"],
        "HOTLINE_REDIS_URL": e["HOTLINE_REDIS_URL"],
        "HOTLINE_JWT_SECRET": e["HOTLINE_JWT_SECRET"],
        "HOTLINE_JWT_ISSUER": e["HOTLINE_JWT_ISSUER"],
        "HOTLINE_JWT_AUDIENCE": e["HOTLINE_JWT_AUDIENCE"],
        "HOTLINE_MASTER_KEY_FILE": master_key_file,
        "HOTLINE_KEY_DIR": key_dir,
        "HOTLINE_RELAY_THREADS": "0",
        "HOTLINE_TIMER_THREADS": "0",
        "HOTLINE_WORKERS": "1",
    }


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class MasterKeyRequired(unittest.TestCase):
    BIN = os.path.join(ht.ENV["HOTLINE_BUILD_DIR"], "services", "intake", "hotline-intake")

    def start(self, master_key_file, key_dir):
        port, ops = ht.free_port(), ht.free_port()
        proc = subprocess.Popen([self.BIN], env=intake_env(master_key_file, key_dir, port, ops),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return proc, port

    def run_until_exit(self, master_key_file, key_dir, limit=15.0):
        """Run intake; (exit code, output, seconds, whether its gRPC port ever accepted)."""
        proc, port = self.start(master_key_file, key_dir)
        t0, served = time.time(), False
        try:
            while proc.poll() is None and time.time() - t0 < limit:
                served = served or listening(port)
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.kill()
            out = proc.communicate(timeout=10)[0].decode("utf-8", "replace")
        return proc.returncode, out, time.time() - t0, served or listening(port)

    def test_refuses_to_start_without_master_key(self):
        with tempfile.TemporaryDirectory() as tmp:
            key_dir = os.path.join(tmp, "periods")
            cases = {"missing": None, "empty": b"", "garbage": b"this is not a key\n",
                     "short key": b"v1:" + base64.b64encode(os.urandom(16)) + b"\n"}
            for name, content in cases.items():
                path = os.path.join(tmp, name.replace(" ", "-") + ".key")
                if content is not None:
                    with open(path, "wb") as f:
                        f.write(content)
                    os.chmod(path, 0o600)
                code, out, secs, served = self.run_until_exit(path, key_dir)
                self.assertNotIn(code, (0, None, -9), (name, out[-2000:]))
                self.assertLess(secs, 10, name)
                self.assertIn("master key", out.lower(), (name, out[-2000:]))
                self.assertFalse(served, "%s: the gRPC port was served" % name)
                if name == "missing":
                    self.assertIn(path, out)
                self.assertNotIn("event=started", out, name)
            # control: the same environment with the stack's master key starts and serves
            proc, port = self.start(ht.ENV["HOTLINE_MASTER_KEY_FILE"], key_dir)
            try:
                ht.wait_for(lambda: listening(port) or proc.poll() is not None, timeout=20, what="intake to listen")
                self.assertIsNone(proc.poll(), "intake with its master key must run")
                self.assertTrue(listening(port))
            finally:
                proc.terminate()
                out = proc.communicate(timeout=20)[0].decode("utf-8", "replace")
            self.assertEqual(proc.returncode, 0, out[-2000:])
            self.assertIn("event=started", out)


if __name__ == "__main__":
    unittest.main()
