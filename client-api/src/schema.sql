-- The store of the CLIENT API (database `store`). Idempotent: applied at every start.

-- Trusted since PostgreSQL 13: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- products-filtered, kept equal to the topic by the store sink: a value upserts, a tombstone
-- (ban, delisting, deletion) deletes. Banned products are therefore never here.
CREATE TABLE IF NOT EXISTS products (
    product_id   text PRIMARY KEY,
    name         text NOT NULL,
    brand        text,
    category     text NOT NULL,
    description  text,
    -- Tags joined by spaces (array_to_string is not immutable, so it cannot feed `document`).
    tags         text NOT NULL DEFAULT '',
    price_cents  bigint NOT NULL,
    currency     text NOT NULL,
    available    integer NOT NULL,
    reserved     integer,
    store_id     text NOT NULL,
    updated_at   timestamptz NOT NULL,
    -- Where this version came from: partition and offset of products-filtered.
    source_partition integer NOT NULL,
    source_offset    bigint NOT NULL,
    -- Full text with Russian morphology ("часы" finds "Умные часы"), weighted: name and brand
    -- first, then category and tags, then the description.
    document tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('russian', name), 'A') ||
        setweight(to_tsvector('russian', coalesce(brand, '')), 'A') ||
        setweight(to_tsvector('russian', category), 'B') ||
        setweight(to_tsvector('russian', tags), 'B') ||
        setweight(to_tsvector('russian', coalesce(description, '')), 'C')
    ) STORED,
    -- For the trigram fallback (typos, partial words).
    flat text GENERATED ALWAYS AS (
        lower(name || ' ' || coalesce(brand, '') || ' ' || category || ' ' || tags)
    ) STORED
);
CREATE INDEX IF NOT EXISTS products_document ON products USING gin (document);
CREATE INDEX IF NOT EXISTS products_flat_trgm ON products USING gin (flat gin_trgm_ops);
CREATE INDEX IF NOT EXISTS products_category ON products (category);
CREATE INDEX IF NOT EXISTS products_brand ON products (lower(brand));

-- recommendations: the latest published list per user (the topic is compacted by user).
CREATE TABLE IF NOT EXISTS recommendations (
    user_id      text PRIMARY KEY,
    run_id       text NOT NULL,
    model        text NOT NULL,
    generated_at timestamptz NOT NULL,
    -- [{"product_id": …, "score": …, "rank": …}, …], best first.
    items        jsonb NOT NULL
);

-- The sink's position, written in the same transaction as the rows it produced: exactly once.
CREATE TABLE IF NOT EXISTS sink_offsets (
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

-- Records the sink could not apply (undecodable, wrong shape): named, kept, skipped.
CREATE TABLE IF NOT EXISTS sink_rejects (
    topic      text NOT NULL,
    partition  integer NOT NULL,
    "offset"   bigint NOT NULL,
    error      text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);

-- Every CLIENT API request.
CREATE TABLE IF NOT EXISTS requests (
    request_id   uuid PRIMARY KEY,
    at           timestamptz NOT NULL,
    kind         text NOT NULL,
    user_id      text NOT NULL,
    session_id   text NOT NULL,
    query        text,
    product_id   text,
    filters      jsonb NOT NULL DEFAULT '{}',
    result_count integer,
    outcome      text NOT NULL,
    latency_ms   double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_at ON requests (at);

-- The client-events record of each request, written with it; the relay sends pending ones to
-- Kafka and marks them sent. A request answered while Kafka is down is sent later, not lost.
CREATE TABLE IF NOT EXISTS event_outbox (
    event_id     uuid PRIMARY KEY REFERENCES requests (request_id),
    user_id      text NOT NULL,
    session_id   text NOT NULL,
    event_type   text NOT NULL,
    product_id   text,
    query        text,
    result_count integer,
    ts           timestamptz NOT NULL,
    sent_at      timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX IF NOT EXISTS event_outbox_pending ON event_outbox (ts) WHERE sent_at IS NULL;
