//! The one request path every model surface runs: body → decode (the surface's codec) → key scope
//! → placement → exact cache → limits → gateway (input policy, routing, output policy) → pricing →
//! audit → encode (the codec again), streamed or not.
//!
//! A surface ([`crate::surface`]) only translates; everything a request is held to happens here,
//! the same way for chat completions, Messages and Responses. The audit record is held by the
//! type: the [`Draft`] a request starts with writes a record when it is dropped unfinished (a
//! client that went away, an early return), so no path can lose one.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use seam_gateway::usage::Expected;
use seam_gateway::{Attempt, Failure, Outcome, Placement, Rewritten};
use seam_types::ApiError;
use seam_types::chat::{ChatCompletion, ChatRequest};

use crate::audit::{Draft, Finish, Opening};
use crate::auth::Caller;
use crate::pricing::{Priced, Prices, Source};
use crate::surface::{Codec, DecodeCx, Decoded};
use crate::{
    ATTEMPTS, POLICY, ROUTE, ROUTE_REASON, RequestId, RequestStart, SharedState, body, cache,
    metrics, sse,
};

/// What a surface handler extracts from the request besides its body: when it arrived, its id,
/// the caller (when keys are configured) and its headers.
pub struct Cx {
    pub start: RequestStart,
    pub rid: RequestId,
    pub caller: Option<Arc<Caller>>,
    pub headers: HeaderMap,
}

impl<S: Send + Sync> FromRequestParts<S> for Cx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let start = parts
            .extensions
            .get::<RequestStart>()
            .copied()
            .unwrap_or(RequestStart(std::time::Instant::now()));
        let rid = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or(RequestId(HeaderValue::from_static("unknown")));
        Ok(Cx {
            start,
            rid,
            caller: parts.extensions.get::<Arc<Caller>>().cloned(),
            headers: std::mem::take(&mut parts.headers),
        })
    }
}

/// One request of surface `C`, from its body to the response.
pub async fn serve<C: Codec>(st: SharedState, cx: Cx, raw: Body, codec: C) -> Response {
    let live = st.live();
    let Cx {
        start,
        rid,
        caller,
        headers,
    } = cx;
    let mut draft = st.draft(&live, &rid, start, &headers, C::ENDPOINT, caller.as_deref());
    let bytes = match body::read(raw, &headers, live.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return refused(draft, &e, &|e| codec.error(e)).await,
    };
    // A `prompt:` model is rendered into the body first: everything after sees the rendered
    // request, the input policy included.
    // A rollout on the prompt picks its side here, before the prompt is chosen.
    let mut assignment = None;
    let pick = |name: &str, body: &serde_json::Map<String, serde_json::Value>| {
        let rt = st.rollouts.for_prompt(name)?;
        let subject = draft.subject().or_else(|| body_subject(body));
        let key_id = caller.as_deref().map(|c| c.key_id.as_str());
        let a = rt.assign(rt.sticky(subject, key_id), request_id(&rid))?;
        let alt = a.prompt().map(str::to_owned);
        assignment = Some(a);
        alt
    };
    let applied = crate::prompts::apply::<C>(&st.prompt_versions, &live.prompts, bytes, pick).await;
    let (body, prompt) = match applied {
        Ok(b) => b,
        Err(e) => return refused(draft, &e, &|e| codec.error(e)).await,
    };
    let header = prompt
        .as_ref()
        .and_then(|p| HeaderValue::from_str(&p.id).ok());
    if let Some(p) = &prompt {
        draft.prompt(p.id.clone());
    }
    let read = Read {
        st,
        live,
        start,
        rid,
        caller,
        headers,
        body,
    };
    let mut variant = None;
    let mut citations = None;
    let mut resp = decoded(
        read,
        prompt,
        assignment,
        (&mut variant, &mut citations),
        draft,
        codec,
    )
    .await;
    if let Some(h) = header {
        resp.headers_mut().insert(crate::prompts::HEADER, h);
    }
    if let Some(c) = citations {
        resp.headers_mut()
            .insert(crate::retrieval::inject::HEADER, c);
    }
    if let Some(v) = variant {
        resp.headers_mut().insert(crate::rollouts::HEADER, v);
    }
    resp
}

/// The subject a body names (`user`, Messages' `metadata.user_id`), for a rollout's sticky
/// assignment before the codec has read it.
fn body_subject(body: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    body.get("user")
        .or_else(|| body.get("metadata").and_then(|m| m.get("user_id")))
        .and_then(serde_json::Value::as_str)
}

/// A request's body, read, with what it arrived with.
struct Read {
    st: SharedState,
    live: Arc<crate::Live>,
    start: RequestStart,
    rid: RequestId,
    caller: Option<Arc<Caller>>,
    headers: HeaderMap,
    body: crate::prompts::Body,
}

/// The rest of [`serve`], once the body is read (and a prompt rendered into it).
async fn decoded<C: Codec>(
    b: Read,
    prompt: Option<crate::prompts::Applied>,
    assignment: Option<crate::rollouts::Assignment>,
    (variant, citations): (&mut Option<HeaderValue>, &mut Option<HeaderValue>),
    mut draft: Draft,
    mut codec: C,
) -> Response {
    let Read {
        st,
        live,
        start,
        rid,
        caller,
        headers,
        body,
    } = b;
    let decode_cx = DecodeCx {
        key_id: caller.as_deref().map(|c| c.key_id.as_str()),
        subject: draft.subject(),
        headers: &headers,
        takes_native: &|model, wire| live.gateway.takes_native(model, wire),
        keeps_request: draft.may_keep_payloads(),
    };
    let Decoded {
        chat: mut req,
        user,
        record,
    } = match match body {
        crate::prompts::Body::Raw(bytes) => codec.decode(bytes, decode_cx).await,
        crate::prompts::Body::Parsed(value) => codec.decode_value(value, decode_cx).await,
    } {
        Ok(d) => d,
        Err(e) => return refused(draft, &e, &|e| codec.error(e)).await,
    };
    if let Some(p) = &prompt {
        crate::prompts::contract(&mut req, p);
    }
    // A rollout's candidate alias is Seam's own: a client may not name it.
    if req.model.starts_with(crate::rollouts::ALIAS_PREFIX) {
        let e = ApiError::new(
            seam_types::ErrorCode::ModelNotFound,
            "No alias with that name; GET /v1/models lists them",
        )
        .with_param("model");
        return refused(draft, &e, &|e| codec.error(e)).await;
    }
    // The model as a record may keep it: the client's string only after the scanner saw it.
    // The config alias serving the model (exact, or a glob's): key scopes, audit classes, the
    // cache's rules and metric labels go by it, never by the client's string.
    let alias = live.gateway.alias_of(&req.model);
    let recorded = live.gateway.model_for_record(&req.model);
    draft.request(&recorded, alias, user.as_deref(), &record);
    draft.features(crate::features::of(&req));
    if let Some(r) = draft.span() {
        crate::otel::params(r, &req);
    }
    drop(record);
    draft.raw_model(&req.model);
    if let Some(c) = &caller
        && let Err(e) = c.check_model(alias.unwrap_or(&req.model), alias.is_some())
    {
        return refused(draft, &e, &|e| codec.error(e)).await;
    }
    let placement =
        match crate::placement::effective(&live, &headers, caller.as_deref(), &req.model) {
            Ok(p) => p,
            Err(e) => return refused(draft, &e, &|e| codec.error(e)).await,
        };
    draft.placement(&placement);
    // Retrieval on the alias: the passages this caller may see go into the request now, so the
    // cache key, the input policy and the record all see the request as it will be sent.
    if let Some(r) = alias.and_then(|a| live.retrieval.aliases.get(a)) {
        let key_policy = caller.as_deref().and_then(|c| c.policy.as_deref());
        let who = (caller.as_deref(), draft.subject());
        match crate::retrieval::apply(&st, &live, &mut req, r, who, &placement, key_policy).await {
            Ok(given) if !given.citations.is_empty() => {
                *citations = crate::retrieval::inject::header(&given.citations);
                draft.citations(given.citations);
            }
            Ok(_) => {}
            Err(e) => return refused(draft, &e, &|e| codec.error(e)).await,
        }
    }
    // A rollout on the alias (unless one on the prompt already chose): the candidate's targets
    // answer under its synthetic alias, with the alias's key scope and placement checked above.
    let assignment = assignment.or_else(|| {
        let rt = st.rollouts.for_alias(alias?)?;
        let key_id = caller.as_deref().map(|c| c.key_id.as_str());
        rt.assign(rt.sticky(draft.subject(), key_id), request_id(&rid))
    });
    let mut rerouted = false;
    let mut label = None;
    if let Some(a) = assignment {
        if a.reroutes() {
            req.model = format!("{}{}", crate::rollouts::ALIAS_PREFIX, a.rollout.cfg.name);
            rerouted = true;
        }
        label = Some(a.label());
        *variant = label.as_deref().and_then(|l| HeaderValue::from_str(l).ok());
        draft.assign(a);
    }
    // Online evaluators that will grade this request's answer, picked by alias, prompt and a
    // hash of its id (`None` at the cost of two lookups when there are none).
    let evals = live.evaluators.pick(crate::evaluate::Asked {
        request_id: request_id(&rid),
        alias,
        prompt: prompt.as_ref().map(|p| p.id.as_str()),
        variant: label.as_deref(),
        subject: draft.subject(),
        placement: &placement,
        key_policy: caller.as_deref().and_then(|c| c.policy.as_deref()),
        start: start.0,
        sink: &st.scores,
    });
    let codec = Arc::new(codec);
    // The placement is part of the key: an answer from one placement never serves another.
    let mut plan = live
        .cache
        .plan(&req, caller.as_deref(), alias, &placement)
        .filter(|_| codec.cacheable() && !rerouted);
    let t0 = seam_providers::otel::now_ns();
    let mut hit = match &plan {
        Some(p) => st.cache.get(p).await,
        None => None,
    };
    // After an exact miss, a semantic rule looks for a question close in meaning.
    let similarity = match plan.as_mut().filter(|p| hit.is_none() && p.is_semantic()) {
        Some(p) => semantic_lookup(&st, &live, p, &req, &placement, caller.as_deref())
            .await
            .map(|(stored, similarity)| {
                hit = Some(stored);
                similarity
            }),
        None => None,
    };
    if plan.is_some() {
        let mut attrs = vec![("seam.cache_hit", hit.is_some().into())];
        if let Some(s) = similarity {
            attrs.push(("seam.cache_similarity", f64::from(s).into()));
        }
        draft.stage("seam.cache.lookup", t0, attrs);
    }
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
    let t0 = seam_providers::otel::now_ns();
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
    let refusal = admitted.as_ref().err().map(|e| e.code.to_string());
    draft.stage(
        "seam.limits.reserve",
        t0,
        refusal
            .map(|e| vec![("error.type", e.into())])
            .unwrap_or_default(),
    );
    let ticket = match admitted {
        Ok(t) => t,
        Err(e) => return refused(draft, &e, &|e| codec.error(e)).await,
    };
    if let Some(hit) = hit {
        let mut resp = from_cache(draft, hit, &codec, req.is_stream()).await;
        if let Some(s) = similarity {
            cache::semantic::mark(&mut resp, s);
        }
        crate::limits::settle(ticket, 0, Some(0.0));
        return resp;
    }
    let key_policy = caller.as_deref().and_then(|c| c.policy.as_deref());
    // A shadow rollout on the alias (or the prompt): a sampled copy of what goes upstream.
    let shadow = alias
        .and_then(|a| st.rollouts.for_alias(a))
        .or_else(|| {
            let p = prompt.as_ref()?;
            st.rollouts.for_prompt(p.id.split('@').next()?)
        })
        .filter(|rt| rt.shadows(request_id(&rid)))
        .map(|rt| crate::rollouts::Shadow {
            rollout: rt,
            live: Arc::clone(&live),
            auditor: st.auditor.clone(),
            slots: Arc::clone(&st.rollouts.shadow_slots),
            request_id: request_id(&rid).to_owned(),
            subject: draft.subject().map(str::to_owned),
            key_id: caller.as_deref().map(|c| c.key_id.clone()),
            alias: alias.map(str::to_owned),
            placement: placement.clone(),
            key_policy: key_policy.map(str::to_owned),
            // The shadow's calls are not this request's spans.
            trace: seam_providers::trace::CURRENT
                .try_with(|t| seam_providers::trace::Trace {
                    recorder: None,
                    ..t.clone()
                })
                .ok(),
        });
    let request = Request {
        st: &st,
        live: &live,
        start,
        rid: &rid,
        placement: &placement,
        plan: plan.as_ref(),
        key_policy,
        evals: evals.as_ref(),
    };
    let mut resp = request
        .answer(draft, req, codec, ticket, lead, shadow)
        .await;
    if plan.is_some() {
        // Errors too: the lookup was made and missed.
        resp.headers_mut()
            .insert(cache::HEADER, HeaderValue::from_static("miss"));
    }
    resp
}

/// The semantic cache's lookup for `plan` (after an exact miss): the request's text is checked
/// by its route's policy and embedded under its placement and key policy.
async fn semantic_lookup(
    st: &SharedState,
    live: &crate::Live,
    plan: &mut cache::Plan,
    req: &ChatRequest,
    placement: &Placement,
    caller: Option<&Caller>,
) -> Option<(cache::Stored, f32)> {
    let cx = cache::semantic::Lookup {
        gateway: &live.gateway,
        embedders: &st.embedders,
        model: &req.model,
        placement,
        key_policy: caller.and_then(|c| c.policy.as_deref()),
    };
    st.cache.semantic(plan, cx).await
}

/// How a surface answers an error (its codec's `error`).
pub type ErrorShape<'a> = dyn Fn(&ApiError) -> Response + Send + Sync + 'a;

/// What every step after admission needs, passed once.
struct Request<'a> {
    st: &'a SharedState,
    live: &'a crate::Live,
    start: RequestStart,
    rid: &'a RequestId,
    placement: &'a Placement,
    plan: Option<&'a cache::Plan>,
    key_policy: Option<&'a str>,
    evals: Option<&'a crate::evaluate::Picked>,
}

impl Request<'_> {
    /// The request through the gateway: the answer (stored when `plan` says so) or its error,
    /// its limits settled with what it used.
    async fn answer<C: Codec>(
        &self,
        draft: Draft,
        req: ChatRequest,
        codec: Arc<C>,
        ticket: seam_limits::Ticket,
        lead: Option<cache::Lead>,
        shadow: Option<crate::rollouts::Shadow>,
    ) -> Response {
        if !req.is_stream() {
            let (resp, used) = self.unary(draft, &req, &*codec, shadow).await;
            crate::limits::settle(ticket, used.0, used.1);
            // Stored (or not storable): the identical requests waiting on this one look again.
            drop(lead);
            return resp;
        }
        let live = self.live;
        match live
            .gateway
            .chat_stream(&req, self.placement, self.key_policy)
            .await
        {
            Ok(out) => {
                let ttft = self.start.0.elapsed();
                if let Some(s) = shadow {
                    s.send(as_sent(&req, out.rewritten.as_ref()));
                }
                // Under sync durability no byte is sent before the stream's opening is committed.
                let opening = Opening {
                    route: &out.route,
                    attempts: &out.attempts,
                    policy: out.policy.as_ref(),
                    ttft,
                };
                if let Err(e) = draft.open(opening).await {
                    return unopened(draft, out, ticket, e, &*codec).await;
                }
                metrics::overhead(C::METRIC, ttft.saturating_sub(out.upstream));
                let report = out.policy.as_ref().map(|p| p.header());
                let end = StreamEnd {
                    prices: live.prices.clone(),
                    request_id: request_id(self.rid).to_owned(),
                    ticket,
                    evals: self.evals.cloned(),
                };
                // A stream is stored when it ends: the lead rides with the copy until then.
                let tee = self.plan.and_then(|p| stream_tee(self.st, p, &out, lead));
                let encoder = codec.encoder();
                let on_end = on_stream_end(draft, &out, ttft, req, end, codec);
                let mut resp = sse::response(out.value, encoder, Some(on_end), tee);
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
                shadow_failed(shadow, &req, &f);
                crate::limits::settle(ticket, 0, None);
                failed(draft, &f, &|e| codec.error(e)).await
            }
        }
    }

    /// A unary answer (or its error), and the tokens and cost it used.
    async fn unary<C: Codec>(
        &self,
        draft: Draft,
        req: &ChatRequest,
        codec: &C,
        shadow: Option<crate::rollouts::Shadow>,
    ) -> (Response, (u64, Option<f64>)) {
        let live = self.live;
        let out = match live
            .gateway
            .chat(req, self.placement, self.key_policy)
            .await
        {
            Ok(out) => out,
            Err(f) => {
                shadow_failed(shadow, req, &f);
                return (failed(draft, &f, &|e| codec.error(e)).await, (0, None));
            }
        };
        if let Some(s) = shadow {
            s.send(as_sent(req, out.rewritten.as_ref()));
        }
        if let Some(r) = draft.span() {
            crate::otel::response(r, &out.value, &out.reason);
            crate::otel::content(r, as_sent(req, out.rewritten.as_ref()), &out.value);
        }
        let response = draft
            .keeps_payloads()
            .then(|| serde_json::to_value(&out.value).ok())
            .flatten();
        let usage = out.value.usage.as_ref().map(|u| {
            let expected = Expected::chat(as_sent(req, out.rewritten.as_ref()));
            let source = Source::Reported(&expected);
            live.prices
                .price(&out.route, u, source, request_id(self.rid))
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
        if let Err(e) = done {
            return (codec.error(&e), (tokens, cost));
        }
        if let Err(e) = codec.complete(&out.value).await {
            return (codec.error(&e), (tokens, cost));
        }
        if let Some(evals) = self.evals {
            let sent = as_sent(req, out.rewritten.as_ref());
            evals.offer(sent, &out.value, out.remask.as_ref(), cost);
        }
        let resp = match self.plan {
            Some(plan) => self.answered_and_stored(plan, &out, codec).await,
            None => answered(&out, self.start, codec),
        };
        let mut resp = resp;
        cost_header(&mut resp, cost);
        (resp, (tokens, cost))
    }

    /// A miss answered whole: the completion is stored as the pipeline's JSON (unless the policy
    /// touched the answer or it is too large) and sent as the surface encodes it.
    async fn answered_and_stored<C: Codec>(
        &self,
        plan: &cache::Plan,
        out: &Outcome<ChatCompletion>,
        codec: &C,
    ) -> Response {
        let Ok(body) = serde_json::to_vec(&out.value) else {
            return answered(out, self.start, codec);
        };
        let body = bytes::Bytes::from(body);
        if cache::cacheable(out.remask.as_ref(), &out.output_seen) {
            let stored = cache::Stored {
                route: out.route.as_str().into(),
                answer: cache::Answer::Unary(body.clone()),
            };
            self.st.cache.put(plan, stored).await;
        }
        if C::CHAT_FORM {
            return with_route(json_bytes(body), out, self.start, C::METRIC);
        }
        answered(out, self.start, codec)
    }
}

/// A stream whose opening could not be committed: the upstream is left (its stream dropped), the
/// record of the request is attempted all the same, and the client gets `503 audit_unavailable`
/// before any byte of the answer.
async fn unopened<C: Codec>(
    draft: Draft,
    out: Outcome<seam_gateway::ClientStream>,
    ticket: seam_limits::Ticket,
    e: ApiError,
    codec: &C,
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
    codec.error(&e)
}

/// A shadow copy of a request whose primary failed upstream: the candidate is compared on the
/// same requests, so leaving out the control's failures would flatter it. A request the policy
/// refused reached no upstream and has no copy.
fn shadow_failed(shadow: Option<crate::rollouts::Shadow>, req: &ChatRequest, f: &Failure) {
    if let Some(s) = shadow
        && !f.attempts.is_empty()
    {
        s.send(as_sent(req, f.rewritten.as_ref()));
    }
}

/// The request as it went upstream: the policy's rewrite, else the client's.
fn as_sent<'a>(req: &'a ChatRequest, rewritten: Option<&'a Rewritten>) -> &'a ChatRequest {
    match rewritten {
        Some(Rewritten::Chat(r)) => r,
        _ => req,
    }
}

pub(crate) fn request_id(rid: &RequestId) -> &str {
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

/// A hit: the stored answer encoded for this surface, with its record (status 200, no attempts,
/// cost 0, marked as a hit) committed first. No tokenizer, policy or router runs; the caller
/// settles its limits with zero tokens and zero cost. A stored stream answers a unary request
/// whole, and a stored completion a stream in chunks.
async fn from_cache<C: Codec>(
    draft: Draft,
    hit: cache::Stored,
    codec: &Arc<C>,
    stream: bool,
) -> Response {
    let chunks = match &hit.answer {
        cache::Answer::Stream(events) => sse::parse(events),
        cache::Answer::Unary(_) => Vec::new(),
    };
    // Chat completions replays what it stored as it is: the completion is read only when the
    // record keeps it or the hit is sent in the other form.
    let same_form = matches!(
        (&hit.answer, stream),
        (cache::Answer::Unary(_), false) | (cache::Answer::Stream(_), true)
    );
    let completion = if C::CHAT_FORM && same_form && !draft.keeps_payloads() {
        None
    } else {
        let read = match &hit.answer {
            cache::Answer::Unary(body) => serde_json::from_slice::<ChatCompletion>(body).ok(),
            cache::Answer::Stream(_) => sse::assemble(&chunks).to_completion(),
        };
        let Some(c) = read else {
            return codec.error(&ApiError::new(
                seam_types::ErrorCode::Internal,
                "Seam could not read a cached answer",
            ));
        };
        Some(c)
    };
    let response = completion
        .as_ref()
        .filter(|_| draft.keeps_payloads())
        .and_then(|c| serde_json::to_value(c).ok());
    let done = draft
        .finish(Finish {
            status: 200,
            route: Some(hit.route.to_string()),
            usage: Some(Priced {
                prompt_tokens: 0,
                completion_tokens: 0,
                cached_tokens: 0,
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
        return codec.error(&e);
    }
    if let Some(c) = &completion
        && let Err(e) = codec.complete(c).await
    {
        return codec.error(&e);
    }
    let mut resp = match (hit.answer, stream, &completion) {
        (cache::Answer::Unary(body), false, _) if C::CHAT_FORM => json_bytes(body),
        (cache::Answer::Stream(_), true, _) => sse::replay(&chunks, codec.encoder()),
        (_, true, Some(c)) => sse::replay_completion(c, codec.encoder()),
        (_, false, Some(c)) => match codec.unary(c) {
            Ok(body) => json_bytes(body.into()),
            Err(e) => return codec.error(&e),
        },
        // Unreachable: a completion is read whenever the hit is re-encoded.
        (_, _, None) => {
            return codec.error(&ApiError::new(
                seam_types::ErrorCode::Internal,
                "Seam could not read a cached answer",
            ));
        }
    };
    route_headers(&mut resp, Some(&hit.route), &[], None);
    cost_header(&mut resp, Some(0.0));
    resp.headers_mut()
        .insert(cache::HEADER, HeaderValue::from_static("hit"));
    resp
}

/// For a streamed miss: a copy of what the pipeline streamed (every chunk, usage included),
/// stored once the stream has ended cleanly, if the policy left it alone.
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
    /// The online evaluators that picked the request, offered the answer once it is recorded.
    evals: Option<crate::evaluate::Picked>,
}

/// The hook that accounts for a stream — its limits settled with the usage reported or counted —
/// writes its record and lets the surface complete when it ends (before the surface's end
/// events).
fn on_stream_end<C: Codec>(
    draft: Draft,
    out: &Outcome<seam_gateway::ClientStream>,
    ttft: std::time::Duration,
    req: ChatRequest,
    StreamEnd {
        prices,
        request_id,
        ticket,
        evals,
    }: StreamEnd,
    codec: Arc<C>,
) -> sse::OnEnd {
    let route = out.route.clone();
    let attempts = out.attempts.clone();
    let policy = out.policy.clone();
    let rewritten = out.rewritten.clone();
    let remask = out.remask.clone();
    let reason = out.reason.clone();
    Box::new(move |end: sse::StreamEnd| {
        Box::pin(async move {
            let response = draft.keeps_payloads().then(|| end.answer.to_json());
            let sent = as_sent(&req, rewritten.as_ref());
            if let Some(r) = draft.span()
                && let Some(c) = end.answer.to_completion()
            {
                crate::otel::response(r, &c, &reason);
                crate::otel::content(r, sent, &c);
            }
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
            let failed = end.error.is_some();
            let cost = usage.as_ref().and_then(|p| p.cost_usd);
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
                .await?;
            if failed {
                return Ok(());
            }
            let Some(c) = end.answer.to_completion() else {
                return Ok(());
            };
            if let Some(evals) = &evals {
                evals.offer(sent, &c, remask.as_ref(), cost);
            }
            codec.complete(&c).await
        })
    })
}

/// A request refused before the gateway saw it (bad body, scope, limits): its record, then the
/// error in the surface's shape.
pub async fn refused(draft: Draft, e: &ApiError, shape: &ErrorShape<'_>) -> Response {
    let done = draft
        .finish(Finish {
            status: e.status,
            error_code: Some(e.code.to_string()),
            ..Finish::default()
        })
        .await;
    match done {
        Ok(()) => shape(e),
        Err(audit) => shape(&audit),
    }
}

/// A request the gateway could not answer: its record, then the error.
pub async fn failed(draft: Draft, f: &Failure, shape: &ErrorShape<'_>) -> Response {
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
        Ok(()) => {
            let mut resp = shape(&f.error);
            route_headers(&mut resp, None, &f.attempts, f.reason.as_deref());
            resp
        }
        Err(audit) => shape(&audit),
    }
}

/// A unary answer as the surface encodes it, with its route headers and overhead recorded.
fn answered<C: Codec>(out: &Outcome<ChatCompletion>, start: RequestStart, codec: &C) -> Response {
    match codec.unary(&out.value) {
        Ok(body) => with_route(json_bytes(body.into()), out, start, C::METRIC),
        Err(e) => codec.error(&e),
    }
}

/// Route and policy headers on an answer's response, and the overhead recorded.
pub(crate) fn with_route<T>(
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

/// `value` as a JSON response.
pub fn json_response<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_bytes(bytes.into()),
        Err(e) => {
            tracing::error!(error = %e, "could not serialize a response");
            crate::error::error_response(&ApiError::new(
                seam_types::ErrorCode::Internal,
                "Seam could not serialize the response",
            ))
        }
    }
}

/// A JSON body already serialised.
pub(crate) fn json_bytes(body: bytes::Bytes) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
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
