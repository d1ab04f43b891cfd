-- Overdue notices to people, and the sampling of closed tickets for a satisfaction visit.
--
-- notices: one row per overdue reply task or visit and recipient (the responsible person, the
-- department's head as a role, or the supervisors when neither exists), written by the timer
-- (system role) in the transaction that marks the subject overdue; append-only.  An
-- acknowledgement is a row of notice_acks (append-only, once per notice).
--
-- Ticket visits: a visit with a ticket instead of a counterpart (the citizen is visited about a
-- closed ticket that the tenant's sampling policy drew).  One per ticket.
--
-- sampling_policies: per tenant, the percentage per category (index = Category value), the
-- method and the working days to visit; sampling_keys: the tenant's secret key of the draw;
-- ticket_samples: every draw (sampled or not), append-only, one per ticket.

CREATE TABLE notices (
  tenant_id      text        NOT NULL,
  id             uuid        NOT NULL,
  kind           smallint    NOT NULL CHECK (kind IN (1, 2)),   -- 1 reply overdue, 2 visit overdue
  subject_type   text        NOT NULL CHECK (subject_type IN ('reply_task', 'visit')),
  subject_id     uuid        NOT NULL,
  ticket_no      text        NOT NULL DEFAULT '',
  counterpart_id text        NOT NULL DEFAULT '',
  department_id  text        NOT NULL DEFAULT '',
  recipient_id   text        NOT NULL DEFAULT '',
  recipient_role text        NOT NULL DEFAULT '' CHECK (recipient_role IN ('', 'dept_head', 'supervisor')),
  note           text        NOT NULL DEFAULT '',
  due_at         timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CHECK ((recipient_id = '') <> (recipient_role = ''))
);
-- a timer that fires twice notifies once
CREATE UNIQUE INDEX notices_once ON notices (tenant_id, subject_id, kind, recipient_id, recipient_role);
CREATE INDEX notices_recipient ON notices (tenant_id, recipient_id, id);
CREATE INDEX notices_role ON notices (tenant_id, recipient_role, department_id, id) WHERE recipient_role <> '';

CREATE TABLE notice_acks (
  tenant_id   text        NOT NULL,
  notice_id   uuid        NOT NULL,
  acked_by    text        NOT NULL,
  acked_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, notice_id),
  FOREIGN KEY (tenant_id, notice_id) REFERENCES notices (tenant_id, id)
);

ALTER TABLE visits ALTER COLUMN counterpart_id DROP NOT NULL;
ALTER TABLE visits ADD COLUMN ticket_id uuid;
ALTER TABLE visits ADD COLUMN ticket_no text NOT NULL DEFAULT '';
ALTER TABLE visits ADD COLUMN category smallint NOT NULL DEFAULT 0;
ALTER TABLE visits ADD CONSTRAINT visits_subject CHECK ((counterpart_id IS NULL) <> (ticket_id IS NULL));
CREATE UNIQUE INDEX visits_ticket ON visits (tenant_id, ticket_id) WHERE ticket_id IS NOT NULL;

CREATE TABLE sampling_policies (
  tenant_id      text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  percents       smallint[]  NOT NULL CHECK (array_length(percents, 1) = 6
                                             AND 0 <= ALL (percents) AND 100 >= ALL (percents)),
  method         smallint    NOT NULL CHECK (method IN (1, 2)),
  within_days    integer     NOT NULL CHECK (within_days BETWEEN 1 AND 60),
  responsible_id text        NOT NULL DEFAULT '',
  version        integer     NOT NULL DEFAULT 1,
  updated_by     text        NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id)
);

CREATE TABLE sampling_keys (
  tenant_id   text        NOT NULL,
  key         bytea       NOT NULL CHECK (length(key) = 32),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id)
);

CREATE TABLE ticket_samples (
  tenant_id      text        NOT NULL,
  ticket_id      uuid        NOT NULL,
  ticket_no      text        NOT NULL,
  category       smallint    NOT NULL,
  reason         text        NOT NULL,
  percent        smallint    NOT NULL,
  draw           integer     NOT NULL CHECK (draw BETWEEN 0 AND 9999),
  sampled        boolean     NOT NULL,
  policy_version integer     NOT NULL,
  visit_id       uuid,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, ticket_id),
  FOREIGN KEY (tenant_id, visit_id) REFERENCES visits (tenant_id, id),
  CHECK (sampled = (visit_id IS NOT NULL))
);

CREATE TRIGGER notices_append_only BEFORE UPDATE OR DELETE ON notices
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER notices_no_truncate BEFORE TRUNCATE ON notices
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER notice_acks_append_only BEFORE UPDATE OR DELETE ON notice_acks
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER notice_acks_no_truncate BEFORE TRUNCATE ON notice_acks
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ticket_samples_append_only BEFORE UPDATE OR DELETE ON ticket_samples
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ticket_samples_no_truncate BEFORE TRUNCATE ON ticket_samples
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER sampling_keys_no_change BEFORE UPDATE OR DELETE ON sampling_keys
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER sampling_policies_no_delete BEFORE DELETE ON sampling_policies
  FOR EACH ROW EXECUTE FUNCTION refuse_change();

ALTER TABLE notices ENABLE ROW LEVEL SECURITY;
ALTER TABLE notices FORCE ROW LEVEL SECURITY;
ALTER TABLE notice_acks ENABLE ROW LEVEL SECURITY;
ALTER TABLE notice_acks FORCE ROW LEVEL SECURITY;
ALTER TABLE sampling_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE sampling_policies FORCE ROW LEVEL SECURITY;
ALTER TABLE sampling_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE sampling_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE ticket_samples ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_samples FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON notices
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON notice_acks
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON sampling_policies
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON sampling_keys
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON ticket_samples
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT ON notices, notice_acks, sampling_keys, ticket_samples TO @RUNTIME@;
GRANT SELECT, INSERT, UPDATE ON sampling_policies TO @RUNTIME@;
-- the timer writes the notices of what it marks overdue
GRANT SELECT, INSERT ON notices TO @SYSTEM@;
