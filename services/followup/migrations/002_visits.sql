-- Follow-up visits (回访, DESIGN R16-R18): counterparts with their risk level
-- and owner, the visit plan of each risk level, the visits (planned, then
-- done: working state, changed in place and audited), and the records and
-- re-checks of visits (append-only).

CREATE TABLE counterparts (
  tenant_id      text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  id             text        NOT NULL,
  name           text        NOT NULL,
  risk_level     smallint    NOT NULL CHECK (risk_level BETWEEN 1 AND 3),
  owner_id       text        NOT NULL,
  department_id  text        NOT NULL DEFAULT '',
  active         boolean     NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE visit_plans (
  tenant_id      text        NOT NULL,
  risk_level     smallint    NOT NULL CHECK (risk_level BETWEEN 1 AND 3),
  interval_days  integer     NOT NULL CHECK (interval_days BETWEEN 1 AND 3660),
  method         smallint    NOT NULL CHECK (method BETWEEN 1 AND 3),
  depth          text        NOT NULL DEFAULT '',
  responsible_id text        NOT NULL DEFAULT '',
  target         text        NOT NULL DEFAULT '',
  scope          text        NOT NULL DEFAULT '',
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, risk_level)
);

CREATE TABLE visits (
  tenant_id      text        NOT NULL,
  id             uuid        NOT NULL,
  counterpart_id text        NOT NULL,
  risk_level     smallint    NOT NULL,
  department_id  text        NOT NULL DEFAULT '',
  responsible_id text        NOT NULL,
  method         smallint    NOT NULL,
  due_at         timestamptz NOT NULL,
  done_at        timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, counterpart_id) REFERENCES counterparts (tenant_id, id)
);
-- one planned visit per counterpart at a time
CREATE UNIQUE INDEX visits_planned ON visits (tenant_id, counterpart_id) WHERE done_at IS NULL;
CREATE INDEX visits_due ON visits (tenant_id, due_at);

CREATE TABLE visit_records (
  tenant_id      text        NOT NULL,
  visit_id       uuid        NOT NULL,
  request_id     text,
  method         smallint    NOT NULL CHECK (method BETWEEN 1 AND 3),
  questions      text[]      NOT NULL DEFAULT '{}',
  answers        text[]      NOT NULL DEFAULT '{}',
  evidence_ref   text        NOT NULL CHECK (evidence_ref <> ''),
  problem_found  boolean     NOT NULL,
  note           text        NOT NULL DEFAULT '',
  recorded_by    text        NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, visit_id),
  FOREIGN KEY (tenant_id, visit_id) REFERENCES visits (tenant_id, id)
);
CREATE UNIQUE INDEX visit_records_request ON visit_records (tenant_id, request_id) WHERE request_id IS NOT NULL;

CREATE TABLE visit_rechecks (
  tenant_id      text        NOT NULL,
  visit_id       uuid        NOT NULL,
  request_id     text,
  agrees         boolean     NOT NULL,
  note           text        NOT NULL DEFAULT '',
  rechecked_by   text        NOT NULL,
  rechecked_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, visit_id),
  FOREIGN KEY (tenant_id, visit_id) REFERENCES visit_records (tenant_id, visit_id),
  CHECK (agrees OR note <> '')
);

CREATE TRIGGER visit_records_append_only BEFORE UPDATE OR DELETE ON visit_records
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER visit_records_no_truncate BEFORE TRUNCATE ON visit_records
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER visit_rechecks_append_only BEFORE UPDATE OR DELETE ON visit_rechecks
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER visit_rechecks_no_truncate BEFORE TRUNCATE ON visit_rechecks
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER visits_no_delete BEFORE DELETE ON visits
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER counterparts_no_delete BEFORE DELETE ON counterparts
  FOR EACH ROW EXECUTE FUNCTION refuse_change();

ALTER TABLE counterparts ENABLE ROW LEVEL SECURITY;
ALTER TABLE counterparts FORCE ROW LEVEL SECURITY;
ALTER TABLE visit_plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE visit_plans FORCE ROW LEVEL SECURITY;
ALTER TABLE visits ENABLE ROW LEVEL SECURITY;
ALTER TABLE visits FORCE ROW LEVEL SECURITY;
ALTER TABLE visit_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE visit_records FORCE ROW LEVEL SECURITY;
ALTER TABLE visit_rechecks ENABLE ROW LEVEL SECURITY;
ALTER TABLE visit_rechecks FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON counterparts
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON visit_plans
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON visits
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON visit_records
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON visit_rechecks
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT, UPDATE ON counterparts, visit_plans, visits TO @RUNTIME@;
GRANT SELECT, INSERT ON visit_records, visit_rechecks TO @RUNTIME@;
