//! The listener itself (issue 13, point 1 and the HTTP layer of point 9): a real socket on
//! 127.0.0.1:0, raw HTTP/1.1 written by hand, so slow, silent and malformed clients are exactly
//! what the test says they are.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{TempDir, state_in};

const CHAT: &str = r#"{"model":"echo","messages":[{"role":"user","content":"hello there"}]}"#;

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    _dir: TempDir,
}

impl Server {
    /// `seam_server::serve` with `server` as the `[server]` table and the echo provider.
    async fn start(server: &str) -> Server {
        let dir = TempDir::new("listen");
        let toml = format!(
            "[server]\n{server}\n[audit]\nenabled = false\n[providers.echo]\nkind = \"echo\"\n\
             [models.echo]\ntargets = [{{ provider = \"echo\", model = \"echo\" }}]\n"
        );
        let state = state_in(&toml, dir.path(), &[]);
        let r = seam_config::Resolver {
            env: &|_| None,
            base_dir: dir.path().to_path_buf(),
        };
        let cfg = seam_config::from_toml(&toml, &r).unwrap();
        let limits = seam_server::listen::Limits::new(&cfg.server);
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let listener = socket.listen(4096).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(seam_server::serve(
            listener,
            seam_server::app(state),
            limits,
            async move {
                let _ = stopped.await;
            },
        ));
        Server {
            addr,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// One request on a fresh connection: status and body, and how long it took.
    async fn request(&self, method: &str, path: &str, body: &str) -> (u16, String, Duration) {
        let start = Instant::now();
        let mut s = self.connect().await;
        s.write_all(raw(method, path, body, true).as_bytes())
            .await
            .unwrap();
        let (status, body) = read_response(&mut s).await.expect("a response");
        (status, body, start.elapsed())
    }
}

fn raw(method: &str, path: &str, body: &str, close: bool) -> String {
    let connection = if close { "close" } else { "keep-alive" };
    format!(
        "{method} {path} HTTP/1.1\r\nhost: seam\r\nconnection: {connection}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// One response (by its content-length); `None` if the connection closed first. Fails the test
/// after 10 s, so a server that never answers does not hang it.
async fn read_response(s: &mut TcpStream) -> Option<(u16, String)> {
    tokio::time::timeout(Duration::from_secs(10), read_response_now(s))
        .await
        .expect("no response within 10 s")
}

async fn read_response_now(s: &mut TcpStream) -> Option<(u16, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head.get(9..12)?.parse().ok()?;
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while buf.len() < end + 4 + len {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
            return Some((status, body));
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Waits up to `within` for the server to close `s` (end of stream or reset); the time it took.
async fn closed(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((start + within).into(), s.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

fn code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    v["error"]["code"].as_str().unwrap_or_default().to_owned()
}

/// The test below holds about 4,100 descriptors (both ends of 2,000 connections); a default
/// soft limit of 1024 is raised to the hard limit, and a hard limit too low fails loudly.
fn ensure_fds(needed: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.current.is_none_or(|c| c >= needed) {
        return;
    }
    assert!(
        lim.maximum.is_none_or(|m| m >= needed),
        "this test needs {needed} file descriptors; the hard limit is {:?} (raise `ulimit -Hn`)",
        lim.maximum
    );
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(needed),
            maximum: lim.maximum,
        },
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slowloris_and_silent_connections_are_closed_while_normal_requests_answer() {
    const SLOW: usize = 1000;
    const SILENT: usize = 1000;
    const TIMEOUT: Duration = Duration::from_secs(1);
    const SLACK: Duration = Duration::from_millis(1500);
    const ANSWER_WITHIN: Duration = Duration::from_secs(1);
    ensure_fds(((SLOW + SILENT) * 2 + 512) as u64);
    let server = Server::start(
        "header_timeout_ms = 1000\nbody_timeout_ms = 1000\nidle_timeout_ms = 1000\n\
         max_connections = 4000",
    )
    .await;

    // Each attacker reports how long after its connect the server closed it (None: never).
    let mut attackers = Vec::with_capacity(SLOW + SILENT);
    for i in 0..SLOW + SILENT {
        let addr = server.addr;
        attackers.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let start = Instant::now();
            if i % 2 == 0 {
                // Slowloris: a request head, one byte every 100 ms, never finished.
                let head = b"GET /healthz HTTP/1.1\r\nhost: seam\r\nx-pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
                for b in head.iter().cycle() {
                    if s.write_all(&[*b]).await.is_err() {
                        break;
                    }
                    let mut probe = [0u8; 64];
                    match tokio::time::timeout(Duration::from_millis(100), s.read(&mut probe))
                        .await
                    {
                        Err(_) => {}
                        Ok(Ok(0) | Err(_)) => break,
                        Ok(Ok(_)) => panic!("the server answered an unfinished head"),
                    }
                    if start.elapsed() > TIMEOUT + SLACK {
                        return None;
                    }
                }
                Some(start.elapsed())
            } else {
                closed(&mut s, TIMEOUT + SLACK)
                    .await
                    .map(|_| start.elapsed())
            }
        }));
        // Connections arrive over about half a second, so the attack overlaps the requests.
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    // Meanwhile a client keeps asking: health and a chat completion through the echo provider.
    let mut worst = Duration::ZERO;
    let mut answered = 0;
    let until = Instant::now() + TIMEOUT + Duration::from_millis(500);
    while Instant::now() < until {
        let (status, body, took) = server.request("GET", "/healthz", "").await;
        assert_eq!(status, 200, "{body}");
        worst = worst.max(took);
        let (status, body, took) = server.request("POST", "/v1/chat/completions", CHAT).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("hello there"), "{body}");
        worst = worst.max(took);
        answered += 2;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        worst < ANSWER_WITHIN,
        "a normal request took {worst:?} under attack"
    );
    assert!(answered >= 10, "only {answered} normal requests answered");

    let mut times = Vec::new();
    for (i, a) in attackers.into_iter().enumerate() {
        let kind = if i % 2 == 0 { "slowloris" } else { "silent" };
        let t = a
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{kind} connection {i} was not closed"));
        assert!(
            t >= TIMEOUT - Duration::from_millis(100),
            "{kind} connection {i} closed early, after {t:?}"
        );
        times.push(t);
    }
    let latest = times.iter().max().unwrap();
    assert!(*latest <= TIMEOUT + SLACK, "closed after {latest:?}");
}

#[tokio::test]
async fn over_the_cap_new_connections_are_closed_and_open_ones_keep_working() {
    let server = Server::start("max_connections = 4\nidle_timeout_ms = 10000").await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut s = server.connect().await;
        s.write_all(raw("GET", "/healthz", "", false).as_bytes())
            .await
            .unwrap();
        assert_eq!(read_response(&mut s).await.unwrap().0, 200);
        open.push(s);
    }
    for _ in 0..3 {
        let mut extra = server.connect().await;
        let _ = extra
            .write_all(raw("GET", "/healthz", "", false).as_bytes())
            .await;
        let took = closed(&mut extra, Duration::from_millis(500)).await;
        assert!(took.is_some(), "a connection over the cap stayed open");
    }
    // The open ones are served, and see the refusals counted.
    for s in &mut open {
        s.write_all(raw("GET", "/healthz", "", false).as_bytes())
            .await
            .unwrap();
        assert_eq!(read_response(s).await.unwrap().0, 200);
    }
    open[0]
        .write_all(raw("GET", "/metrics", "", false).as_bytes())
        .await
        .unwrap();
    let (_, metrics) = read_response(&mut open[0]).await.unwrap();
    assert!(
        metrics.contains("seam_connections_refused_total"),
        "{metrics}"
    );
    // A closed connection gives its place back.
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _, _) = server.request("GET", "/healthz", "").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_request_timeout_as_json() {
    let server = Server::start("body_timeout_ms = 500").await;
    let mut s = server.connect().await;
    let head = "POST /v1/chat/completions HTTP/1.1\r\nhost: seam\r\ncontent-type: application/json\r\n\
                content-length: 200\r\n\r\n{\"model\":\"echo\",";
    s.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    let (status, body) = read_response(&mut s).await.expect("a response");
    let took = start.elapsed();
    assert_eq!(status, 408, "{body}");
    assert_eq!(code(&body), "request_timeout");
    assert!(body.contains("server.body_timeout_ms"), "{body}");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(closed(&mut s, Duration::from_secs(1)).await.is_some());
    // A body that arrives in time, however slowly, is read.
    let mut s = server.connect().await;
    let full = raw("POST", "/v1/chat/completions", CHAT, true);
    let (first, rest) = full.split_at(full.len() - 10);
    s.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.write_all(rest.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut s).await.unwrap().0, 200);
}

#[tokio::test]
async fn heads_over_the_limit_get_431_as_json() {
    let server = Server::start("max_header_bytes = 2048").await;
    // Seam's own limit, whether the head comes at once or keeps coming.
    let mut s = server.connect().await;
    let big = format!(
        "GET /healthz HTTP/1.1\r\nhost: seam\r\nx-big: {}\r\n\r\n",
        "a".repeat(4000)
    );
    s.write_all(big.as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut s).await.expect("a response");
    assert_eq!(status, 431, "{body}");
    assert_eq!(code(&body), "headers_too_large");
    assert!(body.contains("server.max_header_bytes"), "{body}");

    // More than 100 headers: hyper's limit, answered with the same JSON.
    let mut s = server.connect().await;
    let mut many = String::from("GET /healthz HTTP/1.1\r\nhost: seam\r\n");
    for i in 0..120 {
        many.push_str(&format!("x-{i}: 1\r\n"));
    }
    many.push_str("\r\n");
    s.write_all(many.as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut s).await.expect("a response");
    assert_eq!(status, 431, "{body}");
    assert_eq!(code(&body), "headers_too_large");

    // A large body after a small head is not a large head, also on a kept-alive connection.
    let server = Server::start("max_header_bytes = 1024\nmax_body_bytes = 65536").await;
    let mut s = server.connect().await;
    let content = "x".repeat(20_000);
    let body =
        format!(r#"{{"model":"echo","messages":[{{"role":"user","content":"{content}"}}]}}"#);
    for _ in 0..3 {
        s.write_all(raw("POST", "/v1/chat/completions", &body, false).as_bytes())
            .await
            .unwrap();
        let (status, answer) = read_response(&mut s).await.expect("a response");
        assert_eq!(status, 200, "{answer}");
    }
    // Heads may end lines with a bare LF, as the HTTP/1.1 parser allows.
    let bare = format!(
        "POST /v1/chat/completions HTTP/1.1\nhost: seam\ncontent-type: application/json\n\
         content-length: {}\n\n{body}",
        body.len()
    );
    for _ in 0..2 {
        s.write_all(bare.as_bytes()).await.unwrap();
        let (status, answer) = read_response(&mut s).await.expect("a response");
        assert_eq!(status, 200, "{answer}");
    }
}

#[tokio::test]
async fn malformed_requests_get_400_as_json() {
    let server = Server::start("").await;
    for bad in [
        "GARBAGE\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nhost: seam\r\nno colon here\r\n\r\n",
        "GET /healthz HTTP/9.9\r\nhost: seam\r\n\r\n",
        "GET /heal thz HTTP/1.1\r\nhost: seam\r\n\r\n",
    ] {
        let mut s = server.connect().await;
        s.write_all(bad.as_bytes()).await.unwrap();
        let (status, body) = read_response(&mut s)
            .await
            .unwrap_or_else(|| panic!("no response to {bad:?}"));
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(code(&body), "malformed_request", "{bad:?}");
    }
    // After a good request on the same connection, too.
    let mut s = server.connect().await;
    s.write_all(raw("GET", "/healthz", "", false).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut s).await.unwrap().0, 200);
    s.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    let (status, body) = read_response(&mut s).await.expect("a response");
    assert_eq!((status, code(&body).as_str()), (400, "malformed_request"));
    // Pipelined behind a good request: that one's answer is intact, then the 400.
    let mut s = server.connect().await;
    let mut two = raw("POST", "/v1/chat/completions", CHAT, false);
    two.push_str("GARBAGE\r\n\r\n");
    s.write_all(two.as_bytes()).await.unwrap();
    let mut both = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut both))
        .await
        .unwrap()
        .unwrap();
    let (first, second) = both.split_at(both.find("HTTP/1.1 400").expect(&both));
    assert!(first.starts_with("HTTP/1.1 200"), "{both}");
    let answer = &first[first.find("\r\n\r\n").unwrap() + 4..];
    let answer: Value = serde_json::from_str(answer).unwrap_or_else(|e| panic!("{e}: {both}"));
    assert!(answer.to_string().contains("hello there"), "{both}");
    let json = &second[second.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(code(json), "malformed_request", "{both}");
}

#[tokio::test]
async fn unknown_routes_methods_and_unreadable_paths_are_json_over_the_socket() {
    let server = Server::start("").await;
    let (status, body, _) = server.request("GET", "/nope", "").await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"));
    let (status, body, _) = server.request("DELETE", "/healthz", "").await;
    assert_eq!((status, code(&body).as_str()), (405, "method_not_allowed"));
    for path in ["/v1/models/%FF", "/admin/keys/%FF%FE"] {
        let (status, body, _) = server.request("GET", path, "").await;
        assert_eq!(
            (status, code(&body).as_str()),
            (400, "invalid_request"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn a_kept_alive_connection_idles_for_idle_timeout_not_header_timeout() {
    let server = Server::start("header_timeout_ms = 300\nidle_timeout_ms = 1200").await;
    let mut s = server.connect().await;
    s.write_all(raw("GET", "/healthz", "", false).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut s).await.unwrap().0, 200);
    let start = Instant::now();
    // Still open well past the head timeout: a second request is served.
    tokio::time::sleep(Duration::from_millis(600)).await;
    s.write_all(raw("GET", "/healthz", "", false).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut s).await.unwrap().0, 200);
    let again = Instant::now();
    let took = closed(&mut s, Duration::from_secs(3))
        .await
        .expect("closed");
    assert!(
        took >= Duration::from_millis(1000) && again.elapsed() < Duration::from_millis(2000),
        "idle close after {took:?}"
    );
    assert!(start.elapsed() > Duration::from_millis(1500));

    // A head begun after the idle wait must still finish within header_timeout.
    let mut s = server.connect().await;
    s.write_all(raw("GET", "/healthz", "", false).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut s).await.unwrap().0, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let took = closed(&mut s, Duration::from_secs(3))
        .await
        .expect("closed");
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(900),
        "head close after {took:?}"
    );
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_and_closes_idle_connections() {
    let mut server = Server::start("body_timeout_ms = 5000").await;
    let mut idle = server.connect().await;
    idle.write_all(raw("GET", "/healthz", "", false).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut idle).await.unwrap().0, 200);
    // A request whose body is still on its way when shutdown begins.
    let mut busy = server.connect().await;
    let full = raw("POST", "/v1/chat/completions", CHAT, false);
    let (first, rest) = full.split_at(full.len() - 10);
    busy.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.take().unwrap().send(()).unwrap();
    assert!(
        closed(&mut idle, Duration::from_secs(1)).await.is_some(),
        "an idle connection outlived shutdown"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !server.task.is_finished(),
        "serve returned with a request in flight"
    );
    busy.write_all(rest.as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut busy).await.expect("a response");
    assert_eq!(status, 200, "{body}");
    tokio::time::timeout(Duration::from_secs(2), &mut server.task)
        .await
        .expect("serve returned")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test]
async fn http2_by_prior_knowledge_is_served_and_idles_out() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let server = Server::start("header_timeout_ms = 400\nidle_timeout_ms = 800").await;
    let tcp = server.connect().await;
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let driver = tokio::spawn(conn);
    let req = axum::http::Request::get("http://seam/healthz")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), axum::http::Version::HTTP_2);
    let served = Instant::now();
    // Frames (SETTINGS, acks) are no request: the connection goes after idle_timeout.
    let _ = tokio::time::timeout(Duration::from_secs(3), driver)
        .await
        .expect("the idle HTTP/2 connection was not closed");
    let took = served.elapsed();
    assert!(took >= Duration::from_millis(600), "closed after {took:?}");
}
