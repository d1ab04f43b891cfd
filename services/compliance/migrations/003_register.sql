-- The risk register and warning notices (DESIGN R20): risks with type, level,
-- control measures, owner and the date of their next periodic check (a
-- reminder timer per check), and warnings to departments, acknowledged and
-- rectified by them (整改完成率).  Both are working state, changed in place
-- and audited.

CREATE TABLE risks (
  tenant_id          text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  id                 uuid        NOT NULL,
  request_id         text,
  name               text        NOT NULL,
  type               text        NOT NULL,
  level              smallint    NOT NULL CHECK (level BETWEEN 1 AND 3),
  description        text        NOT NULL DEFAULT '',
  measures           text        NOT NULL DEFAULT '',
  owner_id           text        NOT NULL,
  department_id      text        NOT NULL DEFAULT '',
  review_every_days  integer     NOT NULL CHECK (review_every_days BETWEEN 1 AND 3660),
  next_review_at     timestamptz NOT NULL,
  last_reminded_at   timestamptz,
  active             boolean     NOT NULL DEFAULT true,
  updated_by         text        NOT NULL,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX risks_request ON risks (tenant_id, request_id) WHERE request_id IS NOT NULL;

CREATE TABLE warnings (
  tenant_id        text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  id               uuid        NOT NULL,
  request_id       text,
  department_id    text        NOT NULL,
  title            text        NOT NULL,
  content          text        NOT NULL,
  risk_id          text        NOT NULL DEFAULT '',
  status           smallint    NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 3),
  issued_by        text        NOT NULL,
  issued_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  rectify_by       timestamptz,
  acknowledged_by  text,
  acknowledged_at  timestamptz,
  rectified_by     text,
  rectified_at     timestamptz,
  rectification    text,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX warnings_request ON warnings (tenant_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX warnings_dept ON warnings (tenant_id, department_id, id);

CREATE TRIGGER risks_no_delete BEFORE DELETE ON risks FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER risks_no_truncate BEFORE TRUNCATE ON risks FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER warnings_no_delete BEFORE DELETE ON warnings FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER warnings_no_truncate BEFORE TRUNCATE ON warnings FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

ALTER TABLE risks ENABLE ROW LEVEL SECURITY;
ALTER TABLE risks FORCE ROW LEVEL SECURITY;
ALTER TABLE warnings ENABLE ROW LEVEL SECURITY;
ALTER TABLE warnings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON risks
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON warnings
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT, UPDATE ON risks, warnings TO @RUNTIME@;

-- Timer work (system role, acting tenant set by the handler): a due risk check
-- reminds the owner and moves the check date on, with the next reminder's timer.
GRANT SELECT, UPDATE (next_review_at, last_reminded_at, updated_at) ON risks TO @SYSTEM@;
GRANT INSERT ON timers TO @SYSTEM@;
