-- Routing a ticket writes its case, the case's first steps and its deadlines in one transaction
-- (rpc_route.c), and every later step or deadline is written by a call that has read or locked
-- its case in the same transaction; a case is never deleted nor truncated (cases_no_delete,
-- cases_no_truncate). So the foreign keys from case_steps and deadlines to cases can never find
-- an orphan, yet each costs every row a trigger call, a look-up in cases and a row lock on the
-- case (a WAL record): two steps and two deadlines per routed ticket. They go; pauses,
-- extensions and notices keep theirs (not on the routing path). The same reasoning as intake's
-- 006_hot_path_foreign_keys.
SET LOCAL search_path = @SCHEMA@;
ALTER TABLE case_steps DROP CONSTRAINT case_steps_tenant_id_case_id_fkey;
ALTER TABLE deadlines DROP CONSTRAINT deadlines_tenant_id_case_id_fkey;
