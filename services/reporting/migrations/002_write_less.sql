-- Fewer index entries for what every ticket brings to reporting.
--
-- The event type is read in one place only: the daily report's count of
-- reopened cases in its window (store_report.c). An index of every event by
-- type cost an entry for each of the ~5 events a ticket brings and served
-- that one count; a partial index holds the reopenings alone.
DROP INDEX events_type;
CREATE INDEX events_reopened ON events (tenant_id, occurred_at) WHERE type = 'case.reopened';
-- A ticket's facts are rewritten on each of its events, mostly shortly after
-- the row was inserted and without changing an indexed column; with room
-- left in the page those rewrites are HOT (no new index entries). With full
-- pages only 12% were.
ALTER TABLE ticket_facts SET (fillfactor = 80);
