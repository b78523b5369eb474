//! The mock's Bedrock auth: AWS Signature Version 4 verified against the fixed test credentials
//! (`BEDROCK_TEST_*`), or a Bedrock API key as `Authorization: Bearer …`.
//!
//! Verification rebuilds the canonical request from what arrived (method, raw path encoded once
//! more per segment, sorted query, the signed headers' values, the body's SHA-256), so a signer
//! that disagrees with AWS's rules on any of them gets AWS's 403 rather than a pass. Written from
//! AWS's description and checked against its published example, independently of Seam's signer.

use http::{HeaderMap, StatusCode, Uri};
use ring::{digest, hmac};

use crate::faults::ApiError;
use crate::{
    BEDROCK_TEST_ACCESS_KEY_ID, BEDROCK_TEST_REGION, BEDROCK_TEST_SECRET_ACCESS_KEY,
    BEDROCK_TEST_SESSION_TOKEN,
};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "bedrock";

/// Checks a Bedrock request's credentials; `Err` is the 403 AWS would answer.
pub(crate) fn verify(
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(auth) = header("authorization") else {
        return Err(ApiError::aws(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    if let Some(key) = auth.strip_prefix("Bearer ") {
        return if key.trim().is_empty() {
            Err(invalid_token())
        } else {
            Ok(())
        };
    }
    let fields = parse_authorization(auth).ok_or_else(|| {
        ApiError::aws(
            StatusCode::FORBIDDEN,
            "IncompleteSignatureException",
            "Authorization header requires Credential, SignedHeaders and Signature",
        )
    })?;
    let scope: Vec<&str> = fields.credential.split('/').collect();
    let [key_id, date, region, service, terminator] = scope.as_slice() else {
        return Err(incomplete("malformed Credential"));
    };
    if *key_id != BEDROCK_TEST_ACCESS_KEY_ID {
        return Err(invalid_token());
    }
    if let Some(token) = header("x-amz-security-token")
        && token != BEDROCK_TEST_SESSION_TOKEN
    {
        return Err(invalid_token());
    }
    let amz_date = header("x-amz-date").ok_or_else(|| incomplete("x-amz-date is required"))?;
    if *region != BEDROCK_TEST_REGION
        || *service != SERVICE
        || *terminator != "aws4_request"
        || !amz_date.starts_with(date)
    {
        return Err(mismatch(&format!(
            "Credential should be scoped to {}/{BEDROCK_TEST_REGION}/{SERVICE}/aws4_request",
            amz_date.get(..8).unwrap_or(amz_date)
        )));
    }
    let signed: Vec<&str> = fields.signed_headers.split(';').collect();
    for required in ["host", "x-amz-date"] {
        if !signed.contains(&required) {
            return Err(mismatch(&format!("'{required}' must be a signed header")));
        }
    }
    if header("x-amz-security-token").is_some() && !signed.contains(&"x-amz-security-token") {
        return Err(mismatch("'x-amz-security-token' must be a signed header"));
    }
    let host = header("host")
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    let mut values = Vec::new();
    for name in &signed {
        let value = if *name == "host" {
            host.clone()
        } else {
            let all: Vec<&str> = headers
                .get_all(*name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if all.is_empty() {
                return Err(mismatch(&format!("signed header '{name}' is missing")));
            }
            all.join(",")
        };
        values.push((*name, value));
    }
    let payload_hash = sha256_hex(body);
    if let Some(claimed) = header("x-amz-content-sha256")
        && claimed != payload_hash
    {
        return Err(mismatch(
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ));
    }
    let expected = signature(
        BEDROCK_TEST_SECRET_ACCESS_KEY,
        amz_date,
        BEDROCK_TEST_REGION,
        SERVICE,
        &canonical_request(
            method,
            uri.path(),
            uri.query().unwrap_or(""),
            &values,
            &payload_hash,
        ),
    );
    if expected != fields.signature {
        return Err(mismatch(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method.",
        ));
    }
    Ok(())
}

fn invalid_token() -> ApiError {
    ApiError::aws(
        StatusCode::FORBIDDEN,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
}

fn incomplete(why: &str) -> ApiError {
    ApiError::aws(
        StatusCode::FORBIDDEN,
        "IncompleteSignatureException",
        why.to_owned(),
    )
}

fn mismatch(why: &str) -> ApiError {
    ApiError::aws(
        StatusCode::FORBIDDEN,
        "InvalidSignatureException",
        why.to_owned(),
    )
}

struct AuthFields<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<AuthFields<'_>> {
    let rest = value.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in rest.split(',') {
        match field.trim().split_once('=')? {
            ("Credential", v) => credential = Some(v),
            ("SignedHeaders", v) => signed_headers = Some(v),
            ("Signature", v) => signature = Some(v),
            _ => return None,
        }
    }
    Some(AuthFields {
        credential: credential?,
        signed_headers: signed_headers?,
        signature: signature?,
    })
}

/// The canonical request for `headers` (lower-case names with their values, in signed order).
fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, String)],
    payload_hash: &str,
) -> String {
    let uri = if path.is_empty() {
        "/".to_owned()
    } else {
        // Non-S3 services sign each segment encoded once more than it was sent.
        path.split('/')
            .map(|s| encode(s.as_bytes()))
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(k)), encode(&decode(v)))
        })
        .collect();
    params.sort();
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (n.to_ascii_lowercase(), v)
        })
        .collect();
    sorted.sort();
    let canonical_headers: String = sorted.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let names: Vec<&str> = sorted.iter().map(|(n, _)| n.as_str()).collect();
    format!(
        "{method}\n{uri}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        query.join("&"),
        names.join(";")
    )
}

/// The hex signature of `canonical` under the test secret's key chain.
fn signature(secret: &str, amz_date: &str, region: &str, service: &str, canonical: &str) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, service, "aws4_request"] {
        key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), part.as_bytes())
            .as_ref()
            .to_vec();
    }
    hex(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), to_sign.as_bytes()).as_ref())
}

/// Headers that authenticate a request to the mock's Bedrock routes with the test credentials:
/// `x-amz-date`, `x-amz-security-token` (when `session_token` is set) and `authorization`.
/// `host` must be the `Host` header the client will send; `path` the path as sent.
pub fn sign_bedrock_request(
    method: &str,
    host: &str,
    path: &str,
    body: &[u8],
    amz_date: &str,
    session_token: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("host", host.to_owned()),
        ("x-amz-date", amz_date.to_owned()),
    ];
    if let Some(token) = session_token {
        headers.push(("x-amz-security-token", token.to_owned()));
    }
    let canonical = canonical_request(method, path, "", &headers, &sha256_hex(body));
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let auth = format!(
        "{ALGORITHM} Credential={BEDROCK_TEST_ACCESS_KEY_ID}/{date}/{BEDROCK_TEST_REGION}/{SERVICE}/aws4_request, \
         SignedHeaders={}, Signature={}",
        names.join(";"),
        signature(
            BEDROCK_TEST_SECRET_ACCESS_KEY,
            amz_date,
            BEDROCK_TEST_REGION,
            SERVICE,
            &canonical
        )
    );
    let mut out: Vec<(&'static str, String)> =
        headers.into_iter().filter(|(n, _)| *n != "host").collect();
    out.push(("authorization", auth));
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: String = bytes.by_ref().take(2).map(char::from).collect();
            match u8::from_str_radix(&hex, 16) {
                Ok(v) if hex.len() == 2 => out.push(v),
                _ => {
                    out.push(b'%');
                    out.extend_from_slice(hex.as_bytes());
                }
            }
        } else {
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented example: IAM `ListUsers` at 2015-08-30T12:36:00Z.
    #[test]
    fn aws_documented_example() {
        let headers = [
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            ),
            ("host", "iam.amazonaws.com".to_owned()),
            ("x-amz-date", "20150830T123600Z".to_owned()),
        ];
        let canonical = canonical_request(
            "GET",
            "/",
            "Action=ListUsers&Version=2010-05-08",
            &headers,
            &sha256_hex(b""),
        );
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        assert_eq!(
            signature(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "20150830T123600Z",
                "us-east-1",
                "iam",
                &canonical
            ),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn model_ids_are_encoded_twice_in_the_canonical_uri() {
        let c = canonical_request("POST", "/model/a.b-v1%3A0/converse", "", &[], "h");
        assert!(
            c.starts_with("POST\n/model/a.b-v1%253A0/converse\n\n"),
            "{c}"
        );
    }

    fn signed(path: &str, body: &[u8], token: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:9".parse().unwrap());
        for (n, v) in
            sign_bedrock_request("POST", "127.0.0.1:9", path, body, "20250102T030405Z", token)
        {
            h.insert(n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn verification() {
        let uri: Uri = "/model/m%3A0/converse".parse().unwrap();
        let ok = signed(uri.path(), b"{}", None);
        assert!(verify("POST", &uri, &ok, b"{}").is_ok());
        let with_token = signed(uri.path(), b"{}", Some(BEDROCK_TEST_SESSION_TOKEN));
        assert!(verify("POST", &uri, &with_token, b"{}").is_ok());
        // Another body, path, method or token: refused.
        assert!(verify("POST", &uri, &ok, b"{ }").is_err());
        let other: Uri = "/model/m:0/converse".parse().unwrap();
        assert!(verify("POST", &other, &ok, b"{}").is_err());
        assert!(verify("PUT", &uri, &ok, b"{}").is_err());
        let bad_token = signed(uri.path(), b"{}", Some("other"));
        assert!(verify("POST", &uri, &bad_token, b"{}").is_err());
        let mut bearer = HeaderMap::new();
        bearer.insert("authorization", "Bearer bedrock-api-key".parse().unwrap());
        assert!(verify("POST", &uri, &bearer, b"{}").is_ok());
        assert!(verify("POST", &uri, &HeaderMap::new(), b"{}").is_err());
    }
}
