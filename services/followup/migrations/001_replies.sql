-- Replies to the citizen (反馈) and the reopen-until-satisfied loop (DESIGN R15, §4.1):
-- one reply task per round of handling of a case (working state, changed in
-- place and audited), and the replies recorded on it (append-only record).

CREATE TABLE reply_tasks (
  tenant_id      text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  id             uuid        NOT NULL,
  ticket_id      uuid        NOT NULL,
  ticket_no      text        NOT NULL,
  case_id        uuid        NOT NULL,
  round          integer     NOT NULL CHECK (round >= 0),   -- dispatch's reopen count
  department_id  text        NOT NULL DEFAULT '',
  category       smallint    NOT NULL,
  priority       smallint    NOT NULL,
  result_text    text        NOT NULL DEFAULT '',
  result_digest  text        NOT NULL DEFAULT '',
  approved_by    text        NOT NULL DEFAULT '',
  approved_at    timestamptz,
  registered_by  text        NOT NULL DEFAULT '',
  assignee_id    text,                                      -- NULL: the agent pool
  status         smallint    NOT NULL CHECK (status BETWEEN 1 AND 5),
  attempts       integer     NOT NULL DEFAULT 0,            -- unreachable contacts
  due_at         timestamptz,
  closed_at      timestamptz,
  closed_by      text,
  close_reason   text,
  version        bigint      NOT NULL DEFAULT 1,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX reply_tasks_round ON reply_tasks (tenant_id, case_id, round);
CREATE INDEX reply_tasks_ticket ON reply_tasks (tenant_id, ticket_id);
CREATE INDEX reply_tasks_queue ON reply_tasks (tenant_id, status, assignee_id, id);

-- Every contact with the citizen, in order: the record, never changed (R18).
CREATE TABLE replies (
  tenant_id          text        NOT NULL,
  id                 uuid        NOT NULL,
  task_id            uuid        NOT NULL,
  seq                integer     NOT NULL CHECK (seq > 0),
  request_id         text,
  method             smallint    NOT NULL CHECK (method BETWEEN 1 AND 5),
  content            text        NOT NULL,
  outcome            smallint    NOT NULL CHECK (outcome IN (1, 2)),
  satisfaction       smallint    NOT NULL DEFAULT 0 CHECK (satisfaction BETWEEN 0 AND 4),
  unsatisfied_reason text        NOT NULL DEFAULT '',
  recorded_by        text        NOT NULL,
  recorded_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, task_id) REFERENCES reply_tasks (tenant_id, id),
  CHECK (outcome = 2 OR satisfaction > 0),
  CHECK (satisfaction <> 4 OR unsatisfied_reason <> '')
);
CREATE UNIQUE INDEX replies_seq ON replies (tenant_id, task_id, seq);
CREATE UNIQUE INDEX replies_request ON replies (tenant_id, request_id) WHERE request_id IS NOT NULL;

CREATE TRIGGER replies_append_only BEFORE UPDATE OR DELETE ON replies
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER replies_no_truncate BEFORE TRUNCATE ON replies
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER reply_tasks_no_delete BEFORE DELETE ON reply_tasks
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER reply_tasks_no_truncate BEFORE TRUNCATE ON reply_tasks
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

ALTER TABLE reply_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE reply_tasks FORCE ROW LEVEL SECURITY;
ALTER TABLE replies ENABLE ROW LEVEL SECURITY;
ALTER TABLE replies FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON reply_tasks
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON replies
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT, UPDATE ON reply_tasks TO @RUNTIME@;
GRANT SELECT, INSERT ON replies TO @RUNTIME@;
-- The system role does no reply work yet (no timers): it only relays the outbox.
