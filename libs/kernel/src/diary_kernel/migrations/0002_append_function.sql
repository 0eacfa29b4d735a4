-- Append in one round trip: check and move the stream's version, insert the events and their
-- outbox rows, wake the relay. Returns the new version, or -1 - <actual version> when the writer's
-- expected version is stale (the caller raises ConcurrencyError; the transaction stays usable).
CREATE OR REPLACE FUNCTION diary_append(
    p_stream_id text,
    p_stream_type text,
    p_expected integer,
    p_event_ids uuid[],
    p_event_types text[],
    p_data jsonb[],
    p_metadata jsonb[],
    p_recorded_at timestamptz[],
    p_topics text[],
    p_values bytea[],
    p_headers jsonb[]
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer := cardinality(p_event_ids);
    actual integer;
BEGIN
    IF p_expected = 0 THEN
        INSERT INTO event_streams (stream_id, stream_type, version)
        VALUES (p_stream_id, p_stream_type, p_expected + n)
        ON CONFLICT (stream_id) DO NOTHING;
    ELSE
        UPDATE event_streams SET version = p_expected + n
        WHERE stream_id = p_stream_id AND version = p_expected;
    END IF;
    IF NOT FOUND THEN
        SELECT version INTO actual FROM event_streams WHERE stream_id = p_stream_id;
        RETURN -1 - coalesce(actual, 0);
    END IF;

    INSERT INTO events (stream_id, version, event_id, event_type, data, metadata, recorded_at)
    SELECT p_stream_id, p_expected + e.ord, e.event_id, e.event_type, e.data, e.metadata, e.recorded_at
    FROM unnest(p_event_ids, p_event_types, p_data, p_metadata, p_recorded_at)
         WITH ORDINALITY AS e(event_id, event_type, data, metadata, recorded_at, ord)
    ORDER BY e.ord;

    INSERT INTO outbox (topic, key, value, headers)
    SELECT o.topic, convert_to(p_stream_id, 'UTF8'), o.value, o.headers
    FROM unnest(p_topics, p_values, p_headers) WITH ORDINALITY AS o(topic, value, headers, ord)
    ORDER BY o.ord;

    PERFORM pg_notify('diary_outbox', '');
    RETURN p_expected + n;
END
$$;
