//! What every network adapter shares below the wire format: pooled keep-alive connections and
//! certificate verification.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use seam_providers::ProviderError;

use crate::{ask, provider, start};

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
    let cert =
        rustls::pki_types::CertificateDer::from(include_bytes!("self-signed.crt.der").as_slice());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
        include_bytes!("self-signed.key.der").to_vec().into(),
    );
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.into_owned()], key)
    .unwrap();
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
    let p = provider(
        &format!("kind = \"openai\"\nbase_url = \"https://{addr}/v1\"\napi_key = \"env:KEY\""),
        &[],
    );
    let err = p.chat("m", &ask("hello")).await.unwrap_err();
    let ProviderError::Connect(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(msg.contains("certificate"), "{msg}");
    assert!(!msg.contains("127.0.0.1"), "{msg}");
    assert!(!rx.await.unwrap(), "the handshake completed");
}
