-- Delivery order is kept per subject AND target: a receiver sees a subject's
-- rows in order, and a target that is down (or not deployed yet) never holds
-- back the rows of the same subject to other targets.
SET LOCAL search_path = @SCHEMA@;
DROP INDEX @SCHEMA@.outbox_subject;
CREATE INDEX outbox_subject ON @SCHEMA@.outbox (tenant_id, subject_id, target, id)
  WHERE delivered_at IS NULL AND dead_at IS NULL;
