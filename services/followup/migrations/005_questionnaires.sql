-- Questionnaires (问卷): templates of questions with answer types, one row per
-- version (append-only: a change is a new version); a visit record names the
-- questionnaire version its answers were checked against.

CREATE TABLE questionnaires (
  tenant_id   text        NOT NULL,
  id          text        NOT NULL,
  version     integer     NOT NULL CHECK (version > 0),
  name        text        NOT NULL,
  body        bytea       NOT NULL,   -- hotline.followup.v1.Questionnaire, serialized
  created_by  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id, version)
);
CREATE TRIGGER questionnaires_append_only BEFORE UPDATE OR DELETE ON questionnaires
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER questionnaires_no_truncate BEFORE TRUNCATE ON questionnaires
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
ALTER TABLE questionnaires ENABLE ROW LEVEL SECURITY;
ALTER TABLE questionnaires FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON questionnaires
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
GRANT SELECT, INSERT ON questionnaires TO @RUNTIME@;

ALTER TABLE visit_records ADD COLUMN questionnaire_id text;
ALTER TABLE visit_records ADD COLUMN questionnaire_version integer;
