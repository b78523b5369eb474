//! The accept loop the mock and the reference proxy share: HTTP/1.1 keep-alive, TCP_NODELAY,
//! a deep accept queue.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket};

/// Binds with a deep accept queue: tokio's `bind` asks for 128, and a burst of 512 clients
/// connecting at once would overflow it and wait out a 1 s SYN retransmit.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Serves every connection `listener` accepts with `handler`, until the process ends.
pub async fn serve<F, Fut, B>(listener: TcpListener, name: &str, handler: F) -> anyhow::Result<()>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Usually EMFILE under a connection storm; back off instead of spinning.
                eprintln!("{name}: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Small writes must leave at once; Nagle would add tens of milliseconds to every chunk.
        stream.set_nodelay(true)?;
        let handler = handler.clone();
        tokio::spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service_fn(handler))
                .await;
            // A client closing its keep-alive connection is the normal end; nothing to report.
            drop(served);
        });
    }
}
