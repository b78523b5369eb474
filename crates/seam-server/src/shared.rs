//! The Redis connection replicas share (`storage.redis_url`): one multiplexed, reconnecting
//! connection per process, opened on first use so a server starts even while Redis is down.

use redis::aio::ConnectionManager;
use seam_limits::RedisGuard;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

pub struct Redis {
    client: redis::Client,
    /// Every call on the request path: a deadline each (`limits.redis_timeout_ms`) and a breaker.
    pub guard: Arc<RedisGuard>,
    conn: OnceCell<ConnectionManager>,
    /// The last readiness check and when it ran: probes within [`CHECK_FRESH`] share it, and
    /// only one PING is in flight however many probes arrive.
    checked: tokio::sync::Mutex<Option<(Instant, Option<String>)>>,
}

/// How long one readiness check of Redis stands for.
const CHECK_FRESH: Duration = Duration::from_secs(1);
/// How long the check waits for PONG.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

impl Redis {
    /// `None` without `storage.redis_url`; an error for a URL the client cannot use.
    pub fn from_config(cfg: &seam_config::Config) -> Result<Option<Redis>, String> {
        let Some(url) = cfg.storage.redis_url() else {
            return Ok(None);
        };
        // The URL may carry a password: errors name the setting, never the value.
        let client = redis::Client::open(url).map_err(|e| {
            format!(
                "storage.redis_url: not a usable Redis URL ({})",
                e.category()
            )
        })?;
        let timeout = Duration::from_millis(cfg.limits.redis_timeout_ms);
        Ok(Some(Redis {
            client,
            guard: Arc::new(RedisGuard::new(timeout)),
            conn: OnceCell::new(),
            checked: tokio::sync::Mutex::new(None),
        }))
    }

    /// Why Redis cannot be used now (for `/readyz`), or `None` when it answers a PING. The
    /// message names the failure's kind, never the URL (which may carry a password).
    pub async fn problem(&self) -> Option<String> {
        let mut checked = self.checked.lock().await;
        if let Some((at, outcome)) = checked.as_ref()
            && at.elapsed() < CHECK_FRESH
        {
            return outcome.clone();
        }
        let ping = async {
            let mut conn = self.conn().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(format!(
                "redis (storage.redis_url) is unreachable ({}) and limits.on_error is \"closed\"",
                e.category()
            )),
            Err(_) => Some(format!(
                "redis (storage.redis_url) did not answer within {} ms and limits.on_error is \"closed\"",
                CHECK_TIMEOUT.as_millis()
            )),
        };
        *checked = Some((Instant::now(), outcome.clone()));
        outcome
    }

    /// The shared connection; clones are cheap and pipeline over one socket.
    pub async fn conn(&self) -> Result<ConnectionManager, redis::RedisError> {
        self.conn
            .get_or_try_init(|| async {
                // Callers bound each call with the guard's deadline; these bound the manager's
                // own reconnection work, which outlives a call that gave up.
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_secs(2)))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .cloned()
    }
}
