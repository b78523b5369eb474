//! Versioned migrations: numbered steps per backend, each applied once in a transaction and
//! recorded in `schema_migrations`. Add a step; never edit one that has shipped.

/// Advisory lock key that serialises migrations and chain appends across PostgreSQL clients.
pub(crate) const PG_LOCK: i64 = 0x5345_414d_4155_4449; // "SEAMAUDI"

pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    applied_ms BIGINT NOT NULL
)";

/// The genesis `prev_hash`: the chain starts from 32 zero bytes.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub(crate) const SQLITE: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE audit_meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        key_id TEXT,
        subject_hash TEXT,
        tags TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        model TEXT,
        route TEXT,
        status INTEGER NOT NULL,
        error_code TEXT,
        attempts TEXT NOT NULL,
        findings TEXT NOT NULL,
        usage TEXT,
        cost_usd REAL,
        latency_ms REAL,
        ttft_ms REAL,
        cache_hit INTEGER NOT NULL,
        class TEXT NOT NULL,
        payload_digest TEXT,
        prev_hash TEXT NOT NULL,
        payload BLOB,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_log_subject ON audit_log (subject_hash);
    CREATE INDEX audit_log_time ON audit_log (time_ms);
    CREATE TABLE audit_subjects (
        subject_hash TEXT PRIMARY KEY,
        subject TEXT,
        wrapped_key BLOB,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        signature TEXT
    );
    CREATE TABLE audit_anchor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        prev_hash TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        signature TEXT
    );
    CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        signature TEXT
    );
    INSERT INTO audit_head (id, seq, hash)
        VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');",
    ),
    (
        2,
        "CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_ms INTEGER NOT NULL,
        revoked_ms INTEGER,
        scope TEXT NOT NULL
    );
    CREATE INDEX api_keys_created ON api_keys (created_ms);",
    ),
    (
        3,
        "CREATE TABLE spend_ledger (
        scope TEXT NOT NULL,
        period TEXT NOT NULL,
        microusd INTEGER NOT NULL,
        PRIMARY KEY (scope, period)
    );",
    ),
    // The placement a request was held to. Nullable, and chained only when set, so rows written
    // before it keep their hashes.
    (4, "ALTER TABLE audit_log ADD COLUMN placement TEXT;"),
    // How many refusals an aggregated record stands for. Nullable, and chained only when set.
    (5, "ALTER TABLE audit_log ADD COLUMN count INTEGER;"),
    // The clear subject is kept only sealed (`Keys::seal_subject`); `subject` stays for rows
    // not yet converted, which `AuditLog::open` seals (or, without a master key, clears) and
    // finds through the partial index.
    (
        6,
        "ALTER TABLE audit_subjects ADD COLUMN subject_sealed BLOB;
    CREATE INDEX audit_subjects_clear ON audit_subjects (subject_hash) WHERE subject IS NOT NULL;",
    ),
    // Responses API conversation state (`crate::responses`): lookups by id, erasure by subject
    // hash, retention by expiry.
    (
        7,
        "CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        key_id TEXT,
        subject_hash TEXT,
        created_s INTEGER NOT NULL,
        expires_s INTEGER NOT NULL,
        sealed BLOB NOT NULL
    );
    CREATE INDEX responses_subject ON responses (subject_hash);
    CREATE INDEX responses_expires ON responses (expires_s);",
    ),
    // The prompt registry (`crate::prompts`): every version Seam has served, kept so an audit
    // record's prompt can be shown however the file changed since, and the tags that point at
    // versions. A request's prompt (`name@version`) and rollout variant (`rollout:variant`) on
    // its record: nullable, and chained only when set.
    (
        8,
        "CREATE TABLE prompt_versions (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        source TEXT NOT NULL,
        first_ms INTEGER NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE prompt_tags (
        name TEXT NOT NULL,
        tag TEXT NOT NULL,
        version TEXT NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (name, tag)
    );
    ALTER TABLE audit_log ADD COLUMN prompt TEXT;
    ALTER TABLE audit_log ADD COLUMN variant TEXT;",
    ),
    // Rollouts (`crate::rollouts`): each rollout's state (its run — a restart begins a new one —
    // stage and status), the additive tallies replicas flush (`seam_rollouts::Delta` rows, added
    // with ON CONFLICT increments), and the lease that lets one replica decide at a time.
    (
        9,
        "CREATE TABLE rollout_state (
        name TEXT PRIMARY KEY,
        run INTEGER NOT NULL,
        stage INTEGER NOT NULL,
        status TEXT NOT NULL,
        stage_started_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        reason TEXT
    );
    CREATE TABLE rollout_moments (
        rollout TEXT NOT NULL,
        run INTEGER NOT NULL,
        stage INTEGER NOT NULL,
        variant TEXT NOT NULL,
        metric TEXT NOT NULL,
        n INTEGER NOT NULL,
        sum REAL NOT NULL,
        sum_sq REAL NOT NULL,
        PRIMARY KEY (rollout, run, stage, variant, metric)
    );
    CREATE TABLE rollout_buckets (
        rollout TEXT NOT NULL,
        run INTEGER NOT NULL,
        stage INTEGER NOT NULL,
        variant TEXT NOT NULL,
        metric TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (rollout, run, stage, variant, metric, bucket)
    );
    CREATE TABLE rollout_lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until_ms INTEGER NOT NULL
    );",
    ),
    // The W3C trace id of a request (the client's `traceparent`, or one Seam began). Nullable,
    // and chained only when set.
    (10, "ALTER TABLE audit_log ADD COLUMN trace_id TEXT;"),
    // Rollups (`crate::rollup`): the console's aggregates per hour and per day, added to in the
    // transaction that appends the records. The records already stored are rolled up when the
    // store is next opened (`rollup::backfill`), up to the head noted here. WITHOUT ROWID: the
    // primary key, (span, bucket, …), is the table's order, so a window is one range read.
    (
        11,
        "CREATE TABLE rollup_totals (
        span INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        kind TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        cache_hits INTEGER NOT NULL,
        latency_sum REAL NOT NULL,
        PRIMARY KEY (span, bucket, kind, endpoint)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_keys (
        span INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        cache_hits INTEGER NOT NULL,
        latency_sum REAL NOT NULL,
        PRIMARY KEY (span, bucket, key_id)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_models (
        span INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        model TEXT NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        cache_hits INTEGER NOT NULL,
        latency_sum REAL NOT NULL,
        PRIMARY KEY (span, bucket, model)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_errors (
        span INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        status INTEGER NOT NULL,
        error_code TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (span, bucket, status, error_code)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_hist (
        span INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        metric TEXT NOT NULL,
        bin INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (span, bucket, metric, bin)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_findings (
        span INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        stage TEXT NOT NULL,
        entity TEXT NOT NULL,
        action TEXT NOT NULL,
        count INTEGER NOT NULL,
        records INTEGER NOT NULL,
        PRIMARY KEY (span, bucket, stage, entity, action)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_scores (
        span INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        bin INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (span, bucket, bin)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_routes (
        span INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        reason TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (span, bucket, reason)
    ) WITHOUT ROWID;
    INSERT INTO audit_meta (name, value) VALUES ('rollup_backfill_from', '0');
    INSERT INTO audit_meta (name, value)
        SELECT 'rollup_backfill_until', CAST(seq AS TEXT) FROM audit_head WHERE id = 1;",
    ),
    // Eval and red-team reports uploaded through the console (`crate::evals`): listed newest
    // first, their counts in columns so a list reads no report.
    (
        12,
        "CREATE TABLE eval_runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        uploaded_ms INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        total INTEGER NOT NULL,
        uploaded_by TEXT,
        report TEXT NOT NULL
    );
    CREATE INDEX eval_runs_uploaded ON eval_runs (uploaded_ms);",
    ),
    // Retrieval (`crate::retrieval`): documents with access labels, their chunks and vectors
    // (f32 little-endian), a contentless FTS5 index over the chunks (rowid = chunk_id; columns:
    // the text, the collection and the labels as digit tokens, so a query's access filter is part
    // of its MATCH; `secure-delete` removes a deleted chunk's terms from the index at once), and a
    // generation per collection that every write bumps, so in-process vector indexes notice.
    (
        13,
        "CREATE TABLE retrieval_documents (
        doc_key INTEGER PRIMARY KEY AUTOINCREMENT,
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        title TEXT,
        source TEXT,
        content_hash TEXT NOT NULL,
        metadata TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        chunks INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        UNIQUE (collection, id)
    );
    CREATE TABLE retrieval_labels (
        doc_key INTEGER NOT NULL,
        label TEXT NOT NULL,
        PRIMARY KEY (doc_key, label)
    ) WITHOUT ROWID;
    CREATE INDEX retrieval_labels_label ON retrieval_labels (label, doc_key);
    CREATE TABLE retrieval_chunks (
        chunk_id INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_key INTEGER NOT NULL,
        ord INTEGER NOT NULL,
        heading TEXT,
        text TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX retrieval_chunks_doc ON retrieval_chunks (doc_key);
    CREATE VIRTUAL TABLE retrieval_fts USING fts5(
        body, coll, acl,
        content='', contentless_delete=1,
        tokenize='porter unicode61 remove_diacritics 2'
    );
    INSERT INTO retrieval_fts (retrieval_fts, rank) VALUES ('secure-delete', 1);
    INSERT INTO retrieval_fts (retrieval_fts, rank) VALUES ('rank', 'bm25(1.0, 0.0, 0.0)');
    CREATE TABLE retrieval_generations (
        collection TEXT PRIMARY KEY,
        generation INTEGER NOT NULL,
        rebuilt INTEGER NOT NULL,
        chunks INTEGER NOT NULL,
        dims INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );",
    ),
    // The passages retrieval put into a request (`[models.NAME.retrieval]`), JSON; chained.
    (14, "ALTER TABLE audit_log ADD COLUMN citations TEXT;"),
    // The API features a request used (tools, JSON schema output, vision, prompt caching,
    // streaming), JSON; chained only when present.
    (15, "ALTER TABLE audit_log ADD COLUMN features TEXT;"),
];

pub(crate) const POSTGRES: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE audit_meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE audit_log (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        time_ms BIGINT NOT NULL,
        key_id TEXT,
        subject_hash TEXT,
        tags TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        model TEXT,
        route TEXT,
        status BIGINT NOT NULL,
        error_code TEXT,
        attempts TEXT NOT NULL,
        findings TEXT NOT NULL,
        usage TEXT,
        cost_usd DOUBLE PRECISION,
        latency_ms DOUBLE PRECISION,
        ttft_ms DOUBLE PRECISION,
        cache_hit BIGINT NOT NULL,
        class TEXT NOT NULL,
        payload_digest TEXT,
        prev_hash TEXT NOT NULL,
        payload BYTEA,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_log_subject ON audit_log (subject_hash);
    CREATE INDEX audit_log_time ON audit_log (time_ms);
    CREATE TABLE audit_subjects (
        subject_hash TEXT PRIMARY KEY,
        subject TEXT,
        wrapped_key BYTEA,
        created_ms BIGINT NOT NULL
    );
    CREATE TABLE audit_checkpoints (
        seq BIGINT PRIMARY KEY,
        hash TEXT NOT NULL,
        time_ms BIGINT NOT NULL,
        signature TEXT
    );
    CREATE TABLE audit_anchor (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL,
        prev_hash TEXT NOT NULL,
        time_ms BIGINT NOT NULL,
        signature TEXT
    );
    CREATE TABLE audit_head (
        id BIGINT PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL,
        signature TEXT
    );
    INSERT INTO audit_head (id, seq, hash)
        VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');",
    ),
    (
        2,
        "CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_ms BIGINT NOT NULL,
        revoked_ms BIGINT,
        scope TEXT NOT NULL
    );
    CREATE INDEX api_keys_created ON api_keys (created_ms);",
    ),
    (
        3,
        "CREATE TABLE spend_ledger (
        scope TEXT NOT NULL,
        period TEXT NOT NULL,
        microusd BIGINT NOT NULL,
        PRIMARY KEY (scope, period)
    );",
    ),
    (4, "ALTER TABLE audit_log ADD COLUMN placement TEXT;"),
    (5, "ALTER TABLE audit_log ADD COLUMN count BIGINT;"),
    (
        6,
        "ALTER TABLE audit_subjects ADD COLUMN subject_sealed BYTEA;
    CREATE INDEX audit_subjects_clear ON audit_subjects (subject_hash) WHERE subject IS NOT NULL;",
    ),
    (
        7,
        "CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        key_id TEXT,
        subject_hash TEXT,
        created_s BIGINT NOT NULL,
        expires_s BIGINT NOT NULL,
        sealed BYTEA NOT NULL
    );
    CREATE INDEX responses_subject ON responses (subject_hash);
    CREATE INDEX responses_expires ON responses (expires_s);",
    ),
    (
        8,
        "CREATE TABLE prompt_versions (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        source TEXT NOT NULL,
        first_ms BIGINT NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE prompt_tags (
        name TEXT NOT NULL,
        tag TEXT NOT NULL,
        version TEXT NOT NULL,
        updated_ms BIGINT NOT NULL,
        PRIMARY KEY (name, tag)
    );
    ALTER TABLE audit_log ADD COLUMN prompt TEXT;
    ALTER TABLE audit_log ADD COLUMN variant TEXT;",
    ),
    (
        9,
        "CREATE TABLE rollout_state (
        name TEXT PRIMARY KEY,
        run BIGINT NOT NULL,
        stage BIGINT NOT NULL,
        status TEXT NOT NULL,
        stage_started_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        reason TEXT
    );
    CREATE TABLE rollout_moments (
        rollout TEXT NOT NULL,
        run BIGINT NOT NULL,
        stage BIGINT NOT NULL,
        variant TEXT NOT NULL,
        metric TEXT NOT NULL,
        n BIGINT NOT NULL,
        sum DOUBLE PRECISION NOT NULL,
        sum_sq DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (rollout, run, stage, variant, metric)
    );
    CREATE TABLE rollout_buckets (
        rollout TEXT NOT NULL,
        run BIGINT NOT NULL,
        stage BIGINT NOT NULL,
        variant TEXT NOT NULL,
        metric TEXT NOT NULL,
        bucket BIGINT NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (rollout, run, stage, variant, metric, bucket)
    );
    CREATE TABLE rollout_lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until_ms BIGINT NOT NULL
    );",
    ),
    (10, "ALTER TABLE audit_log ADD COLUMN trace_id TEXT;"),
    // Rollups (`crate::rollup`): the console's aggregates per hour and per day, added to in the
    // transaction that appends the records. The records already stored are rolled up when the
    // store is next opened (`rollup::backfill`), up to the head noted here.
    (
        11,
        "CREATE TABLE rollup_totals (
        span BIGINT NOT NULL,
        bucket BIGINT NOT NULL,
        kind TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        requests BIGINT NOT NULL,
        errors BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        cache_hits BIGINT NOT NULL,
        latency_sum DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (span, bucket, kind, endpoint)
    );
    CREATE TABLE rollup_keys (
        span BIGINT NOT NULL,
        bucket BIGINT NOT NULL,
        key_id TEXT NOT NULL,
        requests BIGINT NOT NULL,
        errors BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        cache_hits BIGINT NOT NULL,
        latency_sum DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (span, bucket, key_id)
    );
    CREATE TABLE rollup_models (
        span BIGINT NOT NULL,
        bucket BIGINT NOT NULL,
        model TEXT NOT NULL,
        requests BIGINT NOT NULL,
        errors BIGINT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        cache_hits BIGINT NOT NULL,
        latency_sum DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (span, bucket, model)
    );
    CREATE TABLE rollup_errors (
        span BIGINT NOT NULL,
        bucket BIGINT NOT NULL,
        status BIGINT NOT NULL,
        error_code TEXT NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (span, bucket, status, error_code)
    );
    CREATE TABLE rollup_hist (
        span BIGINT NOT NULL,
        bucket BIGINT NOT NULL,
        metric TEXT NOT NULL,
        bin BIGINT NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (span, bucket, metric, bin)
    );
    CREATE TABLE rollup_findings (
        span BIGINT NOT NULL,
        bucket BIGINT NOT NULL,
        stage TEXT NOT NULL,
        entity TEXT NOT NULL,
        action TEXT NOT NULL,
        count BIGINT NOT NULL,
        records BIGINT NOT NULL,
        PRIMARY KEY (span, bucket, stage, entity, action)
    );
    CREATE TABLE rollup_scores (
        span BIGINT NOT NULL,
        bucket BIGINT NOT NULL,
        bin BIGINT NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (span, bucket, bin)
    );
    CREATE TABLE rollup_routes (
        span BIGINT NOT NULL,
        bucket BIGINT NOT NULL,
        reason TEXT NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (span, bucket, reason)
    );
    INSERT INTO audit_meta (name, value) VALUES ('rollup_backfill_from', '0');
    INSERT INTO audit_meta (name, value)
        SELECT 'rollup_backfill_until', CAST(seq AS TEXT) FROM audit_head WHERE id = 1;",
    ),
    (
        12,
        "CREATE TABLE eval_runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        uploaded_ms BIGINT NOT NULL,
        passed BIGINT NOT NULL,
        total BIGINT NOT NULL,
        uploaded_by TEXT,
        report TEXT NOT NULL
    );
    CREATE INDEX eval_runs_uploaded ON eval_runs (uploaded_ms);",
    ),
    // Retrieval (`crate::retrieval`): as on SQLite, with PostgreSQL's full-text search (a
    // generated tsvector and a GIN index) in place of FTS5. Ids and labels compare bytewise
    // (`COLLATE "C"`), as SQLite's do, so pagination and prefixes agree across backends.
    (
        13,
        "CREATE TABLE retrieval_documents (
        doc_key BIGSERIAL PRIMARY KEY,
        collection TEXT COLLATE \"C\" NOT NULL,
        id TEXT COLLATE \"C\" NOT NULL,
        title TEXT,
        source TEXT,
        content_hash TEXT NOT NULL,
        metadata TEXT NOT NULL,
        tokens BIGINT NOT NULL,
        chunks BIGINT NOT NULL,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        UNIQUE (collection, id)
    );
    CREATE TABLE retrieval_labels (
        doc_key BIGINT NOT NULL,
        label TEXT COLLATE \"C\" NOT NULL,
        PRIMARY KEY (doc_key, label)
    );
    CREATE INDEX retrieval_labels_label ON retrieval_labels (label, doc_key);
    CREATE TABLE retrieval_chunks (
        chunk_id BIGSERIAL PRIMARY KEY,
        doc_key BIGINT NOT NULL,
        ord BIGINT NOT NULL,
        heading TEXT,
        text TEXT NOT NULL,
        tokens BIGINT NOT NULL,
        vector BYTEA NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
    );
    CREATE INDEX retrieval_chunks_doc ON retrieval_chunks (doc_key);
    CREATE INDEX retrieval_chunks_tsv ON retrieval_chunks USING GIN (tsv);
    CREATE TABLE retrieval_generations (
        collection TEXT COLLATE \"C\" PRIMARY KEY,
        generation BIGINT NOT NULL,
        rebuilt BIGINT NOT NULL,
        chunks BIGINT NOT NULL,
        dims BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL
    );",
    ),
    // The passages retrieval put into a request (`[models.NAME.retrieval]`), JSON; chained.
    (14, "ALTER TABLE audit_log ADD COLUMN citations TEXT;"),
    // The API features a request used (tools, JSON schema output, vision, prompt caching,
    // streaming), JSON; chained only when present.
    (15, "ALTER TABLE audit_log ADD COLUMN features TEXT;"),
];
