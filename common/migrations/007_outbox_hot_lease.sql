-- A claim's lease is its own column, in no index and no index predicate, so
-- the claim's update is a HOT update: a new row version in the same page and
-- no new index entries. The lease used to move next_attempt_at, a key of
-- outbox_due_by_target, which made every claim write a new entry in each of
-- the outbox's four indexes for every row it leased. Leased rows keep their
-- place among the due rows; the claim passes over those whose lease has not
-- ended (at most a claim's worth per relay thread). The fill factor leaves
-- room in each page for the leased versions of the rows inserted into it.
SET LOCAL search_path = @SCHEMA@;
ALTER TABLE @SCHEMA@.outbox ADD COLUMN leased_until timestamptz;
ALTER TABLE @SCHEMA@.outbox SET (fillfactor = 70);
