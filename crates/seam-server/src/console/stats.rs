//! The console's aggregate endpoints (overview, spend, routes, policy); filled in separately.

pub(crate) fn routes() -> axum::Router<crate::SharedState> {
    axum::Router::new()
}
