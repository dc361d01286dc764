//! The shared limiter: the GCRA of `gcra.rs` as one Lua script in Redis,
//! loaded once (`SCRIPT LOAD`) and called by its hash (`EVALSHA`, loaded
//! again after `NOSCRIPT`, as after a Redis restart): one round trip per
//! decision. The clock is Redis's (`TIME`), so replicas with skewed clocks
//! share one budget. Each decision touches one key, `<prefix>{<token id>}`,
//! whose hash tag keeps it in one slot of a Redis Cluster.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{RedisResult, Script};
use tokio::sync::OnceCell;

use super::gcra::{Outcome, Params};

const GCRA_LUA: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local increment = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local new_tat = tat + increment
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
if ARGV[5] == '1' then
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
end
local remaining = math.floor((window - (new_tat - now)) / interval)
if remaining < 0 then remaining = 0 end
return {1, remaining, 0, new_tat - now}
";

/// A single Redis or a Redis Cluster.
enum Connection {
    Single(ConnectionManager),
    Cluster(Box<Cluster>),
}

/// A cluster client and its connection, made on first use.
struct Cluster {
    client: ClusterClient,
    connection: OnceCell<ClusterConnection>,
}

/// The Redis side of the rate limiter. Connections are made lazily, so the
/// gateway starts (and serves, on its fallback) while Redis is down.
pub struct RedisGcra {
    connection: Connection,
    script: Script,
    prefix: String,
    loaded: OnceCell<()>,
}

impl RedisGcra {
    /// `urls`: one URL, or a Redis Cluster's seed nodes when `cluster`.
    /// `timeout` bounds connecting and each answer.
    pub fn new(
        urls: &[String],
        cluster: bool,
        prefix: &str,
        timeout: Duration,
    ) -> RedisResult<Self> {
        let connection = if cluster {
            let client = ClusterClient::builder(urls.to_vec())
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(0)
                .build()?;
            Connection::Cluster(Box::new(Cluster {
                client,
                connection: OnceCell::new(),
            }))
        } else {
            let url = urls.first().map(String::as_str).unwrap_or_default();
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(200));
            let client = redis::Client::open(url)?;
            Connection::Single(ConnectionManager::new_lazy_with_config(client, config)?)
        };
        Ok(Self {
            connection,
            script: Script::new(GCRA_LUA),
            prefix: prefix.to_owned(),
            loaded: OnceCell::new(),
        })
    }

    /// The key of a token's bucket, hash-tagged for Redis Cluster.
    pub fn key(&self, bucket: &str) -> String {
        format!("{}{{{bucket}}}", self.prefix)
    }

    /// PING (for readiness): Ok when Redis answers.
    pub async fn ping(&self) -> RedisResult<()> {
        let cmd = redis::cmd("PING");
        match &self.connection {
            Connection::Single(manager) => {
                let mut conn = manager.clone();
                cmd.query_async::<()>(&mut conn).await
            }
            Connection::Cluster(cluster) => {
                let mut conn = cluster
                    .connection
                    .get_or_try_init(|| cluster.client.get_async_connection())
                    .await?
                    .clone();
                cmd.query_async::<()>(&mut conn).await
            }
        }
    }

    /// One decision for `bucket`, in one round trip; with `commit` false,
    /// what it would be, changing nothing.
    pub async fn decide(&self, bucket: &str, p: Params, commit: bool) -> RedisResult<Outcome> {
        let key = self.key(bucket);
        let mut invocation = self.script.key(&key);
        invocation
            .arg(p.interval)
            .arg(p.tolerance)
            .arg(p.window)
            .arg(p.increment)
            .arg(u8::from(commit));
        let reply: (u64, u64, u64, u64) = match &self.connection {
            Connection::Single(manager) => {
                let mut conn = manager.clone();
                self.load_once(&mut conn).await?;
                invocation.invoke_async(&mut conn).await?
            }
            Connection::Cluster(cluster) => {
                let mut conn = cluster
                    .connection
                    .get_or_try_init(|| cluster.client.get_async_connection())
                    .await?
                    .clone();
                // Cluster nodes each hold their own scripts: EVALSHA's
                // NOSCRIPT path loads it on the node that owns the key.
                invocation.invoke_async(&mut conn).await?
            }
        };
        let (allowed, remaining, retry_after, reset) = reply;
        Ok(Outcome {
            allowed: allowed == 1,
            remaining,
            retry_after,
            reset,
        })
    }

    async fn load_once(&self, conn: &mut ConnectionManager) -> RedisResult<()> {
        self.loaded
            .get_or_try_init(|| async {
                self.script
                    .prepare_invoke()
                    .load_async(conn)
                    .await
                    .map(|_| ())
            })
            .await
            .map(|_| ())
    }
}
