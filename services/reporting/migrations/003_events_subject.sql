-- Events are read by subject only for subjects that are not tickets: a visit,
-- a compliance subject (rpc_events.c refolds a subject only when it is not the
-- event's ticket; store.c reads it with subject_id <> ticket_id). A ticket's
-- events are read by ticket_id (events_ticket). Most events are about a
-- ticket, their subject the ticket itself, and the subject index held a
-- second entry for each of them (five a ticket in the pipeline) that no read
-- used.
DROP INDEX events_subject;
CREATE INDEX events_subject ON events (tenant_id, subject_id) WHERE subject_id <> ticket_id;
