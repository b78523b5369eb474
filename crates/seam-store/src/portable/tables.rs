//! What the export holds: every table, its columns in order with their types, and its key.
//! A migration that adds a table or a column adds it here and bumps
//! [`super::FORMAT_VERSION`]; `the_format_covers_the_schema` fails until it does.

/// How a column is typed in the files (and bound on both backends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    Int,
    Real,
    Text,
    Blob,
    /// A BLOB of little-endian f32s, written as a list of floats.
    F32s,
}

pub(super) struct Table {
    pub(super) name: &'static str,
    pub(super) columns: &'static [(&'static str, Ty)],
    /// The primary key: the files' row order.
    pub(super) key: &'static [&'static str],
}

use Ty::{Blob, F32s, Int, Real, Text};

const ROLLUP_SUMS: [(&str, Ty); 7] = [
    ("requests", Int),
    ("errors", Int),
    ("input_tokens", Int),
    ("output_tokens", Int),
    ("cost_usd", Real),
    ("cache_hits", Int),
    ("latency_sum", Real),
];

macro_rules! rollup_sums {
    ($($lead:expr),*) => {
        &[$($lead,)* ROLLUP_SUMS[0], ROLLUP_SUMS[1], ROLLUP_SUMS[2], ROLLUP_SUMS[3],
          ROLLUP_SUMS[4], ROLLUP_SUMS[5], ROLLUP_SUMS[6]]
    };
}

/// Every exported table, in import order, with every column it has after the last migration.
pub(super) const TABLES: &[Table] = &[
    Table {
        name: "audit_meta",
        columns: &[("name", Text), ("value", Text)],
        key: &["name"],
    },
    Table {
        name: "audit_log",
        columns: &[
            ("seq", Int),
            ("id", Text),
            ("kind", Text),
            ("time_ms", Int),
            ("key_id", Text),
            ("subject_hash", Text),
            ("tags", Text),
            ("endpoint", Text),
            ("model", Text),
            ("route", Text),
            ("status", Int),
            ("error_code", Text),
            ("attempts", Text),
            ("findings", Text),
            ("usage", Text),
            ("cost_usd", Real),
            ("latency_ms", Real),
            ("ttft_ms", Real),
            ("cache_hit", Int),
            ("class", Text),
            ("payload_digest", Text),
            ("prev_hash", Text),
            ("payload", Blob),
            ("hash", Text),
            ("placement", Text),
            ("count", Int),
            ("prompt", Text),
            ("variant", Text),
            ("trace_id", Text),
            ("citations", Text),
            ("features", Text),
        ],
        key: &["seq"],
    },
    Table {
        name: "audit_subjects",
        columns: &[
            ("subject_hash", Text),
            ("subject", Text),
            ("wrapped_key", Blob),
            ("created_ms", Int),
            ("subject_sealed", Blob),
        ],
        key: &["subject_hash"],
    },
    Table {
        name: "audit_checkpoints",
        columns: &[
            ("seq", Int),
            ("hash", Text),
            ("time_ms", Int),
            ("signature", Text),
        ],
        key: &["seq"],
    },
    Table {
        name: "audit_anchor",
        columns: &[
            ("id", Int),
            ("seq", Int),
            ("prev_hash", Text),
            ("time_ms", Int),
            ("signature", Text),
        ],
        key: &["id"],
    },
    Table {
        name: "audit_head",
        columns: &[
            ("id", Int),
            ("seq", Int),
            ("hash", Text),
            ("signature", Text),
        ],
        key: &["id"],
    },
    Table {
        name: "api_keys",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("prefix", Text),
            ("hash", Text),
            ("created_ms", Int),
            ("revoked_ms", Int),
            ("scope", Text),
        ],
        key: &["id"],
    },
    Table {
        name: "spend_ledger",
        columns: &[("scope", Text), ("period", Text), ("microusd", Int)],
        key: &["scope", "period"],
    },
    Table {
        name: "responses",
        columns: &[
            ("id", Text),
            ("key_id", Text),
            ("subject_hash", Text),
            ("created_s", Int),
            ("expires_s", Int),
            ("sealed", Blob),
        ],
        key: &["id"],
    },
    Table {
        name: "prompt_versions",
        columns: &[
            ("name", Text),
            ("version", Text),
            ("source", Text),
            ("first_ms", Int),
        ],
        key: &["name", "version"],
    },
    Table {
        name: "prompt_tags",
        columns: &[
            ("name", Text),
            ("tag", Text),
            ("version", Text),
            ("updated_ms", Int),
        ],
        key: &["name", "tag"],
    },
    Table {
        name: "rollout_state",
        columns: &[
            ("name", Text),
            ("run", Int),
            ("stage", Int),
            ("status", Text),
            ("stage_started_ms", Int),
            ("updated_ms", Int),
            ("reason", Text),
        ],
        key: &["name"],
    },
    Table {
        name: "rollout_moments",
        columns: &[
            ("rollout", Text),
            ("run", Int),
            ("stage", Int),
            ("variant", Text),
            ("metric", Text),
            ("n", Int),
            ("sum", Real),
            ("sum_sq", Real),
        ],
        key: &["rollout", "run", "stage", "variant", "metric"],
    },
    Table {
        name: "rollout_buckets",
        columns: &[
            ("rollout", Text),
            ("run", Int),
            ("stage", Int),
            ("variant", Text),
            ("metric", Text),
            ("bucket", Int),
            ("count", Int),
        ],
        key: &["rollout", "run", "stage", "variant", "metric", "bucket"],
    },
    Table {
        name: "rollup_totals",
        columns: rollup_sums!(
            ("span", Int),
            ("bucket", Int),
            ("kind", Text),
            ("endpoint", Text)
        ),
        key: &["span", "bucket", "kind", "endpoint"],
    },
    Table {
        name: "rollup_keys",
        columns: rollup_sums!(("span", Int), ("bucket", Int), ("key_id", Text)),
        key: &["span", "bucket", "key_id"],
    },
    Table {
        name: "rollup_models",
        columns: rollup_sums!(("span", Int), ("bucket", Int), ("model", Text)),
        key: &["span", "bucket", "model"],
    },
    Table {
        name: "rollup_errors",
        columns: &[
            ("span", Int),
            ("bucket", Int),
            ("status", Int),
            ("error_code", Text),
            ("count", Int),
        ],
        key: &["span", "bucket", "status", "error_code"],
    },
    Table {
        name: "rollup_hist",
        columns: &[
            ("span", Int),
            ("bucket", Int),
            ("metric", Text),
            ("bin", Int),
            ("count", Int),
        ],
        key: &["span", "bucket", "metric", "bin"],
    },
    Table {
        name: "rollup_findings",
        columns: &[
            ("span", Int),
            ("bucket", Int),
            ("stage", Text),
            ("entity", Text),
            ("action", Text),
            ("count", Int),
            ("records", Int),
        ],
        key: &["span", "bucket", "stage", "entity", "action"],
    },
    Table {
        name: "rollup_scores",
        columns: &[("span", Int), ("bucket", Int), ("bin", Int), ("count", Int)],
        key: &["span", "bucket", "bin"],
    },
    Table {
        name: "rollup_routes",
        columns: &[
            ("span", Int),
            ("bucket", Int),
            ("reason", Text),
            ("count", Int),
        ],
        key: &["span", "bucket", "reason"],
    },
    Table {
        name: "eval_runs",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("kind", Text),
            ("uploaded_ms", Int),
            ("passed", Int),
            ("total", Int),
            ("uploaded_by", Text),
            ("report", Text),
        ],
        key: &["id"],
    },
    Table {
        name: "retrieval_documents",
        columns: &[
            ("doc_key", Int),
            ("collection", Text),
            ("id", Text),
            ("title", Text),
            ("source", Text),
            ("content_hash", Text),
            ("metadata", Text),
            ("tokens", Int),
            ("chunks", Int),
            ("created_ms", Int),
            ("updated_ms", Int),
        ],
        key: &["doc_key"],
    },
    Table {
        name: "retrieval_labels",
        columns: &[("doc_key", Int), ("label", Text)],
        key: &["doc_key", "label"],
    },
    Table {
        name: "retrieval_chunks",
        columns: &[
            ("chunk_id", Int),
            ("doc_key", Int),
            ("ord", Int),
            ("heading", Text),
            ("text", Text),
            ("tokens", Int),
            ("vector", F32s),
        ],
        key: &["chunk_id"],
    },
    Table {
        name: "retrieval_generations",
        columns: &[
            ("collection", Text),
            ("generation", Int),
            ("rebuilt", Int),
            ("chunks", Int),
            ("dims", Int),
            ("updated_ms", Int),
        ],
        key: &["collection"],
    },
];

/// Tables the store has that are deliberately not exported (see the module's doc).
pub(super) const NOT_EXPORTED_TABLES: &[&str] = &[
    "schema_migrations",
    "rollout_lease",
    "retrieval_fts",
    "sqlite_sequence",
];

/// Tables a fresh store already fills (migrations seed them); the import replaces their rows.
pub(super) const SEEDED: &[&str] = &["audit_meta", "audit_head"];
