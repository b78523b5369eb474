//! A do-nothing reverse proxy: the floor under any gateway's added latency.
//!
//! It forwards the request body to the upstream and streams the answer back frame by frame, with
//! no parsing, policy or bookkeeping. Run in seam's place (same core), it shows how much of
//! "through − direct" is the extra loopback hop and process wake-ups on this machine rather than
//! seam's own work.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode, Uri};

use crate::{load, server};

const MAX_REQUEST_BYTES: usize = 1 << 20;

#[derive(clap::Args)]
pub struct ProxyArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18703")]
    pub listen: SocketAddr,
    /// Upstream origin; the request's path is appended (`http://127.0.0.1:18701`).
    #[arg(long, default_value = "http://127.0.0.1:18701")]
    pub upstream: String,
}

type ProxyBody = Either<Incoming, Full<Bytes>>;

pub async fn serve(args: ProxyArgs) -> anyhow::Result<()> {
    let listener = server::listen(args.listen)?;
    let upstream: Arc<str> = args.upstream.trim_end_matches('/').into();
    let client = load::client();
    eprintln!(
        "proxy: listening on {}, forwarding to {upstream}",
        listener.local_addr()?
    );
    server::serve(listener, "proxy", move |req| {
        forward(req, client.clone(), Arc::clone(&upstream))
    })
    .await
}

async fn forward(
    req: Request<Incoming>,
    client: load::Client,
    upstream: Arc<str>,
) -> Result<Response<ProxyBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("{upstream}{path}").parse::<Uri>() else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let Ok(body) = Limited::new(body, MAX_REQUEST_BYTES).collect().await else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let mut request = Request::new(Full::new(body.to_bytes()));
    *request.method_mut() = parts.method;
    *request.uri_mut() = uri;
    if let Some(content_type) = parts.headers.get(CONTENT_TYPE) {
        request
            .headers_mut()
            .insert(CONTENT_TYPE, content_type.clone());
    }
    match client.request(request).await {
        Ok(response) => Ok(response.map(Either::Left)),
        Err(_) => Ok(status(StatusCode::BAD_GATEWAY)),
    }
}

fn status(code: StatusCode) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::default()));
    *response.status_mut() = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::tests::{args, free_addr, start_mock, wait_listening};

    #[tokio::test]
    async fn forwards_answers_and_streams_unchanged() {
        let mock = start_mock().await;
        let addr = free_addr();
        let upstream = format!("http://{}", mock.authority().unwrap());
        tokio::spawn(serve(ProxyArgs {
            listen: addr,
            upstream,
        }));
        wait_listening(addr).await;
        let url: Uri = format!("http://{addr}/v1/chat/completions")
            .parse()
            .unwrap();
        for stream in [false, true] {
            let mut a = args(url.clone(), stream);
            a.concurrency = Some(2);
            let report = load::tests::one(&a).await;
            assert_eq!(report.errors, 0, "{:?}", report.error_kinds);
            assert!(report.ok > 0);
            if stream {
                assert_eq!(report.all_streams_done(), Some(true));
            }
        }
    }
}
