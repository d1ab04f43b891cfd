-- Re-check sampling (R18): whether a visit record was drawn for a re-check by
-- someone else (every record that found a problem, and a configured share of
-- the others, drawn at random when the record is made).

ALTER TABLE visit_records ADD COLUMN recheck_sampled boolean NOT NULL DEFAULT false;
