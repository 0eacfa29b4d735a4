-- The kernel's tables, the same in every service's database.

-- One row per aggregate: its type and current version. Updating it with the expected version
-- is what makes two concurrent writers of one stream collide (exactly one wins).
CREATE TABLE IF NOT EXISTS event_streams (
    stream_id   text PRIMARY KEY,
    stream_type text NOT NULL,
    version     integer NOT NULL CHECK (version > 0)
);

-- The event store. `position` is the global order of insertion; `tx_id` is the writing
-- transaction, which readers that follow the whole log use to never pass over a row whose
-- transaction commits late (see EventStore.read_all).
CREATE TABLE IF NOT EXISTS events (
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id   text NOT NULL REFERENCES event_streams (stream_id),
    version     integer NOT NULL,
    event_id    uuid NOT NULL UNIQUE,
    event_type  text NOT NULL,
    data        jsonb NOT NULL,
    metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (stream_id, version)
);
CREATE INDEX IF NOT EXISTS events_commit_order ON events (tx_id, position);

-- Transactional outbox: written in the same transaction as the events, emptied by the relay.
CREATE TABLE IF NOT EXISTS outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    topic        text NOT NULL,
    key          bytea,
    value        bytea NOT NULL,
    headers      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (tx_id, id) WHERE published_at IS NULL;

-- Inbox of the read side: an event id recorded here, in the same transaction as the read-model
-- change, is never applied again by that projection.
CREATE TABLE IF NOT EXISTS processed_events (
    projection   text NOT NULL,
    event_id     text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (projection, event_id)
);
