-- Intake schema: tickets (working state), registrations, amendments and
-- public notes (append-only records). Caller data is stored only encrypted
-- (AES-256-GCM under a per-ticket data key, wrapped by the retention-period
-- key kept outside the database) plus its masked form and a blind index.

SET LOCAL search_path = @SCHEMA@;

CREATE SEQUENCE ticket_no_seq AS bigint CACHE 20;

CREATE TABLE tickets (
  tenant_id        text        NOT NULL CHECK (tenant_id ~ '^[a-z0-9-]{2,32}$'),
  id               uuid        NOT NULL,
  ticket_no        text        NOT NULL,
  request_id       text,
  status           smallint    NOT NULL,
  status_version   bigint      NOT NULL DEFAULT 0,
  channel          smallint    NOT NULL,
  category         smallint    NOT NULL,
  priority         smallint    NOT NULL,
  confidentiality  smallint    NOT NULL,
  topic            text        NOT NULL,
  description      text        NOT NULL,
  area             text        NOT NULL DEFAULT '',
  anonymous        boolean     NOT NULL DEFAULT false,
  answer           text        NOT NULL DEFAULT '',
  registered_by    text        NOT NULL,
  repeat_caller    boolean     NOT NULL DEFAULT false,
  phone_index      text,                          -- HMAC blind index of the phone
  key_period       text        NOT NULL,          -- retention period of the wrapping key
  wrapped_key      bytea       NOT NULL,          -- the ticket's data key, wrapped
  caller_name      bytea,                         -- ciphertexts
  caller_phone     bytea,
  caller_id_number bytea,
  caller_address   bytea,
  caller_email     bytea,
  masked_name      text        NOT NULL DEFAULT '',
  masked_phone     text        NOT NULL DEFAULT '',
  masked_id_number text        NOT NULL DEFAULT '',
  masked_address   text        NOT NULL DEFAULT '',
  masked_email     text        NOT NULL DEFAULT '',
  query_code       bytea       NOT NULL,          -- encrypted; shown only at creation
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  CONSTRAINT tickets_number UNIQUE (tenant_id, ticket_no)
);
CREATE UNIQUE INDEX tickets_request ON tickets (tenant_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX tickets_recent ON tickets (tenant_id, created_at DESC, id DESC);
CREATE INDEX tickets_phone ON tickets (tenant_id, phone_index, created_at DESC) WHERE phone_index IS NOT NULL;
CREATE INDEX tickets_status ON tickets (tenant_id, status, created_at DESC);

-- The content exactly as registered (R4: never edited in place).
CREATE TABLE registrations (
  tenant_id        text        NOT NULL,
  ticket_id        uuid        NOT NULL,
  channel          smallint    NOT NULL,
  category         smallint    NOT NULL,
  priority         smallint    NOT NULL,
  confidentiality  smallint    NOT NULL,
  topic            text        NOT NULL,
  description      text        NOT NULL,
  area             text        NOT NULL,
  anonymous        boolean     NOT NULL,
  answer           text        NOT NULL,
  registered_by    text        NOT NULL,
  caller_name      bytea,
  caller_phone     bytea,
  caller_id_number bytea,
  caller_address   bytea,
  caller_email     bytea,
  registered_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, ticket_id),
  FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);

-- Corrections, appended with a reason and an author.
CREATE TABLE amendments (
  tenant_id   text        NOT NULL,
  id          uuid        NOT NULL,
  ticket_id   uuid        NOT NULL,
  request_id  text,
  field       text        NOT NULL,
  old_value   text        NOT NULL,  -- masked for caller fields
  new_value   text        NOT NULL,  -- masked for caller fields
  new_cipher  bytea,                 -- the new caller value, encrypted
  reason      text        NOT NULL,
  author      text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);
CREATE INDEX amendments_ticket ON amendments (tenant_id, ticket_id, created_at);
CREATE UNIQUE INDEX amendments_request ON amendments (tenant_id, request_id) WHERE request_id IS NOT NULL;

-- What the citizen is told along the way (no personal data).
CREATE TABLE public_notes (
  tenant_id   text        NOT NULL,
  id          bigint      GENERATED ALWAYS AS IDENTITY,
  ticket_id   uuid        NOT NULL,
  status      smallint    NOT NULL,
  note        text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);
CREATE INDEX public_notes_ticket ON public_notes (tenant_id, ticket_id, id);

CREATE TRIGGER registrations_append_only BEFORE UPDATE OR DELETE ON registrations
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER amendments_append_only BEFORE UPDATE OR DELETE ON amendments
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER public_notes_append_only BEFORE UPDATE OR DELETE ON public_notes
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER registrations_no_truncate BEFORE TRUNCATE ON registrations
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER amendments_no_truncate BEFORE TRUNCATE ON amendments
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER public_notes_no_truncate BEFORE TRUNCATE ON public_notes
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
-- Tickets are working state, but are never deleted (archiving and destruction
-- of caller data is done by destroying retention-period keys).
CREATE TRIGGER tickets_no_delete BEFORE DELETE ON tickets
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER tickets_no_truncate BEFORE TRUNCATE ON tickets
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

ALTER TABLE tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE tickets FORCE ROW LEVEL SECURITY;
ALTER TABLE registrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE registrations FORCE ROW LEVEL SECURITY;
ALTER TABLE amendments ENABLE ROW LEVEL SECURITY;
ALTER TABLE amendments FORCE ROW LEVEL SECURITY;
ALTER TABLE public_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE public_notes FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_rows ON tickets
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON registrations
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON amendments
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());
CREATE POLICY tenant_rows ON public_notes
  USING (tenant_id = current_tenant()) WITH CHECK (tenant_id = current_tenant());

GRANT SELECT, INSERT, UPDATE ON tickets TO @RUNTIME@;
GRANT SELECT, INSERT ON registrations, amendments, public_notes TO @RUNTIME@;
GRANT USAGE ON SEQUENCE ticket_no_seq TO @RUNTIME@;
