-- Review gates (DESIGN R19, "no implementation without review"): the tenant's
-- gate rules (working state, changed in place and audited; built-in defaults
-- apply to an action the tenant has no rule for), the reviews a gated action
-- needs (the request, append-only, bound to the SHA-256 of the content) and
-- their decisions (append-only, one per review, archived in the audit chain).

CREATE TABLE gate_rules (
  tenant_id            text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  id                   text        NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
  action               text        NOT NULL,
  subject_type         text        NOT NULL DEFAULT '',
  categories           integer[]   NOT NULL DEFAULT '{}',
  min_priority         smallint    NOT NULL DEFAULT 0,
  min_extension_hours  integer     NOT NULL DEFAULT 0 CHECK (min_extension_hours >= 0),
  reviewer_role        text        NOT NULL DEFAULT 'reviewer',
  enabled              boolean     NOT NULL DEFAULT true,
  updated_by           text        NOT NULL,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX gate_rules_action ON gate_rules (tenant_id, action);

CREATE TABLE reviews (
  tenant_id       text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  id              uuid        NOT NULL,
  request_id      text,
  action          text        NOT NULL,
  subject_type    text        NOT NULL DEFAULT '',
  subject_id      text        NOT NULL,
  content_digest  text        NOT NULL CHECK (content_digest ~ '^[0-9a-f]{64}$'),
  ticket_id       text        NOT NULL DEFAULT '',
  department_id   text        NOT NULL DEFAULT '',
  summary         text        NOT NULL DEFAULT '',
  rule_id         text        NOT NULL DEFAULT '',
  reviewer_role   text        NOT NULL,
  requested_by    text        NOT NULL,
  requested_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX reviews_request ON reviews (tenant_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX reviews_content ON reviews (tenant_id, action, subject_type, subject_id, content_digest, requested_at);

CREATE TABLE review_decisions (
  tenant_id   text        NOT NULL,
  review_id   uuid        NOT NULL,
  approved    boolean     NOT NULL,
  opinion     text        NOT NULL DEFAULT '',
  decided_by  text        NOT NULL,
  decided_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, review_id),
  FOREIGN KEY (tenant_id, review_id) REFERENCES reviews (tenant_id, id),
  CHECK (approved OR opinion <> '')
);

CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON reviews
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER reviews_no_truncate BEFORE TRUNCATE ON reviews
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER review_decisions_append_only BEFORE UPDATE OR DELETE ON review_decisions
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER review_decisions_no_truncate BEFORE TRUNCATE ON review_decisions
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER gate_rules_no_delete BEFORE DELETE ON gate_rules
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER gate_rules_no_truncate BEFORE TRUNCATE ON gate_rules
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

ALTER TABLE gate_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE gate_rules FORCE ROW LEVEL SECURITY;
ALTER TABLE reviews ENABLE ROW LEVEL SECURITY;
ALTER TABLE reviews FORCE ROW LEVEL SECURITY;
ALTER TABLE review_decisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE review_decisions FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON gate_rules
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON reviews
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON review_decisions
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT, UPDATE ON gate_rules TO @RUNTIME@;
GRANT SELECT, INSERT ON reviews, review_decisions TO @RUNTIME@;
