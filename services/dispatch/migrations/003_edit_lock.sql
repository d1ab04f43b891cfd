-- 003_edit_lock.sql - the edit lock's token is recorded with its fence on the case.
--
-- LockCase stores the SHA-256 of the token it hands out (the token is "<fence>.<random>");
-- while Redis cannot vouch for a token, a change is accepted only with the token whose
-- digest the case holds, so a client can never write with a fence it made up.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS lock_digest text;
