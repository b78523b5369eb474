//! Counters in Redis, shared by replicas: the same semantics as the in-process ones, each
//! admission and settlement one Lua script, so every check-and-count is atomic across replicas.
//!
//! Keys, per scope id `S` (personal data never appears in a scope id: subjects are hashed):
//! `seam:l:S:w` (the minute's window: request ids by time, counted for rpm) and `seam:l:S:wh`
//! (their token weights and, under `~sum`, the total, for tpm), `seam:l:S:c` (in flight: ids by
//! lease expiry), `seam:l:S:b:PERIOD` (spent) and `:bz:`/`:bh:` (cost reservations by lease
//! expiry; their amounts and total). Every key expires by itself once idle. Settling is idempotent
//! without a marker per request: a reservation is turned into spend only by the call that removes
//! it, a slot is freed once, and re-weighing tokens to the same usage changes nothing. Scripts build key names from their first key, so this needs a
//! single Redis (or a primary with replicas), not Redis Cluster.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use redis::aio::ConnectionManager;
use redis::{RedisError, Script, Value};

use crate::guard::RedisGuard;
use crate::{Admitted, Ask, Denied, LEASE_MS, Scope, Step, Used, WINDOW_MS};

/// Opens (or returns) the shared connection.
pub type Connect = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<ConnectionManager, RedisError>> + Send>>
        + Send
        + Sync,
>;

/// How long a budget's spent counter outlives its period (then the ledger holds it).
const SPENT_GRACE_MS: u64 = 2 * 86_400_000;

const LIB: &str = r"
local SUM = '~sum'
local function drop(z, h, upto)
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', upto)
  if #old == 0 then return end
  local total = 0
  for _, m in ipairs(old) do
    local w = redis.call('HGET', h, m)
    if w then
      total = total + tonumber(w)
      redis.call('HDEL', h, m)
    end
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', upto)
  if total > 0 then redis.call('HINCRBY', h, SUM, -total) end
end
";

const ADMIT: &str = r"
local now, id = tonumber(ARGV[1]), ARGV[2]
local tok, cost, lease, window = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local n = #KEYS
local function arg(i, k) return ARGV[6 + (i - 1) * 5 + k] end
for i = 1, n do
  local k = KEYS[i]
  local rpm, tpm, conc, budget, label = tonumber(arg(i, 1)), tonumber(arg(i, 2)), tonumber(arg(i, 3)), tonumber(arg(i, 4)), arg(i, 5)
  if rpm > 0 or tpm > 0 then
    local z, h = k .. ':w', k .. ':wh'
    drop(z, h, now - window)
    if not redis.call('ZSCORE', z, id) then
      if rpm > 0 then
        local c = redis.call('ZCARD', z)
        if c >= rpm then
          local e = redis.call('ZRANGE', z, c - rpm, c - rpm, 'WITHSCORES')
          return {'rpm', i, math.max(1, tonumber(e[2]) + window - now)}
        end
      end
      if tpm > 0 then
        if tok > tpm then return {'tpm_never', i, 0} end
        local sum = tonumber(redis.call('HGET', h, SUM) or '0')
        if sum + tok > tpm then
          local need, freed, wait = sum + tok - tpm, 0, window
          local e = redis.call('ZRANGE', z, 0, 999, 'WITHSCORES')
          for j = 1, #e, 2 do
            freed = freed + tonumber(redis.call('HGET', h, e[j]) or '0')
            if freed >= need then
              wait = math.max(1, tonumber(e[j + 1]) + window - now)
              break
            end
          end
          return {'tpm', i, wait}
        end
      end
    end
  end
  if conc > 0 then
    local z = k .. ':c'
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
    if not redis.call('ZSCORE', z, id) and redis.call('ZCARD', z) >= conc then
      return {'conc', i, 0}
    end
  end
  if budget >= 0 then
    local spent = redis.call('GET', k .. ':b:' .. label)
    if not spent then return {'seed', i, 0} end
    local z, h = k .. ':bz:' .. label, k .. ':bh:' .. label
    drop(z, h, now)
    local committed = tonumber(spent) + tonumber(redis.call('HGET', h, SUM) or '0')
    if not redis.call('HGET', h, id) and committed + cost > budget then
      return {'budget', i, committed}
    end
  end
end
for i = 1, n do
  local k = KEYS[i]
  local rpm, tpm, conc, budget, label = tonumber(arg(i, 1)), tonumber(arg(i, 2)), tonumber(arg(i, 3)), tonumber(arg(i, 4)), arg(i, 5)
  if rpm > 0 or tpm > 0 then
    local z, h = k .. ':w', k .. ':wh'
    if redis.call('ZADD', z, 'NX', now, id) == 1 and tpm > 0 then
      redis.call('HSET', h, id, tok)
      redis.call('HINCRBY', h, SUM, tok)
    end
    redis.call('PEXPIRE', z, window)
    if tpm > 0 then redis.call('PEXPIRE', h, window) end
  end
  if conc > 0 then
    redis.call('ZADD', k .. ':c', now + lease, id)
    redis.call('PEXPIRE', k .. ':c', lease)
  end
  if budget >= 0 then
    local z, h = k .. ':bz:' .. label, k .. ':bh:' .. label
    if redis.call('HSETNX', h, id, cost) == 1 then
      redis.call('ZADD', z, now + lease, id)
      redis.call('HINCRBY', h, SUM, cost)
    end
    redis.call('PEXPIRE', z, lease)
    redis.call('PEXPIRE', h, lease)
  end
end
return {'ok', 0, 0}
";

const SETTLE: &str = r"
local id, used, cost = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n = #KEYS
for i = 1, n do
  local k = KEYS[i]
  local tpm, conc, label = ARGV[4 + (i - 1) * 3 + 1], ARGV[4 + (i - 1) * 3 + 2], ARGV[4 + (i - 1) * 3 + 3]
  if tpm == '1' then
    local h = k .. ':wh'
    local old = redis.call('HGET', h, id)
    if old then
      redis.call('HSET', h, id, used)
      redis.call('HINCRBY', h, SUM, used - tonumber(old))
    end
  end
  if conc == '1' then redis.call('ZREM', k .. ':c', id) end
  if label ~= '' then
    local h = k .. ':bh:' .. label
    local r = redis.call('HGET', h, id)
    if r then
      redis.call('HDEL', h, id)
      redis.call('ZREM', k .. ':bz:' .. label, id)
      redis.call('HINCRBY', h, SUM, -tonumber(r))
      if cost > 0 and redis.call('EXISTS', k .. ':b:' .. label) == 1 then
        redis.call('INCRBY', k .. ':b:' .. label, cost)
      end
    end
  end
end
return 1
";

pub(crate) struct Shared {
    connect: Connect,
    guard: Arc<RedisGuard>,
    admit: Script,
    settle: Script,
}

fn key(scope: &str) -> String {
    format!("seam:l:{scope}")
}

fn int(v: &Value) -> u64 {
    match v {
        Value::Int(i) => u64::try_from(*i).unwrap_or(0),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

fn text(v: &Value) -> &str {
    match v {
        Value::BulkString(b) => std::str::from_utf8(b).unwrap_or(""),
        Value::SimpleString(s) => s,
        _ => "",
    }
}

impl Shared {
    pub(crate) fn new(connect: Connect, guard: Arc<RedisGuard>) -> Shared {
        Shared {
            connect,
            guard,
            admit: Script::new(&format!("{LIB}{ADMIT}")),
            settle: Script::new(&format!("{LIB}{SETTLE}")),
        }
    }

    pub(crate) async fn admit(
        &self,
        scopes: &[&Scope],
        ask: &Ask,
        now: u64,
    ) -> Result<Step, String> {
        let mut inv = self.admit.prepare_invoke();
        inv.arg(now)
            .arg(&ask.request)
            .arg(ask.tokens)
            .arg(ask.microusd)
            .arg(LEASE_MS)
            .arg(WINDOW_MS);
        for s in scopes {
            inv.key(key(&s.id));
            let r = &s.rule;
            let (budget, label) = match r.budget {
                Some(b) => (
                    i64::try_from(b.microusd).unwrap_or(i64::MAX),
                    b.period.label(now),
                ),
                None => (-1, String::new()),
            };
            inv.arg(r.rpm.unwrap_or(0))
                .arg(r.tpm.unwrap_or(0))
                .arg(r.concurrency.unwrap_or(0))
                .arg(budget)
                .arg(label);
        }
        let v: Vec<Value> = self
            .guard
            .run(async {
                let mut conn = (self.connect)().await?;
                inv.invoke_async(&mut conn).await
            })
            .await
            .map_err(|e| e.to_string())?;
        let status = v.first().map_or("", text);
        let index = v.get(1).map_or(0, int) as usize;
        let value = v.get(2).map_or(0, int);
        let Some(scope) = index.checked_sub(1).and_then(|i| scopes.get(i)) else {
            return match status {
                "ok" => Ok(Step::Admitted),
                other => Err(format!("unexpected reply from the admit script: {other}")),
            };
        };
        let id = scope.id.clone();
        let r = &scope.rule;
        Ok(match status {
            "rpm" => Step::Denied(Denied::Requests {
                scope: id,
                limit: r.rpm.unwrap_or(0),
                retry_after_ms: value,
            }),
            "tpm" | "tpm_never" => Step::Denied(Denied::Tokens {
                scope: id,
                limit: r.tpm.unwrap_or(0),
                asked: ask.tokens,
                retry_after_ms: (status == "tpm").then_some(value),
            }),
            "conc" => Step::Denied(Denied::Concurrency {
                scope: id,
                limit: r.concurrency.unwrap_or(0),
            }),
            "budget" => {
                let Some(b) = r.budget else {
                    return Err("the admit script named a scope without a budget".into());
                };
                Step::Denied(Denied::Budget {
                    scope: id,
                    limit: b.microusd,
                    committed: value,
                    asked: ask.microusd,
                    period: b.period,
                    resets_at_ms: b.period.end_ms(now),
                })
            }
            "seed" => Step::Seed {
                index: index - 1,
                label: r.budget.map(|b| b.period.label(now)).unwrap_or_default(),
            },
            other => return Err(format!("unexpected reply from the admit script: {other}")),
        })
    }

    /// Loads a budget counter unless another replica loaded it first.
    pub(crate) async fn seed(
        &self,
        scope: &str,
        label: &str,
        spent: u64,
        now: u64,
    ) -> Result<(), String> {
        let ttl = WINDOW_MS.max(
            [crate::Period::Day, crate::Period::Month]
                .iter()
                .find(|p| p.label(now) == label)
                .map_or(0, |p| p.end_ms(now).saturating_sub(now))
                + SPENT_GRACE_MS,
        );
        let mut set = redis::cmd("SET");
        set.arg(format!("{}:b:{label}", key(scope)))
            .arg(spent)
            .arg("NX")
            .arg("PX")
            .arg(ttl);
        let _: Value = self
            .guard
            .run(async {
                let mut conn = (self.connect)().await?;
                set.query_async(&mut conn).await
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    pub(crate) async fn settle(&self, a: &Admitted, used: Used, now: u64) -> Result<(), String> {
        let mut inv = self.settle.prepare_invoke();
        inv.arg(now)
            .arg(&a.request)
            .arg(used.tokens)
            .arg(used.microusd);
        for h in &a.held {
            inv.key(key(&h.id));
            inv.arg(if h.tpm { "1" } else { "0" })
                .arg(if h.concurrency { "1" } else { "0" })
                .arg(h.budget.as_ref().map_or("", |(l, _)| l.as_str()));
        }
        let _: Value = self
            .guard
            .run(async {
                let mut conn = (self.connect)().await?;
                inv.invoke_async(&mut conn).await
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}
