-- Overdue replies and visits (DESIGN §5.3): a timer per reply task and per
-- planned visit, fired by the system role, marks the task or visit overdue
-- once (overdue_at) and raises a missed-follow-up violation at compliance.

ALTER TABLE reply_tasks ADD COLUMN overdue_at timestamptz;
ALTER TABLE visits ADD COLUMN overdue_at timestamptz;

-- Timer work (system role, acting tenant set by the handler): read and mark
-- the task or visit, write audit entries and the violation's outbox row.
GRANT SELECT, UPDATE (overdue_at) ON reply_tasks, visits TO @SYSTEM@;
GRANT SELECT, INSERT ON audit_log TO @SYSTEM@;
GRANT SELECT, INSERT, UPDATE ON audit_heads TO @SYSTEM@;
GRANT INSERT ON outbox TO @SYSTEM@;
