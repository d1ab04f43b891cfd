-- pgbench_plain.sql - the floor of the CreateTicket benchmark: the cheapest durable
-- transaction that records a ticket and one message about it on this box: two single-row
-- inserts into plain tables (a primary key each, no row-level security, no triggers, no
-- secondary index) and COMMIT, with synchronous_commit on. bench/intake/run.sh creates the
-- tables (schema bench_plain) and runs it with -M prepared next to pgbench_create.sql, so
-- the figures show how far the service's real SQL is from the box's plain insert rate.
\set n random(1, 6)
BEGIN;
INSERT INTO bench_plain.tickets (id, body) VALUES (gen_random_uuid(), repeat('市民反映', 20 * :n)) RETURNING id \gset
INSERT INTO bench_plain.events (ticket_id, payload) VALUES (:id, convert_to(repeat('event', 40), 'UTF8'));
COMMIT;
