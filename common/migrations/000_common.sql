-- Shared objects of every service schema: the append-only guard, the audit
-- hash chain (DESIGN §5.4) and the inbox/outbox tables (DESIGN §5.6).
-- @SCHEMA@, @RUNTIME@ and @SYSTEM@ are substituted by the migrator.

SET LOCAL search_path = @SCHEMA@;

-- The acting tenant of the transaction, NULL when unset (a fresh connection
-- returns NULL, a used one '').
CREATE FUNCTION @SCHEMA@.current_tenant() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT NULLIF(current_setting('hotline.tenant', true), '') $$;

-- Record tables refuse UPDATE, DELETE and TRUNCATE.
CREATE FUNCTION @SCHEMA@.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'table %.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TABLE @SCHEMA@.audit_log (
  tenant_id    text   NOT NULL,
  subject_type text   NOT NULL,
  subject_id   text   NOT NULL,
  seq          bigint NOT NULL CHECK (seq > 0),
  actor        text   NOT NULL,
  action       text   NOT NULL,
  at_us        bigint NOT NULL,
  details      text   NOT NULL,
  prev_hash    bytea  NOT NULL,
  hash         bytea  NOT NULL,
  PRIMARY KEY (tenant_id, subject_id, seq)
);

CREATE TABLE @SCHEMA@.audit_heads (
  tenant_id    text   NOT NULL,
  subject_id   text   NOT NULL,
  subject_type text   NOT NULL,
  entries      bigint NOT NULL,
  head_hash    bytea  NOT NULL,
  PRIMARY KEY (tenant_id, subject_id)
);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON @SCHEMA@.audit_log
  FOR EACH ROW EXECUTE FUNCTION @SCHEMA@.refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON @SCHEMA@.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION @SCHEMA@.refuse_change();
CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON @SCHEMA@.audit_heads
  FOR EACH ROW EXECUTE FUNCTION @SCHEMA@.refuse_change();
CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON @SCHEMA@.audit_heads
  FOR EACH STATEMENT EXECUTE FUNCTION @SCHEMA@.refuse_change();

-- Outbox: business change and delivery intent commit together.
CREATE TABLE @SCHEMA@.outbox (
  tenant_id       text        NOT NULL,
  id              bigint      GENERATED ALWAYS AS IDENTITY,
  subject_id      text        NOT NULL,
  target          text        NOT NULL,   -- service name, e.g. dispatch
  method          text        NOT NULL,   -- full gRPC path
  idempotency_key text        NOT NULL,
  actor           text        NOT NULL,
  payload         bytea       NOT NULL,   -- serialized request, never personal data
  created_at      timestamptz NOT NULL DEFAULT now(),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  delivered_at    timestamptz,
  dead_at         timestamptz,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX outbox_pending ON @SCHEMA@.outbox (next_attempt_at, id)
  WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_subject ON @SCHEMA@.outbox (tenant_id, subject_id, id)
  WHERE delivered_at IS NULL AND dead_at IS NULL;

-- Inbox: the idempotency keys a receiver has applied, with the first answer.
CREATE TABLE @SCHEMA@.inbox (
  tenant_id       text        NOT NULL,
  idempotency_key text        NOT NULL,
  method          text        NOT NULL,
  response        bytea       NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, idempotency_key)
);

-- Row-level security on every tenant table, forced for the owner too.
ALTER TABLE @SCHEMA@.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.audit_log FORCE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.audit_heads FORCE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.outbox FORCE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE @SCHEMA@.inbox FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON @SCHEMA@.audit_log
  USING (tenant_id = @SCHEMA@.current_tenant()) WITH CHECK (tenant_id = @SCHEMA@.current_tenant());
CREATE POLICY tenant_rows ON @SCHEMA@.audit_heads
  USING (tenant_id = @SCHEMA@.current_tenant()) WITH CHECK (tenant_id = @SCHEMA@.current_tenant());
CREATE POLICY tenant_rows ON @SCHEMA@.outbox
  USING (tenant_id = @SCHEMA@.current_tenant()) WITH CHECK (tenant_id = @SCHEMA@.current_tenant());
CREATE POLICY tenant_rows ON @SCHEMA@.inbox
  USING (tenant_id = @SCHEMA@.current_tenant()) WITH CHECK (tenant_id = @SCHEMA@.current_tenant());

-- The system role (relay) reads and marks the outbox of every tenant; nothing else.
CREATE POLICY relay_rows ON @SCHEMA@.outbox TO @SYSTEM@ USING (true) WITH CHECK (true);

GRANT USAGE ON SCHEMA @SCHEMA@ TO @RUNTIME@, @SYSTEM@;
GRANT EXECUTE ON FUNCTION @SCHEMA@.current_tenant() TO @RUNTIME@, @SYSTEM@;
GRANT SELECT, INSERT ON @SCHEMA@.audit_log TO @RUNTIME@;
GRANT SELECT, INSERT, UPDATE ON @SCHEMA@.audit_heads TO @RUNTIME@;
GRANT SELECT, INSERT ON @SCHEMA@.outbox TO @RUNTIME@;
GRANT SELECT, INSERT ON @SCHEMA@.inbox TO @RUNTIME@;
GRANT SELECT, UPDATE ON @SCHEMA@.outbox TO @SYSTEM@;
