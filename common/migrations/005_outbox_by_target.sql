-- Claims go target by target. A target that is down (or not deployed yet)
-- can hold a backlog of many thousands of rows; a claim that walked the due
-- rows of every target in one index passed over that whole backlog each time
-- just to leave it out, and got slower as it grew. With the due rows indexed
-- by target first, the relay lists the targets that have rows (a few index
-- probes) and claims from each healthy one alone; a resting target's backlog
-- is never read.
SET LOCAL search_path = @SCHEMA@;
CREATE INDEX outbox_due_by_target ON @SCHEMA@.outbox (target, next_attempt_at, id)
  WHERE delivered_at IS NULL AND dead_at IS NULL;
DROP INDEX @SCHEMA@.outbox_pending;
