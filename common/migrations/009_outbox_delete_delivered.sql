-- The relay deletes a row as it delivers it (HOTLINE_OUTBOX_KEEP_DELIVERED=0,
-- the default; outbox.c): marking it delivered wrote a new version of the row
-- and new entries in three of the outbox's indexes, and the purge deleted it
-- later anyway. The receivers' inboxes keep the record of what was applied. A
-- row is the relay's to delete once it is delivered, or while it holds the
-- row's lease (a claim in flight); rows waiting or dead (an effect still
-- owed) still cannot be removed with the relay's credentials.
SET LOCAL search_path = @SCHEMA@;
DROP POLICY purge_delivered_only ON @SCHEMA@.outbox;
CREATE POLICY delete_delivered_only ON @SCHEMA@.outbox AS RESTRICTIVE FOR DELETE TO @SYSTEM@
  USING (delivered_at IS NOT NULL OR leased_until IS NOT NULL);
