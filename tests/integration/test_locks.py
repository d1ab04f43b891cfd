"""Fenced locks and singleton jobs of libhl (DESIGN §5.3, common/include/hl/lock.h) on the real stack,
through the test peer hotline-timerpeer (tests/timerpeer/).

The lock lives in Redis (SET NX PX, token-checked renew and release); each acquisition draws a
fencing number from PostgreSQL (timerpeer.fence_seq), and the protected row timerpeer.guarded only
accepts a write whose number is not lower than the row's (UPDATE ... WHERE fence <= $f). So a
holder paused past its lease, or one whose lock Redis forgot, cannot overwrite newer work.
"""
import os
import signal
import sys
import time
import unittest

import hotline_test as ht

sys.path.insert(0, os.path.join(ht.REPO, "tests", "timerpeer"))
import peer  # noqa: E402

S = peer.SCHEMA


def lock_key(name):
    return "%s:lock:%s" % (peer.PREFIX, name)


def holder_of(redis, name):
    """The holder named in the lock's value ("<token> <holder>"), or None when nobody holds it."""
    v = redis("GET", lock_key(name))
    return v.split(" ", 1)[1] if v else None


def row(name):
    """(value, fence, written_by) of the protected row, or None."""
    r = peer.sql("SELECT value, fence, coalesce(written_by, '') FROM %s.guarded WHERE tenant_id = 'demo' "
                 "AND name = '%s'" % (S, name))
    return (r[0][0], int(r[0][1]), r[0][2]) if r else None


class LocksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        peer.setup()

    def setUp(self):
        self.procs = []
        self.redis = peer.Redis()

    def tearDown(self):
        for p in self.procs:
            p.close()
        self.redis.close()

    def start(self, *args):
        p = peer.Peer(*args)
        self.procs.append(p)
        return p

    def lock(self, name, value, *args):
        """Run `lock` to the end: (exit code, parsed stdout lines by first word)."""
        rc, out, err = peer.run("lock", name, "--write", value, *args)
        self.assertIn(rc, (peer.EXIT_OK, peer.EXIT_BUSY, peer.EXIT_REFUSED), err)
        return rc, {line.split(" ", 1)[0]: peer.parse(line) for line in out.splitlines()}

    def test_second_holder_is_refused_while_the_first_holds(self):
        name = peer.unique("busy")
        a = self.start("lock", name, "--hold-ms", 2500, "--lease-ms", 10000, "--write", "A", "--holder", "A")
        got = a.expect("acquired")
        self.assertEqual(holder_of(self.redis, name), "A")
        self.assertGreater(self.redis("PTTL", lock_key(name)), 0)
        rc, out = self.lock(name, "B", "--holder", "B")
        self.assertEqual(rc, peer.EXIT_BUSY)
        self.assertEqual(out["busy"]["holder"], "A")
        self.assertNotIn("acquired", out)
        self.assertIsNone(row(name), "the refused holder wrote nothing")
        self.assertEqual(a.wait(), peer.EXIT_OK)
        self.assertEqual(a.expect("written")["value"], "A")
        self.assertEqual(row(name), ("A", int(got["fence"]), "A"))
        self.assertIsNone(self.redis("GET", lock_key(name)), "released")
        # control: once released, the next holder gets it with a higher fence and writes
        rc, out = self.lock(name, "C", "--holder", "C")
        self.assertEqual(rc, peer.EXIT_OK)
        self.assertGreater(int(out["acquired"]["fence"]), int(got["fence"]))
        self.assertEqual(row(name)[0], "C")

    def test_paused_holder_cannot_write_after_its_lease(self):
        name = peer.unique("pause")
        a = self.start("lock", name, "--hold-ms", 1000, "--lease-ms", 1000, "--write", "A", "--holder", "A")
        fa = int(a.expect("acquired")["fence"])
        a.signal(signal.SIGSTOP)
        ht.wait_for(lambda: self.redis("EXISTS", lock_key(name)) == 0, timeout=5, interval=0.05,
                    what="the paused holder's lease to end")
        b = self.start("lock", name, "--hold-ms", 0, "--lease-ms", 20000, "--linger-ms", 3000, "--write", "B",
                       "--holder", "B")
        fb = int(b.expect("acquired")["fence"])
        self.assertEqual(b.expect("written")["value"], "B")
        self.assertGreater(fb, fa)
        a.signal(signal.SIGCONT)
        self.assertEqual(a.wait(), peer.EXIT_REFUSED, "the fenced UPDATE affected no row")
        refused = a.expect("refused")
        self.assertEqual((int(refused["fence"]), int(refused["stored_fence"])), (fa, fb))
        self.assertEqual(row(name), ("B", fb, "B"), "the row keeps the second holder's value")
        # the woken holder's release is token-checked: the second holder still has the lock
        self.assertEqual(holder_of(self.redis, name), "B", "the woken holder's release left B's lock alone")
        self.assertEqual(b.wait(), peer.EXIT_OK)
        self.assertIsNone(self.redis("GET", lock_key(name)))

    def test_fencing_survives_flushall(self):
        name = peer.unique("flush")
        rc, out = self.lock(name, "first", "--holder", "F")
        self.assertEqual(rc, peer.EXIT_OK)
        f0 = int(out["acquired"]["fence"])
        p = self.start("lock", name, "--hold-ms", 2000, "--lease-ms", 60000, "--write", "P", "--holder", "P")
        fp = int(p.expect("acquired")["fence"])
        self.redis("FLUSHALL")  # Redis forgets the lock (and would forget any counter it kept)
        rc, out = self.lock(name, "B", "--holder", "B")
        self.assertEqual(rc, peer.EXIT_OK, "the lock was forgotten, so B gets it at once")
        fb = int(out["acquired"]["fence"])
        self.assertEqual(out["written"]["value"], "B")
        self.assertGreater(fp, f0)
        self.assertGreater(fb, fp, "fencing numbers come from PostgreSQL and keep growing after a flush")
        self.assertEqual(p.wait(), peer.EXIT_REFUSED)
        self.assertEqual(int(p.expect("refused")["stored_fence"]), fb)
        self.assertEqual(row(name), ("B", fb, "B"))

    def test_singleton_runs_in_one_process_and_moves_when_it_dies(self):
        job = peer.unique("job")
        lease, interval = 1500, 200
        args = ("singleton", job, "--lease-ms", lease, "--interval-ms", interval, "--job-ms", 50)
        p1 = self.start(*args, "--holder", "P1")
        first = p1.expect("holding", timeout=10)
        p2 = self.start(*args, "--holder", "P2")
        p2.expect("singleton")
        time.sleep(2.0)
        runs = peer.sql("SELECT holder, count(*), min(fence), max(fence) FROM %s.singleton_runs WHERE name = '%s' "
                        "GROUP BY holder" % (S, job))
        self.assertEqual(len(runs), 1, "one process runs the job: %r" % runs)
        self.assertEqual(runs[0][0], "P1")
        self.assertGreaterEqual(int(runs[0][1]), 5, "and it runs it every interval")
        self.assertEqual(runs[0][2], runs[0][3], "under one fence while it holds the lock")
        self.assertNotIn("holding", " ".join(p2.lines))
        ttl = self.redis("PTTL", lock_key(job))
        killed = time.time() * 1000
        p1.kill()
        took = p2.expect("holding", timeout=lease / 1000 + 10)
        at = int(took["at_ms"])
        self.assertGreater(int(took["fence"]), int(first["fence"]))
        self.assertGreaterEqual(at, killed + ttl - 50, "the dead holder's lease was respected")
        self.assertLessEqual(at, killed + lease + interval + 1500, "taken over soon after the lease ended")
        p2.expect("ran", timeout=5)
        overlap = peer.one("SELECT count(*) FROM %s.singleton_runs a JOIN %s.singleton_runs b ON a.name = b.name "
                           "AND a.holder < b.holder WHERE a.name = '%s' AND a.started_ms < b.ended_ms "
                           "AND b.started_ms < a.ended_ms" % (S, S, job))
        self.assertEqual(overlap, "0", "no two runs at the same time")
        last_p1 = int(peer.one("SELECT max(ended_ms) FROM %s.singleton_runs WHERE name = '%s' AND holder = 'P1'"
                               % (S, job)))
        first_p2 = int(peer.one("SELECT min(started_ms) FROM %s.singleton_runs WHERE name = '%s' AND holder = 'P2'"
                                % (S, job)))
        self.assertLess(last_p1, first_p2)
        value, fence, _ = row("singleton:" + job)
        self.assertEqual((value, fence), ("P2", int(took["fence"])))
        self.assertEqual(p2.stop(), 0)
        self.assertIsNone(self.redis("GET", lock_key(job)), "released on a clean stop")

    def test_paused_singleton_holder_is_fenced_off(self):
        """A holder stopped in the middle of its job past the lease wakes up after another process took
        over: its write is refused by the fence, and it gives the job up."""
        job = peer.unique("pjob")
        args = ("singleton", job, "--lease-ms", 1500, "--interval-ms", 200, "--job-ms", 400)
        p1 = self.start(*args, "--holder", "P1")
        f1 = int(p1.expect("holding", timeout=10)["fence"])
        p2 = self.start(*args, "--holder", "P2")
        p2.expect("singleton")
        p1.expect("ran")
        time.sleep(0.35)  # the next run has started and sleeps in its job
        p1.signal(signal.SIGSTOP)
        f2 = int(p2.expect("holding", timeout=10)["fence"])
        self.assertEqual(p2.expect("ran")["wrote"], "1")
        self.assertGreater(f2, f1)
        p1.signal(signal.SIGCONT)
        late = p1.expect("ran", timeout=5)
        self.assertEqual((int(late["fence"]), late["wrote"]), (f1, "0"), "the woken holder's write is refused")
        ht.wait_for(lambda: p1.events("singleton_lost"), timeout=5, what="the woken holder to notice")
        time.sleep(1.0)
        runs = peer.sql("SELECT holder, fence, wrote FROM %s.singleton_runs WHERE name = '%s' AND "
                        "started_ms > (SELECT min(started_ms) FROM %s.singleton_runs WHERE name = '%s' AND "
                        "holder = 'P2') ORDER BY id" % (S, job, S, job))
        self.assertTrue(runs and all(h == "P2" and int(f) == f2 and w == "t" for h, f, w in runs),
                        "only the new holder runs the job afterwards: %r" % runs)
        self.assertEqual(row("singleton:" + job)[:2], ("P2", f2))
        self.assertEqual(p1.stop(), 0)
        self.assertEqual(p2.stop(), 0)


if __name__ == "__main__":
    unittest.main()
