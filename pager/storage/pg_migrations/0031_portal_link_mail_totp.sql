-- pagerd schema v31 (PostgreSQL; the SQLite migration of the same number): password links mailed to their
-- account (`text` and `html` emptied once sent or given up: the link's token is kept nowhere else), and the
-- second factor of staff accounts (TOTP) with the sessions still waiting for its code (`factor_due`).
CREATE TABLE portal_link_mail (
    id          BIGINT PRIMARY KEY,
    token_hash  TEXT NOT NULL REFERENCES portal_password_links (token_hash),
    address     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    text        TEXT NOT NULL,
    html        TEXT NOT NULL,
    language    TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    due_at      TEXT NOT NULL,
    error       TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX portal_link_mail_due ON portal_link_mail (due_at) WHERE status = 'pending';
CREATE FUNCTION portal_link_mail_id_next() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        SELECT coalesce(max(id), 0) + 1 INTO NEW.id FROM portal_link_mail;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER portal_link_mail_id_next BEFORE INSERT ON portal_link_mail FOR EACH ROW EXECUTE FUNCTION portal_link_mail_id_next();

ALTER TABLE portal_accounts ADD COLUMN totp_secret TEXT;
ALTER TABLE portal_accounts ADD COLUMN totp_pending TEXT;
ALTER TABLE portal_accounts ADD COLUMN totp_last_step BIGINT;
ALTER TABLE portal_sessions ADD COLUMN factor_due BIGINT NOT NULL DEFAULT 0 CHECK (factor_due IN (0, 1));
