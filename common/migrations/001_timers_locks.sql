-- Shared timers (DESIGN §5.3): PostgreSQL holds every deadline; Redis only
-- schedules them and can be flushed or restarted without losing one.  And
-- the fencing sequence of locks: numbers that only grow, even when Redis
-- forgets its locks.

SET LOCAL search_path = @SCHEMA@;

CREATE TABLE @SCHEMA@.timers (
  tenant_id   text        NOT NULL,
  timer_key   text        NOT NULL,  -- unique per tenant, e.g. "case.accept:<case id>"
  kind        text        NOT NULL,  -- what the handler does
  subject_id  text        NOT NULL,
  due_ms      bigint      NOT NULL,  -- Unix milliseconds
  done_at     timestamptz,           -- fired or cancelled
  outcome     text,                  -- 'fired' | 'cancelled'
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, timer_key)
);
CREATE INDEX timers_pending ON @SCHEMA@.timers (tenant_id, timer_key) WHERE done_at IS NULL;

ALTER TABLE @SCHEMA@.timers ENABLE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.timers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON @SCHEMA@.timers
  USING (tenant_id = @SCHEMA@.current_tenant()) WITH CHECK (tenant_id = @SCHEMA@.current_tenant());
-- the timer workers (system role) fire the timers of every tenant
CREATE POLICY timer_rows ON @SCHEMA@.timers TO @SYSTEM@ USING (true) WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE ON @SCHEMA@.timers TO @RUNTIME@;
GRANT SELECT, UPDATE ON @SCHEMA@.timers TO @SYSTEM@;

CREATE SEQUENCE @SCHEMA@.fence_seq AS bigint;
GRANT USAGE ON SEQUENCE @SCHEMA@.fence_seq TO @RUNTIME@, @SYSTEM@;
