-- Masks and phone indexes do not survive the destruction of a retention-period key (R28,
-- docs/security.md §5.2).  Masks are derived at read time from the ciphertexts, so no clear mask
-- is stored any more: the masked_* columns are emptied here and kept empty by a trigger (an older
-- replica still writing them during a rolling upgrade writes ''); they are dropped a release later.
-- Caller-field amendments keep their old value as ciphertext (old_cipher, beside new_cipher)
-- instead of clear masks: filled here from the value before each amendment (the previous
-- amendment's new_cipher, else the registration's ciphertext - both sealed for the ticket row).
-- Phone indexes made from now on are keyed per retention period and stored as "v2:<hex>"; an
-- index without that prefix was made under the former tenant-wide key and is matched only while
-- its period lives, and cleared when it is destroyed (hotline-intake destroy-period).

SET LOCAL search_path = @SCHEMA@;

ALTER TABLE amendments ADD COLUMN old_cipher bytea;

-- the owner is subject to row-level security too (FORCE): lift it for this transaction's backfill
ALTER TABLE tickets NO FORCE ROW LEVEL SECURITY;
ALTER TABLE amendments NO FORCE ROW LEVEL SECURITY;
ALTER TABLE amendments DISABLE TRIGGER amendments_append_only;

UPDATE amendments a SET old_cipher = CASE
    WHEN EXISTS (SELECT 1 FROM amendments p WHERE p.tenant_id = a.tenant_id AND p.ticket_id = a.ticket_id
                 AND p.field = a.field AND (p.created_at, p.id) < (a.created_at, a.id))
    THEN (SELECT p.new_cipher FROM amendments p WHERE p.tenant_id = a.tenant_id AND p.ticket_id = a.ticket_id
          AND p.field = a.field AND (p.created_at, p.id) < (a.created_at, a.id)
          ORDER BY p.created_at DESC, p.id DESC LIMIT 1)
    ELSE (SELECT CASE a.field WHEN 'caller.name' THEN r.caller_name WHEN 'caller.phone' THEN r.caller_phone
                 WHEN 'caller.id_number' THEN r.caller_id_number WHEN 'caller.address' THEN r.caller_address
                 ELSE r.caller_email END
          FROM registrations r WHERE r.tenant_id = a.tenant_id AND r.ticket_id = a.ticket_id)
  END,
  old_value = '', new_value = ''
WHERE a.field LIKE 'caller.%';

UPDATE tickets SET masked_name = '', masked_phone = '', masked_id_number = '', masked_address = '',
  masked_email = ''
WHERE masked_name <> '' OR masked_phone <> '' OR masked_id_number <> '' OR masked_address <> ''
  OR masked_email <> '';

ALTER TABLE amendments ENABLE TRIGGER amendments_append_only;
ALTER TABLE amendments FORCE ROW LEVEL SECURITY;
ALTER TABLE tickets FORCE ROW LEVEL SECURITY;

CREATE FUNCTION no_clear_masks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'tickets' THEN
    NEW.masked_name := ''; NEW.masked_phone := ''; NEW.masked_id_number := '';
    NEW.masked_address := ''; NEW.masked_email := '';
  ELSIF NEW.field LIKE 'caller.%' THEN
    NEW.old_value := ''; NEW.new_value := '';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tickets_no_clear_masks BEFORE INSERT OR UPDATE OF masked_name, masked_phone, masked_id_number,
  masked_address, masked_email ON tickets FOR EACH ROW EXECUTE FUNCTION no_clear_masks();
CREATE TRIGGER amendments_no_clear_masks BEFORE INSERT ON amendments
  FOR EACH ROW EXECUTE FUNCTION no_clear_masks();
