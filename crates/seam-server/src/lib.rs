//! The HTTP edge of Seam: an axum app over `seam-gateway`.
//!
//! This is the only crate that knows HTTP. It owns the public JSON (OpenAI's shapes, via
//! `seam-types`), reads bodies with a cap, turns every failure into an OpenAI-shaped error with a
//! stable code ([`error`]), writes streams as server-sent events ([`sse`]) that end with
//! `[DONE]` only when the upstream finished, and exposes health and Prometheus metrics.
//! Build the app with [`app`] and test it with `tower::ServiceExt::oneshot`; run it with [`serve`],
//! whose accept loop ([`listen`]) bounds connections and times slow and silent clients.

mod admin;
pub mod audit;
pub mod auth;
mod body;
pub mod cache;
mod console;
pub mod conversations;
pub mod embedders;
mod embeddings;
pub mod error;
pub mod evaluate;
pub mod features;
mod feedback;
pub mod limits;
pub mod listen;
pub mod mcp;
mod meta;
pub mod metrics;
mod otel;
pub mod pipeline;
pub mod placement;
pub mod pricing;
pub mod prompts;
pub mod retrieval;
pub mod rollouts;
pub mod shared;
mod sse;
pub mod surface;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use seam_config::Config;
use seam_gateway::{Gateway, Registry};

/// Loads a fresh config for a reload (the CLI reads the file again).
pub type Reloader = Box<dyn Fn() -> Result<Config, Vec<String>> + Send + Sync>;

/// What a config builds; swapped whole by a reload, while requests in flight keep the one they
/// started with.
pub struct Live {
    pub gateway: Arc<Gateway>,
    pub max_body_bytes: usize,
    /// Which audit class each alias's records get.
    pub classes: Arc<audit::Classes>,
    pub prices: pricing::Prices,
    /// Policy names, which a key created through the admin API may name.
    pub policies: std::collections::BTreeSet<String>,
    /// Which requests the exact cache applies to, and the config fingerprints in its keys.
    pub cache: cache::Rules,
    /// The MCP servers behind `/mcp`; a reload keeps the connections of unchanged servers.
    pub mcp: Arc<seam_mcp::Hub>,
    /// The prompt files (`prompts/` beside the config), as of the last (re)load.
    pub prompts: Arc<seam_prompts::Registry>,
    /// `[evaluators.NAME]`, by the alias and the prompt whose answers they grade.
    pub evaluators: evaluate::Evaluators,
    /// `[retrieval.collections.*]` and the aliases that search them.
    pub retrieval: Arc<retrieval::Setup>,
    /// What the console's reports weigh: the aliases, targets and keys of this config, and its
    /// `[pricing]` overrides.
    pub reports: Arc<ReportSetup>,
}

/// The config as the decision reports read it ([`seam_reports::build`]).
pub struct ReportSetup {
    pub setup: seam_reports::setup::Setup,
    pub pricing: std::collections::BTreeMap<String, seam_config::Price>,
}

impl ReportSetup {
    fn new(cfg: &Config) -> ReportSetup {
        ReportSetup {
            setup: seam_reports::setup::Setup::from_config(cfg),
            pricing: cfg.pricing.clone(),
        }
    }
}

pub struct AppState {
    live: RwLock<Arc<Live>>,
    /// Router health and provider limiters, kept across reloads.
    registry: Arc<Registry>,
    reloader: Option<Reloader>,
    pub metrics: Option<PrometheusHandle>,
    /// The audit trail; `None` when `[audit] enabled = false`. Opened once: `[storage]` and
    /// `[audit]` keys other than classes need a restart.
    pub auditor: Option<Arc<audit::Auditor>>,
    /// API keys from the config and the store.
    pub keyring: auth::Keyring,
    /// Limits and budgets: counters in process, or in Redis shared by replicas.
    pub limits: limits::Limits,
    /// The Redis replicas share, with `storage.redis_url`.
    pub redis: Option<Arc<shared::Redis>>,
    /// The exact response cache: in this process, or in that Redis.
    pub cache: cache::Cache,
    /// The semantic cache's embedders by name: the built-in model (none until it is handed over,
    /// `Embedders::new(Some(…))`) or an embeddings alias through the gateway.
    pub embedders: embedders::Embedders,
    /// The hash of `[admin] key`.
    pub admin_key_hash: Option<String>,
    /// Where `/admin/keys` keeps keys: the store `[storage]` names.
    pub key_store: seam_store::StoreConfig,
    /// Whether `[audit] master_key` is set, which key classes that keep payloads need.
    pub sealed_payloads: bool,
    /// Unix seconds at start-up, reported as `created` of each model.
    pub started: u64,
    /// Responses API conversation state; `None` when `[responses] store = false`. Opened once.
    pub conversations: Option<Arc<conversations::Conversations>>,
    /// Client sessions of `/mcp`, kept across reloads.
    pub mcp_sessions: mcp::session::Sessions,
    /// Served prompt versions and tags (the store's), kept across reloads.
    pub prompt_versions: Arc<prompts::Versions>,
    /// The configured rollouts and the thread that keeps them in step with the store.
    pub rollouts: Arc<rollouts::Rollouts>,
    /// Where online evaluators' scores go (by default a debug log line).
    pub scores: Arc<dyn evaluate::ScoreSink>,
    /// Document collections over the store (`None`: it could not be opened; retrieval answers
    /// 503 and everything else works). Opened once.
    pub collections: Option<Arc<retrieval::Collections>>,
    /// Set once the server is shutting down: long-lived streams end.
    closing: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    pub fn new(
        cfg: &Config,
        reloader: Option<Reloader>,
        metrics: Option<PrometheusHandle>,
    ) -> Result<Self, String> {
        let registry = Arc::new(Registry::new());
        let prompts = Arc::new(load_prompts(cfg)?);
        rollouts::check_prompts(cfg, &prompts)?;
        let live_prompts = Arc::clone(&prompts);
        // Candidates' targets are served under synthetic aliases (`rollout:NAME`).
        let gateway = Arc::new(Gateway::new(
            &rollouts::with_candidate_aliases(cfg, &prompts),
            &registry,
        )?);
        let live = Live {
            evaluators: evaluate::Evaluators::new(cfg, &gateway)?,
            gateway,
            max_body_bytes: cfg.server.max_body_bytes,
            classes: Arc::new(audit::Classes::new(cfg)),
            prices: pricing::Prices::new(cfg),
            policies: cfg.policies.keys().cloned().collect(),
            cache: cache::Rules::new(cfg),
            mcp: seam_mcp::Hub::new(&cfg.mcp, None),
            prompts,
            retrieval: Arc::new(retrieval::Setup::new(cfg)),
            reports: Arc::new(ReportSetup::new(cfg)),
        };
        let auditor = audit::Auditor::open(cfg)?.map(Arc::new);
        let rollouts = rollouts::Rollouts::open(cfg, audit::store_config(cfg), auditor.clone());
        let keyring = auth::Keyring::open(cfg)?;
        let redis = shared::Redis::from_config(cfg)?.map(Arc::new);
        let scores: Arc<dyn evaluate::ScoreSink> = Arc::new(feedback::StoreSink {
            auditor: auditor.clone(),
            rollouts: Arc::clone(&rollouts),
        });
        Ok(AppState {
            keyring,
            limits: limits::Limits::open(cfg, redis.as_ref())?,
            cache: cache::Cache::new(&cfg.cache, redis.clone()),
            embedders: embedders::Embedders::lazy(cfg.retrieval.model_dir.clone()),
            redis,
            admin_key_hash: cfg
                .admin
                .key
                .as_ref()
                .map(|k| seam_store::keys::hash_secret(k.expose())),
            key_store: audit::store_config(cfg),
            prompt_versions: Arc::new(prompts::Versions::open(
                &audit::store_config(cfg),
                !live_prompts.is_empty(),
            )),
            rollouts,
            sealed_payloads: cfg.audit.master_key.is_some(),
            live: RwLock::new(Arc::new(live)),
            registry,
            reloader,
            metrics,
            auditor,
            conversations: conversations::Conversations::open(cfg)?.map(Arc::new),
            mcp_sessions: mcp::session::Sessions::default(),
            scores,
            collections: retrieval::Collections::open(cfg),
            closing: tokio::sync::watch::Sender::new(false),
            started: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        })
    }

    /// The server is shutting down: streams that never end by themselves (an MCP session's
    /// notifications) end, so in-flight requests can drain.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`AppState::close`] was called.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// The current providers and routes.
    pub fn live(&self) -> Arc<Live> {
        match self.live.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads the config again and swaps it in; on any error the old one keeps serving.
    /// Returns the aliases now served.
    pub fn reload(&self) -> Result<Vec<String>, Vec<String>> {
        let Some(load) = &self.reloader else {
            return Err(vec![
                "this server was started without a config source to reload".into(),
            ]);
        };
        let cfg = load()?;
        let prompts = Arc::new(load_prompts(&cfg).map_err(|e| vec![e])?);
        rollouts::check_prompts(&cfg, &prompts).map_err(|e| vec![e])?;
        let lines = |e: String| e.lines().map(str::to_owned).collect::<Vec<_>>();
        let gateway = Arc::new(
            Gateway::new(
                &rollouts::with_candidate_aliases(&cfg, &prompts),
                &self.registry,
            )
            .map_err(lines)?,
        );
        let evaluators = evaluate::Evaluators::new(&cfg, &gateway).map_err(lines)?;
        let aliases = gateway.aliases().iter().map(|a| (*a).to_owned()).collect();
        self.keyring.set_config(&cfg.keys);
        self.rollouts.configure(&cfg);
        if !prompts.is_empty() {
            // Prompts may be new: make sure their tags are read.
            self.prompt_versions.refresh_now();
        }
        self.limits.set_config(&cfg.limits);
        let previous = self.live();
        let live = Arc::new(Live {
            gateway,
            evaluators,
            max_body_bytes: cfg.server.max_body_bytes,
            classes: Arc::new(audit::Classes::new(&cfg)),
            prices: pricing::Prices::new(&cfg),
            policies: cfg.policies.keys().cloned().collect(),
            cache: cache::Rules::new(&cfg),
            mcp: seam_mcp::Hub::new(&cfg.mcp, Some(&previous.mcp)),
            prompts,
            retrieval: Arc::new(retrieval::Setup::new(&cfg)),
            reports: Arc::new(ReportSetup::new(&cfg)),
        });
        drop(previous);
        match self.live.write() {
            Ok(mut g) => *g = live,
            Err(poisoned) => *poisoned.into_inner() = live,
        }
        Ok(aliases)
    }
}

/// The prompt files of a config; a bad file is a config error naming it.
fn load_prompts(cfg: &Config) -> Result<seam_prompts::Registry, String> {
    seam_prompts::Registry::load(&cfg.prompts_dir).map_err(|errors| errors.join("\n"))
}

impl AppState {
    /// Starts the audit record of a request.
    pub fn draft(
        &self,
        live: &Live,
        id: &RequestId,
        start: RequestStart,
        headers: &axum::http::HeaderMap,
        endpoint: &'static str,
        caller: Option<&auth::Caller>,
    ) -> audit::Draft {
        let mut draft = audit::Draft::new(
            self.auditor.clone(),
            &live.classes,
            id.0.to_str().unwrap_or("unknown"),
            start.0,
            headers,
            endpoint,
            caller,
        );
        // Tags are stored in clear (they are what records are searched by): only after the
        // scanner has seen them.
        draft.mask_tags(|t| live.gateway.label_for_record(t).into_owned());
        draft
    }
}

pub type SharedState = Arc<AppState>;

/// When the request reached Seam; handlers subtract upstream time from it to get overhead.
#[derive(Clone, Copy)]
pub struct RequestStart(pub Instant);

/// `x-seam-request-id`: time-ordered, so ids sort by arrival.
#[derive(Clone)]
pub struct RequestId(pub HeaderValue);

pub const REQUEST_ID: &str = "x-seam-request-id";
/// The W3C trace id of the request (the client's, or one Seam began).
pub const TRACE_ID: &str = "x-seam-trace-id";
pub const ROUTE: &str = "x-seam-route";
pub const ATTEMPTS: &str = "x-seam-attempts";
pub const ROUTE_REASON: &str = "x-seam-route-reason";
/// What the route's policy decided: entity types, actions and counts, never values.
pub const POLICY: &str = "x-seam-policy";

/// The whole HTTP surface. One middleware, `observe`: request id, access metrics, and axum's own
/// plain-text 4xx as error JSON (`json_rejections`).
/// `/admin/*` is as reachable as the rest: until API keys exist, Seam listens only on loopback.
pub fn app(state: SharedState) -> Router {
    let v1 = Router::new()
        .route("/v1/chat/completions", post(surface::chat::handle))
        .route("/v1/responses", post(surface::responses::handle))
        .route("/v1/messages", post(surface::messages::handle))
        .route(
            "/v1/messages/count_tokens",
            post(surface::messages::count_tokens),
        )
        .route("/v1/embeddings", post(embeddings::handle))
        .route("/v1/feedback", post(feedback::handle))
        .route("/v1/collections", get(retrieval::http::list))
        .route("/v1/collections/{name}", get(retrieval::http::stats))
        .route(
            "/v1/collections/{name}/documents",
            post(retrieval::http::add).get(retrieval::http::documents),
        )
        .route(
            "/v1/collections/{name}/documents/{*id}",
            get(retrieval::http::document).delete(retrieval::http::delete),
        )
        .route(
            "/v1/collections/{name}/search",
            post(retrieval::http::search),
        )
        .route("/v1/models", get(meta::models))
        .route("/mcp", post(mcp::post).get(mcp::get).delete(mcp::delete))
        .route("/v1/models/{*id}", get(meta::model))
        .route(
            "/v1/responses/{id}",
            get(conversations::retrieve).delete(conversations::delete),
        )
        .route(
            "/v1/responses/{id}/input_items",
            get(conversations::input_items),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    let admin = Router::new()
        .route("/admin/targets", get(admin::targets))
        .route("/admin/reload", post(admin::reload))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/mcp", get(admin::mcp))
        .route("/admin/keys", post(admin::create_key).get(admin::list_keys))
        .route("/admin/prompts", get(admin::list_prompts))
        .route("/admin/rollouts", get(admin::list_rollouts))
        .route("/admin/rollouts/{name}", get(admin::show_rollout))
        .route(
            "/admin/rollouts/{name}/{command}",
            post(admin::command_rollout),
        )
        .route(
            "/admin/prompts/{name}/tags/{tag}",
            axum::routing::put(admin::set_prompt_tag).delete(admin::delete_prompt_tag),
        )
        .route(
            "/admin/keys/{id}",
            get(admin::show_key).delete(admin::revoke_key),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_admin,
        ));
    Router::new()
        .merge(v1)
        .merge(admin)
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/metrics", get(meta::metrics))
        .nest_service("/console", console::router(state.clone()))
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(middleware::from_fn(observe))
        .with_state(state)
}

/// Gives every request an id (also on errors and 404s) and records the request metrics.
async fn observe(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let endpoint = metrics::endpoint(req.uri().path());
    let id = uuid::Uuid::now_v7().simple().to_string();
    let id = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("unknown"));
    req.extensions_mut().insert(RequestStart(start));
    req.extensions_mut().insert(RequestId(id.clone()));
    let shape = error::Shape::of_path(req.uri().path());
    // The client's W3C trace, if it sent a valid one, else a new one: upstream attempts continue
    // it, the audit record keeps its id, and `x-seam-trace-id` names it.
    // With `[telemetry]`, a sampled request on a model or tool surface also gets a recorder for
    // its spans (the request span is named `{operation} {model}` once the request is read).
    let trace = {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let sink = traced(endpoint).then(seam_providers::otel::sink).flatten();
        seam_providers::trace::Trace::incoming(
            header("traceparent"),
            header("tracestate"),
            sink,
            span_name(endpoint),
        )
    };
    let trace_id = HeaderValue::from_str(&trace.trace_id_hex()).ok();
    let recorder = trace.recorder.clone();
    if let Some(r) = &recorder {
        let rid = id.to_str().unwrap_or("unknown");
        r.set([
            ("seam.request_id", rid.into()),
            ("seam.endpoint", endpoint.into()),
        ]);
    }
    let resp = seam_providers::trace::CURRENT
        .scope(trace, next.run(req))
        .await;
    let mut resp = json_rejections(resp, shape);
    if let Some(r) = recorder {
        let status = resp.status().as_u16();
        r.set([("http.response.status_code", u64::from(status).into())]);
        if status >= 500 {
            r.fail_unless_known(&status.to_string());
        }
    }
    resp.headers_mut().insert(REQUEST_ID, id);
    if let Some(t) = trace_id {
        resp.headers_mut().insert(TRACE_ID, t);
    }
    metrics::request(endpoint, resp.status().as_u16(), start.elapsed());
    resp
}

/// The endpoints whose requests are traced spans: the model surfaces and `/mcp`.
fn traced(endpoint: &str) -> bool {
    matches!(
        endpoint,
        metrics::CHAT | metrics::EMBEDDINGS | metrics::MESSAGES | metrics::RESPONSES | metrics::MCP
    )
}

/// The request span's name until the request is read (`{operation} {model}` once it is): the
/// operation alone, as the GenAI conventions name a span whose model is unknown.
fn span_name(endpoint: &str) -> &'static str {
    match endpoint {
        metrics::EMBEDDINGS => "embeddings",
        metrics::MCP => "mcp",
        _ => "chat",
    }
}

/// axum answers what it rejects before a handler runs (a path segment that is not UTF-8, say) in
/// plain text; a client sees every 4xx as the error JSON instead, with a message that does not
/// echo its input.
/// Part of `observe` rather than a layer of its own: one middleware per request, not two.
fn json_rejections(resp: Response, shape: error::Shape) -> Response {
    let status = resp.status();
    let json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !status.is_client_error() || json {
        return resp;
    }
    let mut e = match status.as_u16() {
        404 => seam_types::ApiError::new(seam_types::ErrorCode::NotFound, "No such route"),
        405 => seam_types::ApiError::new(
            seam_types::ErrorCode::MethodNotAllowed,
            "This route does not accept that method",
        ),
        413 => seam_types::ApiError::new(
            seam_types::ErrorCode::RequestTooLarge,
            "The request body is larger than the limit (server.max_body_bytes)",
        ),
        _ => seam_types::ApiError::new(
            seam_types::ErrorCode::InvalidRequest,
            format!(
                "The request's path or query could not be read ({})",
                status.canonical_reason().unwrap_or("rejected")
            ),
        ),
    };
    e.status = status.as_u16();
    shape.response(&e)
}

/// Refuses an address reachable from other machines while no API keys protect the gateway.
pub fn check_exposure(listen: SocketAddr, keys_configured: bool) -> Result<(), String> {
    if keys_configured || listen.ip().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {listen}: no API keys are configured, so Seam serves unauthenticated \
         and only on a loopback address (e.g. 127.0.0.1:{port} or [::1]:{port})",
        port = listen.port()
    ))
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests; each
/// connection is held to `limits` ([`listen`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: listen::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve(listener, app, limits, shutdown).await
}
