-- CreateTicket writes a ticket, its registration record and its first public note in one
-- statement group of one transaction (rpc_create.c), and a ticket is never deleted (its
-- BEFORE DELETE and TRUNCATE triggers refuse): the foreign keys from registrations and
-- public_notes to tickets can never find an orphan, yet each costs every registration a
-- lookup in tickets and a trigger call per row. They go; amendments keep theirs (not on the
-- registration path).
SET LOCAL search_path = @SCHEMA@;
ALTER TABLE registrations DROP CONSTRAINT registrations_tenant_id_ticket_id_fkey;
ALTER TABLE public_notes DROP CONSTRAINT public_notes_tenant_id_ticket_id_fkey;
