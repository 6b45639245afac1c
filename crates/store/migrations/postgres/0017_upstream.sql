-- Plans the business resells: fulfilled by a supplier's API (an eSIM aggregator or an
-- operator's top-up API) instead of our own buckets alone.
CREATE TABLE upstream_plans (
    plan_id TEXT PRIMARY KEY REFERENCES plans (id),
    adapter TEXT NOT NULL,
    package_code TEXT NOT NULL
);
-- A line's profile at a supplier, found by the line's ICCID on its first upstream order;
-- used_bytes is the supplier's last usage figure already drawn from the line's buckets.
CREATE TABLE upstream_profiles (
    line_id TEXT PRIMARY KEY REFERENCES lines (id),
    adapter TEXT NOT NULL,
    profile_ref TEXT NOT NULL,
    used_bytes BIGINT NOT NULL DEFAULT 0,
    usage_at BIGINT
);
-- The supplier's part of a paid order (an upstream plan is sold on an order of its own):
-- pending until the supplier confirms (done: quota granted, order fulfilled) or refuses
-- (refused: the buyer's money back, order refunded).
CREATE TABLE upstream_jobs (
    order_id TEXT PRIMARY KEY REFERENCES orders (id),
    adapter TEXT NOT NULL,
    package_code TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'refused')),
    attempts BIGINT NOT NULL DEFAULT 0,
    available_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX upstream_jobs_due ON upstream_jobs (available_at) WHERE state = 'pending';
