use super::*;

/// A fake but random-looking body of `n` characters from `alphabet`, so no real key is committed.
fn body(n: usize, alphabet: &str) -> String {
    let a = alphabet.as_bytes();
    (0..n)
        .map(|i| a[(i * 7 + i * i * 3 + 5) % a.len()] as char)
        .collect()
}

const ALNUM: &str = "aB3dE5fG7hJ9kL2mN4pQ6rS8tU0vWxYz";

fn check(text: &str, expect: &[(&str, &str)]) {
    let mut out = Vec::new();
    Secrets::new().detect(text, &mut out);
    let got: Vec<(&str, &str)> = out
        .iter()
        .map(|f| (f.entity, &text[f.start..f.end]))
        .collect();
    assert_eq!(got, expect, "text {text:?}");
}

#[test]
fn patterns_compile() {
    let c = Compiled::new();
    assert!(c.is_some());
    let c = c.unwrap();
    assert!(c.regexes.iter().all(Option::is_some));
    assert!(c.dsn_keys.is_some());
}

#[test]
fn vendor_keys() {
    let b = body(48, ALNUM);
    let proj = format!("sk-proj-{}_{}", body(60, ALNUM), body(30, ALNUM));
    let ant = format!("sk-ant-api03-{}-{}AA", body(60, ALNUM), body(31, ALNUM));
    let gh = format!("ghp_{}", body(36, ALNUM));
    let fine = format!("github_pat_{}_{}", body(22, ALNUM), body(59, ALNUM));
    let gl = format!("glpat-{}", body(20, ALNUM));
    let slack = format!("xoxb-2039485761-5647382910-{}", body(24, ALNUM));
    let stripe = format!("sk_live_{}", body(24, ALNUM));
    let google = format!("AIza{}", body(35, ALNUM));
    let cases: Vec<(String, Vec<(&str, String)>)> = vec![
        (
            format!("OPENAI_API_KEY=sk-{b}"),
            vec![("SECRET_OPENAI_KEY", format!("sk-{b}"))],
        ),
        (
            format!("key: \"{proj}\""),
            vec![("SECRET_OPENAI_KEY", proj.clone())],
        ),
        (
            format!("use {ant} here"),
            vec![("SECRET_ANTHROPIC_KEY", ant.clone())],
        ),
        (
            "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE".into(),
            vec![("SECRET_AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE".into())],
        ),
        (
            format!("token {gh}."),
            vec![("SECRET_GITHUB_TOKEN", gh.clone())],
        ),
        (
            format!("pat={fine}"),
            vec![("SECRET_GITHUB_TOKEN", fine.clone())],
        ),
        (
            format!("gitlab {gl}"),
            vec![("SECRET_GITLAB_TOKEN", gl.clone())],
        ),
        (
            format!("slack {slack}"),
            vec![("SECRET_SLACK_TOKEN", slack.clone())],
        ),
        (
            format!("stripe.api_key = '{stripe}'"),
            vec![("SECRET_STRIPE_KEY", stripe.clone())],
        ),
        (
            format!("maps?key={google}&x=1"),
            vec![("SECRET_GOOGLE_API_KEY", google.clone())],
        ),
    ];
    for (text, expect) in &cases {
        let expect: Vec<(&str, &str)> = expect.iter().map(|(e, v)| (*e, v.as_str())).collect();
        check(text, &expect);
    }
}

#[test]
fn structural_secrets() {
    let aws = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    check(
        &format!("aws_secret_access_key = {aws}\n"),
        &[("SECRET_AWS_SECRET_KEY", aws)],
    );
    // eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 = {"alg":"HS256","typ":"JWT"}
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    check(
        &format!("Authorization: Bearer {jwt}"),
        &[("SECRET_JWT", jwt)],
    );
    let pem = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----",
        body(64, ALNUM),
        body(40, ALNUM)
    );
    check(
        &format!("key:\n{pem}\nthanks"),
        &[("SECRET_PRIVATE_KEY", &pem)],
    );
    check(
        "DATABASE_URL=postgres://app:Tr0ub4dor3@db.internal:5432/app",
        &[("SECRET_URL_CREDENTIALS", "Tr0ub4dor3")],
    );
    check(
        "redis://:s3cr3tpass@cache:6379/0",
        &[("SECRET_URL_CREDENTIALS", "s3cr3tpass")],
    );
    check(
        "Server=tcp:db.example.net;Database=sales;User Id=svc;Password=Qm9!xv2#Lp;",
        &[("SECRET_CONNECTION_STRING", "Qm9!xv2#Lp")],
    );
    check(
        "host=10.0.0.5 port=5432 dbname=app user=app password='pa ss'",
        &[("SECRET_CONNECTION_STRING", "pa ss")],
    );
    check(
        "https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/abcDEF123ghiJKL456mno",
        &[(
            "SECRET_SLACK_TOKEN",
            "T0A1B2C3D/B4E5F6G7H/abcDEF123ghiJKL456mno",
        )],
    );
}

#[test]
fn generic_only_after_key_words() {
    let tok = "Zx81kQp0Lm2Vb7Nc4Rt9Ws";
    check(&format!("api_key: \"{tok}\""), &[("SECRET_GENERIC", tok)]);
    check(
        &format!("the token for prod is {tok}."),
        &[("SECRET_GENERIC", tok)],
    );
    check(&format!("id {tok}"), &[]);
    check("token: the_quick_brown_fox_jumps_over", &[]);
    check("api_key = YOUR_API_KEY_GOES_HERE_123", &[]);
    check("password: aaaaaaaaaaaaaaaaaaaaaaaaaa1", &[]);
    check("secret = os.environ.get('APP_SECRET')", &[]);
    // A key word counts on its own, glued on one side, or as a camelCase part; not deep inside a
    // token that merely spells it.
    check(&format!("PGPASSWORD={tok}"), &[("SECRET_GENERIC", tok)]);
    check(
        &format!("{{\"clientSecretValue\": \"{tok}\"}}"),
        &[("SECRET_GENERIC", tok)],
    );
    check(&format!("eyJx9E2ZrVADUhyiJkEPWdT.{tok}"), &[]);
}

#[test]
fn near_misses_are_not_secrets() {
    let cases = [
        "pip install scikit-learn; import sklearn; sk-learn is fine",
        "sk-abcdefghijklmnopqrstuvwxyz",
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "AKIA1234",
        "xoxb-your-token-here-please-replace",
        "AIzaShort123",
        "desk-9f8e7d6c5b4a39281706aBcD",
        "eyJub3QganNvbg.eyJzdWIiOiIxIn0.c2ln",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
        "the file starts with -----BEGIN PRIVATE KEY----- and ends with -----END PRIVATE KEY-----",
        "postgres://app:${DB_PASSWORD}@db:5432/app",
        "https://user@example.com/path",
        "http://example.com:8080/a@b",
        "conn = psycopg2.connect(host=host, user=user, password=pw)",
        "Password=<your password>;Server=db;",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 fixed it",
        "s3://my-bucket/data/events/year2024/month05/day19/part0001",
    ];
    for text in cases {
        check(text, &[]);
    }
}

#[test]
fn aws_secret_needs_aws_context() {
    let v = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    check(&format!("value {v}"), &[]);
    check(&format!("AWS creds: {v}"), &[("SECRET_AWS_SECRET_KEY", v)]);
}

#[test]
fn entropy_of_known_strings() {
    assert_eq!(entropy(b""), 0.0);
    assert_eq!(entropy(b"aaaa"), 0.0);
    assert!((entropy(b"abcd") - 2.0).abs() < 1e-6);
}

/// Inputs built to make a careless scan quadratic finish, and find nothing.
#[test]
fn pathological_inputs_stay_linear() {
    let cases = [
        "token".repeat(40_000),
        "-----BEGIN PRIVATE KEY-----".repeat(8_000),
        "password=x;".repeat(20_000),
        format!("{}{}", "aws ".repeat(20_000), "a".repeat(100_000)),
    ];
    for text in &cases {
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        Secrets::new().detect(text, &mut out);
        assert!(out.is_empty(), "{} findings", out.len());
        // Generous for debug builds on a slow machine; quadratic behaviour takes minutes.
        assert!(started.elapsed().as_secs() < 10);
    }
}

#[test]
fn pem_without_end_runs_to_the_last_base64_line() {
    let body = format!("{}\n{}", body(64, ALNUM), body(30, ALNUM));
    let text = format!("-----BEGIN EC PRIVATE KEY-----\n{body}\n\nthat is all");
    let expect = format!("-----BEGIN EC PRIVATE KEY-----\n{body}");
    check(&text, &[("SECRET_PRIVATE_KEY", &expect)]);
}
