-- One key per person whose personal data travels sealed in events. Deleting a row erases that
-- person's data from every stored or published event (crypto-shredding); keep it out of backups
-- that outlive an erasure request.
CREATE TABLE IF NOT EXISTS personal_data_keys (
    key_id       text PRIMARY KEY,
    subject_id   text NOT NULL UNIQUE,
    key          bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz
);
