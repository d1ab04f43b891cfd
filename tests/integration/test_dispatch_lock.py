"""test_dispatch_lock - the user-visible edit lock of a case (DESIGN §5.3; dispatch.proto LockCase).

Against the real stack (Redis holds the lock, PostgreSQL the fencing numbers on the case row):

- handler A locks the case: GetCase shows locked_by A; handler B's change without a token is
  ABORTED "case is being edited by A" and writes nothing, B cannot lock it, A's change with the
  token works (and stores the token's fence on the case); after UnlockCase B's change works;
- a paused holder: with a 2 s lease (HOTLINE_EDIT_LOCK_LEASE_MS through extra-dispatch.env,
  removed afterwards) A locks, waits past the lease, B locks and changes the case; A's change with
  its old token is ABORTED and the case keeps B's change;
- Redis forgets the lock (FLUSHALL): A's old token is still refused; with Redis unreachable, where
  only PostgreSQL can decide, A's old token is refused by the fence (B's newer fence is stored on
  the case), and so is A's old token dressed in B's fence (the case records the digest of the
  token it handed out last), while B's token still writes (the control);
- a fence is never the client's word: the holder's own token with a raised fence is refused while
  Redis holds the lock (the fence is part of the lock's value), and the case's fence stays.
"""
import time
import unittest

import dispatch_harness as H
from dispatch_harness import dpb, cpb

HANDLER = ("handler",)


class LockTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t = cls.t = H.Tenant("lock")
        t.dept("housing", head="head-h")
        t.staff("head-h", "housing")
        t.staff("h-a", "housing")
        t.staff("h-b", "housing", active=False)  # so that every case goes to h-a
        t.rule("housing", position=1, categories=[cpb.CATEGORY_COMPLAINT])

    def accepted_case(self):
        t = self.t
        _, cid = t.submit()
        t.call("AcceptCase", dpb.AcceptCaseRequest(case_id=cid), sub="h-a", roles=HANDLER)
        t.staff("h-b", "housing")  # now both may work on it
        return cid

    def tearDown(self):
        self.t.staff("h-b", "housing", active=False)

    def note(self, cid, who, text, token=""):
        return self.t.code("AddCaseNote", dpb.AddCaseNoteRequest(case_id=cid, note=text, lock_token=token), sub=who,
                           roles=HANDLER)

    def lock(self, cid, who):
        return self.t.call("LockCase", dpb.LockCaseRequest(case_id=cid), sub=who, roles=HANDLER)

    def state(self, cid):
        """(steps, version, fence, paused) of the case row."""
        [[steps, version, fence, paused]] = self.t.rows(
            "SELECT (SELECT count(*) FROM dispatch.case_steps s WHERE s.case_id = c.id), version, fence, "
            "paused_at IS NOT NULL FROM dispatch.cases c WHERE id = %s" % H.lit(cid))
        return int(steps), int(version), int(fence), paused == "t"

    def test_lock_blocks_others_and_the_token_writes(self):
        t = self.t
        cid = self.accepted_case()
        self.assertEqual(self.note(cid, "h-b", "B 无锁记录"), (None, None), "control: nobody holds the lock yet")
        lk = self.lock(cid, "h-a")
        fence = int(lk.lock_token.split(".")[0])
        self.assertGreater(lk.expires_at.seconds, time.time() + 60,
                           "the default lease is 2 minutes")
        self.assertEqual(t.get(cid).locked_by, "h-a")
        self.assertEqual(self.state(cid)[2], fence, "the lock's fence is stored on the case")

        before = self.state(cid)
        code, details = self.note(cid, "h-b", "B 想改")
        self.assertEqual((code, details), (H.ABORTED, "case is being edited by h-a"))
        code, details = t.code("PauseCase", dpb.PauseCaseRequest(case_id=cid, reason="B 想停"), sub="h-b",
                               roles=HANDLER)
        self.assertEqual((code, details), (H.ABORTED, "case is being edited by h-a"))
        code, details = t.code("LockCase", dpb.LockCaseRequest(case_id=cid), sub="h-b", roles=HANDLER)
        self.assertEqual((code, details), (H.ABORTED, "case is being edited by h-a"))
        self.assertEqual(self.state(cid), before, "B wrote nothing")

        self.assertEqual(self.note(cid, "h-a", "A 持锁记录", lk.lock_token), (None, None))
        code, details = self.note(cid, "h-a", "A 伪造令牌", "%d.%s" % (fence, "0" * 24))
        self.assertEqual(code, H.ABORTED, details)
        self.assertIn("lock_token", details)
        # the holder's own token with a fence it made up: Redis stores the fence with the lock
        forged = "%d.%s" % (fence + 1000, lk.lock_token.split(".", 1)[1])
        code, details = self.note(cid, "h-a", "A 抬高栅栏", forged)
        self.assertEqual(code, H.ABORTED, details)
        self.assertIn("lock_token", details)
        self.assertEqual(self.state(cid)[0], before[0] + 1, "only the note with the real token")
        self.assertEqual(self.state(cid)[2], fence, "the case's fence did not jump to the forged one")

        t.call("UnlockCase", dpb.UnlockCaseRequest(case_id=cid, lock_token=lk.lock_token), sub="h-a", roles=HANDLER)
        self.assertEqual(t.get(cid).locked_by, "")
        self.assertEqual(self.note(cid, "h-b", "B 解锁后记录"), (None, None))
        code, _ = self.note(cid, "h-a", "A 旧令牌", lk.lock_token)
        self.assertEqual(code, H.ABORTED, "a released token no longer writes")
        self.assertEqual([s.note for s in t.get(cid).steps if s.action == "note"],
                         ["B 无锁记录", "A 持锁记录", "B 解锁后记录"])

    def test_a_paused_holder_cannot_overwrite_newer_work(self):
        t = self.t
        cid = self.accepted_case()
        with H.service_env("dispatch", ["HOTLINE_EDIT_LOCK_LEASE_MS=2000"]):
            la = self.lock(cid, "h-a")
            self.assertLess(la.expires_at.seconds, time.time() + 5, "the lease is short now")
            self.assertEqual(self.note(cid, "h-a", "A 第一笔", la.lock_token), (None, None))
            time.sleep(2.5)  # A is "paused" past its lease
            self.assertEqual(t.get(cid).locked_by, "", "the lease ended")
            lb = self.lock(cid, "h-b")
            fb = int(lb.lock_token.split(".")[0])
            self.assertGreater(fb, int(la.lock_token.split(".")[0]))
            self.assertEqual(self.note(cid, "h-b", "B 接手", lb.lock_token), (None, None))
            r = t.call("PauseCase", dpb.PauseCaseRequest(case_id=cid, reason="B 等材料", lock_token=lb.lock_token),
                       sub="h-b", roles=HANDLER).case
            self.assertTrue(r.paused)
            b_state = self.state(cid)
            self.assertEqual(b_state[2], fb)

            # A wakes up and writes with its old token: refused, B's work stays
            code, details = self.note(cid, "h-a", "A 醒来", la.lock_token)
            self.assertEqual(code, H.ABORTED, details)
            code, details = t.code("ResumeCase", dpb.ResumeCaseRequest(case_id=cid, lock_token=la.lock_token),
                                   sub="h-a", roles=HANDLER)
            self.assertEqual(code, H.ABORTED, details)
            code, details = self.note(cid, "h-a", "A 不带令牌")
            self.assertEqual((code, details), (H.ABORTED, "case is being edited by h-b"))
            self.assertEqual(self.state(cid), b_state, "the case keeps B's change")
            self.assertTrue(t.get(cid).paused)

            # Redis forgets every lock: A's old token is refused all the same
            H.ht.redis("FLUSHALL")
            self.assertEqual(t.get(cid).locked_by, "")
            code, details = self.note(cid, "h-a", "A 趁清空", la.lock_token)
            self.assertEqual(code, H.ABORTED, details)
            self.assertEqual(self.state(cid), b_state)

            # Redis unreachable: only the fence in PostgreSQL decides
            H.ht.stack("stop-redis")
            try:
                code, details = self.note(cid, "h-a", "A 趁 Redis 停机", la.lock_token)
                self.assertEqual(code, H.ABORTED, details)
                self.assertIn("newer edit-lock holder", details, "refused by the fence")
                # A dresses its old token in B's fence: with Redis silent the fence is not taken on trust
                forged = "%d.%s" % (fb, la.lock_token.split(".", 1)[1])
                code, details = self.note(cid, "h-a", "A 冒用新栅栏", forged)
                self.assertEqual(code, H.ABORTED, details)
                self.assertIn("newer edit-lock holder", details)
                self.assertEqual(self.state(cid), b_state, "B's fence is still the case's")
                self.assertEqual(self.note(cid, "h-b", "B 在 Redis 停机时", lb.lock_token), (None, None),
                                 "control: the newest fence still writes")
            finally:
                H.ht.stack("start-redis")
            steps, _, fence, paused = self.state(cid)
            self.assertEqual((steps, fence, paused), (b_state[0] + 1, fb, True))
            notes = [s.note for s in t.get(cid).steps if s.action == "note"]
            self.assertEqual(notes, ["A 第一笔", "B 接手", "B 在 Redis 停机时"])


if __name__ == "__main__":
    unittest.main()
