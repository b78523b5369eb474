//! What every network adapter shares below the wire format: pooled keep-alive connections,
//! certificate verification, and `http://` and `https://` proxies.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use hyper_util::client::proxy::matcher::Matcher;
use seam_providers::{Provider, ProviderError, Proxies};

use crate::{ask, config, provider, start};

/// A TCP forwarder to `target` that counts the connections it accepts.
async fn counting_forwarder(target: std::net::SocketAddr) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr.to_string(), accepted)
}

/// Sequential requests to one upstream share one kept-alive connection, and each carries the
/// `host` and `user-agent` the upstream expects.
#[tokio::test]
async fn sequential_requests_reuse_one_pooled_connection() {
    let mock = start().await;
    let (addr, accepted) = counting_forwarder(mock.addr()).await;
    let p = provider(
        &format!("kind = \"openai\"\nbase_url = \"http://{addr}/v1\"\napi_key = \"env:KEY\""),
        &[],
    );
    for text in ["one", "two", "three"] {
        let c = p.chat("m", &ask(text)).await.unwrap();
        assert_eq!(c.choices[0].message.text(), format!("mock: {text}"));
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "a connection was not reused"
    );
    let seen = mock.requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].header("host"), Some(addr.as_str()));
    assert_eq!(
        seen[0].header("user-agent"),
        Some(concat!("seam/", env!("CARGO_PKG_VERSION")))
    );
}

/// An `https://` upstream whose certificate no trusted authority issued (here self-signed, for
/// the right name) is refused before anything is sent, and the error names the certificate,
/// not the URL.
#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let (addr, rx) = untrusted_tls_server();
    let p = provider(
        &format!("kind = \"openai\"\nbase_url = \"https://{addr}/v1\"\napi_key = \"env:KEY\""),
        &[],
    );
    let msg = connect_error(&p).await;
    assert!(msg.contains("certificate"), "{msg}");
    assert!(!msg.contains("127.0.0.1"), "{msg}");
    assert!(!rx.await.unwrap(), "the handshake completed");
}

/// A certificate for `localhost` and `127.0.0.1` (DER) and its PKCS#8 key (DER).
type Identity = (&'static [u8], &'static [u8]);

/// Self-signed: no platform trusts it.
const UNTRUSTED: Identity = (
    include_bytes!("self-signed.crt.der"),
    include_bytes!("self-signed.key.der"),
);

/// Issued by the test CA in `test-ca.pem`, which only [`trusts_test_ca`]'s child process trusts.
/// Made once with openssl (P-256, 36500 days): the CA with `basicConstraints=critical,CA:TRUE`
/// and `keyUsage=critical,keyCertSign,cRLSign`; this leaf with `CA:FALSE`, `serverAuth` and
/// `subjectAltName=DNS:localhost,IP:127.0.0.1`, its key converted with `openssl pkcs8 -topk8`.
const TRUSTED: Identity = (
    include_bytes!("test-ca-leaf.crt.der"),
    include_bytes!("test-ca-leaf.key.der"),
);

/// The test CA's certificate, as the PEM file `SSL_CERT_FILE` names.
const TEST_CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/adapters/test-ca.pem");

/// Whether this process trusts the test CA. When it does not, the test `name` runs again in a
/// child process of this binary whose `SSL_CERT_FILE` names the CA and nothing else (the
/// platform verifier reads it on Linux when a client is built; setting it in this process
/// would take `unsafe`, which the workspace forbids), and must pass there.
fn trusts_test_ca(name: &str) -> bool {
    if std::env::var_os("SSL_CERT_FILE").is_some_and(|f| f == TEST_CA) {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1"])
        .env("SSL_CERT_FILE", TEST_CA)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// A rustls server configuration that presents `identity` and speaks HTTP/1.1.
fn server_config((cert, key): Identity) -> rustls::ServerConfig {
    let cert = rustls::pki_types::CertificateDer::from(cert);
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.to_vec().into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.into_owned()], key)
    .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// A TLS server presenting `identity` that relays what it decrypts to `target` over TCP: in
/// front of [`http_proxy`] it makes an `https://` proxy, in front of the mock an `https://`
/// upstream. Returns its port.
async fn tls_forwarder(target: &str, identity: Identity) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(identity)));
    let target = target.to_owned();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let (acceptor, target) = (acceptor.clone(), target.clone());
            tokio::spawn(async move {
                // A refused handshake ends the connection; the client reports why.
                let Ok(mut inbound) = acceptor.accept(inbound).await else {
                    return;
                };
                let mut outbound = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    port
}

/// A TLS server on one connection whose certificate is self-signed for the right name; it
/// reports whether the handshake completed.
fn untrusted_tls_server() -> (std::net::SocketAddr, tokio::sync::oneshot::Receiver<bool>) {
    let config = server_config(UNTRUSTED);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut tls = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut handshake = Ok(());
        while tls.is_handshaking() && handshake.is_ok() {
            handshake = tls.complete_io(&mut tcp).map(|_| ());
        }
        let _ = tx.send(handshake.is_ok());
    });
    (addr, rx)
}

/// What the test proxy saw: the first line of each request it was sent, and its
/// `proxy-authorization` header.
type Seen = Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

/// A minimal HTTP proxy: a `CONNECT host:port` is answered 200 and spliced to the target; an
/// absolute-form request is forwarded as it came to the host its URL names.
async fn http_proxy() -> (String, Seen) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut buf = [0; 4096];
                    let n = inbound.read(&mut buf).await.unwrap();
                    assert!(n > 0, "the client closed mid-request");
                    head.extend_from_slice(&buf[..n]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let line = text.lines().next().unwrap().to_owned();
                let auth = text
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("proxy-authorization: ")
                            .or_else(|| l.strip_prefix("Proxy-Authorization: "))
                    })
                    .map(str::to_owned);
                log.lock().unwrap().push((line.clone(), auth));
                let mut parts = line.split(' ');
                let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
                let mut outbound = if method == "CONNECT" {
                    let out = tokio::net::TcpStream::connect(target).await.unwrap();
                    inbound.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
                    out
                } else {
                    let host = target
                        .strip_prefix("http://")
                        .unwrap()
                        .split('/')
                        .next()
                        .unwrap();
                    let mut out = tokio::net::TcpStream::connect(host).await.unwrap();
                    out.write_all(&head).await.unwrap();
                    out
                };
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr.to_string(), seen)
}

/// The config of an OpenAI-compatible provider at `base_url`.
fn openai(base_url: &str) -> seam_config::ProviderConfig {
    config(
        &format!("kind = \"openai\"\nbase_url = \"{base_url}\"\napi_key = \"env:KEY\""),
        &[],
    )
}

/// The provider `cfg`, its upstream calls going through the proxies `rules` pick.
fn proxied(cfg: &seam_config::ProviderConfig, rules: Matcher) -> Provider {
    Provider::with_proxies(cfg, &Proxies::new(rules)).unwrap()
}

/// The message of the connect error a chat through `p` ends in; any other outcome fails.
async fn connect_error(p: &Provider) -> String {
    match p.chat("m", &ask("hello")).await {
        Err(ProviderError::Connect(msg)) => msg,
        other => panic!("{other:?}"),
    }
}

/// An `http://` upstream behind `HTTP_PROXY` is reached through the proxy, which is sent the
/// absolute-form request line and the proxy's credentials from its URL.
#[tokio::test]
async fn a_plain_http_upstream_is_reached_through_the_proxy() {
    let mock = start().await;
    let (proxy, seen) = http_proxy().await;
    let target = mock.addr();
    let cfg = openai(&format!("http://{target}/v1"));
    let rules = Matcher::builder()
        .http(format!("http://user:secret@{proxy}"))
        .build();
    let p = proxied(&cfg, rules);
    let c = p.chat("m", &ask("hi")).await.unwrap();
    assert_eq!(c.choices[0].message.text(), "mock: hi");
    let seen = seen.lock().unwrap().clone();
    let token = base64::engine::general_purpose::STANDARD.encode("user:secret");
    assert_eq!(
        seen,
        [(
            format!("POST http://{target}/v1/chat/completions HTTP/1.1"),
            Some(format!("Basic {token}"))
        )]
    );
    assert_eq!(mock.requests().len(), 1);
}

/// A host `NO_PROXY` lists is connected to directly.
#[tokio::test]
async fn no_proxy_bypasses_the_proxy() {
    let mock = start().await;
    let (proxy, seen) = http_proxy().await;
    let cfg = openai(&format!("http://{}/v1", mock.addr()));
    let rules = Matcher::builder()
        .all(format!("http://{proxy}"))
        .no("127.0.0.1")
        .build();
    let p = proxied(&cfg, rules);
    let c = p.chat("m", &ask("hi")).await.unwrap();
    assert_eq!(c.choices[0].message.text(), "mock: hi");
    assert!(seen.lock().unwrap().is_empty(), "the proxy was used");
    assert_eq!(mock.requests().len(), 1);
}

/// An `https://` upstream behind `HTTPS_PROXY` is reached by a `CONNECT` tunnel, and TLS runs
/// to the upstream itself inside it: its untrusted certificate is still refused.
#[tokio::test]
async fn an_https_upstream_is_tunnelled_and_its_certificate_checked() {
    let (addr, rx) = untrusted_tls_server();
    let (proxy, seen) = http_proxy().await;
    let cfg = openai(&format!("https://{addr}/v1"));
    let rules = Matcher::builder()
        .https(format!("http://user:secret@{proxy}"))
        .build();
    let p = proxied(&cfg, rules);
    let msg = connect_error(&p).await;
    assert!(msg.contains("certificate"), "{msg}");
    assert!(!rx.await.unwrap(), "the handshake completed");
    let token = base64::engine::general_purpose::STANDARD.encode("user:secret");
    assert_eq!(
        seen.lock().unwrap().clone(),
        [(
            format!("CONNECT {addr} HTTP/1.1"),
            Some(format!("Basic {token}"))
        )]
    );
}

/// A proxy that cannot be reached is a connect error that names neither it nor its
/// credentials.
#[tokio::test]
async fn an_unreachable_proxy_is_a_connect_error_without_its_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let cfg = openai("https://api.example.com/v1");
    let rules = Matcher::builder()
        .all(format!("http://user:secret@{dead}"))
        .build();
    let p = proxied(&cfg, rules);
    let msg = connect_error(&p).await;
    for secret in ["secret", "user", "127.0.0.1", "example"] {
        assert!(!msg.contains(secret), "{msg}");
    }
}

/// An `http://` upstream behind an `https://` proxy: TLS to the proxy (its certificate checked
/// like an upstream's), then the absolute-form request with the proxy's credentials over it.
#[tokio::test]
#[cfg_attr(
    any(target_vendor = "apple", windows, target_os = "android"),
    ignore = "the platform verifier reads SSL_CERT_FILE only on Linux and other Unixes"
)]
async fn an_https_proxy_carries_a_plain_http_request() {
    if !trusts_test_ca("transport::an_https_proxy_carries_a_plain_http_request") {
        return;
    }
    let mock = start().await;
    let (proxy, seen) = http_proxy().await;
    let front = tls_forwarder(&proxy, TRUSTED).await;
    let target = mock.addr();
    let cfg = openai(&format!("http://{target}/v1"));
    let rules = Matcher::builder()
        .http(format!("https://user:secret@localhost:{front}"))
        .build();
    let p = proxied(&cfg, rules);
    let c = p.chat("m", &ask("hi")).await.unwrap();
    assert_eq!(c.choices[0].message.text(), "mock: hi");
    let token = base64::engine::general_purpose::STANDARD.encode("user:secret");
    assert_eq!(
        seen.lock().unwrap().clone(),
        [(
            format!("POST http://{target}/v1/chat/completions HTTP/1.1"),
            Some(format!("Basic {token}"))
        )]
    );
    assert_eq!(mock.requests().len(), 1);
}

/// An `https://` upstream behind an `https://` proxy: a `CONNECT` with the proxy's credentials
/// over TLS to the proxy, then TLS to the upstream inside that TLS.
#[tokio::test]
#[cfg_attr(
    any(target_vendor = "apple", windows, target_os = "android"),
    ignore = "the platform verifier reads SSL_CERT_FILE only on Linux and other Unixes"
)]
async fn an_https_proxy_tunnels_tls_to_an_https_upstream() {
    if !trusts_test_ca("transport::an_https_proxy_tunnels_tls_to_an_https_upstream") {
        return;
    }
    let mock = start().await;
    let upstream = tls_forwarder(&mock.addr().to_string(), TRUSTED).await;
    let (proxy, seen) = http_proxy().await;
    let front = tls_forwarder(&proxy, TRUSTED).await;
    let cfg = openai(&format!("https://127.0.0.1:{upstream}/v1"));
    let rules = Matcher::builder()
        .https(format!("https://user:secret@127.0.0.1:{front}"))
        .build();
    let p = proxied(&cfg, rules);
    for text in ["one", "two"] {
        let c = p.chat("m", &ask(text)).await.unwrap();
        assert_eq!(c.choices[0].message.text(), format!("mock: {text}"));
    }
    let token = base64::engine::general_purpose::STANDARD.encode("user:secret");
    assert_eq!(
        seen.lock().unwrap().clone(),
        [(
            format!("CONNECT 127.0.0.1:{upstream} HTTP/1.1"),
            Some(format!("Basic {token}"))
        )],
        "the tunnelled connection was not reused"
    );
    assert_eq!(mock.requests().len(), 2);
}

/// An `https://` proxy whose certificate no trusted authority issued is refused before the
/// proxy is sent anything, and the error names the certificate, not the proxy or its
/// credentials.
#[tokio::test]
async fn an_https_proxy_with_an_untrusted_certificate_is_refused() {
    let (proxy, seen) = http_proxy().await;
    let front = tls_forwarder(&proxy, UNTRUSTED).await;
    for base in ["https://api.example.com/v1", "http://api.example.com/v1"] {
        let cfg = openai(base);
        let rules = Matcher::builder()
            .all(format!("https://user:secret@127.0.0.1:{front}"))
            .build();
        let p = proxied(&cfg, rules);
        let msg = connect_error(&p).await;
        assert!(msg.contains("certificate"), "{base}: {msg}");
        for secret in ["secret", "user", "127.0.0.1", &front.to_string(), "example"] {
            assert!(!msg.contains(secret), "{base}: {msg}");
        }
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "the proxy was sent a request"
    );
}

/// A SOCKS proxy is refused by its kind, without its URL or credentials.
#[tokio::test]
async fn a_socks_proxy_is_refused_by_kind() {
    let cfg = openai("https://api.example.com/v1");
    let rules = Matcher::builder()
        .all("socks5h://user:secret@127.0.0.1:1080")
        .build();
    let p = proxied(&cfg, rules);
    let msg = connect_error(&p).await;
    assert!(msg.contains("SOCKS5 proxies are not supported"), "{msg}");
    for secret in ["secret", "user", "127.0.0.1", "1080", "example"] {
        assert!(!msg.contains(secret), "{msg}");
    }
}

/// A proxy that answers every request with `status` (a status line's code and reason).
async fn refusing_proxy(status: &'static str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut buf = [0; 4096];
                    let n = inbound.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                let _ = inbound.write_all(answer.as_bytes()).await;
            });
        }
    });
    addr.to_string()
}

/// An `https://` proxy that refuses the `CONNECT` (407, 403) is a connect error that says so
/// and names neither the proxy nor its credentials.
#[tokio::test]
#[cfg_attr(
    any(target_vendor = "apple", windows, target_os = "android"),
    ignore = "the platform verifier reads SSL_CERT_FILE only on Linux and other Unixes"
)]
async fn an_https_proxy_refusing_the_connect_is_a_connect_error_without_its_url() {
    if !trusts_test_ca(
        "transport::an_https_proxy_refusing_the_connect_is_a_connect_error_without_its_url",
    ) {
        return;
    }
    let cfg = openai("https://api.example.com/v1");
    for (status, says) in [
        (
            "407 Proxy Authentication Required",
            "proxy authorization required",
        ),
        ("403 Forbidden", "unsuccessful"),
    ] {
        let front = tls_forwarder(&refusing_proxy(status).await, TRUSTED).await;
        let rules = Matcher::builder()
            .https(format!("https://user:secret@localhost:{front}"))
            .build();
        let p = proxied(&cfg, rules);
        let msg = connect_error(&p).await;
        assert!(msg.contains(says), "{status}: {msg}");
        for secret in ["secret", "user", "localhost", &front.to_string(), "example"] {
            assert!(!msg.contains(secret), "{status}: {msg}");
        }
    }
}
