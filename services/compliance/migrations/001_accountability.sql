-- Accountability and risk events (DESIGN R21, R22): violations recorded against
-- people and departments (append-only record, appeals appended beside them),
-- risk events with their statutory reporting deadline (2 h major, 24 h general,
-- clock hours) whose working state changes in place and is audited, and the
-- notices compliance addresses to a person, a role or a department.

CREATE TABLE violations (
  tenant_id      text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  id             uuid        NOT NULL,
  request_id     text,                      -- FileViolation's client request id
  kind           smallint    NOT NULL CHECK (kind BETWEEN 1 AND 8),
  source         text        NOT NULL,      -- "dispatch.case", "followup.visit", "manual", ...
  subject_type   text        NOT NULL DEFAULT '',
  subject_id     text        NOT NULL DEFAULT '',
  ticket_id      text        NOT NULL DEFAULT '',
  department_id  text        NOT NULL DEFAULT '',
  person_id      text        NOT NULL DEFAULT '',
  description    text        NOT NULL DEFAULT '',
  points         integer     NOT NULL CHECK (points BETWEEN 0 AND 100),
  occurred_at    timestamptz,
  due_at         timestamptz,
  recorded_by    text        NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, id),
  CHECK (department_id <> '' OR person_id <> '')
);
CREATE UNIQUE INDEX violations_request ON violations (tenant_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX violations_dept ON violations (tenant_id, department_id, recorded_at);
CREATE INDEX violations_person ON violations (tenant_id, person_id, recorded_at);

CREATE TABLE violation_appeals (
  tenant_id     text        NOT NULL,
  violation_id  uuid        NOT NULL,
  note          text        NOT NULL CHECK (note <> ''),
  appealed_by   text        NOT NULL,
  appealed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, violation_id),
  FOREIGN KEY (tenant_id, violation_id) REFERENCES violations (tenant_id, id)
);

CREATE TABLE risk_events (
  tenant_id       text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  id              uuid        NOT NULL,
  request_id      text,                      -- RaiseRiskEvent's client request id
  level           smallint    NOT NULL CHECK (level IN (1, 2)),   -- 1 major, 2 general
  status          smallint    NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 3),
  source          text        NOT NULL,
  subject_type    text        NOT NULL DEFAULT '',
  subject_id      text        NOT NULL DEFAULT '',
  counterpart_id  text        NOT NULL DEFAULT '',
  department_id   text        NOT NULL DEFAULT '',
  risk_id         text        NOT NULL DEFAULT '',
  description     text        NOT NULL,
  emergency_plan  boolean     NOT NULL DEFAULT false,
  occurred_at     timestamptz NOT NULL,
  reported_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  due_at          timestamptz NOT NULL,
  reported_late   boolean     NOT NULL,
  overdue_at      timestamptz,               -- not accepted by due_at (set once, by the timer)
  reported_by     text        NOT NULL,
  accepted_by     text,
  accepted_at     timestamptz,
  closed_by       text,
  closed_at       timestamptz,
  outcome         text,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX risk_events_request ON risk_events (tenant_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX risk_events_list ON risk_events (tenant_id, status, id);

CREATE TABLE notices (
  tenant_id   text        NOT NULL,
  id          uuid        NOT NULL,
  kind        text        NOT NULL,
  subject_id  text        NOT NULL,
  recipient   text        NOT NULL CHECK (recipient ~ '^(user|role|dept):.'),
  body        text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX notices_once ON notices (tenant_id, kind, subject_id, recipient);
CREATE INDEX notices_recipient ON notices (tenant_id, recipient, id);

CREATE TRIGGER violations_append_only BEFORE UPDATE OR DELETE ON violations
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER violations_no_truncate BEFORE TRUNCATE ON violations
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER violation_appeals_append_only BEFORE UPDATE OR DELETE ON violation_appeals
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER violation_appeals_no_truncate BEFORE TRUNCATE ON violation_appeals
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER risk_events_no_delete BEFORE DELETE ON risk_events
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER risk_events_no_truncate BEFORE TRUNCATE ON risk_events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER notices_append_only BEFORE UPDATE OR DELETE ON notices
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER notices_no_truncate BEFORE TRUNCATE ON notices
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

ALTER TABLE violations ENABLE ROW LEVEL SECURITY;
ALTER TABLE violations FORCE ROW LEVEL SECURITY;
ALTER TABLE violation_appeals ENABLE ROW LEVEL SECURITY;
ALTER TABLE violation_appeals FORCE ROW LEVEL SECURITY;
ALTER TABLE risk_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE risk_events FORCE ROW LEVEL SECURITY;
ALTER TABLE notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE notices FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON violations
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON violation_appeals
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON risk_events
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON notices
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT ON violations, violation_appeals, notices TO @RUNTIME@;
GRANT SELECT, INSERT, UPDATE ON risk_events TO @RUNTIME@;

-- Timer work (system role, acting tenant set by the handler): a risk event not
-- accepted by its due time is marked overdue once, raised as a violation, and
-- the leadership group is told.
GRANT SELECT, UPDATE (overdue_at, updated_at) ON risk_events TO @SYSTEM@;
GRANT SELECT, INSERT ON violations, notices TO @SYSTEM@;
GRANT SELECT, INSERT ON audit_log TO @SYSTEM@;
GRANT SELECT, INSERT, UPDATE ON audit_heads TO @SYSTEM@;
GRANT INSERT ON outbox TO @SYSTEM@;
