-- 004's trigger blanks any clear mask an older replica still writes during a rolling
-- upgrade. It ran its plpgsql function on every ticket insert, although this release never
-- writes a mask: with a WHEN condition, PostgreSQL evaluates the test itself and calls the
-- function only for a row that carries a mask (CreateTicket's hot path no longer pays for it).
SET LOCAL search_path = @SCHEMA@;
DROP TRIGGER tickets_no_clear_masks ON tickets;
CREATE TRIGGER tickets_no_clear_masks BEFORE INSERT OR UPDATE OF masked_name, masked_phone, masked_id_number,
  masked_address, masked_email ON tickets FOR EACH ROW
  WHEN (NEW.masked_name <> '' OR NEW.masked_phone <> '' OR NEW.masked_id_number <> '' OR NEW.masked_address <> ''
        OR NEW.masked_email <> '')
  EXECUTE FUNCTION no_clear_masks();
