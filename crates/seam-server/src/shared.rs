//! The Redis connection replicas share (`storage.redis_url`): one multiplexed, reconnecting
//! connection per process, opened on first use so a server starts even while Redis is down.

use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

pub struct Redis {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
}

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
        Ok(Some(Redis {
            client,
            conn: OnceCell::new(),
        }))
    }

    /// The shared connection; clones are cheap and pipeline over one socket.
    pub async fn conn(&self) -> Result<ConnectionManager, redis::RedisError> {
        self.conn
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
                    .set_response_timeout(Some(std::time::Duration::from_secs(2)))
                    .set_number_of_retries(2);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .cloned()
    }
}
