use std::time::Duration;

use super::*;

fn env_with(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn check(text: &str) -> Result<Config, Vec<String>> {
    let env = env_with(&[("OPENAI_API_KEY", "sk-test-secret")]);
    let r = Resolver {
        env: &env,
        base_dir: PathBuf::from("/tmp"),
    };
    from_toml(text, &r).map_err(|es| es.iter().map(ToString::to_string).collect())
}

fn errors(text: &str) -> Vec<String> {
    match check(text) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    }
}

#[test]
fn design_example_is_valid() {
    let cfg = check(
        r#"
[server]
listen = "127.0.0.1:8700"

[storage]
url = "sqlite://seam-data/seam.db"

[providers.openai]
kind = "openai"
base_url = "https://api.openai.com/v1/"
api_key = "env:OPENAI_API_KEY"
trust = "vendor"
region = "us"
timeout_ms = 60000
first_token_timeout_ms = 10000
max_concurrency = 256

[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:8000/v1"
trust = "private"

[models.chat]
strategy = "fallback"
targets = [
  { provider = "local",  model = "qwen2.5-7b-instruct" },
  { provider = "openai", model = "gpt-4o-mini", weight = 1 },
]
policy = "default"
"#,
    )
    .unwrap();
    let openai = &cfg.providers["openai"];
    assert_eq!(openai.base_url, "https://api.openai.com/v1");
    assert_eq!(openai.api_key.as_ref().unwrap().expose(), "sk-test-secret");
    assert_eq!(cfg.providers["local"].trust, Trust::Private);
    assert_eq!(cfg.models["chat"].targets.len(), 2);
    assert_eq!(cfg.server.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
}

#[test]
fn unknown_keys_are_all_reported_with_their_path() {
    let e = errors(
        r#"
[server]
listne = "x"
[providers.echo]
kind = "echo"
colour = "red"
[models.m]
targets = [{ provider = "echo", model = "e", wieght = 2 }]
[extra]
"#,
    );
    assert_eq!(
        e,
        vec![
            "extra: unknown key",
            "models.m.targets[0].wieght: unknown key",
            "providers.echo.colour: unknown key",
            "server.listne: unknown key",
        ]
    );
}

#[test]
fn type_errors_name_path_and_line() {
    let e = errors("[providers.x]\nkind = \"openai\"\ntimeout_ms = \"soon\"\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("providers.x.timeout_ms: "), "{}", e[0]);
    assert!(e[0].ends_with("(line 3)"), "{}", e[0]);
}

#[test]
fn syntax_error_has_a_line() {
    let e = errors("[server\nlisten = 1");
    assert!(e[0].contains("line 1"), "{}", e[0]);
}

#[test]
fn semantic_errors_are_collected() {
    let e = errors(
        r#"
[server]
listen = "nowhere"
[providers.a]
kind = "grpc"
[providers.b]
kind = "openai"
api_key = "sk-literal"
[providers.c]
kind = "openai"
base_url = "http://x/v1"
api_key = "env:MISSING_KEY"
[models.m]
strategy = "random"
targets = [{ provider = "nope", model = "x" }]
"#,
    );
    let expect = [
        "server.listen: \"nowhere\" is not an address like 127.0.0.1:8700",
        "providers.a.kind: unknown kind \"grpc\"; expected one of openai, anthropic, gemini, azure, bedrock, echo, local",
        "providers.b.base_url: is required for openai-compatible providers (include /v1, e.g. https://api.openai.com/v1)",
        "providers.b.api_key: must be \"env:NAME\" or \"file:PATH\" so the secret stays out of the config file",
        "providers.c.api_key: environment variable MISSING_KEY is not set",
        "models.m.strategy: unknown strategy \"random\"; expected one of fallback, weighted, least_latency, burst, cost",
        "models.m.targets[0].provider: no provider named \"nope\" in [providers]",
    ];
    assert_eq!(e, expect);
}

#[test]
fn secrets_never_print() {
    let cfg = check(
        "[providers.o]\nkind = \"openai\"\nbase_url = \"https://x/v1\"\napi_key = \"env:OPENAI_API_KEY\"\n",
    )
    .unwrap();
    let dbg = format!("{cfg:?}");
    assert!(!dbg.contains("sk-test-secret"));
    assert!(dbg.contains("***"));
}

#[test]
fn file_secrets_are_read_and_trimmed() {
    let dir = std::env::temp_dir().join(format!("seam-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key"), "sk-from-file\n").unwrap();
    let r = Resolver {
        env: &|_| None,
        base_dir: dir.clone(),
    };
    let cfg = from_toml(
        "[providers.o]\nkind = \"anthropic\"\napi_key = \"file:key\"\n",
        &r,
    )
    .unwrap();
    assert_eq!(
        cfg.providers["o"].api_key.as_ref().unwrap().expose(),
        "sk-from-file"
    );
    assert_eq!(cfg.providers["o"].base_url, "https://api.anthropic.com");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn embedded_default_uses_echo_without_keys() {
    let r = Resolver {
        env: &|_| None,
        base_dir: PathBuf::from("."),
    };
    let cfg = embedded(&r).unwrap();
    assert_eq!(cfg.server.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(cfg.models["chat"].targets[0].provider, "echo");
    assert_eq!(cfg.providers.len(), 1);
}

#[test]
fn embedded_default_routes_chat_to_vendors_with_keys() {
    let env = env_with(&[("OPENAI_API_KEY", "sk-a"), ("ANTHROPIC_API_KEY", "sk-b")]);
    let r = Resolver {
        env: &env,
        base_dir: PathBuf::from("."),
    };
    let cfg = embedded(&r).unwrap();
    let providers: Vec<_> = cfg.models["chat"]
        .targets
        .iter()
        .map(|t| t.provider.as_str())
        .collect();
    assert_eq!(providers, ["openai", "anthropic"]);
    assert_eq!(cfg.models["echo"].targets[0].provider, "echo");
}

proptest::proptest! {
    // Whatever the text, parsing returns Ok or errors; it never panics.
    #[test]
    fn parse_never_panics(s in "\\PC{0,200}") {
        let _ = check(&s);
    }

    #[test]
    fn parse_never_panics_on_tomlish(s in "(\\[[a-z.]{0,12}\\]\n|[a-z_]{1,10} = (\"[a-z:/0-9.]{0,12}\"|[0-9]{1,6}|\\[\\]|\\{\\})\n){0,12}") {
        let _ = check(&s);
    }
}

#[test]
fn new_provider_kinds_have_defaults_and_requirements() {
    let cfg = check(
        r#"
[providers.g]
kind = "gemini"
api_key = "env:OPENAI_API_KEY"
[providers.az]
kind = "azure"
base_url = "https://res.openai.azure.com/"
api_key = "env:OPENAI_API_KEY"
[providers.br]
kind = "bedrock"
region = "eu-west-1"
aws_access_key_id = "env:OPENAI_API_KEY"
aws_secret_access_key = "env:OPENAI_API_KEY"
"#,
    )
    .unwrap();
    assert_eq!(
        cfg.providers["g"].base_url,
        "https://generativelanguage.googleapis.com"
    );
    assert_eq!(cfg.providers["az"].base_url, "https://res.openai.azure.com");
    assert_eq!(cfg.providers["az"].api_version, DEFAULT_AZURE_API_VERSION);
    assert_eq!(
        cfg.providers["br"].base_url,
        "https://bedrock-runtime.eu-west-1.amazonaws.com"
    );
    assert!(cfg.providers["br"].aws.is_some());

    let e = errors(
        r#"
[providers.az]
kind = "azure"
[providers.br]
kind = "bedrock"
[providers.o]
kind = "openai"
base_url = "http://x/v1"
aws_session_token = "env:X"
"#,
    );
    assert_eq!(
        e,
        vec![
            "providers.az.base_url: is required for azure (the resource endpoint, e.g. https://my-resource.openai.azure.com)",
            "providers.br.region: is required for bedrock (e.g. \"us-east-1\"); it picks the endpoint and signs requests",
            "providers.br: bedrock needs aws_access_key_id and aws_secret_access_key (env:/file:), or api_key (a Bedrock API key)",
            "providers.o.aws_session_token: is only for kind = \"bedrock\"",
        ]
    );
}

#[test]
fn routing_keys_have_defaults_and_are_checked() {
    let cfg = check(
        r#"
[routing]
max_attempts = 4
deadline_ms = 30000
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:8000/v1"
trust = "private"
region = "eu"
max_concurrency = 2
max_queue = 8
stream_idle_timeout_ms = 5000
breaker = { consecutive_failures = 3, open_ms = 2000 }
[providers.vendor]
kind = "openai"
base_url = "https://api.openai.com/v1"
api_key = "env:OPENAI_API_KEY"
region = "us"
[models.hybrid]
strategy = "burst"
targets = [{ provider = "local", model = "qwen" }, { provider = "vendor", model = "gpt-4o-mini" }]
[models.eu-only]
placement = { trust = ["private"], regions = ["eu"] }
max_attempts = 2
targets = [{ provider = "local", model = "qwen" }]
"#,
    )
    .unwrap();
    assert_eq!(cfg.routing.max_attempts, 4);
    assert_eq!(
        cfg.models["hybrid"].max_attempts, 4,
        "the [routing] default"
    );
    assert_eq!(cfg.models["hybrid"].deadline.as_millis(), 30000);
    assert_eq!(cfg.models["eu-only"].max_attempts, 2);
    assert_eq!(
        cfg.models["eu-only"].placement.trust,
        Some(vec![Trust::Private])
    );
    let local = &cfg.providers["local"];
    assert_eq!(
        (local.max_queue, local.stream_idle_timeout.as_millis()),
        (8, 5000)
    );
    assert_eq!(local.breaker.consecutive_failures, 3);
    assert_eq!(local.breaker.open_for.as_millis(), 2000);
    assert_eq!(
        cfg.providers["vendor"].max_queue, 256,
        "defaults to max_concurrency"
    );

    let e = errors(
        r#"
[routing]
max_attempts = 0
[providers.bad]
kind = "openai"
base_url = "https://x/v1"
breaker = { error_ratio = 1.5 }
[providers.v]
kind = "openai"
base_url = "https://x/v1"
[models.b]
strategy = "burst"
targets = [{ provider = "v", model = "m" }]
[models.c]
strategy = "cost"
targets = [{ provider = "v", model = "m" }]
[models.w]
strategy = "weighted"
targets = [{ provider = "v", model = "m", weight = 0 }]
[models.p]
placement = { trust = ["private"] }
targets = [{ provider = "v", model = "m" }]
"#,
    );
    assert_eq!(
        e,
        vec![
            "providers.bad.breaker.error_ratio: must be in (0, 1]",
            "routing.max_attempts: must be at least 1",
            "models.b.strategy: burst fills trust = \"private\" targets first, and this alias has none",
            "models.c.targets[0].cost_rank: is required with strategy = \"cost\" (lower is cheaper)",
            "models.p.placement: no target satisfies it, so every request would fail",
            "models.w.targets: weighted needs at least one target with weight > 0",
        ]
    );
}

#[test]
fn usage_ceiling_defaults_and_must_be_positive() {
    let cfg = check("").unwrap();
    assert_eq!(cfg.usage.max_request_cost_usd, 50.0);
    let cfg = check("[usage]\nmax_request_cost_usd = 2.5\n").unwrap();
    assert_eq!(cfg.usage.max_request_cost_usd, 2.5);
    for bad in ["0", "-1", "nan"] {
        let e = errors(&format!("[usage]\nmax_request_cost_usd = {bad}\n"));
        assert!(
            e.iter().any(|e| e.contains("usage.max_request_cost_usd")),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn cache_rules_on_aliases_and_keys_are_parsed_and_checked() {
    let hash = format!("sha256:{}", "a".repeat(64));
    let cfg = check(&format!(
        r#"
[cache]
max_bytes = 1048576
max_entry_bytes = 65536
[providers.echo]
kind = "echo"
[models.faq]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ ttl_s = 3600, scope = "org" }}
[models.plain]
targets = [{{ provider = "echo", model = "echo" }}]
[keys.app]
hash = "{hash}"
models = ["*"]
cache = {{ ttl_s = 60 }}
"#
    ))
    .unwrap();
    assert_eq!(
        cfg.cache,
        CacheConfig {
            max_bytes: 1 << 20,
            max_entry_bytes: 1 << 16,
            semantic_max_bytes: 16 << 20,
        }
    );
    let rule = |ttl, scope| {
        Some(CacheRule {
            ttl: Duration::from_secs(ttl),
            scope,
            semantic: None,
        })
    };
    assert_eq!(cfg.models["faq"].cache, rule(3600, CacheScope::Org));
    assert_eq!(cfg.models["plain"].cache, None, "opt-in");
    assert_eq!(
        cfg.keys[0].cache,
        rule(60, CacheScope::Key),
        "scope defaults to key"
    );
    let defaults = check("").unwrap().cache;
    assert_eq!(
        (defaults.max_bytes, defaults.max_entry_bytes),
        (64 << 20, 1 << 20)
    );

    let e = errors(&format!(
        r#"
[cache]
max_entry_bytes = 0
[providers.echo]
kind = "echo"
[models.a]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ ttl_s = 0, scope = "world" }}
[models.b]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ scope = "team", ttl = 5 }}
[models.c]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ ttl_s = 2592001 }}
[keys.k]
hash = "{hash}"
models = ["*"]
cache = {{ ttl_s = 10, scope = "everyone" }}
"#
    ));
    assert_eq!(e, vec!["models.b.cache.ttl: unknown key"]);
    let e = errors(&format!(
        r#"
[cache]
max_bytes = 2048
max_entry_bytes = 4096
[providers.echo]
kind = "echo"
[models.a]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ ttl_s = 0, scope = "world" }}
[models.b]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ scope = "team" }}
[models.c]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ ttl_s = 2592001 }}
[keys.k]
hash = "{hash}"
models = ["*"]
cache = {{ ttl_s = 10, scope = "everyone" }}
"#
    ));
    assert_eq!(
        e,
        vec![
            "cache.max_entry_bytes: must not exceed cache.max_bytes (2048)",
            "keys.k.cache.scope: unknown scope \"everyone\"; expected one of key, team, org",
            "models.a.cache.ttl_s: must be between 1 and 2592000 (30 days)",
            "models.a.cache.scope: unknown scope \"world\"; expected one of key, team, org",
            "models.b.cache.ttl_s: is required (seconds an answer is served from the cache)",
            "models.c.cache.ttl_s: must be between 1 and 2592000 (30 days)",
        ]
    );
}

#[test]
fn limits_parse_per_scope() {
    let cfg = check(
        r#"
[providers.echo]
kind = "echo"
[limits]
on_error = "closed"
default_max_tokens = 512
redis_timeout_ms = 80
[limits.org]
rpm = 1000
budget_usd = 500
budget_period = "month"
[limits.team.search]
tpm = 200000
max_concurrency = 8
[limits.subject]
rpm = 20
"#,
    )
    .unwrap();
    let l = &cfg.limits;
    assert_eq!(l.on_error, limits::OnError::Closed);
    assert_eq!(l.default_max_tokens, 512);
    assert_eq!(l.redis_timeout_ms, 80);
    assert_eq!(l.org.rpm, Some(1000));
    assert_eq!(l.org.budget, Some((500.0, BudgetPeriod::Month)));
    assert_eq!(l.teams["search"].tpm, Some(200_000));
    assert_eq!(l.teams["search"].max_concurrency, Some(8));
    assert_eq!(l.subject.rpm, Some(20));
    // Nothing set: nothing limited, open on Redis errors.
    let plain = check("[providers.echo]\nkind = \"echo\"\n").unwrap();
    assert_eq!(plain.limits, LimitsConfig::default());
}

#[test]
fn limit_errors_name_their_path() {
    let errs = errors(
        r#"
[providers.echo]
kind = "echo"
[limits]
on_error = "maybe"
default_max_tokens = 0
redis_timeout_ms = 0
[limits.org]
rpm = 0
budget_usd = -5
budget_period = "week"
[limits.team.search]
budget_usd = 10
"#,
    );
    let joined = errs.join("\n");
    for needle in [
        "limits.on_error: unknown value \"maybe\"",
        "limits.default_max_tokens: must be at least 1",
        "limits.redis_timeout_ms: must be between 1 and 10000",
        "limits.org.rpm: must be at least 1",
        "limits.org.budget_usd: must be a positive amount",
        "limits.org.budget_period: unknown period \"week\"",
        "limits.team.search: budget_usd and budget_period go together",
    ] {
        assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
    }
    let unknown = errors("[providers.echo]\nkind = \"echo\"\n[limits.subject]\nburst = 3\n");
    assert_eq!(unknown, ["limits.subject.burst: unknown key"]);
}

#[test]
fn key_placement_is_parsed_and_a_bad_one_named_by_its_path() {
    let hash = format!("sha256:{}", "a".repeat(64));
    let cfg = check(&format!(
        r#"
[keys.eu]
hash = "{hash}"
models = ["*"]
placement = "trust=private; region=eu,ch"
[keys.anywhere]
hash = "sha256:{b}"
models = ["*"]
"#,
        b = "b".repeat(64)
    ))
    .unwrap();
    let by_name = |n: &str| cfg.keys.iter().find(|k| k.name == n).unwrap();
    assert_eq!(
        by_name("eu").placement.to_string(),
        "trust=private;region=ch,eu"
    );
    assert!(by_name("anywhere").placement.is_unconstrained());

    let e = errors(&format!(
        r#"
[keys.k]
hash = "{hash}"
models = ["*"]
placement = "trust=public"
"#
    ));
    assert_eq!(
        e,
        vec!["keys.k.placement: unknown trust `public`; expected vendor or private"]
    );
}

#[test]
fn key_tools_are_globs_checked_by_path() {
    let hash = format!("sha256:{}", "a".repeat(64));
    let cfg = check(&format!(
        r#"
[keys.agent]
hash = "{hash}"
tools = ["crm__lookup_*", "files__read"]
[keys.chat]
hash = "sha256:{b}"
models = ["*"]
"#,
        b = "b".repeat(64)
    ))
    .unwrap();
    let by_name = |n: &str| cfg.keys.iter().find(|k| k.name == n).unwrap();
    assert_eq!(by_name("agent").tools, ["crm__lookup_*", "files__read"]);
    assert!(by_name("agent").models.is_empty(), "a tools-only key");
    assert!(by_name("chat").tools.is_empty(), "no tools unless listed");

    let long = "t".repeat(201);
    let e = errors(&format!(
        r#"
[keys.k]
hash = "{hash}"
tools = ["crm__*", " "]
[keys.l]
hash = "{hash}"
tools = ["{long}"]
[keys.m]
hash = "{hash}"
tools = []
"#
    ));
    assert_eq!(
        e,
        vec![
            "keys.k.tools: must not contain an empty pattern",
            "keys.l.tools: patterns must be at most 200 characters",
            "keys.m.models: is empty: the key could not use any model (list aliases, globs like \"gpt-*\", or \"*\")",
        ]
    );
}

#[test]
fn a_policys_user_field_defaults_by_what_it_does_and_is_checked() {
    let cfg = check(
        r#"
[policies.scans.input]
pii = { action = "tokenize" }
[policies.output_only.output]
pii = { action = "redact" }
[policies.empty]
[policies.kept]
user = "keep"
[policies.kept.input]
pii = { action = "tokenize" }
[policies.dropped]
user = "drop"
[policies.scanned]
user = "scan"
"#,
    )
    .unwrap();
    let user = |n: &str| cfg.policies[n].user_field();
    assert_eq!(user("scans"), UserField::Hash);
    assert_eq!(user("output_only"), UserField::Keep);
    assert_eq!(user("empty"), UserField::Keep);
    assert_eq!(user("default"), UserField::Keep);
    assert_eq!(user("kept"), UserField::Keep);
    assert_eq!(user("dropped"), UserField::Drop);
    assert_eq!(user("scanned"), UserField::Scan);
    // Setting `user` alone does not make a policy scan anything.
    assert!(cfg.policies["dropped"].is_empty());

    let e = errors("[policies.p]\nuser = \"encrypt\"\n");
    assert_eq!(
        e,
        vec![r#"policies.p.user: unknown value "encrypt"; expected one of hash, scan, keep, drop"#]
    );
}

#[test]
fn server_connection_limits_default_safely_and_are_checked() {
    let r = Resolver {
        env: &|_| None,
        base_dir: PathBuf::from("."),
    };
    // The embedded default goes through the same validator and gets every default.
    let s = embedded(&r).unwrap().server;
    assert_eq!(s.header_timeout, server::DEFAULT_HEADER_TIMEOUT);
    assert_eq!(s.body_timeout, server::DEFAULT_BODY_TIMEOUT);
    assert_eq!(s.idle_timeout, server::DEFAULT_IDLE_TIMEOUT);
    assert_eq!(s.max_header_bytes, server::DEFAULT_MAX_HEADER_BYTES);
    assert_eq!(s.max_connections, None);

    let s = check(
        "[server]\nheader_timeout_ms = 1500\nbody_timeout_ms = 2500\nidle_timeout_ms = 3500\n\
         max_header_bytes = 2048\nmax_connections = 7\n",
    )
    .unwrap()
    .server;
    assert_eq!(s.header_timeout, Duration::from_millis(1500));
    assert_eq!(s.body_timeout, Duration::from_millis(2500));
    assert_eq!(s.idle_timeout, Duration::from_millis(3500));
    assert_eq!(s.max_header_bytes, 2048);
    assert_eq!(s.max_connections, Some(7));

    let e = errors(
        "[server]\nheader_timeout_ms = 0\nbody_timeout_ms = 0\nidle_timeout_ms = 0\n\
         max_header_bytes = 1000000\nmax_connections = 0\n",
    );
    assert_eq!(
        e,
        [
            "server.max_header_bytes: must be between 1024 and 262144",
            "server.max_connections: must be at least 1 (leave it out to derive it from the file-descriptor limit)",
            "server.header_timeout_ms: must be greater than 0",
            "server.body_timeout_ms: must be greater than 0",
            "server.idle_timeout_ms: must be greater than 0",
        ]
    );
    assert_eq!(
        errors("[server]\nmax_header_bytes = 100\n"),
        ["server.max_header_bytes: must be between 1024 and 262144"]
    );
}

#[test]
fn glob_aliases_and_model_placeholders_are_accepted() {
    let cfg = check(
        r#"
[providers.anthropic]
kind = "anthropic"
api_key = "env:OPENAI_API_KEY"
[models."claude-*"]
targets = [{ provider = "anthropic", model = "{model}" }]
[models."*"]
targets = [{ provider = "anthropic", model = "us.anthropic.{model}-v1:0" }]
[models.claude-pinned]
targets = [{ provider = "anthropic", model = "{model}" }]
"#,
    )
    .unwrap();
    assert!(is_glob("claude-*") && is_glob("*") && !is_glob("claude-pinned"));
    let t = &cfg.models["claude-*"].targets[0];
    assert!(t.is_templated());
    assert_eq!(t.model_for("claude-sonnet-4-5"), "claude-sonnet-4-5");
    let t = &cfg.models["*"].targets[0];
    assert_eq!(t.model_for("claude-x"), "us.anthropic.claude-x-v1:0");
    let t = &cfg.models["claude-pinned"].targets[0];
    assert_eq!(t.model_for("claude-pinned"), "claude-pinned");
}

#[test]
fn reserved_glob_characters_and_unknown_placeholders_are_named_by_path() {
    let e = errors(
        r#"
[providers.e]
kind = "echo"
[models."claude-?"]
targets = [{ provider = "e", model = "m" }]
[models."gpt-[45]"]
targets = [{ provider = "e", model = "m" }]
[models."o*"]
targets = [{ provider = "e", model = "{name}" }, { provider = "e", model = "{model}}" }]
"#,
    );
    let reserved =
        "`?` and `[` are reserved in alias names; the only wildcard is `*` (any run of characters)";
    let placeholder = "the only placeholder is {model} (the model name the client sent)";
    assert_eq!(
        e,
        [
            format!("models.claude-?: {reserved}"),
            format!("models.gpt-[45]: {reserved}"),
            format!("models.o*.targets[0].model: {placeholder}"),
            format!("models.o*.targets[1].model: {placeholder}"),
        ]
    );
}

#[test]
fn globs_match_with_star_only() {
    for (pattern, name, expect) in [
        ("claude-*", "claude-sonnet-4-5-20250929", true),
        ("claude-*", "claude-", true),
        ("claude-*", "claude", false),
        ("*", "", true),
        ("*", "anything/at all", true),
        ("*-mini", "gpt-4o-mini", true),
        ("*-mini", "gpt-4o-mini-2", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "acb", false),
        ("a*a", "a", false),
        ("a*a", "aa", true),
        ("**", "x", true),
        ("gpt-?", "gpt-4", false),
        ("gpt-?", "gpt-?", true),
        ("é*é", "éé", true),
        ("exact", "exact", true),
        ("exact", "exactly", false),
    ] {
        assert_eq!(glob_matches(pattern, name), expect, "{pattern} {name}");
    }
    assert!(glob_rank("claude-haiku-*") < glob_rank("claude-*"));
    assert!(glob_rank("ab*") < glob_rank("*ab*"));
    assert!(glob_rank("claude-*") < glob_rank("*"));
}

#[test]
fn responses_api_defaults_to_openai_itself_and_is_only_for_openai() {
    let cfg = check(
        r#"
[providers.openai]
kind = "openai"
base_url = "https://api.openai.com/v1"
[providers.vllm]
kind = "openai"
base_url = "http://127.0.0.1:8000/v1"
[providers.proxy]
kind = "openai"
base_url = "https://proxy.example/v1"
responses_api = true
[providers.off]
kind = "openai"
base_url = "https://api.openai.com/v1"
responses_api = false
"#,
    )
    .unwrap();
    let on = |name: &str| cfg.providers[name].responses_api;
    assert!(on("openai"));
    assert!(!on("vllm"));
    assert!(on("proxy"));
    assert!(!on("off"));

    assert_eq!(
        errors(
            "[providers.az]\nkind = \"azure\"\nbase_url = \"https://r.openai.azure.com\"\nresponses_api = true\n"
        ),
        vec![
            "providers.az.responses_api: is only for kind = \"openai\" (other kinds get Responses requests as their own format)"
        ]
    );
}

const ROLLOUT_BASE: &str = r#"
[providers.openai]
kind = "openai"
base_url = "https://api.openai.com/v1"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:8000/v1"
[models.support]
targets = [{ provider = "openai", model = "gpt-4o-mini" }]
[models.faq]
targets = [{ provider = "openai", model = "gpt-4o-mini" }]
[models.help]
targets = [{ provider = "openai", model = "gpt-4o-mini" }]
"#;

#[test]
fn a_rollout_is_parsed_with_its_defaults() {
    let cfg = check(&format!(
        r#"{ROLLOUT_BASE}
[rollouts.support-v4]
alias = "support"
mode = "canary"
candidate = {{ targets = [{{ provider = "local", model = "qwen3-32b" }}], prompt = "support-answer@v4" }}
steps = [1, 5, 25, 50, 100]
min_samples_per_step = 200
sticky = "subject"
guard = ["error_rate", "contract_violations", "latency_p95 <= 1.2x"]
goal = ["feedback:resolved >= -0.02"]

[rollouts.answer-shadow]
alias = "help"
mode = "shadow"
sample = 0.1
candidate = {{ targets = [{{ provider = "local", model = "qwen3-8b" }}] }}

[rollouts.faq-ab]
alias = "faq"
mode = "ab"
sticky = "key"
alpha = 0.01
candidate = {{ targets = [{{ provider = "local", model = "qwen3-8b" }}] }}
guard = []
"#
    ))
    .unwrap();
    let r = &cfg.rollouts["support-v4"];
    assert_eq!(r.subject, RolloutSubject::Alias("support".into()));
    assert_eq!(r.mode(), seam_rollouts::Mode::Canary);
    assert_eq!(r.candidate.targets[0].model, "qwen3-32b");
    assert_eq!(r.candidate.prompt.as_deref(), Some("support-answer@v4"));
    assert_eq!(r.spec.steps, vec![1.0, 5.0, 25.0, 50.0, 100.0]);
    assert_eq!(r.spec.min_samples_per_step, 200);
    assert_eq!(r.sticky, Sticky::Subject);
    let texts: Vec<String> = r.spec.guards.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        ["error_rate", "contract_violations", "latency_p95 <= 1.2x"]
    );
    assert_eq!(r.spec.goals[0].to_string(), "feedback:resolved >= -0.02");
    assert_eq!((r.spec.alpha, r.sample), (0.05, 1.0));

    let s = &cfg.rollouts["answer-shadow"];
    assert_eq!(s.subject, RolloutSubject::Alias("help".into()));
    assert_eq!((s.spec.steps.len(), s.sample), (0, 0.1));
    assert_eq!(
        s.spec.guards[0].to_string(),
        "error_rate",
        "the default guard"
    );

    let ab = &cfg.rollouts["faq-ab"];
    assert_eq!(ab.spec.steps, vec![50.0]);
    assert_eq!((ab.sticky, ab.spec.alpha), (Sticky::Key, 0.01));
    assert!(ab.spec.guards.is_empty(), "guard = [] means none");
    assert!(check("").unwrap().rollouts.is_empty());
}

#[test]
fn rollout_errors_name_their_path() {
    let e = errors(&format!(
        r#"{ROLLOUT_BASE}
[rollouts.a]
alias = "nope"
mode = "canary"
candidate = {{ targets = [{{ provider = "gone", model = "m" }}, {{ model = "m" }}] }}
steps = [1, 50, 25, 100]
min_samples_per_step = 0
sticky = "user"
guard = ["error_rate", "latency_p95 <= 1.2x", "error_rate >= 2x"]
goal = ["feedback: >= -0.02"]
alpha = 0.7

[rollouts.b]
alias = "support"
prompt = "support-answer"
mode = "blue-green"
candidate = {{}}

[rollouts.c]
prompt = "support-answer"
mode = "ab"
steps = [50, 100]
sample = 0.5
candidate = {{ targets = [{{ provider = "local", model = "m" }}] }}

[rollouts.d]
alias = "support"
mode = "shadow"
steps = [10]
sample = 0
candidate = {{ prompt = "Bad Name@v1" }}

[rollouts.e]
alias = "support"
mode = "canary"
steps = [1, 5]

[rollouts."f g"]
alias = "faq"
mode = "canary"
steps = [100]
candidate = {{ prompt = "faq@v2" }}

[rollouts.g]
alias = "help"
mode = "shadow"
candidate = {{ prompt = "help@v2" }}
"#
    ));
    assert_eq!(
        e,
        vec![
            "rollouts.a.alias: no alias named \"nope\" in [models]",
            "rollouts.a.candidate.targets[0].provider: no provider named \"gone\" in [providers]",
            "rollouts.a.candidate.targets[1]: needs both provider and model",
            "rollouts.a.steps: steps must increase strictly",
            "rollouts.a.min_samples_per_step: must be at least 1",
            "rollouts.a.sticky: unknown sticky \"user\"; expected one of subject, key, request",
            "rollouts.a.guard[2]: \"error_rate >= 2x\": error_rate is better lower, so its bound is written with <=",
            "rollouts.a.goal[0]: \"feedback:\": the name after feedback: must be 1-64 letters, digits, '-', '_' or '.'",
            "rollouts.a.alpha: must be in (0, 0.5]",
            "rollouts.b: needs exactly one of alias or prompt (what is rolled out)",
            "rollouts.b.mode: unknown mode \"blue-green\"; expected one of shadow, canary, ab",
            "rollouts.b.candidate: needs targets, a prompt, or both (what the candidate serves instead)",
            "rollouts.c.candidate.prompt: is required when a prompt is rolled out (the version to try, e.g. \"NAME@v4\")",
            "rollouts.c.steps: ab takes exactly one step: the candidate's share in percent, above 0 and below 100",
            "rollouts.c.sample: is only for mode = \"shadow\" (the share of requests also sent to the candidate)",
            "rollouts.d.candidate.prompt: must be a prompt reference: NAME, NAME@VERSION or NAME@TAG",
            "rollouts.d.steps: shadow splits no traffic, so it has no steps (use sample)",
            "rollouts.d.sample: must be in (0, 1]",
            "rollouts.e.candidate: is required: { targets = [{ provider, model }, …] } and/or { prompt = \"NAME@VERSION\" }",
            "rollouts.e.steps: a canary's last step is 100 (reaching it is the promotion)",
            "rollouts.f g: rollout names are 1-64 letters, digits, '-' or '_'",
            "rollouts.f g.steps: a canary needs at least one step below 100",
            "rollouts.g.candidate.targets: a shadow rollout needs the candidate's targets",
        ]
    );
}

#[test]
fn one_subject_has_one_rollout_and_unknown_rollout_keys_are_errors() {
    let e = errors(&format!(
        r#"{ROLLOUT_BASE}
[rollouts.first]
alias = "support"
mode = "ab"
candidate = {{ prompt = "p@v2" }}
[rollouts.second]
alias = "support"
mode = "canary"
candidate = {{ prompt = "p@v3" }}
"#
    ));
    assert_eq!(
        e,
        vec!["rollouts.second.alias: \"support\" is already rolled out by rollouts.first"]
    );
    let e = errors(&format!(
        "{ROLLOUT_BASE}\n[rollouts.x]\nalias = \"support\"\nmode = \"ab\"\nguards = []\ncandidate = {{ prompt = \"p@v2\", model = \"m\" }}\n"
    ));
    assert_eq!(
        e,
        vec![
            "rollouts.x.candidate.model: unknown key",
            "rollouts.x.guards: unknown key",
        ]
    );
}

#[test]
fn an_evaluator_is_parsed_with_its_defaults() {
    let cfg = check(&format!(
        r#"{ROLLOUT_BASE}
[evaluators.polite]
alias = "support"
sample = 0.1
assert = [{{ type = "llm-rubric", value = "The answer is polite" }}, {{ type = "not-contains", value = "As an AI" }}]
judge = "faq"
queue = 16
concurrency = 4

[evaluators.short]
prompt = "support-answer"
assert = [{{ type = "word-count", value = {{ max = 200 }} }}]
"#
    ))
    .unwrap();
    let p = &cfg.evaluators["polite"];
    assert_eq!(p.subject, Evaluated::Alias("support".into()));
    assert_eq!((p.sample, p.queue, p.concurrency), (0.1, 16, 4));
    assert_eq!(p.judge.as_deref(), Some("faq"));
    assert_eq!(
        p.assert,
        vec![
            serde_json::json!({"type": "llm-rubric", "value": "The answer is polite"}),
            serde_json::json!({"type": "not-contains", "value": "As an AI"}),
        ]
    );
    let s = &cfg.evaluators["short"];
    assert_eq!(s.subject, Evaluated::Prompt("support-answer".into()));
    assert_eq!((s.sample, s.queue, s.concurrency), (1.0, 256, 2));
    assert_eq!(s.judge, None);
    assert_eq!(
        s.assert[0]["value"],
        serde_json::json!({"max": 200}),
        "tables become JSON objects"
    );
    assert!(check("").unwrap().evaluators.is_empty());
}

#[test]
fn evaluator_errors_name_their_path() {
    let e = errors(&format!(
        r#"{ROLLOUT_BASE}
[evaluators.a]
alias = "nope"
sample = 0
assert = []
judge = "gone"
queue = 0
concurrency = 65

[evaluators.b]
alias = "support"
prompt = "support-answer"
sample = 1.5
assert = [{{ type = "contains", value = "x" }}]

[evaluators.c]
prompt = "support-answer@v2"
assert = [{{ type = "contains", value = "x" }}]
concurrency = 0

[evaluators."d e"]
alias = "faq"
assert = [{{ type = "contains", value = "x" }}]
"#
    ));
    assert_eq!(
        e,
        vec![
            "evaluators.a.alias: no alias named \"nope\" in [models]",
            "evaluators.a.sample: must be in (0, 1] (the share of answers graded)",
            "evaluators.a.assert: needs at least one assertion, e.g. [{ type = \"not-contains\", value = \"As an AI\" }]",
            "evaluators.a.judge: no alias named \"gone\" in [models]",
            "evaluators.a.queue: must be between 1 and 65536",
            "evaluators.a.concurrency: must be between 1 and 64",
            "evaluators.b: needs exactly one of alias or prompt (whose answers are graded)",
            "evaluators.b.sample: must be in (0, 1] (the share of answers graded)",
            "evaluators.c.prompt: must be a prompt's name (lower-case letters, digits, '-', '_'), without @: every version is graded",
            "evaluators.c.concurrency: must be between 1 and 64",
            "evaluators.d e: evaluator names are 1-64 letters, digits, '-' or '_' (the metric is eval:NAME)",
        ]
    );
    let e = errors(&format!(
        "{ROLLOUT_BASE}\n[evaluators.x]\nalias = \"support\"\nassert = [{{ type = \"contains\", value = \"x\" }}]\nsamples = 0.5\n"
    ));
    assert_eq!(e, vec!["evaluators.x.samples: unknown key"]);
}

const RETRIEVAL_BASE: &str = r#"
[providers.echo]
kind = "echo"

[models.chat]
targets = [{ provider = "echo", model = "echo" }]

[policies.ingest]
input.pii = { action = "tokenize" }
"#;

#[test]
fn retrieval_collections_aliases_and_key_grants_are_parsed() {
    let cfg = check(&format!(
        r#"{RETRIEVAL_BASE}
[retrieval.collections.handbook]
embedder = "local-minilm"
policy = "ingest"
chunk = {{ max_tokens = 300, overlap = 40 }}
default_labels = ["public"]

[models.rag]
targets = [{{ provider = "echo", model = "echo" }}]
retrieval = {{ collection = "handbook", top_k = 4, mode = "bm25" }}

[keys.nurse]
hash = "sha256:{}"
models = ["rag"]
labels = ["team:oncology", "consent:*"]
subject_grants = true
collections = ["handbook"]
"#,
        "a".repeat(64)
    ))
    .unwrap();
    let c = &cfg.retrieval.collections["handbook"];
    assert_eq!((c.max_tokens, c.overlap), (300, 40));
    assert_eq!(c.policy.as_deref(), Some("ingest"));
    assert_eq!(c.default_labels, vec!["public"]);
    let r = cfg.models["rag"].retrieval.as_ref().unwrap();
    assert_eq!(
        (r.collection.as_str(), r.top_k, r.mode),
        ("handbook", 4, crate::SearchMode::Bm25)
    );
    assert_eq!(r.template, crate::retrieval::DEFAULT_TEMPLATE);
    let k = &cfg.keys[0].retrieval;
    assert_eq!(k.labels, vec!["team:oncology", "consent:*"]);
    assert!(k.subject_grants);
    assert_eq!(k.collections, vec!["handbook"]);
}

#[test]
fn retrieval_errors_name_their_path() {
    let e = errors(&format!(
        r#"{RETRIEVAL_BASE}
[retrieval.collections.Bad]
embedder = "nope"
policy = "missing"
chunk = {{ max_tokens = 8, overlap = 200 }}
default_labels = ["has space"]

[models.rag]
targets = [{{ provider = "echo", model = "echo" }}]
retrieval = {{ collection = "gone", top_k = 0, template = "{{% for %}}", mode = "fuzzy" }}

[keys.k]
hash = "sha256:{}"
collections = ["handbook"]
labels = ["team:*x", ""]
"#,
        "b".repeat(64)
    ));
    assert_eq!(
        e,
        vec![
            "retrieval.collections.Bad: collection names are 1 to 64 of a-z, 0-9, _ and -",
            "retrieval.collections.Bad.policy: no policy named \"missing\"",
            "retrieval.collections.Bad.chunk.max_tokens: must be between 16 and 2048",
            "retrieval.collections.Bad.chunk.overlap: must be at most half of max_tokens",
            "retrieval.collections.Bad.default_labels: \"has space\" is not a label: 1 to 128 of letters, digits and . _ : @ / + -",
            "keys.k.labels: \"team:*x\" is not a grant: a label, a prefix ending in * (\"team:*\"), or *",
            "models.rag.retrieval.top_k: must be between 1 and 50",
            "models.rag.retrieval.template: is not a valid template: syntax error: unexpected end of block, expected in (in <string>:1)",
            "models.rag.retrieval.mode: unknown mode \"fuzzy\"; expected one of hybrid, bm25, vector",
            "retrieval.collections.Bad.embedder: \"nope\" is neither \"local-minilm\" (the built-in model) nor an alias in [models]",
            "models.rag.retrieval.collection: no collection named \"gone\" in [retrieval.collections]",
        ]
    );
}

#[test]
fn local_provider_needs_no_url_or_key_and_takes_a_model_dir() {
    let cfg = check(
        r#"
[providers.mini]
kind = "local"
[providers.mini2]
kind = "local"
model_dir = "models/minilm"
"#,
    )
    .unwrap();
    let p = &cfg.providers["mini"];
    assert_eq!(p.kind, ProviderKind::Local);
    assert_eq!(p.kind.as_str(), "local");
    assert_eq!(p.trust, Trust::Private);
    assert_eq!(p.base_url, "builtin:local");
    assert!(p.api_key.is_none() && p.model_dir.is_none());
    assert_eq!(
        cfg.providers["mini2"].model_dir.as_deref(),
        Some(Path::new("/tmp/models/minilm"))
    );

    let e = errors(
        r#"
[providers.o]
kind = "openai"
base_url = "http://x/v1"
model_dir = "/models"
[providers.l]
kind = "local"
model_dir = " "
"#,
    );
    assert_eq!(
        e,
        vec![
            "providers.l.model_dir: must not be empty",
            "providers.o.model_dir: is only for kind = \"local\"",
        ]
    );
}

#[test]
fn semantic_cache_rules_are_read_and_checked() {
    let hash = format!("sha256:{}", "a".repeat(64));
    let cfg = check(&format!(
        r#"
[cache]
semantic_max_bytes = 1048576
[providers.echo]
kind = "echo"
[models.emb]
targets = [{{ provider = "echo", model = "echo" }}]
[models.faq]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ mode = "semantic", ttl_s = 600, scope = "org" }}
[models.tuned]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ mode = "semantic", threshold = 0.9, ttl_s = 60, embedder = "emb" }}
[models.whole]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ mode = "semantic", threshold = 1, ttl_s = 60 }}
[models.exact]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ mode = "exact", ttl_s = 60 }}
[keys.app]
hash = "{hash}"
models = ["*"]
cache = {{ mode = "semantic", ttl_s = 60, embedder = "local-minilm" }}
"#
    ))
    .unwrap();
    assert_eq!(cfg.cache.semantic_max_bytes, 1 << 20);
    let sem = |threshold: f32, embedder: &str| {
        Some(SemanticRule {
            threshold,
            embedder: embedder.into(),
        })
    };
    let semantic = |alias: &str| cfg.models[alias].cache.as_ref().unwrap().semantic.clone();
    assert_eq!(semantic("faq"), sem(0.95, "local-minilm"), "the defaults");
    assert_eq!(semantic("tuned"), sem(0.9, "emb"));
    assert_eq!(semantic("whole"), sem(1.0, "local-minilm"));
    assert_eq!(semantic("exact"), None);
    assert_eq!(
        cfg.keys[0].cache.as_ref().unwrap().semantic,
        sem(0.95, "local-minilm")
    );
    assert_eq!(check("").unwrap().cache.semantic_max_bytes, 16 << 20);

    let e = errors(&format!(
        r#"
[cache]
semantic_max_bytes = 10
[providers.echo]
kind = "echo"
[models."gl*"]
targets = [{{ provider = "echo", model = "echo" }}]
[models.a]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ mode = "fuzzy", ttl_s = 60 }}
[models.b]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ ttl_s = 60, threshold = 0.9, embedder = "local-minilm" }}
[models.c]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ mode = "semantic", ttl_s = 60, threshold = 0 }}
[models.d]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ mode = "semantic", ttl_s = 60, threshold = 1.5 }}
[models.e]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ mode = "semantic", ttl_s = 60, embedder = "nope" }}
[models.f]
targets = [{{ provider = "echo", model = "echo" }}]
cache = {{ mode = "semantic", ttl_s = 60, embedder = "gl*" }}
[keys.k]
hash = "{hash}"
models = ["*"]
cache = {{ mode = "semantic", ttl_s = 60, embedder = "gone" }}
"#
    ));
    assert_eq!(
        e,
        vec![
            "cache.semantic_max_bytes: must be at least 1024",
            "models.a.cache.mode: unknown mode \"fuzzy\"; expected one of exact, semantic",
            "models.b.cache.threshold: applies only with mode = \"semantic\"",
            "models.b.cache.embedder: applies only with mode = \"semantic\"",
            "models.c.cache.threshold: must be in (0, 1] (the least cosine similarity that answers from the cache)",
            "models.d.cache.threshold: must be in (0, 1] (the least cosine similarity that answers from the cache)",
            "keys.k.cache.embedder: no alias named \"gone\" in [models] (or \"local-minilm\", the built-in model)",
            "models.e.cache.embedder: no alias named \"nope\" in [models] (or \"local-minilm\", the built-in model)",
            "models.f.cache.embedder: no alias named \"gl*\" in [models] (or \"local-minilm\", the built-in model)",
        ]
    );
}

#[test]
fn evals_judge_names_an_alias() {
    let base = "[providers.echo]\nkind = \"echo\"\n\n[models.judge]\ntargets = [{ provider = \"echo\", model = \"echo\" }]\n";
    let cfg = check(&format!("{base}\n[evals]\njudge = \"judge\"\n")).unwrap();
    assert_eq!(cfg.evals.judge.as_deref(), Some("judge"));
    assert_eq!(check(base).unwrap().evals.judge, None);
    let e = errors(&format!("{base}\n[evals]\njudge = \"gone\"\n"));
    assert!(
        e.iter()
            .any(|m| m.contains("evals.judge") && m.contains("no alias named \"gone\"")),
        "{e:?}"
    );
    let e = errors(&format!("{base}\n[evals]\ngrader = \"judge\"\n"));
    assert!(e.iter().any(|m| m.contains("evals.grader")), "{e:?}");
}
