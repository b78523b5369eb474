//! `/console`: the web console. A single-page app whose every byte is embedded in the binary
//! (no CDN, works air-gapped), over a JSON API under `/console/api` that only a signed-in
//! browser session reaches.
//!
//! Invariants: the session check is one middleware ([`session::require`]) over every API route
//! but sign-in; admin-only handlers take an [`session::AdminSession`], the one place a viewer is
//! refused; every console response carries the security headers ([`secure`]), API answers are
//! never cached; the HTML holds no data, only the app that asks for it.

mod evals;
mod keys;
mod records;
mod reports;
mod session;
mod stats;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use seam_types::{ApiError, ErrorCode};

use crate::SharedState;
use crate::error::error_response;

/// What the console keeps in memory beside the app's state: sessions, sign-in attempts, the
/// assets. One per [`router`] (so per server).
pub(crate) struct Console {
    pub(crate) sessions: session::Sessions,
    /// The audit chain's state as the last verification left it: `console.chain.json()`.
    pub(crate) chain: records::Chain,
    /// Held while a report is built: one at a time.
    pub(crate) reports: reports::Gate,
    assets: Assets,
}

/// How handlers reach the [`Console`]: an extension on every console route.
pub(crate) type ConsoleExt = axum::Extension<Arc<Console>>;

/// The console's state in handlers: the app's and the console's own.
pub(crate) type ConsoleState = (SharedState, Arc<Console>);

/// The console: assets at `/console`, the API at `/console/api`; nested by `app()` under
/// `/console` (paths here are relative to it).
pub(crate) fn router(state: SharedState) -> Router {
    let console = Arc::new(Console {
        sessions: session::Sessions::default(),
        chain: records::Chain::default(),
        reports: reports::Gate::default(),
        assets: Assets::from_env(),
    });
    let cx: ConsoleState = (state.clone(), console.clone());
    // Behind the session check: everything under /api but signing in.
    let api = Router::new()
        .route("/api/session", get(session::show).delete(session::sign_out))
        .route("/api/audit", get(records::list))
        .route("/api/audit/{id}", get(records::record))
        .route("/api/chain", get(records::chain))
        .route("/api/chain/verify", post(records::verify))
        .route("/api/keys", get(keys::list).post(keys::create))
        .route("/api/keys/{id}", axum::routing::delete(keys::revoke))
        .route("/api/evals", get(evals::list).post(evals::upload))
        .route("/api/evals/{id}", get(evals::get))
        .route("/api/rollouts", get(crate::admin::list_rollouts))
        .route("/api/reports/{kind}", get(reports::get).post(reports::post))
        .merge(stats::routes())
        .route("/api/{*rest}", axum::routing::any(not_found))
        .route_layer(middleware::from_fn_with_state(cx.clone(), session::require))
        .layer(axum::Extension(console.clone()));
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
        .route(
            "/api/session",
            post(session::sign_in).layer(axum::Extension(console.clone())),
        )
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(secure))
        .layer(axum::Extension(console))
        .with_state(state)
}

/// The headers every console response carries; API answers are never cached.
async fn secure(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if api || !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// No inline script or style, no outside origin, no framing.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

async fn not_found() -> Response {
    error_response(&ApiError::new(ErrorCode::NotFound, "No such console route"))
}

async fn method_not_allowed() -> Response {
    error_response(&ApiError::new(
        ErrorCode::MethodNotAllowed,
        "The console route exists but not with this method",
    ))
}

/// The four files of the app, by the name they are served under.
const FILES: [(&str, &str); 4] = [
    ("index.html", "text/html; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("app.css", "text/css; charset=utf-8"),
    ("favicon.svg", "image/svg+xml"),
];

/// The app's files: embedded, or read from `SEAM_CONSOLE_DIR` on every request (a development
/// aid, so UI work needs no rebuild).
enum Assets {
    Embedded,
    Dir(std::path::PathBuf),
}

fn embedded(name: &str) -> Option<&'static [u8]> {
    Some(match name {
        "index.html" => include_bytes!("../../console/index.html"),
        "app.js" => include_bytes!("../../console/app.js"),
        "app.css" => include_bytes!("../../console/app.css"),
        "favicon.svg" => include_bytes!("../../console/favicon.svg"),
        _ => return None,
    })
}

impl Assets {
    fn from_env() -> Assets {
        match std::env::var_os("SEAM_CONSOLE_DIR") {
            Some(dir) if !dir.is_empty() => {
                tracing::warn!(
                    dir = %std::path::Path::new(&dir).display(),
                    "the console's files are served from SEAM_CONSOLE_DIR, not the binary"
                );
                Assets::Dir(dir.into())
            }
            _ => Assets::Embedded,
        }
    }

    /// The file's bytes, content type and entity tag.
    async fn get(&self, name: &str) -> Option<(bytes::Bytes, &'static str, String)> {
        let (_, kind) = FILES.iter().find(|(n, _)| *n == name)?;
        let body = match self {
            Assets::Embedded => bytes::Bytes::from_static(embedded(name)?),
            Assets::Dir(dir) => match tokio::fs::read(dir.join(name)).await {
                Ok(b) => b.into(),
                Err(e) => {
                    tracing::warn!(file = name, error = %e, "SEAM_CONSOLE_DIR: cannot read");
                    return None;
                }
            },
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, &body);
        let tag: String = digest.as_ref()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Some((body, kind, format!("\"{tag}\"")))
    }
}

/// `GET /console`, `/console/`: the app. It holds no data.
async fn index(
    axum::Extension(console): axum::Extension<Arc<Console>>,
    headers: HeaderMap,
) -> Response {
    serve_file(&console, "index.html", &headers).await
}

/// `GET /console/assets/{file}`.
async fn asset(
    axum::Extension(console): axum::Extension<Arc<Console>>,
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if file == "index.html" {
        return not_found().await;
    }
    serve_file(&console, &file, &headers).await
}

async fn serve_file(console: &Console, name: &str, headers: &HeaderMap) -> Response {
    let Some((body, kind, etag)) = console.assets.get(name).await else {
        return not_found().await;
    };
    // Revalidated on every load (a new binary's files are picked up at once), sent only when
    // they changed.
    let cache = match console.assets {
        Assets::Embedded => "no-cache",
        Assets::Dir(_) => "no-store",
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}
