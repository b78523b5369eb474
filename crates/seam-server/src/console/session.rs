//! Console sessions: a key signs in once, the browser then holds an `HttpOnly` cookie, and every
//! request that changes something also sends the session's CSRF token.
//!
//! The table is in memory, per replica: bounded ([`MAX_SESSIONS`], the oldest evicted), each
//! session ending [`TTL`] after sign-in (with its cookie). Only the SHA-256 of a session token
//! is kept, so the table holds nothing a browser could present. What signed in is checked again
//! on every request: a revoked key, or one that lost its `console` scope, ends its sessions at
//! once.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use seam_types::{ApiError, ErrorCode};
use serde_json::json;

use super::{Console, ConsoleState};
use crate::error::error_response;
use crate::{AppState, SharedState};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "seam_console";
/// The header that carries the session's CSRF token on every request that is not a GET.
pub(crate) const CSRF_HEADER: &str = "x-seam-csrf";
/// How long a session lasts from sign-in (the cookie's `Max-Age`).
pub(crate) const TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept per replica; past it the oldest is dropped.
const MAX_SESSIONS: usize = 10_000;
/// Sign-in attempts allowed per client address per [`SIGN_IN_WINDOW`].
const SIGN_INS: u32 = 10;
const SIGN_IN_WINDOW: Duration = Duration::from_secs(60);
/// Client addresses whose attempts are counted; past it, new addresses share one counter.
const MAX_CLIENTS: usize = 10_000;
/// A sign-in body is one key.
const MAX_SIGN_IN_BODY: usize = 4096;

/// What a session may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Everything the admin API can: the `[admin] key`, or anyone while Seam is open.
    Admin,
    /// Read-only, without payloads or subjects: a key with the `console` scope.
    Viewer,
}

/// What signed in, checked again on every request.
#[derive(Clone, Debug)]
enum Principal {
    /// The `[admin] key` (which only a restart changes).
    Admin,
    /// No admin key and no API keys: ends once either exists, as the admin API closes then.
    Open,
    /// A key with the `console` scope, by the hash of its secret.
    Key(String),
}

/// A signed-in browser.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) role: Role,
    /// The key's name, or `admin`.
    pub(crate) name: String,
    /// The key's id (`None` for the admin key).
    pub(crate) key_id: Option<String>,
    /// Whether Seam was open (no keys at all) at sign-in.
    pub(crate) open: bool,
    csrf: String,
    principal: Principal,
    /// The SHA-256 of the cookie's token: the session's key in the table.
    id: [u8; 32],
    seq: u64,
    created: Instant,
}

impl Session {
    fn json(&self) -> serde_json::Value {
        json!({"role": self.role, "name": self.name, "csrf": self.csrf, "open": self.open})
    }

    /// Whether what signed in still may.
    fn valid(&self, st: &AppState) -> bool {
        match &self.principal {
            Principal::Admin => st.admin_key_hash.is_some(),
            Principal::Open => st.admin_key_hash.is_none() && !st.keyring.keys().required(),
            Principal::Key(hash) => st
                .keyring
                .keys()
                .by_hash_of(hash)
                .is_some_and(|c| c.console),
        }
    }
}

/// The session table and the sign-in counters.
#[derive(Default)]
pub(crate) struct Sessions {
    table: Mutex<Table>,
    attempts: Mutex<Attempts>,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<[u8; 32], Arc<Session>>,
    /// Sessions by age: the first is the oldest, evicted first.
    order: BTreeMap<u64, [u8; 32]>,
    next: u64,
}

#[derive(Default)]
struct Attempts {
    /// Per client (`None`: unknown, or past [`MAX_CLIENTS`]): when its window began, how many.
    by_client: HashMap<Option<IpAddr>, (Instant, u32)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Sessions {
    fn insert(&self, mut s: Session) -> Arc<Session> {
        let mut t = lock(&self.table);
        let now = Instant::now();
        // Ended sessions are the oldest; then, if still full, the oldest live ones go.
        while let Some((&seq, &id)) = t.order.first_key_value() {
            let ended = t
                .by_id
                .get(&id)
                .is_none_or(|s| now.duration_since(s.created) >= TTL);
            if !ended && t.by_id.len() < MAX_SESSIONS {
                break;
            }
            t.order.remove(&seq);
            t.by_id.remove(&id);
        }
        s.seq = t.next;
        t.next += 1;
        let s = Arc::new(s);
        t.order.insert(s.seq, s.id);
        t.by_id.insert(s.id, Arc::clone(&s));
        s
    }

    fn remove(&self, id: &[u8; 32]) {
        let mut t = lock(&self.table);
        if let Some(s) = t.by_id.remove(id) {
            t.order.remove(&s.seq);
        }
    }

    /// The live session a request's cookie names; an ended one is dropped.
    fn current(&self, st: &AppState, headers: &HeaderMap) -> Option<Arc<Session>> {
        let id = token_hash(cookie(headers)?);
        let s = lock(&self.table).by_id.get(&id).cloned()?;
        if s.created.elapsed() >= TTL || !s.valid(st) {
            self.remove(&id);
            return None;
        }
        Some(s)
    }

    /// Counts a sign-in attempt from `client`; `Err` is how many seconds until it may try again.
    fn attempt(&self, client: Option<IpAddr>) -> Result<(), u64> {
        let mut a = lock(&self.attempts);
        let now = Instant::now();
        let mut key = client;
        if !a.by_client.contains_key(&key) && a.by_client.len() >= MAX_CLIENTS {
            a.by_client
                .retain(|_, (start, _)| now.duration_since(*start) < SIGN_IN_WINDOW);
            if a.by_client.len() >= MAX_CLIENTS {
                key = None;
            }
        }
        let entry = a.by_client.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= SIGN_IN_WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= SIGN_INS {
            let left = SIGN_IN_WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(left.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// The value of the session cookie, if the request has one.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (name, value) = c.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then_some(value)
        })
}

fn token_hash(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// 256 random bits, base64url.
fn random_token() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "no randomness for a session token"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// Equal in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Whether the request reached a TLS-terminating proxy over HTTPS (Seam itself speaks HTTP).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// An `Origin` header, when present, must name this server: the host the request was sent to
/// (over `https` when a proxy says the request came that way).
fn check_origin(headers: &HeaderMap, uri: &axum::http::Uri) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(axum::http::uri::Authority::as_str));
    let origin = origin.to_str().ok();
    let authority = origin.and_then(|o| {
        if over_tls(headers) {
            o.strip_prefix("https://")
        } else {
            o.strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
        }
    });
    match (authority, host) {
        (Some(a), Some(h)) if a.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::CsrfFailed,
            "The request's Origin is not this server's",
        )),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

fn not_json() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        "Send the body as JSON, with Content-Type: application/json",
    )
}

pub(crate) fn unauthorized() -> Response {
    error_response(&ApiError::new(
        ErrorCode::InvalidApiKey,
        "Sign in to the console first (POST /console/api/session); the session may have ended",
    ))
}

/// The session check every API route but sign-in runs: a live session; for anything but GET
/// and HEAD its CSRF token, this origin, and JSON bodies.
pub(crate) async fn require(
    State((st, console)): State<ConsoleState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(session) = console.sessions.current(&st, req.headers()) else {
        return unauthorized();
    };
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        if let Err(e) = check_origin(req.headers(), req.uri()) {
            return error_response(&e);
        }
        let token = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !token.is_some_and(|t| same(t, &session.csrf)) {
            return error_response(&ApiError::new(
                ErrorCode::CsrfFailed,
                format!(
                    "Send the session's CSRF token in {CSRF_HEADER} (GET /console/api/session gives it)"
                ),
            ));
        }
        // A body, when there is one, is JSON: what a form on another site cannot send.
        let has_body = !axum::body::HttpBody::is_end_stream(req.body());
        if has_body && !is_json(req.headers()) {
            return error_response(&not_json());
        }
    }
    req.extensions_mut().insert(session);
    next.run(req).await
}

/// Any signed-in session (both roles).
pub(crate) struct SignedIn(pub(crate) Arc<Session>);

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<Arc<Session>>()
            .cloned()
            .map(SignedIn)
            .ok_or_else(unauthorized)
    }
}

/// An admin session: the one place a viewer is refused an admin-only action.
pub(crate) struct AdminSession(pub(crate) Arc<Session>);

/// Refuses a viewer: what [`AdminSession`] does, for the few checks that depend on a parameter
/// rather than the route (searching the audit trail by subject).
pub(crate) fn admin_only(s: &Session) -> Result<(), ApiError> {
    match s.role {
        Role::Admin => Ok(()),
        Role::Viewer => Err(ApiError::new(
            ErrorCode::ConsoleForbidden,
            "This console session is read-only (a key with the console scope); sign in with the admin key",
        )),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let SignedIn(s) = SignedIn::from_request_parts(parts, state).await?;
        admin_only(&s).map_err(|e| error_response(&e))?;
        Ok(AdminSession(s))
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    key: String,
}

/// What `key` signs in as, if anything.
fn authenticate(st: &AppState, key: &str) -> Option<(Role, String, Option<String>, Principal)> {
    let hash = seam_store::keys::hash_secret(key);
    if st.admin_key_hash.as_deref() == Some(hash.as_str()) {
        return Some((Role::Admin, "admin".into(), None, Principal::Admin));
    }
    let keys = st.keyring.keys();
    if let Some(c) = keys.by_hash_of(&hash).filter(|c| c.console) {
        let (name, id) = (c.name.clone(), c.key_id.clone());
        return Some((Role::Viewer, name, Some(id), Principal::Key(hash)));
    }
    (st.admin_key_hash.is_none() && !keys.required())
        .then(|| (Role::Admin, "admin".into(), None, Principal::Open))
}

/// `POST /console/api/session` `{"key": "..."}`: a session cookie and the CSRF token.
pub(crate) async fn sign_in(
    State(st): State<SharedState>,
    axum::Extension(console): axum::Extension<Arc<Console>>,
    peer: Option<axum::Extension<crate::listen::Peer>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    raw: Body,
) -> Response {
    if let Err(e) = check_origin(&headers, &uri) {
        return error_response(&e);
    }
    if !is_json(&headers) {
        return error_response(&not_json());
    }
    if let Err(wait) = console.sessions.attempt(peer.map(|p| client(p.0.0.ip()))) {
        let mut e = ApiError::new(
            ErrorCode::RateLimited,
            format!("Too many console sign-in attempts from this address; retry in {wait} s"),
        );
        e.retry_after = Some(wait);
        return error_response(&e);
    }
    let ask: SignIn =
        match crate::body::request(raw, &headers, MAX_SIGN_IN_BODY, |_: &SignIn| Ok(())).await {
            Ok(a) => a,
            Err(e) => return error_response(&e),
        };
    let Some((role, name, key_id, principal)) = authenticate(&st, &ask.key) else {
        tracing::info!("console sign-in refused");
        return error_response(&ApiError::new(
            ErrorCode::InvalidApiKey,
            "The key is not the admin key nor an active key with the console scope",
        ));
    };
    let (token, csrf) = match (random_token(), random_token()) {
        (Ok(t), Ok(c)) => (t, c),
        (Err(e), _) | (_, Err(e)) => return error_response(&e),
    };
    let session = console.sessions.insert(Session {
        role,
        open: matches!(principal, Principal::Open),
        name,
        key_id,
        csrf,
        principal,
        id: token_hash(&token),
        seq: 0,
        created: Instant::now(),
    });
    tracing::info!(role = ?session.role, key = session.key_id.as_deref().unwrap_or("admin"), "console sign-in");
    let mut resp = crate::pipeline::json_response(&session.json());
    set_cookie(&mut resp, &headers, &token, TTL.as_secs());
    resp
}

/// IPv6 clients are counted by their /64, which one host usually holds whole.
fn client(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

fn set_cookie(resp: &mut Response, headers: &HeaderMap, token: &str, max_age: u64) {
    let secure = if over_tls(headers) { "; Secure" } else { "" };
    let v = format!(
        "{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    if let Ok(v) = HeaderValue::from_str(&v) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
}

/// `GET /console/api/session`: who is signed in, with the CSRF token (for a reloaded page).
pub(crate) async fn show(SignedIn(s): SignedIn) -> Response {
    crate::pipeline::json_response(&s.json())
}

/// `DELETE /console/api/session`: the session ends and its cookie is cleared.
pub(crate) async fn sign_out(
    axum::Extension(console): axum::Extension<Arc<Console>>,
    SignedIn(s): SignedIn,
    headers: HeaderMap,
) -> Response {
    console.sessions.remove(&s.id);
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    set_cookie(&mut resp, &headers, "", 0);
    resp
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    fn session(token: &str) -> Session {
        Session {
            role: Role::Viewer,
            name: "n".into(),
            key_id: None,
            open: false,
            csrf: "c".into(),
            principal: Principal::Admin,
            id: token_hash(token),
            seq: 0,
            created: Instant::now(),
        }
    }

    fn has(s: &Sessions, token: &str) -> bool {
        lock(&s.table).by_id.contains_key(&token_hash(token))
    }

    #[test]
    fn the_table_is_bounded_and_the_oldest_goes_first() {
        let s = Sessions::default();
        for i in 0..MAX_SESSIONS {
            s.insert(session(&format!("t{i}")));
        }
        s.remove(&token_hash("t5"));
        // A free place: nobody else goes.
        s.insert(session("new1"));
        assert!(has(&s, "t0") && has(&s, "new1"));
        // Full: the oldest goes.
        s.insert(session("new2"));
        assert!(!has(&s, "t0") && has(&s, "t1") && has(&s, "new2"));
        let t = lock(&s.table);
        assert_eq!((t.by_id.len(), t.order.len()), (MAX_SESSIONS, MAX_SESSIONS));
    }

    #[test]
    fn sign_ins_are_counted_per_client_and_overflow_shares_a_counter() {
        let s = Sessions::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..SIGN_INS {
            assert!(s.attempt(Some(a)).is_ok());
        }
        let wait = s.attempt(Some(a)).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        // Another client is not held back by the first.
        assert!(s.attempt(Some("192.0.2.2".parse().unwrap())).is_ok());
        // An IPv6 client is one /64.
        let v6 = |x: &str| client(x.parse().unwrap());
        assert_eq!(v6("2001:db8::1"), v6("2001:db8::ffff:2"));
        assert_ne!(v6("2001:db8::1"), v6("2001:db8:0:1::1"));
        assert_eq!(v6("::ffff:192.0.2.1"), a);
        // Past the table's size, new clients share the unknown client's counter.
        let s = Sessions::default();
        for i in 0..MAX_CLIENTS as u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(s.attempt(Some(ip)).is_ok());
        }
        for _ in 0..SIGN_INS {
            assert!(s.attempt(Some("203.0.113.9".parse().unwrap())).is_ok());
        }
        assert!(s.attempt(Some("203.0.113.10".parse().unwrap())).is_err());
        assert_eq!(lock(&s.attempts).by_client.len(), MAX_CLIENTS + 1);
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; seam_console=tok; b=2"),
        );
        assert_eq!(cookie(&h), Some("tok"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("seam_console_x=1"));
        h.append(header::COOKIE, HeaderValue::from_static("seam_console="));
        assert_eq!(cookie(&h), None);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd") && !same("abc", "ab") && !same("", "a"));
        let t = random_token().unwrap();
        assert_eq!(t.len(), 43);
        assert_ne!(t, random_token().unwrap());
    }
}
