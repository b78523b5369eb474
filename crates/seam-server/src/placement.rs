//! The placement a request is held to: its alias's, narrowed by its key's scope, narrowed by the
//! `x-seam-placement` header — each an intersection, so neither the key nor the client can widen
//! what the config allows. Computed once per request, before the cache and the gateway, so the
//! cache key, the router and the audit record all see the same one.

use axum::http::HeaderMap;
use seam_config::Placement;
use seam_types::{ApiError, ErrorCode};

use crate::auth::Caller;

/// `x-seam-placement`: `trust=private;region=eu,ch` narrows where this request may go.
pub const HEADER: &str = "x-seam-placement";

/// alias ∩ key ∩ header for a request to `model`. A bad header is a 400 naming it; a placement
/// that leaves no target is not an error here: the router answers `no_eligible_target` before any
/// upstream call.
pub fn effective(
    live: &crate::Live,
    headers: &HeaderMap,
    caller: Option<&Caller>,
    model: &str,
) -> Result<Placement, ApiError> {
    let asked = requested(headers)?;
    // An unknown model has no alias placement; the gateway reports it as unknown.
    let alias = live
        .gateway
        .resolve(model)
        .map(|route| route.placement.clone())
        .unwrap_or_default();
    let key = caller.map(|c| &c.placement);
    Ok(match key {
        Some(k) => alias.narrow(k).narrow(&asked),
        None => alias.narrow(&asked),
    })
}

/// The header's placement; unconstrained when absent.
fn requested(headers: &HeaderMap) -> Result<Placement, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(Placement::default());
    };
    let bad = |why: String| {
        ApiError::new(ErrorCode::InvalidRequest, format!("`{HEADER}` {why}")).with_param(HEADER)
    };
    if headers.get_all(HEADER).iter().nth(1).is_some() {
        return Err(bad(
            "is given more than once; send one header with `;` between dimensions".into(),
        ));
    }
    let text = value
        .to_str()
        .map_err(|_| bad("must be visible ASCII".into()))?;
    Placement::parse(text).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HEADER, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn the_header_is_read_or_refused_naming_itself() {
        assert!(requested(&HeaderMap::new()).unwrap().is_unconstrained());
        assert_eq!(
            requested(&headers(&[b"region=eu ; trust=private"]))
                .unwrap()
                .to_string(),
            "trust=private;region=eu"
        );
        for (values, says) in [
            (&[&b"trust=public"[..]][..], "unknown trust `public`"),
            (
                &[&b"trust=private"[..], &b"region=eu"[..]][..],
                "more than once",
            ),
            (&[&b"region=z\xc3\xbcrich"[..]][..], "visible ASCII"),
        ] {
            let e = requested(&headers(values)).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(HEADER));
            assert_eq!(e.status, 400);
            assert!(e.message.contains(says), "{}", e.message);
        }
    }
}
