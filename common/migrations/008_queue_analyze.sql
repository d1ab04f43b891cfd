-- The outbox and the timers are queues: their rows come and go within seconds
-- to minutes, so their statistics are stale as soon as they are taken, and
-- the statements that read them do not depend on them (the relay's claim rules
-- out the plans that would, outbox.c). ANALYZE samples 300 rows per unit of
-- the statistics target, and at the default (100) it read nearly every page of
-- an outbox of 150 MB: half a second of CPU each time, and with 2% of changes
-- as the trigger it ran at every autovacuum round (every 5 s) under load. A
-- target of 10 samples 3,000 rows, and a fifth of the table changed triggers it.
SET LOCAL search_path = @SCHEMA@;
ALTER TABLE @SCHEMA@.outbox SET (autovacuum_analyze_scale_factor = 0.2);
ALTER TABLE @SCHEMA@.timers SET (autovacuum_analyze_scale_factor = 0.2);
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = '@SCHEMA@' AND c.relname IN ('outbox', 'timers') AND a.attnum > 0
        AND NOT a.attisdropped AND a.attstattarget <> 0 LOOP
    EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN %I SET STATISTICS 10', '@SCHEMA@', r.relname, r.attname);
  END LOOP;
END $$;
