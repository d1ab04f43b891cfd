"""test_limits - what one client can make a service hold, with an independent client.

Two bounds, proven with Debian's python3-grpcio against intake over mutual TLS:
  - one server reflection stream answers at most HL_REFLECT_MAX_REQUESTS
    requests and HL_REFLECT_MAX_STREAM_BYTES bytes of answers
    (common/include/hl/reflect.h), then ends with RESOURCE_EXHAUSTED; a new
    stream is served again;
  - a request with more than HL_VALIDATE_MAX_UNKNOWN_FIELDS unknown fields
    (common/include/hl/validate.h) is refused with INVALID_ARGUMENT
    "... unknown field N: too many unknown fields ...", before it is unpacked;
    a few unknown fields (a sender with a newer .proto) are still accepted.
"""
import unittest

import grpc

import hotline_test as ht
from hotline.intake.v1 import intake_pb2

REFLECT_V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
GET_TICKET = "/hotline.intake.v1.IntakeService/GetTicket"
INTAKE = "hotline.intake.v1.IntakeService"
MAX_REQUESTS = 256                    # HL_REFLECT_MAX_REQUESTS
MAX_STREAM_BYTES = 1024 * 1024        # HL_REFLECT_MAX_STREAM_BYTES
MAX_UNKNOWN_FIELDS = 64               # HL_VALIDATE_MAX_UNKNOWN_FIELDS



refl = ht.load_generated("grpc/reflection/v1/reflection_pb2.py", "hl_limits_reflection_v1_pb2")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def unknown_varints(n, first=1000):
    """n unknown varint fields (numbers first, first+1, ...) with value 1."""
    return b"".join(varint((first + i) << 3) + b"\x01" for i in range(n))


class Limits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ch = ht.channel("intake")

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    def stream(self, requests):
        """Send the requests on one reflection stream: (answers, their bytes, status code, details)."""
        call = self.ch.stream_stream(REFLECT_V1, request_serializer=lambda m: m.SerializeToString(),
                                     response_deserializer=refl.ServerReflectionResponse.FromString)
        n = size = 0
        try:
            for resp in call(iter(requests), timeout=60):
                n += 1
                size += resp.ByteSize()
        except grpc.RpcError as e:
            return n, size, e.code(), e.details()
        return n, size, grpc.StatusCode.OK, ""

    def test_reflection_stream_is_cut_after_max_requests(self):
        reqs = [refl.ServerReflectionRequest(list_services="") for _ in range(MAX_REQUESTS + 50)]
        n, _, code, details = self.stream(reqs)
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED, details)
        self.assertEqual(n, MAX_REQUESTS)
        self.assertIn("requests", details)
        # a new stream is served
        n, _, code, details = self.stream([refl.ServerReflectionRequest(list_services="")])
        self.assertEqual((n, code), (1, grpc.StatusCode.OK), details)

    def test_reflection_stream_answers_are_bounded_in_bytes(self):
        reqs = [refl.ServerReflectionRequest(file_containing_symbol=INTAKE) for _ in range(MAX_REQUESTS + 50)]
        n, size, code, details = self.stream(reqs)
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED, details)
        self.assertLessEqual(size, MAX_STREAM_BYTES)
        self.assertLess(n, MAX_REQUESTS, "cut by the bytes, before the request limit")
        self.assertIn("bytes of answers", details)
        print("  cut after %d answers, %d bytes: %s" % (n, size, details))

    def get_ticket(self, extra):
        payload = intake_pb2.GetTicketRequest(id="01a24576-0000-7000-8000-000000000000").SerializeToString()
        try:
            ht.raw_rpc(self.ch, GET_TICKET, payload + extra, ht.auth())
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            return e.code(), e.details()

    def test_too_many_unknown_fields_are_refused(self):
        code, details = self.get_ticket(unknown_varints(MAX_UNKNOWN_FIELDS + 1))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, details)
        self.assertIn("unknown field %d" % (1000 + MAX_UNKNOWN_FIELDS), details)

    def test_a_few_unknown_fields_are_accepted(self):
        code, details = self.get_ticket(unknown_varints(3))
        self.assertNotIn("unknown field", details)
        self.assertNotEqual(code, grpc.StatusCode.INVALID_ARGUMENT, details)


if __name__ == "__main__":
    unittest.main()
