-- A request_id names one request: the keyed digest of the request without its
-- request_id is stored with what it created, so that a repeat with another
-- body is refused instead of answered with the first result (R31).  NULL for
-- rows made before this migration (their repeats are answered as before).

SET LOCAL search_path = @SCHEMA@;

ALTER TABLE tickets ADD COLUMN request_digest text;
ALTER TABLE amendments ADD COLUMN request_digest text;
