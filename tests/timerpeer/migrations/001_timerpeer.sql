-- The test peer's own tables (tests/timerpeer/): the effect of each timer
-- (unique per tenant and timer key, with a count of every committed firing
-- so that a doubled firing shows even though the effect itself cannot
-- double), the row protected by fenced locks, and the runs of the singleton
-- job.  The shared timers table and fence_seq come from common/migrations.

SET LOCAL search_path = @SCHEMA@;

CREATE TABLE @SCHEMA@.effects (
  tenant_id     text        NOT NULL,
  timer_key     text        NOT NULL,
  kind          text        NOT NULL,
  due_ms        bigint      NOT NULL,               -- the timer's due time, Unix ms
  fired_at      timestamptz NOT NULL DEFAULT clock_timestamp(),  -- in the firing transaction
  fired_by      text        NOT NULL,               -- "<pid>"
  fires         integer     NOT NULL DEFAULT 1,     -- committed firings (must stay 1)
  last_fired_at timestamptz,
  PRIMARY KEY (tenant_id, timer_key)
);

CREATE TABLE @SCHEMA@.guarded (
  tenant_id  text        NOT NULL,
  name       text        NOT NULL,
  value      text        NOT NULL DEFAULT '',
  fence      bigint      NOT NULL DEFAULT 0,        -- fencing number of the last writer
  written_by text,
  written_at timestamptz,
  PRIMARY KEY (tenant_id, name)
);

CREATE TABLE @SCHEMA@.singleton_runs (
  tenant_id  text    NOT NULL,
  id         bigint  GENERATED ALWAYS AS IDENTITY,
  name       text    NOT NULL,
  holder     text    NOT NULL,
  fence      bigint  NOT NULL,
  started_ms bigint  NOT NULL,
  ended_ms   bigint  NOT NULL,
  wrote      boolean NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

ALTER TABLE @SCHEMA@.effects ENABLE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.effects FORCE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.guarded ENABLE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.guarded FORCE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.singleton_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.singleton_runs FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON @SCHEMA@.effects
  USING (tenant_id = @SCHEMA@.current_tenant()) WITH CHECK (tenant_id = @SCHEMA@.current_tenant());
-- the timer workers (system role) write the effects of every tenant
CREATE POLICY timer_rows ON @SCHEMA@.effects TO @SYSTEM@ USING (true) WITH CHECK (true);
CREATE POLICY tenant_rows ON @SCHEMA@.guarded
  USING (tenant_id = @SCHEMA@.current_tenant()) WITH CHECK (tenant_id = @SCHEMA@.current_tenant());
CREATE POLICY tenant_rows ON @SCHEMA@.singleton_runs
  USING (tenant_id = @SCHEMA@.current_tenant()) WITH CHECK (tenant_id = @SCHEMA@.current_tenant());

GRANT SELECT, INSERT, UPDATE ON @SCHEMA@.effects TO @SYSTEM@;
GRANT SELECT ON @SCHEMA@.effects TO @RUNTIME@;
GRANT SELECT, INSERT, UPDATE ON @SCHEMA@.guarded TO @RUNTIME@;
GRANT SELECT, INSERT ON @SCHEMA@.singleton_runs TO @RUNTIME@;
