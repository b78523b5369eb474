//! Secrets: for every rule, true positives in the places keys are pasted (env files, code, shell,
//! chat) and near misses that must stay unflagged (placeholders, truncated keys, public keys,
//! look-alike words).

use super::rng::{ALNUM, HEX, Rng, UPPER};
use super::{Disguise, Kind, Sample, fill};

/// True positives per entity.
const PER_ENTITY: usize = 50;

pub(super) const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

struct Spec {
    entity: &'static str,
    value: fn(&mut Rng) -> String,
    /// The secret fills the first `§`; any further `§` takes the next of [`Spec::also`].
    templates: &'static [&'static str],
    /// Other entities the templates hold, labelled as what they are.
    also: &'static [(&'static str, &'static str)],
}

const SPECS: &[Spec] = &[
    Spec {
        entity: "SECRET_OPENAI_KEY",
        value: openai,
        templates: &[
            "OPENAI_API_KEY=§",
            "client = OpenAI(api_key=\"§\")",
            "why does § return 401 from the API?",
            "export OPENAI_API_KEY='§'",
        ],
        also: &[],
    },
    Spec {
        entity: "SECRET_ANTHROPIC_KEY",
        value: anthropic,
        templates: &[
            "ANTHROPIC_API_KEY=§",
            "curl -H \"x-api-key: §\" §",
            "my key § stopped working",
        ],
        also: &[("URL", "https://api.anthropic.com/v1/messages")],
    },
    Spec {
        entity: "SECRET_AWS_ACCESS_KEY_ID",
        value: aws_key_id,
        templates: &[
            "aws_access_key_id = §",
            "export AWS_ACCESS_KEY_ID=§",
            "The IAM user's key § was rotated.",
            "\"AccessKeyId\": \"§\",",
        ],
        also: &[],
    },
    Spec {
        entity: "SECRET_AWS_SECRET_KEY",
        value: aws_secret,
        templates: &[
            "aws_secret_access_key = §",
            "AWS_SECRET_ACCESS_KEY=§",
            "my aws secret is § can you check the policy",
            "\"SecretAccessKey\": \"§\"",
            "AWS credentials: key id in vault, secret §",
        ],
        also: &[],
    },
    Spec {
        entity: "SECRET_GITHUB_TOKEN",
        value: github,
        templates: &[
            "GITHUB_TOKEN=§",
            "git clone https://§@github.com/acme/api.git",
            "Use token § for the release workflow.",
            "gh auth login --with-token <<< §",
        ],
        also: &[],
    },
    Spec {
        entity: "SECRET_GITLAB_TOKEN",
        value: gitlab,
        templates: &[
            "GITLAB_TOKEN=§",
            "curl --header \"PRIVATE-TOKEN: §\" §",
            "the runner uses § to push tags",
        ],
        also: &[("URL", "https://gitlab.example.com/api/v4/projects")],
    },
    Spec {
        entity: "SECRET_SLACK_TOKEN",
        value: slack,
        templates: &[
            "SLACK_BOT_TOKEN=§",
            "app = App(token=\"§\")",
            "the bot token § got revoked",
        ],
        also: &[],
    },
    Spec {
        entity: "SECRET_STRIPE_KEY",
        value: stripe,
        templates: &[
            "STRIPE_SECRET_KEY=§",
            "stripe.api_key = \"§\"",
            "Charges fail with key § since yesterday.",
        ],
        also: &[],
    },
    Spec {
        entity: "SECRET_GOOGLE_API_KEY",
        value: google,
        templates: &[
            "https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key=§",
            "GOOGLE_API_KEY=§",
            "firebaseConfig = { apiKey: \"§\" }",
        ],
        also: &[],
    },
    Spec {
        entity: "SECRET_JWT",
        value: jwt,
        templates: &[
            "Authorization: Bearer §",
            "the cookie session=§ expired",
            "decode this token for me: §",
        ],
        also: &[],
    },
    Spec {
        entity: "SECRET_PRIVATE_KEY",
        value: pem,
        templates: &[
            "Here is the deploy key:\n§\nplease add it to the server.",
            "§",
            "id_rsa contents:\n§",
        ],
        also: &[],
    },
    Spec {
        entity: "SECRET_GENERIC",
        value: generic,
        templates: &[
            "api_key: \"§\"",
            "X-API-Key: §",
            "Authorization: Bearer §",
            "SENDGRID_API_KEY=§",
            "client_secret = '§'",
            "the staging password is §",
            "{\"apiKey\": \"§\", \"region\": \"eu\"}",
            "access token=§",
        ],
        also: &[],
    },
];

pub(super) fn samples(rng: &mut Rng, out: &mut Vec<Sample>) {
    for spec in SPECS {
        for i in 0..PER_ENTITY {
            let template = spec.templates[i % spec.templates.len()];
            let v = (spec.value)(rng);
            // A PEM block split by invisible characters is not something anyone pastes.
            let disguise = if spec.entity == "SECRET_PRIVATE_KEY" {
                Disguise::Plain
            } else {
                Disguise::for_index(i)
            };
            let v = disguise.apply(rng, &v);
            let mut values = vec![(spec.entity, v.as_str())];
            values.extend_from_slice(spec.also);
            out.push(fill(Kind::Entity, template, &values));
        }
    }
    for i in 0..PER_ENTITY {
        out.push(url_credentials(rng, i));
        out.push(connection_string(rng, i));
    }
    near_misses(rng, out);
}

fn openai(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!(
            "sk-{}T3BlbkFJ{}",
            rng.string(20, ALNUM),
            rng.string(20, ALNUM)
        ),
        1 => {
            let n = 120 + rng.below(40);
            format!("sk-proj-{}", rng.string(n, B64URL))
        }
        _ => format!("sk-svcacct-{}", rng.string(100, B64URL)),
    }
}

fn anthropic(rng: &mut Rng) -> String {
    let kind = rng.pick(&["api03", "api03", "admin01"]);
    format!("sk-ant-{kind}-{}AA", rng.string(93, B64URL))
}

fn aws_key_id(rng: &mut Rng) -> String {
    format!(
        "{}{}",
        rng.pick(&["AKIA", "AKIA", "ASIA"]),
        rng.string(16, BASE32)
    )
}

fn aws_secret(rng: &mut Rng) -> String {
    rng.string(40, B64)
}

fn github(rng: &mut Rng) -> String {
    match rng.below(6) {
        5 => format!(
            "github_pat_{}_{}",
            rng.string(22, ALNUM),
            rng.string(59, ALNUM)
        ),
        k => format!(
            "{}_{}",
            ["ghp", "gho", "ghu", "ghs", "ghr"][k],
            rng.string(36, ALNUM)
        ),
    }
}

fn gitlab(rng: &mut Rng) -> String {
    format!("glpat-{}", rng.string(20, B64URL))
}

fn slack(rng: &mut Rng) -> String {
    let d = |rng: &mut Rng, n: usize| rng.string(n, "0123456789");
    match rng.below(3) {
        0 => format!(
            "xoxb-{}-{}-{}",
            d(rng, 12),
            d(rng, 13),
            rng.string(24, ALNUM)
        ),
        1 => format!(
            "xoxp-{}-{}-{}-{}",
            d(rng, 12),
            d(rng, 12),
            d(rng, 13),
            rng.string(32, HEX)
        ),
        _ => format!("xoxa-2-{}-{}", d(rng, 12), rng.string(32, ALNUM)),
    }
}

fn stripe(rng: &mut Rng) -> String {
    let prefix = rng.pick(&["sk_live_", "rk_live_", "sk_test_"]);
    let n = *rng.pick(&[24usize, 99]);
    format!("{prefix}{}", rng.string(n, ALNUM))
}

fn google(rng: &mut Rng) -> String {
    format!("AIza{}", rng.string(35, B64URL))
}

/// Unpadded base64 of `data` in `alphabet` ([`B64`] or [`B64URL`]).
pub(super) fn base64(data: &[u8], alphabet: &str) -> String {
    let a = alphabet.as_bytes();
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(a[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn base64url(data: &[u8]) -> String {
    base64(data, B64URL)
}

fn jwt(rng: &mut Rng) -> String {
    let header = rng.pick(&[
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#,
        r#"{"typ":"JWT","alg":"ES256"}"#,
    ]);
    let payload = format!(
        r#"{{"sub":"{}","name":"user{}","iat":{},"exp":{}}}"#,
        rng.range(1000, 999_999),
        rng.range(1, 999),
        1_700_000_000 + rng.range(0, 9_999_999),
        1_800_000_000 + rng.range(0, 9_999_999)
    );
    let n = *rng.pick(&[43usize, 86, 342]);
    let sig = rng.string(n, B64URL);
    format!(
        "{}.{}.{sig}",
        base64url(header.as_bytes()),
        base64url(payload.as_bytes())
    )
}

fn pem(rng: &mut Rng) -> String {
    let kind = rng.pick(&["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "]);
    let lines: Vec<String> = (0..rng.range(4, 12)).map(|_| rng.string(64, B64)).collect();
    format!(
        "-----BEGIN {kind}PRIVATE KEY-----\n{}\n{}==\n-----END {kind}PRIVATE KEY-----",
        lines.join("\n"),
        rng.string(20, B64)
    )
}

fn generic(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => rng.string(32, HEX),
        _ => {
            let n = 24 + rng.below(17);
            rng.string(n, ALNUM)
        }
    }
}

/// A password as people choose them for services: letters, digits, some punctuation that URLs and
/// DSNs allow unescaped.
fn password(rng: &mut Rng) -> String {
    let n = 8 + rng.below(12);
    let mut p = rng.string(n, ALNUM);
    if rng.chance(50) {
        let at = 1 + rng.below(p.len() - 1);
        p.insert(at, *rng.pick(&['!', '*', '_', '-', '.', '~']));
    }
    p
}

fn url_credentials(rng: &mut Rng, i: usize) -> Sample {
    let scheme = rng.pick(&[
        "postgres",
        "postgresql",
        "mysql",
        "mongodb+srv",
        "redis",
        "amqp",
        "https",
        "ftp",
    ]);
    let user = rng.pick(&["app", "admin", "deploy", "svc_billing", "root", ""]);
    let host = rng.pick(&[
        "db.internal:5432/app",
        "cluster0.ab12c.mongodb.net/prod",
        "cache:6379/0",
        "mq.example.net",
        "files.example.org/in",
    ]);
    let pw = password(rng);
    let pw = Disguise::for_index(i).apply(rng, &pw);
    let template = format!(
        "{}{scheme}://{user}:§@{host}",
        rng.pick(&["DATABASE_URL=", "connect to ", "url: ", ""])
    );
    fill(Kind::Entity, &template, &[("SECRET_URL_CREDENTIALS", &pw)])
}

fn connection_string(rng: &mut Rng, i: usize) -> Sample {
    let pw = password(rng);
    let pw = Disguise::for_index(i).apply(rng, &pw);
    // Each template's `§` before the password takes the labelled values beside it.
    const TEMPLATES: &[(&str, &[(&str, &str)])] = &[
        (
            "Server=tcp:sql01.example.net,1433;Database=sales;User Id=svc;Password=§;Encrypt=true;",
            &[],
        ),
        (
            "Data Source=db01;Initial Catalog=crm;User ID=sa;Pwd=§;",
            &[],
        ),
        (
            "host=§ port=5432 dbname=app user=app password=§ sslmode=require",
            &[("IP_ADDRESS", "10.0.0.5")],
        ),
        (
            "jdbc:mysql://db:3306/app?user=app&password=§&useSSL=true",
            &[],
        ),
        (
            "conn = psycopg2.connect(host=\"db\", user=\"app\", password=\"§\")",
            &[],
        ),
        (
            "DSN: Driver={ODBC Driver 18};Server=db;UID=report;PWD=§",
            &[],
        ),
    ];
    let (template, before) = *rng.pick(TEMPLATES);
    let mut values = before.to_vec();
    values.push(("SECRET_CONNECTION_STRING", &pw));
    fill(Kind::Entity, template, &values)
}

/// Near misses for every rule; each template's `§` takes a generated filler.
fn near_misses(rng: &mut Rng, out: &mut Vec<Sample>) {
    let fixed = [
        "pip install scikit-learn and import sklearn; sk-learn is a common typo",
        "OPENAI_API_KEY=sk-...",
        "set OPENAI_API_KEY=sk-your-api-key-here",
        "sk-abcdefghijklmnopqrstuvwxyz is not a key",
        "OPENAI_API_KEY=sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "ANTHROPIC_API_KEY=sk-ant-api03-...",
        "aws_access_key_id = AKIAXXXXXXXXXXXXXXXX",
        "We fly ASIAPACIFICAIRWAYS2024 to Tokyo",
        "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
        "GITLAB_TOKEN=glpat-xxxxxxxxxxxxxxxxxxxx",
        "SLACK_BOT_TOKEN=xoxb-your-bot-token",
        "stripe.api_key = \"sk_test_...\"",
        "GOOGLE_API_KEY=AIzaSy...",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----",
        "the file starts with -----BEGIN PRIVATE KEY----- and ends with -----END PRIVATE KEY-----",
        "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app",
        "redis://:<password>@cache:6379/0",
        "conn = psycopg2.connect(host=host, user=user, password=pw)",
        "Server=db;Database=app;User Id=sa;Password=<your password>;",
        "host=db user=app password=${PGPASSWORD}",
        "Set password=true in the form config to mask the field.",
        "api_key = YOUR_API_KEY_GOES_HERE",
        "token: the_quick_brown_fox_jumps_over",
        "password: ********************",
        "secret = os.environ.get('APP_SECRET')",
        "token = getAccessTokenFromCacheOrRefresh()",
        "Authorization: Bearer <token>",
        "api_key: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
    ];
    for t in fixed {
        out.push(fill(Kind::HardNegative, t, &[]));
    }
    // Near misses for a secret that hold another entity, labelled: any secret found in them is
    // still a false positive.
    let holding: &[(&str, &[(&str, &str)])] = &[
        (
            "§",
            &[("URL", "https://hooks.slack.com/services/XXX/YYY/ZZZ")],
        ),
        ("git clone §", &[("URL", "https://github.com/acme/api.git")]),
        ("ssh://git@§:22/acme/api.git", &[("IP_ADDRESS", "10.0.0.7")]),
    ];
    for (template, values) in holding {
        out.push(fill(Kind::Entity, template, values));
    }
    type Filler = fn(&mut Rng) -> String;
    let generated: &[(&str, Filler)] = &[
        // Unprefixed random strings are only secrets next to a key word.
        ("checksum §", |r| r.string(40, B64)),
        ("upload id § finished", |r| r.string(32, ALNUM)),
        ("aws s3 cp build/ s3://bucket/§/", |r| r.string(40, HEX)),
        ("deploy commit § to aws", |r| r.string(40, HEX)),
        ("AKIA§", |r| r.string(12, UPPER)),
        ("ghp_§", |r| r.string(20, ALNUM)),
        ("pk_live_§ is the publishable key", |r| r.string(24, ALNUM)),
        ("AIza§", |r| r.string(30, ALNUM)),
        ("eyJ§.eyJ§.§", |r| r.string(20, ALNUM)),
        ("image data: §", |r| r.string(120, B64)),
        ("task-§ done", |r| r.string(24, ALNUM)),
    ];
    for (template, make) in generated {
        for _ in 0..6 {
            let parts: Vec<String> = template.matches('§').map(|_| make(rng)).collect();
            let refs: Vec<(&'static str, &str)> = parts.iter().map(|p| ("", p.as_str())).collect();
            out.push(fill(Kind::HardNegative, template, &refs));
        }
    }
    // A JWT-shaped string whose header is JSON without "alg" is not a token.
    for _ in 0..6 {
        let t = format!(
            "{}.{}.{}",
            base64url(br#"{"foo":"bar"}"#),
            base64url(br#"{"sub":"1"}"#),
            rng.string(43, B64URL)
        );
        out.push(fill(Kind::HardNegative, "value §", &[("", &t)]));
    }
}
