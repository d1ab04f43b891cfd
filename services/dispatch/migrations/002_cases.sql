-- Cases (办理件) and their handling (DESIGN §4.1): the case a ticket becomes
-- in a department, its steps (append-only record), pauses, extensions,
-- working-time deadlines and the supervision notices they raise.

CREATE TABLE cases (
  tenant_id           text        NOT NULL,
  id                  uuid        NOT NULL,
  ticket_id           uuid        NOT NULL,
  ticket_no           text        NOT NULL,
  role                smallint    NOT NULL CHECK (role IN (1, 2)),   -- lead, assist
  lead_case_id        uuid,
  status              smallint    NOT NULL,
  department_id       text,                                          -- NULL: dispatcher queue
  handler_id          text,
  basis_kind          smallint    NOT NULL,
  basis_rule_id       uuid,
  basis_reason        text        NOT NULL DEFAULT '',
  basis_return_reason smallint    NOT NULL DEFAULT 0,
  basis_actor         text        NOT NULL DEFAULT '',
  channel             smallint    NOT NULL,
  category            smallint    NOT NULL,
  priority            smallint    NOT NULL,
  topic               text        NOT NULL,
  description         text        NOT NULL,
  area                text        NOT NULL,
  registered_by       text        NOT NULL,
  registered_at       timestamptz NOT NULL,
  implicated          text[]      NOT NULL DEFAULT '{}',  -- 回避: never routed to, never visible to
  returned_by         text[]      NOT NULL DEFAULT '{}',  -- departments that returned it
  paused_at           timestamptz,
  return_count        integer     NOT NULL DEFAULT 0,
  transfer_count      integer     NOT NULL DEFAULT 0,
  reopen_count        integer     NOT NULL DEFAULT 0,
  result_text         text,
  result_by           text,
  result_at           timestamptz,
  approved_by         text,
  approved_at         timestamptz,
  approved_digest     text,
  fence               bigint      NOT NULL DEFAULT 0,     -- last edit-lock fence that wrote
  version             bigint      NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, lead_case_id) REFERENCES cases (tenant_id, id)
);
CREATE UNIQUE INDEX cases_lead_ticket ON cases (tenant_id, ticket_id) WHERE role = 1;
CREATE INDEX cases_ticket ON cases (tenant_id, ticket_id);
CREATE INDEX cases_queue ON cases (tenant_id, department_id, status, created_at);
CREATE INDEX cases_handler ON cases (tenant_id, handler_id, status);

-- Every step of the handling, in order (R10): the record, never changed.
CREATE TABLE case_steps (
  tenant_id     text        NOT NULL,
  case_id       uuid        NOT NULL,
  seq           integer     NOT NULL CHECK (seq > 0),
  action        text        NOT NULL,
  actor         text        NOT NULL,
  department_id text        NOT NULL DEFAULT '',
  note          text        NOT NULL DEFAULT '',
  at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, case_id, seq),
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id)
);

-- Pauses (waiting for the citizen): intervals that stop the clock.
CREATE TABLE pauses (
  tenant_id   text        NOT NULL,
  case_id     uuid        NOT NULL,
  seq         integer     NOT NULL,
  started_at  timestamptz NOT NULL,
  ended_at    timestamptz,
  reason      text        NOT NULL,
  actor       text        NOT NULL,
  PRIMARY KEY (tenant_id, case_id, seq),
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id)
);

-- Requests for more time; a supervisor decides. Approved ones add working time.
CREATE TABLE extensions (
  tenant_id     text        NOT NULL,
  id            uuid        NOT NULL,
  case_id       uuid        NOT NULL,
  request_id    text,
  deadline_kind smallint    NOT NULL,
  amount        integer     NOT NULL CHECK (amount > 0),
  unit          smallint    NOT NULL CHECK (unit BETWEEN 1 AND 4),
  reason        text        NOT NULL,
  state         smallint    NOT NULL DEFAULT 1,   -- pending, approved, rejected
  requested_by  text        NOT NULL,
  decided_by    text,
  opinion       text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  decided_at    timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id)
);
CREATE UNIQUE INDEX extensions_request ON extensions (tenant_id, request_id) WHERE request_id IS NOT NULL;

-- One deadline per case, kind and cycle (a new assignment starts a new cycle).
-- allowed_ms is working time; due_at/warn_at are recomputed from it, the
-- pauses and the approved extensions, never edited by hand.
CREATE TABLE deadlines (
  tenant_id     text        NOT NULL,
  id            uuid        NOT NULL,
  case_id       uuid        NOT NULL,
  kind          smallint    NOT NULL,             -- 1 accept, 2 complete
  started_at    timestamptz NOT NULL,
  allowed_ms    bigint      NOT NULL CHECK (allowed_ms > 0),
  extension_ms  bigint      NOT NULL DEFAULT 0,
  warning_permille integer  NOT NULL,
  clock         boolean     NOT NULL DEFAULT false,   -- clock hours, not working time
  due_at        timestamptz,                      -- NULL while the case is paused
  warn_at       timestamptz,
  generation    integer     NOT NULL DEFAULT 1,   -- timer keys of the current due/warn
  met_at        timestamptz,
  cancelled_at  timestamptz,
  warned_at     timestamptz,
  overdue_at    timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id)
);
CREATE INDEX deadlines_case ON deadlines (tenant_id, case_id, kind);
CREATE UNIQUE INDEX deadlines_open ON deadlines (tenant_id, case_id, kind)
  WHERE met_at IS NULL AND cancelled_at IS NULL;

-- Supervision notices (预警/超期/督办). Timer-driven ones are unique per
-- deadline, generation, kind and recipient, so a timer that fires twice
-- notifies once (an extension that moves a passed deadline makes a new one).
CREATE TABLE notices (
  tenant_id     text        NOT NULL,
  id            uuid        NOT NULL,
  kind          smallint    NOT NULL,             -- 1 warning, 2 overdue, 3 supervision
  case_id       uuid        NOT NULL,
  deadline_id   uuid,
  deadline_generation integer NOT NULL DEFAULT 0,  -- the deadline's generation that fired
  deadline_kind smallint    NOT NULL DEFAULT 0,
  department_id text        NOT NULL DEFAULT '',
  recipient_id  text        NOT NULL,
  note          text        NOT NULL DEFAULT '',
  issued_by     text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, case_id) REFERENCES cases (tenant_id, id),
  FOREIGN KEY (tenant_id, deadline_id) REFERENCES deadlines (tenant_id, id)
);
CREATE UNIQUE INDEX notices_once ON notices (tenant_id, deadline_id, deadline_generation, kind, recipient_id)
  WHERE deadline_id IS NOT NULL;
CREATE INDEX notices_recipient ON notices (tenant_id, recipient_id, created_at);
CREATE INDEX notices_case ON notices (tenant_id, case_id, created_at);

CREATE TRIGGER case_steps_append_only BEFORE UPDATE OR DELETE ON case_steps
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER case_steps_no_truncate BEFORE TRUNCATE ON case_steps
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER notices_append_only BEFORE UPDATE OR DELETE ON notices
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER notices_no_truncate BEFORE TRUNCATE ON notices
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER cases_no_truncate BEFORE TRUNCATE ON cases
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

ALTER TABLE cases ENABLE ROW LEVEL SECURITY;
ALTER TABLE cases FORCE ROW LEVEL SECURITY;
ALTER TABLE case_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_steps FORCE ROW LEVEL SECURITY;
ALTER TABLE pauses ENABLE ROW LEVEL SECURITY;
ALTER TABLE pauses FORCE ROW LEVEL SECURITY;
ALTER TABLE extensions ENABLE ROW LEVEL SECURITY;
ALTER TABLE extensions FORCE ROW LEVEL SECURITY;
ALTER TABLE deadlines ENABLE ROW LEVEL SECURITY;
ALTER TABLE deadlines FORCE ROW LEVEL SECURITY;
ALTER TABLE notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE notices FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON cases
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON case_steps
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON pauses
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON extensions
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON deadlines
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON notices
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT, UPDATE ON cases, pauses, extensions, deadlines TO @RUNTIME@;
GRANT SELECT, INSERT ON case_steps, notices TO @RUNTIME@;
GRANT UPDATE (open_load, last_assigned_at) ON staff TO @RUNTIME@;
-- Deadline timers (system role, acting tenant set by the handler): read the
-- case and its deadline, mark the deadline warned/overdue, write notices,
-- steps, audit entries and the violation's outbox row.
GRANT SELECT ON cases, pauses TO @SYSTEM@;
GRANT UPDATE (updated_at) ON cases TO @SYSTEM@;  -- only to lock the case row (FOR UPDATE)
GRANT SELECT, UPDATE ON deadlines TO @SYSTEM@;
GRANT SELECT, INSERT ON case_steps, notices TO @SYSTEM@;
GRANT SELECT, INSERT ON audit_log TO @SYSTEM@;
GRANT SELECT, INSERT, UPDATE ON audit_heads TO @SYSTEM@;
GRANT INSERT ON outbox TO @SYSTEM@;
