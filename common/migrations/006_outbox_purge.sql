-- Delivered outbox rows are deleted once they are older than the relay's
-- HOTLINE_OUTBOX_KEEP_DELIVERED (outbox.c, purge): the outbox and its indexes
-- stay the size of the backlog plus that window instead of growing with every
-- row ever sent, which every enqueue and claim would pay for. The receivers'
-- inboxes keep the record of what was applied.
-- The system role may delete delivered rows only: undelivered and dead rows
-- (an effect still owed) cannot be removed by the relay's credentials.
SET LOCAL search_path = @SCHEMA@;
CREATE INDEX outbox_delivered ON @SCHEMA@.outbox (delivered_at) WHERE delivered_at IS NOT NULL;
GRANT DELETE ON @SCHEMA@.outbox TO @SYSTEM@;
CREATE POLICY purge_delivered_only ON @SCHEMA@.outbox AS RESTRICTIVE FOR DELETE TO @SYSTEM@
  USING (delivered_at IS NOT NULL);
