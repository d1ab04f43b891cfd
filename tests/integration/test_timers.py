"""Redis timers of libhl (DESIGN §5.3, common/include/hl/timers.h) on the real stack, through the
test peer hotline-timerpeer (tests/timerpeer/): PostgreSQL holds every timer, Redis schedules them,
and whatever happens to a worker or to Redis, every timer fires, and its effect is never doubled.

Each timer's effect is a row of timerpeer.effects, unique per timer key, whose `fires` column
counts every committed firing: a timer fired twice would show fires = 2 even though the effect
row itself cannot double. Each test uses keys of its own (a random prefix).
"""
import os
import subprocess
import sys
import time
import unittest

import hotline_test as ht

sys.path.insert(0, os.path.join(ht.REPO, "tests", "timerpeer"))
import peer  # noqa: E402

S = peer.SCHEMA
NEVER = 600000  # periodic re-seed: 10 minutes, so that no test passes thanks to it


def effects(prefix):
    """(rows, min fires, max fires, min lateness ms, max lateness ms) of the effects of prefix."""
    r = peer.sql("SELECT count(*), coalesce(min(fires), 0), coalesce(max(fires), 0), "
                 "coalesce(min(extract(epoch FROM fired_at) * 1000 - due_ms), 0), "
                 "coalesce(max(extract(epoch FROM fired_at) * 1000 - due_ms), 0) "
                 "FROM %s.effects WHERE timer_key LIKE '%s-%%'" % (S, prefix))[0]
    return int(r[0]), int(r[1]), int(r[2]), float(r[3]), float(r[4])


def timer_counts(prefix):
    """{outcome or 'pending': count} of the timers of prefix."""
    rows = peer.sql("SELECT coalesce(outcome, 'pending'), count(*) FROM %s.timers WHERE timer_key LIKE '%s-%%' "
                    "GROUP BY 1" % (S, prefix))
    return {k: int(v) for k, v in rows}


def lateness(prefix):
    """p50, p99 and max of fired_at - due (ms)."""
    r = peer.sql("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY l), percentile_disc(0.99) WITHIN GROUP "
                 "(ORDER BY l), max(l) FROM (SELECT extract(epoch FROM fired_at) * 1000 - due_ms AS l "
                 "FROM %s.effects WHERE timer_key LIKE '%s-%%') x" % (S, prefix))[0]
    return tuple(float(x) for x in r)


def members(redis, key, prefix):
    """Members of a Redis timer set that belong to prefix, with scores."""
    flat = redis("ZRANGE", key, 0, -1, "WITHSCORES")
    return {m: float(s) for m, s in zip(flat[0::2], flat[1::2]) if m.startswith("demo|%s-" % prefix)}


class TimersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        peer.setup()

    def setUp(self):
        self.procs = []
        self.redis = peer.Redis()
        peer.quiet_schema()

    def tearDown(self):
        for p in self.procs:
            p.close()
        if not self.redis.up():
            ht.stack("restart-redis")
        self.redis.close()
        peer.quiet_schema()

    def worker(self, *args, stdin=False):
        p = peer.Peer("work", "--reseed-ms", NEVER, *args, stdin=stdin)
        self.procs.append(p)
        p.expect("working")
        return p

    def schedule(self, prefix, n, spread_ms, delay_ms, *args):
        rc, out, err = peer.run("schedule", n, "--spread-ms", spread_ms, "--delay-ms", delay_ms,
                                "--key-prefix", prefix, *args)
        self.assertEqual(rc, 0, err)
        return peer.parse(out.strip())

    def wait_fired(self, prefix, n, timeout):
        ht.wait_for(lambda: timer_counts(prefix).get("fired") == n and effects(prefix)[0] == n, timeout=timeout,
                    interval=0.3, what="%d timers of %s fired" % (n, prefix))

    def wait_redis_clean(self, prefix, timeout=15):
        ht.wait_for(lambda: not members(self.redis, peer.KEY_DUE, prefix) and
                    not members(self.redis, peer.KEY_INFLIGHT, prefix), timeout=timeout,
                    what="Redis without the members of %s" % prefix)

    def assert_fired_once(self, prefix, n):
        """Every timer of prefix fired, exactly once, and none before its due time."""
        rows, min_fires, max_fires, min_late, _ = effects(prefix)
        self.assertEqual(rows, n, "one effect per timer")
        self.assertEqual((min_fires, max_fires), (1, 1), "every timer fired exactly once")
        self.assertEqual(timer_counts(prefix), {"fired": n})
        orphans = peer.one("SELECT count(*) FROM %s.effects e LEFT JOIN %s.timers t USING (tenant_id, timer_key) "
                           "WHERE e.timer_key LIKE '%s-%%' AND t.timer_key IS NULL" % (S, S, prefix))
        self.assertEqual(orphans, "0")
        self.assertGreaterEqual(min_late, 0.0, "no timer fires before it is due")

    # ---------------------------------------------------------------------------------------

    def test_10000_timers_fire_exactly_once(self):
        prefix = peer.unique("bulk")
        self.worker("--threads", 2)
        s = self.schedule(prefix, 10000, 3000, 1500, "--batch", 1000)
        self.assertEqual(s["n"], "10000")
        self.wait_fired(prefix, 10000, timeout=60)
        self.assert_fired_once(prefix, 10000)
        self.wait_redis_clean(prefix)
        p50, p99, worst = lateness(prefix)
        print("\n10,000 timers over 3 s: lateness p50 %.0f ms, p99 %.0f ms, max %.0f ms" % (p50, p99, worst),
              file=sys.stderr)
        self.assertLess(worst, 30000, "fired within one lease of the due time")

    def test_a_timer_put_twice_or_cancelled_in_its_transaction(self):
        """Timers wait for their transaction's COMMIT: a key put twice keeps its last due time and a
        cancel after a put in the same transaction wins (the cancelled ones are still pushed)."""
        prefix = peer.unique("revised")
        self.worker("--threads", 2)
        self.schedule(prefix, 200, 1000, 1000, "--batch", 50, "--revised")
        self.wait_fired(prefix, 180, timeout=30)
        self.wait_redis_clean(prefix)
        self.assertEqual(timer_counts(prefix), {"fired": 180, "cancelled": 20})
        rows, min_fires, max_fires, _, worst = effects(prefix)
        self.assertEqual((rows, min_fires, max_fires), (180, 1, 1))
        self.assertLess(worst, 60000, "fired at the second due time, not the first (an hour later)")
        cancelled = peer.sql("SELECT count(*) FROM %s.effects WHERE timer_key LIKE '%s-%%' AND "
                             "right(timer_key, 1) = '0'" % (S, prefix))
        self.assertEqual(cancelled, [["0"]], "no cancelled timer fired")

    def test_sigkill_between_claim_and_commit(self):
        """The worker dies holding a claimed batch: the batch fires after the lease, once, elsewhere."""
        prefix = peer.unique("kill")
        a = self.worker("--threads", 1, "--lease-ms", 3000, "--stall-ms", 60000)
        self.schedule(prefix, 50, 0, 200)
        a.expect("stalled", timeout=20)
        claimed = members(self.redis, peer.KEY_INFLIGHT, prefix)
        self.assertEqual(len(claimed), 50, "the whole batch is claimed (in flight, with a lease)")
        self.assertEqual(members(self.redis, peer.KEY_DUE, prefix), {})
        self.assertEqual(effects(prefix)[0], 0, "nothing committed yet")
        lease_end = min(claimed.values())
        a.kill()
        b = self.worker("--threads", 2)
        self.wait_fired(prefix, 50, timeout=30)
        self.assert_fired_once(prefix, 50)
        first = float(peer.one("SELECT min(extract(epoch FROM fired_at) * 1000) FROM %s.effects "
                               "WHERE timer_key LIKE '%s-%%'" % (S, prefix)))
        self.assertGreaterEqual(first, lease_end - 5, "the claim stays exclusive until its lease ends")
        by = peer.sql("SELECT DISTINCT fired_by FROM %s.effects WHERE timer_key LIKE '%s-%%'" % (S, prefix))
        self.assertEqual(by, [[str(b.pid)]], "fired by the second worker, not the killed one")
        self.wait_redis_clean(prefix)

    def test_sigkill_between_commit_and_ack(self):
        """Committed but never acknowledged in Redis: the member comes back after the lease and is
        dropped without a second effect."""
        prefix = peer.unique("ack")
        a = self.worker("--threads", 1, "--lease-ms", 3000, "--stall-ms", 1500)
        self.schedule(prefix, 30, 0, 200)
        a.expect("stalled", timeout=20)
        self.assertEqual(len(members(self.redis, peer.KEY_INFLIGHT, prefix)), 30)
        # Redis goes away while the batch is being fired: the commit succeeds, the ack cannot.
        # (SHUTDOWN writes the append-only file, so the in-flight members survive the restart.)
        pid = peer.redis_pid()
        subprocess.run(["redis-cli", "-p", ht.ENV["HOTLINE_REDIS_PORT"], "shutdown"], capture_output=True)
        ht.wait_for(lambda: not os.path.exists("/proc/%d" % pid), timeout=10, what="Redis stopped")
        ht.wait_for(lambda: effects(prefix)[0] == 30, timeout=20, what="the stalled batch committed")
        a.expect("resumed", timeout=5)
        a.kill()
        ht.stack("restart-redis")
        self.assertEqual(len(members(self.redis, peer.KEY_INFLIGHT, prefix)), 30,
                         "done in PostgreSQL, still in flight in Redis")
        self.worker("--threads", 2)
        self.wait_redis_clean(prefix, timeout=30)
        self.assert_fired_once(prefix, 30)
        by = peer.sql("SELECT DISTINCT fired_by FROM %s.effects WHERE timer_key LIKE '%s-%%'" % (S, prefix))
        self.assertEqual(by, [[str(a.pid)]], "the effects are the first worker's only")

    def test_flushall_while_pending(self):
        prefix = peer.unique("flush")
        w = self.worker("--threads", 2)
        self.schedule(prefix, 2000, 4000, 1000)
        ht.wait_for(lambda: effects(prefix)[0] > 0, timeout=20, what="the first timers fired")
        due = members(self.redis, peer.KEY_DUE, prefix)
        self.assertGreater(len(due), 200, "timers still waiting in Redis when it is flushed")
        self.redis("FLUSHALL")
        self.wait_fired(prefix, 2000, timeout=40)
        self.assert_fired_once(prefix, 2000)
        seeds = w.events("timers_reseeded")
        self.assertGreaterEqual(len(seeds), 2, "re-seeded at start and after the flush: %r" % seeds)
        self.assertGreater(max(int(e["pending"]) for e in seeds[1:]), 0, "the re-seed found the pending timers")
        self.wait_redis_clean(prefix)

    def test_redis_restart_empties_script_cache(self):
        prefix = peer.unique("restart")
        self.worker("--threads", 2)
        self.schedule(prefix, 1000, 4000, 1500)
        time.sleep(1.0)
        self.assertGreater(len(members(self.redis, peer.KEY_DUE, prefix)), 0)
        self.assertGreater(int(self.redis.info("memory")["number_of_cached_scripts"]), 0)
        ht.stack("restart-redis")
        self.redis.close()
        self.wait_fired(prefix, 1000, timeout=40)
        self.assert_fired_once(prefix, 1000)
        self.wait_redis_clean(prefix)
        # The restarted Redis answered the workers' EVALSHA with NOSCRIPT and they fell back to EVAL.
        errors = self.redis.info("errorstats")
        calls = self.redis.info("commandstats")
        self.assertIn("errorstat_NOSCRIPT", errors)
        self.assertIn("cmdstat_eval", calls)

    def test_worker_keeps_going_while_redis_is_down(self):
        prefix_a, prefix_b = peer.unique("before"), peer.unique("during")
        w = self.worker("--threads", 2, stdin=True)
        w.send("schedule 200 1000 3000 %s" % prefix_a)  # pushed to Redis, due in 3-4 s
        w.expect("scheduled")
        self.assertEqual(len(members(self.redis, peer.KEY_DUE, prefix_a)), 200)
        subprocess.run(["redis-cli", "-p", ht.ENV["HOTLINE_REDIS_PORT"], "shutdown"], capture_output=True)
        ht.wait_for(lambda: not self.redis.up(), timeout=10, what="Redis down")
        w.send("schedule 200 500 0 %s" % prefix_b)  # committed in PostgreSQL, the push fails
        b = w.expect("scheduled")
        time.sleep(max(0.0, (int(b["last_due_ms"]) + 5000) / 1000.0 - time.time()))
        self.assertTrue(w.alive(), "the worker survives the outage")
        self.assertEqual(effects(prefix_a)[0] + effects(prefix_b)[0], 0, "nothing fires without Redis")
        self.assertEqual(timer_counts(prefix_b), {"pending": 200}, "kept in PostgreSQL meanwhile")
        back = time.time()
        ht.stack("restart-redis")
        self.wait_fired(prefix_a, 200, timeout=30)
        self.wait_fired(prefix_b, 200, timeout=30)
        caught_up = time.time() - back
        self.assert_fired_once(prefix_a, 200)
        self.assert_fired_once(prefix_b, 200)
        self.assertLess(caught_up, 30, "caught up long before any periodic re-seed")
        self.assertTrue(w.alive())
        self.wait_redis_clean(prefix_a)
        self.wait_redis_clean(prefix_b)

    def test_timer_locked_by_a_business_transaction_still_fires(self):
        """A transaction that holds a due timer's row (say, moving it, then rolling back) only delays it."""
        prefix = peer.unique("locked")
        self.worker("--threads", 2)
        s = self.schedule(prefix, 20, 0, 1500)
        env = peer.setup()
        holder = subprocess.Popen(
            ["psql", env["HOTLINE_DB_DSN"], "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
             "BEGIN; SELECT set_config('hotline.tenant', 'demo', true); "
             "UPDATE %s.timers SET due_ms = due_ms WHERE timer_key LIKE '%s-%%'; "
             "SELECT pg_sleep(4); ROLLBACK;" % (S, prefix)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            ht.wait_for(lambda: peer.one("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                         "WHERE c.relname = 'timers' AND l.mode = 'RowExclusiveLock' "
                                         "AND l.granted") != "0", timeout=5, interval=0.05,
                        what="the business transaction holding the rows")
            self.assertLess(time.time() * 1000, int(s["first_due_ms"]), "rows held before they are due")
            self.assertEqual(holder.wait(timeout=20), 0, holder.stderr.read())
        finally:
            if holder.poll() is None:
                holder.kill()
            holder.stderr.close()
            holder.wait()
        self.wait_fired(prefix, 20, timeout=15)
        self.assert_fired_once(prefix, 20)
        self.wait_redis_clean(prefix)

    def test_burst_then_flushall_during_its_reseed(self):
        """100,000 timers created at once after a quiet period, so that the statistics still say none
        is pending, then Redis flushed while a worker re-seeds them: the re-seed starts over and the
        due ones fire at once."""
        peer.sql("VACUUM ANALYZE %s.timers" % S)  # the quiet period: nothing pending at the last ANALYZE
        early, far = peer.unique("early"), peer.unique("zfar")  # "early..." sorts first: first pages
        self.schedule(early, 2000, 1000, 3000, "--no-push")
        self.schedule(far, 100000, 0, 3600 * 1000, "--no-push", "--threads", 2, "--batch", 2000)
        self.assertEqual(self.redis("ZCARD", peer.KEY_DUE), 0, "nothing in Redis before the re-seed")
        w = peer.Peer("work", "--reseed-ms", NEVER, "--threads", 2)
        self.procs.append(w)
        ht.wait_for(lambda: self.redis("ZCARD", peer.KEY_DUE) >= 4000, timeout=30, interval=0.005,
                    what="the re-seed under way")
        before = len(w.events("timers_reseeded"))
        self.redis("FLUSHALL")
        flushed = time.time()
        self.assertEqual(before, 0, "flushed during the first re-seed")
        ht.wait_for(lambda: len(w.events("timers_reseeded")) >= 2, timeout=20,
                    what="a second re-seed after the flush")
        self.wait_fired(early, 2000, timeout=30)
        took = time.time() - flushed
        print("\nre-seeded and fired 2,000 due timers %.1f s after the flush" % took, file=sys.stderr)
        self.assertLess(took, 12, "fired at once, not a batch per several seconds")
        self.assert_fired_once(early, 2000)
        ht.wait_for(lambda: self.redis("ZCARD", peer.KEY_DUE) == 100000, timeout=30,
                    what="every far timer scheduled again")
        self.assertEqual(timer_counts(far), {"pending": 100000})

if __name__ == "__main__":
    unittest.main()
