//! `POST /v1/chat/completions`.

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use seam_gateway::usage::Expected;
use seam_gateway::{Attempt, Failure, Outcome, Placement, Rewritten};
use seam_types::chat::ChatRequest;

use std::sync::Arc;

use crate::audit::{Draft, Finish, Opening};
use crate::auth::Caller;
use crate::error::error_response;
use crate::pricing::{Priced, Prices, Source};
use crate::{
    ATTEMPTS, POLICY, ROUTE, ROUTE_REASON, RequestId, RequestStart, SharedState, body, cache,
    metrics, sse,
};

pub async fn handle(
    State(st): State<SharedState>,
    Extension(start): Extension<RequestStart>,
    Extension(rid): Extension<RequestId>,
    caller: Option<Extension<Arc<Caller>>>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let live = st.live();
    let caller = caller.map(|Extension(c)| c);
    let mut draft = st.draft(&live, &rid, start, &headers, "chat", caller.as_deref());
    let req = match body::request(raw, &headers, live.max_body_bytes, ChatRequest::validate).await {
        Ok(r) => r,
        Err(e) => return refused(draft, &e).await,
    };
    // The model as a record may keep it: the client's string only after the scanner saw it.
    draft.request(
        &live.gateway.model_for_record(&req.model),
        req.user.as_deref(),
        &req,
    );
    draft.raw_model(&req.model);
    let is_alias = live.gateway.is_alias(&req.model);
    if let Some(c) = &caller
        && let Err(e) = c.check_model(&req.model, is_alias)
    {
        return refused(draft, &e).await;
    }
    let placement =
        match crate::placement::effective(&live, &headers, caller.as_deref(), &req.model) {
            Ok(p) => p,
            Err(e) => return refused(draft, &e).await,
        };
    draft.placement(&placement);
    // The placement is part of the key: an answer from one placement never serves another.
    let plan = live
        .cache
        .plan(&req, caller.as_deref(), is_alias, &placement);
    let mut hit = match &plan {
        Some(p) => st.cache.get(p).await,
        None => None,
    };
    // Identical misses in flight at once: the first asks upstream, the others wait for its
    // answer and replay it (or, if it could not be stored, ask themselves).
    let mut lead = None;
    if hit.is_none()
        && let Some(p) = &plan
    {
        match st.cache.join(p) {
            cache::Flight::Lead(l) => lead = Some(l),
            cache::Flight::Follow(done) => hit = st.cache.follow(p, done).await,
        }
    }
    let scopes = st.limits.scopes(caller.as_deref(), draft.subject());
    let default_max = st.limits.default_max_tokens();
    let labels = crate::limits::Labels::new(&live, caller.as_deref(), Some(&req.model));
    // A hit uses no tokens and costs nothing: it counts against request rates and concurrency
    // only, so nothing is reserved for it.
    let admitted = if hit.is_some() {
        st.limits
            .admit(request_id(&rid), &scopes, labels, || (0, 0))
            .await
    } else {
        st.limits
            .admit(request_id(&rid), &scopes, labels, || {
                crate::limits::chat_estimate(&live, &req, default_max)
            })
            .await
    };
    let ticket = match admitted {
        Ok(t) => t,
        Err(e) => return refused(draft, &e).await,
    };
    if let Some(hit) = hit {
        let resp = from_cache(draft, hit).await;
        crate::limits::settle(ticket, 0, Some(0.0));
        return resp;
    }
    let mut resp = answer(
        &st,
        &live,
        draft,
        req,
        &placement,
        plan.as_ref(),
        start,
        &rid,
        caller.as_deref(),
        ticket,
        lead,
    )
    .await;
    if plan.is_some() {
        // Errors too: the lookup was made and missed.
        resp.headers_mut()
            .insert(cache::HEADER, HeaderValue::from_static("miss"));
    }
    resp
}

/// The request through the gateway: the answer (stored when `plan` says so) or its error, its
/// limits settled with what it used.
#[allow(clippy::too_many_arguments)] // the handler's context, passed once
async fn answer(
    st: &SharedState,
    live: &crate::Live,
    draft: Draft,
    req: ChatRequest,
    placement: &Placement,
    plan: Option<&cache::Plan>,
    start: RequestStart,
    rid: &RequestId,
    caller: Option<&Caller>,
    ticket: seam_limits::Ticket,
    lead: Option<cache::Lead>,
) -> Response {
    let key_policy = caller.and_then(|c| c.policy.as_deref());
    if !req.is_stream() {
        let (resp, used) = unary(
            st, draft, live, &req, placement, plan, start, rid, key_policy,
        )
        .await;
        crate::limits::settle(ticket, used.0, used.1);
        // Stored (or not storable): the identical requests waiting on this one look again.
        drop(lead);
        return resp;
    }
    match live.gateway.chat_stream(&req, placement, key_policy).await {
        Ok(out) => {
            let ttft = start.0.elapsed();
            // Under sync durability no byte is sent before the stream's opening is committed.
            let opening = Opening {
                route: &out.route,
                attempts: &out.attempts,
                policy: out.policy.as_ref(),
                ttft,
            };
            if let Err(e) = draft.open(opening).await {
                return unopened(draft, out, ticket, e).await;
            }
            metrics::overhead(metrics::CHAT, ttft.saturating_sub(out.upstream));
            let report = out.policy.as_ref().map(|p| p.header());
            let client_usage = req.wants_stream_usage();
            let end = StreamEnd {
                prices: live.prices.clone(),
                request_id: request_id(rid).to_owned(),
                ticket,
            };
            // A stream is stored when it ends: the lead rides with the copy until then.
            let tee = plan.and_then(|p| stream_tee(st, p, &out, lead));
            let on_end = on_stream_end(draft, &out, ttft, req, end);
            let mut resp = sse::response(out.value, Some(on_end), client_usage, tee);
            route_headers(
                &mut resp,
                Some(&out.route),
                &out.attempts,
                Some(&out.reason),
            );
            policy_header(&mut resp, report.as_deref());
            resp
        }
        Err(f) => {
            crate::limits::settle(ticket, 0, None);
            failed(draft, &f).await
        }
    }
}

/// A stream whose opening could not be committed: the upstream is left (its stream dropped), the
/// record of the request is attempted all the same, and the client gets `503 audit_unavailable`
/// before any byte of the answer.
async fn unopened(
    draft: Draft,
    out: Outcome<seam_gateway::ClientStream>,
    ticket: seam_limits::Ticket,
    e: seam_types::ApiError,
) -> Response {
    let Outcome {
        value,
        route,
        attempts,
        policy,
        rewritten,
        ..
    } = out;
    drop(value);
    crate::limits::settle(ticket, 0, None);
    let _ = draft
        .finish(Finish {
            status: e.status,
            error_code: Some(e.code.to_string()),
            route: Some(route),
            attempts: &attempts,
            policy: policy.as_ref(),
            rewritten: rewritten.as_ref(),
            ..Finish::default()
        })
        .await;
    error_response(&e)
}

/// A unary chat answer (or its error), and the tokens and cost it used.
#[allow(clippy::too_many_arguments)] // the handler's context, passed once
async fn unary(
    st: &SharedState,
    draft: Draft,
    live: &crate::Live,
    req: &ChatRequest,
    placement: &Placement,
    plan: Option<&cache::Plan>,
    start: RequestStart,
    rid: &RequestId,
    key_policy: Option<&str>,
) -> (Response, (u64, Option<f64>)) {
    match live.gateway.chat(req, placement, key_policy).await {
        Ok(out) => {
            let response = draft
                .keeps_payloads()
                .then(|| serde_json::to_value(&out.value).ok())
                .flatten();
            let usage = out.value.usage.as_ref().map(|u| {
                let expected = Expected::chat(as_sent(req, out.rewritten.as_ref()));
                let source = Source::Reported(&expected);
                live.prices.price(&out.route, u, source, request_id(rid))
            });
            let cost = usage.as_ref().and_then(|p| p.cost_usd);
            let tokens = usage
                .as_ref()
                .map_or(0, |p| p.prompt_tokens + p.completion_tokens);
            let done = draft
                .finish(Finish {
                    status: 200,
                    route: Some(out.route.clone()),
                    attempts: &out.attempts,
                    policy: out.policy.as_ref(),
                    usage,
                    rewritten: out.rewritten.as_ref(),
                    remask: out.remask.as_ref(),
                    response,
                    ..Finish::default()
                })
                .await;
            let resp = match done {
                Ok(()) => {
                    let mut resp = match plan {
                        Some(plan) => answered_and_stored(st, plan, &out, start).await,
                        None => answered(&out, start, metrics::CHAT),
                    };
                    cost_header(&mut resp, cost);
                    resp
                }
                Err(e) => error_response(&e),
            };
            (resp, (tokens, cost))
        }
        Err(f) => (failed(draft, &f).await, (0, None)),
    }
}

/// The request as it went upstream: the policy's rewrite, else the client's.
fn as_sent<'a>(req: &'a ChatRequest, rewritten: Option<&'a Rewritten>) -> &'a ChatRequest {
    match rewritten {
        Some(Rewritten::Chat(r)) => r,
        _ => req,
    }
}

fn request_id(rid: &RequestId) -> &str {
    rid.0.to_str().unwrap_or("unknown")
}

/// The usage of a stream: the upstream's, checked; else Seam's own count of the request as sent
/// and the text streamed (tokenizers are CPU work, so off the async runtime).
async fn stream_usage(
    prices: &Prices,
    route: &str,
    sent: &ChatRequest,
    answer: &sse::Assembled,
    request_id: &str,
) -> Option<Priced> {
    if let Some(u) = &answer.usage {
        let expected = Expected::chat(sent);
        return Some(prices.price(route, u, Source::Reported(&expected), request_id));
    }
    let model = route.split_once('/').map_or(route, |(_, m)| m).to_owned();
    let (sent, text) = (sent.clone(), answer.text());
    let counted = tokio::task::spawn_blocking(move || {
        seam_gateway::usage::estimate_stream(&sent, &model, &text)
    })
    .await
    .ok()?;
    Some(prices.price(route, &counted, Source::Estimated, request_id))
}

/// A hit: the stored answer as it was sent, with its record (status 200, no attempts, cost 0,
/// marked as a hit) committed first. No tokenizer, policy or router runs; the caller settles
/// its limits with zero tokens and zero cost.
async fn from_cache(draft: Draft, hit: cache::Stored) -> Response {
    let response = if draft.keeps_payloads() {
        match &hit.answer {
            cache::Answer::Unary(body) => serde_json::from_slice(body).ok(),
            cache::Answer::Stream(events) => Some(sse::assemble(events).to_json()),
        }
    } else {
        None
    };
    let done = draft
        .finish(Finish {
            status: 200,
            route: Some(hit.route.to_string()),
            usage: Some(Priced {
                prompt_tokens: 0,
                completion_tokens: 0,
                cost_usd: Some(0.0),
                estimated: false,
                anomalies: Vec::new(),
            }),
            response,
            cache_hit: true,
            ..Finish::default()
        })
        .await;
    if let Err(e) = done {
        return error_response(&e);
    }
    let mut resp = match hit.answer {
        cache::Answer::Unary(body) => json_bytes(body),
        cache::Answer::Stream(events) => sse::replay(events),
    };
    route_headers(&mut resp, Some(&hit.route), &[], None);
    cost_header(&mut resp, Some(0.0));
    resp.headers_mut()
        .insert(cache::HEADER, HeaderValue::from_static("hit"));
    resp
}

/// A miss answered whole: the bytes the client gets are the bytes stored (unless the policy
/// touched the answer or it is too large).
async fn answered_and_stored(
    st: &SharedState,
    plan: &cache::Plan,
    out: &Outcome<seam_types::chat::ChatCompletion>,
    start: RequestStart,
) -> Response {
    match serde_json::to_vec(&out.value) {
        Ok(body) => {
            let body = bytes::Bytes::from(body);
            if cache::cacheable(out.remask.as_ref(), &out.output_seen) {
                let stored = cache::Stored {
                    route: out.route.as_str().into(),
                    answer: cache::Answer::Unary(body.clone()),
                };
                st.cache.put(plan, stored).await;
            }
            with_route(json_bytes(body), out, start, metrics::CHAT)
        }
        Err(_) => answered(out, start, metrics::CHAT),
    }
}

/// For a streamed miss: a copy of what the client is sent, stored once the stream has ended
/// cleanly, if the policy left it alone.
fn stream_tee(
    st: &SharedState,
    plan: &cache::Plan,
    out: &Outcome<seam_gateway::ClientStream>,
    lead: Option<cache::Lead>,
) -> Option<sse::Tee> {
    if out.remask.is_some() {
        return None;
    }
    let (st, plan) = (Arc::clone(st), plan.clone());
    let route: Arc<str> = out.route.as_str().into();
    let seen = out.output_seen.clone();
    Some(sse::Tee::new(
        st.cache.max_entry_bytes(),
        Box::new(move |events| {
            Box::pin(async move {
                if cache::cacheable(None, &seen) {
                    let stored = cache::Stored {
                        route,
                        answer: cache::Answer::Stream(events.into()),
                    };
                    st.cache.put(&plan, stored).await;
                }
                drop(lead);
            })
        }),
    ))
}

/// What a stream's end settles besides its record.
struct StreamEnd {
    prices: Prices,
    request_id: String,
    ticket: seam_limits::Ticket,
}

/// The hook that accounts for a stream — its limits settled with the usage reported or counted —
/// and writes its record when it ends (before `[DONE]`).
fn on_stream_end(
    draft: Draft,
    out: &Outcome<seam_gateway::ClientStream>,
    ttft: std::time::Duration,
    req: ChatRequest,
    StreamEnd {
        prices,
        request_id,
        ticket,
    }: StreamEnd,
) -> sse::OnEnd {
    let route = out.route.clone();
    let attempts = out.attempts.clone();
    let policy = out.policy.clone();
    let rewritten = out.rewritten.clone();
    let remask = out.remask.clone();
    Box::new(move |end: sse::StreamEnd| {
        Box::pin(async move {
            let response = draft.keeps_payloads().then(|| end.answer.to_json());
            let sent = as_sent(&req, rewritten.as_ref());
            let usage = stream_usage(&prices, &route, sent, &end.answer, &request_id).await;
            match &usage {
                Some(p) => {
                    crate::limits::settle(ticket, p.prompt_tokens + p.completion_tokens, p.cost_usd)
                }
                None => {
                    let r = ticket.reserved();
                    ticket.settle_soon(r);
                }
            }
            draft
                .finish(Finish {
                    status: 200,
                    error_code: end.error.as_ref().map(|e| e.code.to_string()),
                    route: Some(route),
                    attempts: &attempts,
                    policy: policy.as_ref(),
                    usage,
                    ttft: Some(ttft),
                    rewritten: rewritten.as_ref(),
                    remask: remask.as_ref(),
                    response,
                    ended: Some(end.ended),
                    cache_hit: false,
                })
                .await
        })
    })
}

/// A request refused before the gateway saw it (bad body, too large).
pub async fn refused(draft: Draft, e: &seam_types::ApiError) -> Response {
    let done = draft
        .finish(Finish {
            status: e.status,
            error_code: Some(e.code.to_string()),
            ..Finish::default()
        })
        .await;
    match done {
        Ok(()) => error_response(e),
        Err(audit) => error_response(&audit),
    }
}

/// A request the gateway could not answer: its record, then the error.
pub async fn failed(draft: Draft, f: &Failure) -> Response {
    let done = draft
        .finish(Finish {
            status: f.error.status,
            error_code: Some(f.error.code.to_string()),
            attempts: &f.attempts,
            policy: f.policy.as_ref(),
            // What the vendor got, though it did not answer: the policy's rewrite, if any.
            rewritten: f.rewritten.as_ref(),
            ..Finish::default()
        })
        .await;
    match done {
        Ok(()) => failure(f),
        Err(audit) => error_response(&audit),
    }
}

/// A unary answer as JSON, with its route headers and overhead recorded.
pub fn answered<T: serde::Serialize>(
    out: &Outcome<T>,
    start: RequestStart,
    endpoint: &'static str,
) -> Response {
    with_route(json_response(&out.value), out, start, endpoint)
}

/// Route and policy headers on an answer's response, and the overhead recorded.
fn with_route<T>(
    mut resp: Response,
    out: &Outcome<T>,
    start: RequestStart,
    endpoint: &'static str,
) -> Response {
    metrics::overhead(endpoint, start.0.elapsed().saturating_sub(out.upstream));
    route_headers(
        &mut resp,
        Some(&out.route),
        &out.attempts,
        Some(&out.reason),
    );
    policy_header(
        &mut resp,
        out.policy.as_ref().map(|p| p.header()).as_deref(),
    );
    resp
}

/// `x-seam-cost-usd`, when the target has a price.
pub fn cost_header(resp: &mut Response, cost: Option<f64>) {
    if let Some(v) = cost.and_then(|c| HeaderValue::from_str(&format!("{c:.8}")).ok()) {
        resp.headers_mut().insert(crate::pricing::COST, v);
    }
}

pub fn policy_header(resp: &mut Response, report: Option<&str>) {
    if let Some(v) = report.and_then(|r| HeaderValue::from_str(&header_text(r)).ok()) {
        resp.headers_mut().insert(POLICY, v);
    }
}

pub fn failure(f: &Failure) -> Response {
    let mut resp = error_response(&f.error);
    route_headers(&mut resp, None, &f.attempts, f.reason.as_deref());
    resp
}

/// A JSON body already serialised.
fn json_bytes(body: bytes::Bytes) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn json_response<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut resp = bytes.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "could not serialize a response");
            error_response(&seam_types::ApiError::new(
                seam_types::ErrorCode::Internal,
                "Seam could not serialize the response",
            ))
        }
    }
}

/// `x-seam-route`, `x-seam-attempts` and `x-seam-route-reason`.
pub fn route_headers(
    resp: &mut Response,
    route: Option<&str>,
    attempts: &[Attempt],
    reason: Option<&str>,
) {
    let h = resp.headers_mut();
    if let Some(route) = route.and_then(|r| HeaderValue::from_str(&header_text(r)).ok()) {
        h.insert(ROUTE, route);
    }
    h.insert(ATTEMPTS, HeaderValue::from(attempts.len()));
    if let Some(reason) = reason.and_then(|r| HeaderValue::from_str(&header_text(r)).ok()) {
        h.insert(ROUTE_REASON, reason);
    }
}

/// Header values must be visible ASCII; model names from configs may not be. Long reasons (many
/// attempts) are cut so a header never grows without bound.
fn header_text(s: &str) -> String {
    s.chars()
        .take(512)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}
