-- Names for the letters (from gradebook.events.v1) and guardians' addresses (identity.events.v1).
CREATE TABLE IF NOT EXISTS reference_subjects (subject_id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE IF NOT EXISTS reference_classes (class_id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE IF NOT EXISTS reference_schools (school_id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE IF NOT EXISTS reference_periods (period_id uuid PRIMARY KEY, name text NOT NULL);
CREATE TABLE IF NOT EXISTS guardian_addresses (account_id uuid PRIMARY KEY, email text NOT NULL);

-- What each guardian asked for; no row = the defaults.
CREATE TABLE IF NOT EXISTS preferences (
    account_id  uuid PRIMARY KEY,
    kinds       text[] NOT NULL,
    email       boolean NOT NULL,
    feed        boolean NOT NULL,
    mode        text NOT NULL,
    quiet_from  time,
    quiet_to    time,
    digest_at   time NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

-- Every delivery, once: (source event, guardian, channel) is unique whatever faust redelivers.
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id     uuid PRIMARY KEY,
    event_id        text NOT NULL,
    account_id      uuid NOT NULL,
    channel         text NOT NULL,
    kind            text NOT NULL,
    notice          jsonb NOT NULL,
    occurred_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- e-mail only: when it may go, which digest it belongs to, how sending went
    send_after      timestamptz,
    digest_day      date,
    status          text NOT NULL,          -- feed: 'delivered'; e-mail: pending | sent | failed
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    leased_until    timestamptz,
    last_error      text,
    sent_at         timestamptz,
    read_at         timestamptz,            -- feed only
    UNIQUE (event_id, account_id, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_feed ON deliveries (account_id, occurred_at DESC) WHERE channel = 'feed';
CREATE INDEX IF NOT EXISTS deliveries_unread ON deliveries (account_id) WHERE channel = 'feed' AND read_at IS NULL;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at)
    WHERE channel = 'email' AND status = 'pending';
