-- Recusal (R33) at intake: the departments a report implicates are kept with
-- the ticket (they were only passed on to dispatch), so that staff of those
-- departments do not see the ticket here either.  Tickets registered before
-- this migration have none recorded (dispatch still has them).

SET LOCAL search_path = @SCHEMA@;

ALTER TABLE tickets ADD COLUMN implicated_departments text[] NOT NULL DEFAULT '{}';
