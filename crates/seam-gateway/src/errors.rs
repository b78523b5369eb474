//! How the gateway judges provider errors for the router, and what the client sees when a request
//! gets no answer.

use seam_providers::ProviderError;
use seam_router::{FailureKind, Overload, Placement, Route, Verdict};
use seam_types::{ApiError, ErrorCode};

use crate::{Failure, telemetry};

pub(crate) fn classify(e: &ProviderError) -> Verdict {
    let (unhealthy, summary) = match e {
        ProviderError::Connect(_) => (true, "could not connect".to_owned()),
        ProviderError::Timeout(what) => (true, format!("timed out waiting for the {what}")),
        ProviderError::Status { status, .. } => (*status >= 500, format!("returned {status}")),
        ProviderError::InvalidResponse(_) => (true, "sent an invalid response".to_owned()),
        ProviderError::StreamCut(_) => (true, "ended its stream before the first chunk".to_owned()),
        ProviderError::Unsupported(_) => (false, "cannot serve this request".to_owned()),
    };
    let retry_after = match e {
        ProviderError::Status { retry_after, .. } => {
            retry_after.map(std::time::Duration::from_secs)
        }
        _ => None,
    };
    Verdict {
        retryable: e.is_retryable(),
        unhealthy,
        status: e.status(),
        retry_after,
        code: telemetry::failure_outcome(e),
        summary,
    }
}

/// `constraints`: the request's placement, which the router laid over the route's.
pub(crate) fn failure(
    route: &Route,
    constraints: &Placement,
    f: seam_router::Failure<ProviderError>,
) -> Failure {
    let error = match f.kind {
        FailureKind::Upstream { error, target } => error.to_api_error(route.label(target)),
        FailureKind::NoEligibleTarget => {
            let placement = route.placement.narrow(constraints);
            ApiError::new(
                ErrorCode::NoEligibleTarget,
                format!(
                    "No target of `{}` satisfies the placement constraints for this request{}",
                    route.name,
                    if placement.is_unconstrained() {
                        String::new()
                    } else {
                        format!(" ({placement})")
                    }
                ),
            )
        }
        FailureKind::NoHealthyTarget { retry_in } => {
            let mut e = ApiError::new(
                ErrorCode::NoHealthyTarget,
                format!(
                    "Every target of `{}` is failing and its circuit breaker is open; retry later",
                    route.name
                ),
            );
            e.retry_after = Some(retry_in.as_secs().max(1));
            e
        }
        FailureKind::Overloaded(o) => {
            let why = match o {
                Overload::QueueFull => "its wait queue is full",
                Overload::QueueTimeout => "no slot freed in time",
            };
            let mut e = ApiError::new(
                ErrorCode::Overloaded,
                format!(
                    "Every target of `{}` is at capacity and {why}; retry shortly",
                    route.name
                ),
            );
            e.retry_after = Some(1);
            e
        }
    };
    Failure {
        error,
        attempts: f.attempts,
        reason: Some(f.reason),
        policy: None,
        rewritten: None,
    }
}
