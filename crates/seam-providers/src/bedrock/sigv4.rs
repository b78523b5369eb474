//! AWS Signature Version 4, for the header form Bedrock takes: `Authorization: AWS4-HMAC-SHA256
//! Credential=…, SignedHeaders=…, Signature=…` with `x-amz-date` (and `x-amz-security-token` for
//! temporary credentials).
//!
//! The canonical request follows the rules for services other than S3: each path segment is
//! URI-encoded once more on top of the encoding it was sent with, so a model id `a:0` travels as
//! `a%3A0` and is signed as `a%253A0`. Signed headers are the minimum AWS requires (`host`,
//! `x-amz-date`, the session token); the payload hash is part of the signature either way.

use ring::{digest, hmac};
use seam_config::AwsCredentials;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The request parts a signature covers.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent on the wire (already percent-encoded once).
    pub path: &'a str,
    /// The raw query string, without `?`; empty for none.
    pub query: &'a str,
    /// Every header to sign, `host` included, in any order and case.
    pub headers: &'a [(&'a str, &'a str)],
    /// Lowercase hex SHA-256 of the body.
    pub payload_hash: &'a str,
}

/// Where a signature is valid: `YYYYMMDD/region/service/aws4_request`.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// `YYYYMMDDTHHMMSSZ`, as sent in `x-amz-date`.
    pub amz_date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl Scope<'_> {
    fn date(&self) -> &str {
        self.amz_date.get(..8).unwrap_or(self.amz_date)
    }

    fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date(),
            self.region,
            self.service
        )
    }
}

/// The `Authorization` header value for `req`.
pub fn authorization(
    access_key_id: &str,
    secret_access_key: &str,
    scope: Scope<'_>,
    req: &Request<'_>,
) -> String {
    let (canonical, signed_headers) = canonical_request(req);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        scope.amz_date,
        scope.credential_scope(),
        sha256_hex(canonical.as_bytes())
    );
    let key = signing_key(secret_access_key, scope);
    let signature = hex(hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    format!(
        "{ALGORITHM} Credential={access_key_id}/{}, SignedHeaders={signed_headers}, Signature={signature}",
        scope.credential_scope()
    )
}

/// The canonical request text and its `SignedHeaders` list.
fn canonical_request(req: &Request<'_>) -> (String, String) {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), collapse_spaces(v)))
        .collect();
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let signed = signed.join(";");
    let mut text = format!(
        "{}\n{}\n{}\n",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query)
    );
    for (name, value) in &headers {
        text.push_str(name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&signed);
    text.push('\n');
    text.push_str(req.payload_hash);
    (text, signed)
}

/// Each segment of the sent path encoded again; `/` for an empty path.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.split('/')
        .map(|segment| uri_encode(segment.as_bytes()))
        .collect::<Vec<_>>()
        .join("/")
}

/// Parameters decoded, encoded the AWS way, and sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k)),
                uri_encode(&percent_decode(v)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Every byte but the unreserved `A-Z a-z 0-9 - _ . ~` as `%XX` (upper-case hex).
fn uri_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0xf)]));
        }
    }
    out
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Header values are trimmed and runs of spaces become one.
fn collapse_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn signing_key(secret_access_key: &str, scope: Scope<'_>) -> hmac::Key {
    hmac::Key::new(
        hmac::HMAC_SHA256,
        signing_key_bytes(secret_access_key, scope).as_ref(),
    )
}

/// The key chain: date, region, service and `aws4_request`, each keying the next with its raw
/// 32 bytes.
fn signing_key_bytes(secret_access_key: &str, scope: Scope<'_>) -> hmac::Tag {
    let step = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = step(format!("AWS4{secret_access_key}").as_bytes(), scope.date());
    let k_region = step(k_date.as_ref(), scope.region);
    let k_service = step(k_region.as_ref(), scope.service);
    step(k_service.as_ref(), "aws4_request")
}

/// Lowercase hex SHA-256: the payload hash and the canonical request's digest.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time, in UTC.
pub fn amz_date(unix_secs: u64) -> String {
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(0);
    let secs = unix_secs % 86_400;
    let (y, m, d) = seam_types::civil::civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Signs Bedrock requests with one set of credentials.
pub struct Signer {
    credentials: AwsCredentials,
    region: String,
    service: &'static str,
}

impl Signer {
    pub fn new(credentials: AwsCredentials, region: &str, service: &'static str) -> Self {
        Signer {
            credentials,
            region: region.to_owned(),
            service,
        }
    }

    /// The headers that authenticate a POST of a body hashing to `payload_hash` to `url`, at
    /// `unix_secs`: `x-amz-date`, `x-amz-security-token` when the credentials are temporary, and
    /// `authorization`. `host` is signed as the HTTP client will send it (the port only when it
    /// is not the scheme's default).
    pub fn sign(
        &self,
        url: &http::Uri,
        payload_hash: &str,
        unix_secs: u64,
    ) -> Vec<(&'static str, String)> {
        let default_port = if url.scheme() == Some(&http::uri::Scheme::HTTPS) {
            443
        } else {
            80
        };
        let host = match (url.host(), url.port_u16()) {
            (Some(h), Some(p)) if p != default_port => format!("{h}:{p}"),
            (Some(h), _) => h.to_owned(),
            (None, _) => String::new(),
        };
        let date = amz_date(unix_secs);
        let token = self.credentials.session_token.as_ref().map(|t| t.expose());
        let mut headers = vec![("host", host.as_str()), ("x-amz-date", date.as_str())];
        if let Some(token) = token {
            headers.push(("x-amz-security-token", token));
        }
        let auth = authorization(
            self.credentials.access_key_id.expose(),
            self.credentials.secret_access_key.expose(),
            Scope {
                amz_date: &date,
                region: &self.region,
                service: self.service,
            },
            &Request {
                method: "POST",
                path: url.path(),
                query: url.query().unwrap_or(""),
                headers: &headers,
                payload_hash,
            },
        );
        let mut out = vec![("x-amz-date", date.clone())];
        if let Some(token) = token {
            out.push(("x-amz-security-token", token.to_owned()));
        }
        out.push(("authorization", auth));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seam_config::Secret;

    const KEY_ID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// AWS's documented example: IAM `ListUsers`, signed at 2015-08-30T12:36:00Z (General
    /// Reference, "Signature Version 4 signing process", tasks 1–4).
    #[test]
    fn aws_documented_iam_example() {
        let headers = [
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("Host", "iam.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ];
        let req = Request {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &headers,
            payload_hash: EMPTY_HASH,
        };
        let (canonical, signed) = canonical_request(&req);
        assert_eq!(
            canonical,
            "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
             content-type:application/x-www-form-urlencoded; charset=utf-8\n\
             host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             content-type;host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(signed, "content-type;host;x-amz-date");
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let scope = Scope {
            amz_date: "20150830T123600Z",
            region: "us-east-1",
            service: "iam",
        };
        assert_eq!(
            hex(signing_key_bytes(SECRET, scope).as_ref()),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        assert_eq!(
            authorization(KEY_ID, SECRET, scope, &req),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    /// The AWS SigV4 test suite's `get-vanilla-query-order-key-case`: parameters are sorted.
    #[test]
    fn aws_test_suite_query_order() {
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ];
        let req = Request {
            method: "GET",
            path: "/",
            query: "Param2=value2&Param1=value1",
            headers: &headers,
            payload_hash: EMPTY_HASH,
        };
        let scope = Scope {
            amz_date: "20150830T123600Z",
            region: "us-east-1",
            service: "service",
        };
        assert_eq!(
            authorization(KEY_ID, SECRET, scope, &req),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn canonical_parts() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            (
                "/model/amazon.nova-pro-v1%3A0/converse",
                "/model/amazon.nova-pro-v1%253A0/converse",
            ),
            (
                "/model/a~b_c.d-e/converse-stream",
                "/model/a~b_c.d-e/converse-stream",
            ),
            (
                "/prefix/model/x%2Fy/converse",
                "/prefix/model/x%252Fy/converse",
            ),
        ];
        for (path, expect) in cases {
            assert_eq!(canonical_uri(path), expect, "{path}");
        }
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(canonical_query("k=a%20b&x"), "k=a%20b&x=");
        assert_eq!(canonical_query("k=a+b:c"), "k=a%2Bb%3Ac");
        assert_eq!(collapse_spaces("  a   b  c "), "a b c");
    }

    #[test]
    fn dates() {
        let cases = [
            (0, "19700101T000000Z"),
            (1_440_938_160, "20150830T123600Z"),
            (951_782_400, "20000229T000000Z"),
            (4_102_444_799, "20991231T235959Z"),
            (4_107_542_399, "21000228T235959Z"),
        ];
        for (secs, expect) in cases {
            assert_eq!(amz_date(secs), expect, "{secs}");
        }
    }

    #[test]
    fn signer_headers() {
        let creds = |token: Option<&str>| AwsCredentials {
            access_key_id: Secret::new(KEY_ID),
            secret_access_key: Secret::new(SECRET),
            session_token: token.map(Secret::new),
        };
        let url: http::Uri = "http://127.0.0.1:8080/model/anthropic.claude-v2%3A1/converse"
            .parse()
            .unwrap();
        let hash = sha256_hex(b"{}");
        let signed =
            Signer::new(creds(None), "us-west-2", "bedrock").sign(&url, &hash, 1_440_938_160);
        let names: Vec<&str> = signed.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["x-amz-date", "authorization"]);
        assert_eq!(signed[0].1, "20150830T123600Z");
        let expect = authorization(
            KEY_ID,
            SECRET,
            Scope {
                amz_date: "20150830T123600Z",
                region: "us-west-2",
                service: "bedrock",
            },
            &Request {
                method: "POST",
                path: "/model/anthropic.claude-v2%3A1/converse",
                query: "",
                headers: &[
                    ("host", "127.0.0.1:8080"),
                    ("x-amz-date", "20150830T123600Z"),
                ],
                payload_hash: &hash,
            },
        );
        assert_eq!(signed[1].1, expect);

        let signed = Signer::new(creds(Some("tok")), "us-west-2", "bedrock").sign(
            &url,
            &hash,
            1_440_938_160,
        );
        assert_eq!(signed[1], ("x-amz-security-token", "tok".to_owned()));
        assert!(
            signed[2]
                .1
                .contains("SignedHeaders=host;x-amz-date;x-amz-security-token,")
        );
        // The default port is not part of `host`.
        let https: http::Uri =
            "https://bedrock-runtime.us-west-2.amazonaws.com:443/model/m/converse"
                .parse()
                .unwrap();
        let a = Signer::new(creds(None), "us-west-2", "bedrock").sign(&https, &hash, 0);
        let b = authorization(
            KEY_ID,
            SECRET,
            Scope {
                amz_date: "19700101T000000Z",
                region: "us-west-2",
                service: "bedrock",
            },
            &Request {
                method: "POST",
                path: "/model/m/converse",
                query: "",
                headers: &[
                    ("host", "bedrock-runtime.us-west-2.amazonaws.com"),
                    ("x-amz-date", "19700101T000000Z"),
                ],
                payload_hash: &hash,
            },
        );
        assert_eq!(a[1].1, b);
    }
}
