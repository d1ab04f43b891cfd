-- The test peer's schema (tests/peer/): the effects a receiver recorded, in
-- arrival order, and the latest version of each subject.  Deliberately no
-- unique key on (subject, version) in effects: the tests count doubles,
-- which the inbox and the version check under the subject's row lock must
-- prevent by themselves.

SET LOCAL search_path = @SCHEMA@;

CREATE TABLE effects (
  tenant_id       text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  seq             bigint      GENERATED ALWAYS AS IDENTITY,  -- arrival order
  stream          text        NOT NULL,  -- apply, dispatch (SubmitTicket), reporting (RecordEvents)
  subject_id      text        NOT NULL,
  version         bigint      NOT NULL,
  payload         text        NOT NULL,
  actor           text        NOT NULL,
  idempotency_key text,                  -- NULL for a call without one
  applied_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX effects_subject ON effects (tenant_id, stream, subject_id, seq);

CREATE TABLE subjects (
  tenant_id      text   NOT NULL,
  stream         text   NOT NULL,
  subject_id     text   NOT NULL,
  latest_version bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, stream, subject_id)
);

ALTER TABLE effects ENABLE ROW LEVEL SECURITY;
ALTER TABLE effects FORCE ROW LEVEL SECURITY;
ALTER TABLE subjects ENABLE ROW LEVEL SECURITY;
ALTER TABLE subjects FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON effects
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON subjects
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT ON effects TO @RUNTIME@;
GRANT SELECT, INSERT, UPDATE ON subjects TO @RUNTIME@;
