"""libhl's PostgreSQL transactions in libpq pipeline mode (common/src/pg.c), against the stack's
PostgreSQL: tests/pgcheck/pg_pipeline.c holds the checks (deferred writes read back and committed,
a failed deferred write failing the next read or the COMMIT and keeping nothing, the transaction's
tenant and timeout, a connection the server closed while idle replaced and the transaction sent
again, a connection lost after an answer failing with nothing kept, batches longer than the
pipeline, multi-row values, rows written with the COMMIT, the transaction's memo). This runs it and requires every check to have run and passed."""
import os
import subprocess
import unittest

import hotline_test as ht

CHECKS = 10


class PgPipeline(unittest.TestCase):
    def test_pipelined_transactions(self):
        exe = os.path.join(ht.ENV["HOTLINE_BUILD_DIR"], "tests", "pgcheck", "hotline-pgcheck")
        p = subprocess.run([exe, ht.ENV["HOTLINE_PG_SUPERUSER_DSN"]], capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("%d passed, 0 failed" % CHECKS, p.stdout, p.stderr)


if __name__ == "__main__":
    unittest.main()
