-- Reporting's event store and projections (DESIGN R23-R27, docs/reporting.md):
-- every event of every service, append-only; the per-ticket facts and the
-- per-subject facts (visits, risk events, warnings, violations, reviews)
-- folded from them; the tenants' report settings; the frozen daily reports.

CREATE TABLE events (
  tenant_id    text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  event_id     uuid        NOT NULL,
  type         text        NOT NULL,
  ticket_id    text        NOT NULL DEFAULT '',   -- '' when the event is not about a ticket
  subject_id   text        NOT NULL,              -- the ticket, or the visit / compliance subject
  occurred_at  timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  version      bigint      NOT NULL DEFAULT 0,
  actor        text        NOT NULL DEFAULT '',
  source       text        NOT NULL,              -- the service that delivered it
  payload      bytea       NOT NULL,              -- the hotline.common.v1.Event as received
  PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX events_subject ON events (tenant_id, subject_id);
CREATE INDEX events_ticket ON events (tenant_id, ticket_id) WHERE ticket_id <> '';
CREATE INDEX events_occurred ON events (tenant_id, occurred_at);
CREATE INDEX events_recorded ON events (tenant_id, recorded_at);
CREATE INDEX events_type ON events (tenant_id, type, occurred_at);

-- One row per ticket, recomputed from all of the ticket's events on every new one.
CREATE TABLE ticket_facts (
  tenant_id      text        NOT NULL,
  ticket_id      text        NOT NULL,
  ticket_no      text        NOT NULL DEFAULT '',
  channel        smallint    NOT NULL DEFAULT 0,
  category       smallint    NOT NULL DEFAULT 0,
  priority       smallint    NOT NULL DEFAULT 0,
  topic          text        NOT NULL DEFAULT '',
  area           text        NOT NULL DEFAULT '',
  registered_by  text        NOT NULL DEFAULT '',
  received_at    timestamptz,
  on_spot        boolean     NOT NULL DEFAULT false,
  assigned_at    timestamptz,
  accepted_at    timestamptz,
  department_id  text        NOT NULL DEFAULT '',
  handler_id     text        NOT NULL DEFAULT '',
  transfers      integer     NOT NULL DEFAULT 0,
  returns        integer     NOT NULL DEFAULT 0,
  accept_due     timestamptz,
  complete_due   timestamptz,
  completed_at   timestamptz,
  on_time        boolean     NOT NULL DEFAULT false,
  overdue_at     timestamptz,
  status         smallint    NOT NULL DEFAULT 0,
  status_version bigint      NOT NULL DEFAULT 0,
  closed_at      timestamptz,
  reopens        integer     NOT NULL DEFAULT 0,
  satisfaction   smallint    NOT NULL DEFAULT 0,
  rated_at       timestamptz,
  visited        boolean     NOT NULL DEFAULT false,
  events         integer     NOT NULL DEFAULT 0,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, ticket_id)
);
-- the ledger's key order, and (with what it includes) the daily report's breakdowns by index-only scan
CREATE INDEX ticket_facts_received ON ticket_facts (tenant_id, received_at, ticket_id)
  INCLUDE (channel, category, department_id, topic, on_spot);
CREATE INDEX ticket_facts_completed ON ticket_facts (tenant_id, completed_at) INCLUDE (on_time)
  WHERE completed_at IS NOT NULL;
CREATE INDEX ticket_facts_no ON ticket_facts (tenant_id, ticket_no);

-- One row per visit, risk event, warning, violation or review.
CREATE TABLE subject_facts (
  tenant_id         text        NOT NULL,
  subject_id        text        NOT NULL,
  kind              text        NOT NULL,   -- visit | risk_event | warning | violation | review
  ticket_id         text        NOT NULL DEFAULT '',
  department_id     text        NOT NULL DEFAULT '',
  person_id         text        NOT NULL DEFAULT '',
  level             integer     NOT NULL DEFAULT 0,
  opened_at         timestamptz,            -- planned / reported / issued / recorded / decided
  due_at            timestamptz,
  done_at           timestamptz,            -- visit recorded / risk event closed / warning rectified
  on_time           boolean     NOT NULL DEFAULT false,
  problem_found     boolean     NOT NULL DEFAULT false,
  recheck_disagrees boolean     NOT NULL DEFAULT false,
  overdue           boolean     NOT NULL DEFAULT false,
  approved          boolean     NOT NULL DEFAULT false,
  events            integer     NOT NULL DEFAULT 0,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, subject_id)
);
CREATE INDEX subject_facts_kind ON subject_facts (tenant_id, kind, opened_at);

-- The tenant's report settings: created with the defaults by the tenant's first event.
CREATE TABLE report_settings (
  tenant_id       text        NOT NULL PRIMARY KEY,
  zone            text        NOT NULL DEFAULT 'Asia/Shanghai',
  cutoff_minutes  integer     NOT NULL DEFAULT 1440 CHECK (cutoff_minutes BETWEEN 1 AND 1440),
  updated_by      text        NOT NULL DEFAULT 'system',
  updated_at      timestamptz NOT NULL DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now()   -- the tenant's first event: reports start that day
);

-- Frozen daily reports: the record, never changed (R23).
CREATE TABLE daily_reports (
  tenant_id      text        NOT NULL,
  report_date    date        NOT NULL,
  window_start   timestamptz NOT NULL,
  window_end     timestamptz NOT NULL,
  frozen_at      timestamptz NOT NULL,
  content        bytea       NOT NULL,   -- DailyReportContent, serialized
  content_sha256 text        NOT NULL,
  signature      bytea       NOT NULL,   -- Ed25519 over content
  key_id         text        NOT NULL,
  public_key     text        NOT NULL,   -- PEM
  received       bigint      NOT NULL,
  corrections    bigint      NOT NULL,
  frozen_by      text        NOT NULL,
  fence          bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, report_date)
);

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER daily_reports_append_only BEFORE UPDATE OR DELETE ON daily_reports
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER daily_reports_no_truncate BEFORE TRUNCATE ON daily_reports
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
ALTER TABLE ticket_facts ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_facts FORCE ROW LEVEL SECURITY;
ALTER TABLE subject_facts ENABLE ROW LEVEL SECURITY;
ALTER TABLE subject_facts FORCE ROW LEVEL SECURITY;
ALTER TABLE report_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE report_settings FORCE ROW LEVEL SECURITY;
ALTER TABLE daily_reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE daily_reports FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON events
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON ticket_facts
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON subject_facts
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON report_settings
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON daily_reports
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT ON events, daily_reports TO @RUNTIME@;
GRANT SELECT, INSERT, UPDATE ON ticket_facts, subject_facts, report_settings TO @RUNTIME@;
-- The daily cut-off (timers, system role, acting tenant set by the job): read the store and
-- the projections, freeze the report, audit it, put the next day's timer.
GRANT SELECT ON events, ticket_facts, subject_facts, report_settings TO @SYSTEM@;
GRANT SELECT, INSERT ON daily_reports TO @SYSTEM@;
GRANT SELECT, INSERT ON audit_log TO @SYSTEM@;
GRANT SELECT, INSERT, UPDATE ON audit_heads TO @SYSTEM@;
GRANT INSERT ON timers TO @SYSTEM@;
-- The cut-off sweep (one replica, singleton lock) lists the tenants whose report is due.
CREATE POLICY cutoff_rows ON report_settings FOR SELECT TO @SYSTEM@ USING (true);
-- What the daily report counts per window besides registrations and completions (index-only
-- counts, with the columns they filter on included).
CREATE INDEX ticket_facts_closed ON ticket_facts (tenant_id, closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX ticket_facts_overdue ON ticket_facts (tenant_id, overdue_at) WHERE overdue_at IS NOT NULL;
CREATE INDEX ticket_facts_rated ON ticket_facts (tenant_id, rated_at) INCLUDE (satisfaction) WHERE rated_at IS NOT NULL;
