-- Operators re-drive dead letters of their tenant through OutboxService
-- (the runtime role, row-level security as everywhere).
SET LOCAL search_path = @SCHEMA@;
GRANT UPDATE (dead_at, next_attempt_at, attempts, last_error) ON @SCHEMA@.outbox TO @RUNTIME@;
