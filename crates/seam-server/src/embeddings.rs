//! `POST /v1/embeddings`.

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use seam_gateway::Rewritten;
use seam_gateway::usage::Expected;
use seam_types::embeddings::EmbeddingsRequest;

use std::sync::Arc;

use crate::audit::Finish;
use crate::auth::Caller;
use crate::error::error_response;
use crate::pipeline::{failed, json_response, refused, with_route};
use crate::pricing::Source;
use crate::{RequestId, RequestStart, SharedState, body, metrics};

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
    let mut draft = st.draft(
        &live,
        &rid,
        start,
        &headers,
        "embeddings",
        caller.as_deref(),
    );
    let req = match body::request(
        raw,
        &headers,
        live.max_body_bytes,
        EmbeddingsRequest::validate,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return refused(draft, &e, &error_response).await,
    };
    // The model as a record may keep it: the client's string only after the scanner saw it.
    let alias = live.gateway.alias_of(&req.model);
    draft.request(
        &live.gateway.model_for_record(&req.model),
        alias,
        req.user.as_deref(),
        &req,
    );
    draft.raw_model(&req.model);
    if let Some(c) = &caller
        && let Err(e) = c.check_model(alias.unwrap_or(&req.model), alias.is_some())
    {
        return refused(draft, &e, &error_response).await;
    }
    let placement =
        match crate::placement::effective(&live, &headers, caller.as_deref(), &req.model) {
            Ok(p) => p,
            Err(e) => return refused(draft, &e, &error_response).await,
        };
    draft.placement(&placement);
    let scopes = st.limits.scopes(caller.as_deref(), draft.subject());
    let ticket = match st
        .limits
        .admit(
            rid.0.to_str().unwrap_or("unknown"),
            &scopes,
            crate::limits::Labels::new(&live, caller.as_deref(), Some(&req.model)),
            || crate::limits::embeddings_estimate(&live, &req),
        )
        .await
    {
        Ok(t) => t,
        Err(e) => return refused(draft, &e, &error_response).await,
    };
    let key_policy = caller.as_ref().and_then(|c| c.policy.as_deref());
    match live.gateway.embeddings(&req, &placement, key_policy).await {
        Ok(out) => {
            if let Some(r) = draft.span() {
                crate::otel::embeddings(r, &out.value.model, &out.reason);
            }
            // Vectors are not personal data worth keeping; the record keeps the usage.
            let usage = out.value.usage.as_ref().map(|u| {
                let sent = match &out.rewritten {
                    Some(Rewritten::Embeddings(r)) => r,
                    _ => &req,
                };
                let expected = Expected::embeddings(sent);
                live.prices.price(
                    &out.route,
                    &seam_types::chat::Usage::new(u.prompt_tokens, 0),
                    Source::Reported(&expected),
                    rid.0.to_str().unwrap_or("unknown"),
                )
            });
            let cost = usage.as_ref().and_then(|p| p.cost_usd);
            let tokens = usage.as_ref().map_or(0, |p| p.prompt_tokens);
            let done = draft
                .finish(Finish {
                    status: 200,
                    route: Some(out.route.clone()),
                    attempts: &out.attempts,
                    policy: out.policy.as_ref(),
                    usage,
                    rewritten: out.rewritten.as_ref(),
                    ..Finish::default()
                })
                .await;
            crate::limits::settle(ticket, tokens, cost);
            match done {
                Ok(()) => {
                    let mut resp =
                        with_route(json_response(&out.value), &out, start, metrics::EMBEDDINGS);
                    crate::pipeline::cost_header(&mut resp, cost);
                    resp
                }
                Err(e) => error_response(&e),
            }
        }
        Err(f) => {
            crate::limits::settle(ticket, 0, None);
            failed(draft, &f, &error_response).await
        }
    }
}
