-- The outbox and the timers are queues: every delivery or firing updates a
-- row out of a partial index, and claims walk that index from its start, so
-- dead entries slow every claim until VACUUM removes them. Vacuum them after
-- a fixed number of changes (not a share of the table) and without the cost
-- delay. (Deployments also keep autovacuum_naptime short: see
-- docs/operations.md.)
SET LOCAL search_path = @SCHEMA@;
ALTER TABLE @SCHEMA@.outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000,
  autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE @SCHEMA@.timers SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000,
  autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);
