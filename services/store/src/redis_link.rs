//! The one way ferrocast reaches Redis: [`RedisLink`], a connection to the *current* primary.
//!
//! Without Sentinel it is one [`ConnectionManager`] on the configured URL, which reconnects by
//! itself. With Sentinel ([`SentinelConfig`], decision 10 of issue 11) the primary is asked of
//! the Sentinels, and asked again after a failure that means it may have moved (connection
//! refused, reset or dropped, a timeout, or `READONLY` from a demoted primary): a
//! `ConnectionManager` alone would keep reconnecting to the old address. [`RedisLink::handle`]
//! gives a [`ConnectionLike`] that pins one primary for a sequence of calls, so a write and
//! the `WAIT` that follows it ([`RedisLink::wait_replicas`]) reach the same connection.
//! ADR 0011 says why.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, PubSub};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    Client, Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, RedisResult,
    ServerErrorKind, Value,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::timeout;

/// Most Sentinels one link asks: the list comes from configuration, but stays bounded.
const MAX_SENTINELS: usize = 16;

/// Where the Sentinels are and how durable a write must be before it is acknowledged. Off
/// (plain `redis_url`) while `master_name` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SentinelConfig {
    /// The name the Sentinels monitor the primary under (`sentinel monitor <name> …`); empty
    /// turns Sentinel off.
    pub master_name: String,
    /// Sentinel addresses, `host:port` or `redis://host:port`. The Redis URL still supplies
    /// the primary's user, password and database.
    pub nodes: Vec<String>,
    /// Replicas that must confirm a write (`WAIT`) before it counts as done; 0 = no `WAIT`.
    pub min_replicas: usize,
}

impl SentinelConfig {
    /// Whether Sentinel is on.
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.master_name.is_empty()
    }
}

/// How the primary is found.
enum Primary {
    /// Always the configured URL; the manager follows it by itself.
    Direct(ConnectionManager, Client),
    /// Asked of the Sentinels whenever the cached manager is dropped.
    Sentinel(Mutex<SentinelClient>),
}

/// The primary in use, numbered so a stale failure report cannot drop a newer one.
#[derive(Clone)]
struct Current {
    generation: u64,
    manager: ConnectionManager,
}

struct Shared {
    primary: Primary,
    current: Mutex<Option<Current>>,
    /// Bumped on each resolution.
    generations: std::sync::atomic::AtomicU64,
    manager_config: ConnectionManagerConfig,
    call_timeout: Duration,
    min_replicas: usize,
}

/// A cheap-to-clone link to the current Redis primary; see the module doc.
#[derive(Clone)]
pub struct RedisLink {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: print nothing of it.
        formatter
            .debug_struct("RedisLink")
            .field(
                "sentinel",
                &matches!(self.shared.primary, Primary::Sentinel(_)),
            )
            .field("min_replicas", &self.shared.min_replicas)
            .finish_non_exhaustive()
    }
}

impl RedisLink {
    /// Prepares a link without any I/O (a Redis outage at start-up is an unavailable call
    /// later, not a failure here). `call_timeout` bounds connecting, each response and a
    /// Sentinel lookup. Errors name the bad setting, never the URL's password.
    pub fn new(
        url: &str,
        sentinel: &SentinelConfig,
        call_timeout: Duration,
    ) -> Result<Self, RedisError> {
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(call_timeout))
            .set_response_timeout(Some(call_timeout))
            // A caller waits at most `call_timeout` anyway; keep reconnect attempts inside it.
            .set_number_of_retries(2)
            .set_max_delay(call_timeout / 4);
        let client = Client::open(url)?;
        let primary = if sentinel.enabled() {
            Primary::Sentinel(Mutex::new(sentinel_client(sentinel, &client)?))
        } else {
            let manager =
                ConnectionManager::new_lazy_with_config(client.clone(), manager_config.clone())?;
            Primary::Direct(manager, client)
        };
        Ok(Self {
            shared: Arc::new(Shared {
                primary,
                current: Mutex::new(None),
                generations: std::sync::atomic::AtomicU64::new(0),
                manager_config,
                call_timeout,
                min_replicas: sentinel.min_replicas,
            }),
        })
    }

    /// A connection for a sequence of calls that must reach the same primary.
    #[must_use]
    pub fn handle(&self) -> LinkHandle {
        LinkHandle {
            link: self.clone(),
            pinned: None,
        }
    }

    /// The deadline given at construction.
    #[must_use]
    pub fn call_timeout(&self) -> Duration {
        self.shared.call_timeout
    }

    /// Connects now (asking the Sentinels first if on), within the call timeout: for a role
    /// that must not start without Redis.
    pub async fn check(&self) -> Result<(), RedisError> {
        let mut handle = self.handle();
        redis::cmd("PING").query_async::<()>(&mut handle).await
    }

    /// A fresh pub/sub connection to the primary. With Sentinel the primary is asked for
    /// every time: a subscription on a demoted primary would never hear the new one.
    pub async fn pubsub(&self) -> Result<PubSub, RedisError> {
        let client = match &self.shared.primary {
            Primary::Direct(_, client) => client.clone(),
            Primary::Sentinel(sentinel) => self.resolve(sentinel).await?,
        };
        deadline(self.shared.call_timeout, client.get_async_pubsub()).await
    }

    /// After a write through `handle`, waits until `min_replicas` replicas hold it (`WAIT`),
    /// so a failover cannot lose an acknowledged write. Too few confirmations within half the
    /// call timeout is an error the caller treats as unavailable (the write may still have
    /// applied: writes are idempotent and retried). Nothing to do when `min_replicas` is 0.
    pub async fn wait_replicas(&self, handle: &mut LinkHandle) -> Result<(), RedisError> {
        let wanted = self.shared.min_replicas;
        if wanted == 0 {
            return Ok(());
        }
        // Never 0, which would make WAIT block forever.
        let wait_ms = (self.shared.call_timeout / 2).as_millis().max(1);
        let confirmed: usize = redis::cmd("WAIT")
            .arg(wanted)
            .arg(u64::try_from(wait_ms).unwrap_or(u64::MAX))
            .query_async(handle)
            .await?;
        if confirmed < wanted {
            return Err(RedisError::from((
                ErrorKind::Io,
                "too few replicas confirmed the write",
                format!("{confirmed} of {wanted} within {wait_ms} ms"),
            )));
        }
        Ok(())
    }

    /// The primary's manager, asking the Sentinels if none is cached.
    async fn current(&self) -> Result<Current, RedisError> {
        let sentinel = match &self.shared.primary {
            Primary::Direct(manager, _) => {
                return Ok(Current {
                    generation: 0,
                    manager: manager.clone(),
                });
            }
            Primary::Sentinel(sentinel) => sentinel,
        };
        // Held across the lookup, so concurrent callers wait for one resolution.
        let mut current = self.shared.current.lock().await;
        if let Some(current) = current.as_ref() {
            return Ok(current.clone());
        }
        let client = self.resolve(sentinel).await?;
        let connect =
            ConnectionManager::new_with_config(client, self.shared.manager_config.clone());
        let manager = deadline(self.shared.call_timeout, connect).await?;
        let generation = 1 + self
            .shared
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(generation, "redis primary resolved through sentinel");
        let resolved = Current {
            generation,
            manager,
        };
        *current = Some(resolved.clone());
        Ok(resolved)
    }

    /// Asks the Sentinels for the primary's client (the client library also checks that the
    /// node answers `ROLE` as a master).
    async fn resolve(&self, sentinel: &Mutex<SentinelClient>) -> Result<Client, RedisError> {
        let mut sentinel = sentinel.lock().await;
        deadline(self.shared.call_timeout, sentinel.async_get_client()).await
    }

    /// Forgets the primary of `generation` if `error` means it may have moved, so the next
    /// call asks the Sentinels again.
    async fn failed(&self, generation: u64, error: &RedisError) {
        if !matches!(self.shared.primary, Primary::Sentinel(_)) || !primary_may_have_moved(error) {
            return;
        }
        let mut current = self.shared.current.lock().await;
        if current.as_ref().is_some_and(|c| c.generation == generation) {
            tracing::warn!(%error, generation, "redis primary lost; asking the sentinels again");
            *current = None;
        }
    }
}

/// Whether a failure may mean the primary changed: the node is gone, unresponsive, or now a
/// replica.
fn primary_may_have_moved(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
        || error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
}

/// Runs `future` under `limit`, turning the elapsed deadline into a timeout error.
async fn deadline<T>(
    limit: Duration,
    future: impl Future<Output = RedisResult<T>>,
) -> RedisResult<T> {
    match timeout(limit, future).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {limit:?}"),
        ))),
    }
}

/// The Sentinel client for `config`, connecting to the primary with `client`'s user,
/// password and database. Deadlines are kept around every lookup (the client has none).
fn sentinel_client(config: &SentinelConfig, client: &Client) -> Result<SentinelClient, RedisError> {
    if config.nodes.is_empty() || config.nodes.len() > MAX_SENTINELS {
        return Err(RedisError::from((
            ErrorKind::InvalidClientConfig,
            "redis_sentinel.nodes must list 1 to 16 sentinels",
        )));
    }
    let nodes = config
        .nodes
        .iter()
        .map(|node| {
            let url = if node.contains("://") {
                node.clone()
            } else {
                format!("redis://{node}")
            };
            url.into_connection_info()
        })
        .collect::<RedisResult<Vec<_>>>()?;
    let node_info = SentinelNodeConnectionInfo::default()
        .set_redis_connection_info(client.get_connection_info().redis_settings().clone());
    SentinelClient::build(
        nodes,
        config.master_name.clone(),
        Some(node_info),
        SentinelServerType::Master,
    )
}

/// A [`ConnectionLike`] on one primary: the first call picks the link's current primary and
/// every later call of this handle goes to the same one. A failure that may mean the primary
/// moved makes the link ask the Sentinels again for the next handle.
pub struct LinkHandle {
    link: RedisLink,
    pinned: Option<Current>,
}

impl LinkHandle {
    /// Reports a failure seen outside the connection (a caller's own deadline), so the link
    /// re-resolves if it may mean the primary moved.
    pub async fn failed(&self, error: &RedisError) {
        if let Some(pinned) = &self.pinned {
            self.link.failed(pinned.generation, error).await;
        }
    }

    async fn manager(&mut self) -> Result<(u64, ConnectionManager), RedisError> {
        if let Some(pinned) = &self.pinned {
            return Ok((pinned.generation, pinned.manager.clone()));
        }
        let current = self.link.current().await?;
        let pinned = (current.generation, current.manager.clone());
        self.pinned = Some(current);
        Ok(pinned)
    }
}

impl ConnectionLike for LinkHandle {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        async move {
            let (generation, mut manager) = self.manager().await?;
            let reply = manager.req_packed_command(cmd).await;
            if let Err(error) = &reply {
                self.link.failed(generation, error).await;
            }
            reply
        }
        .boxed()
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        async move {
            let (generation, mut manager) = self.manager().await?;
            let reply = manager.req_packed_commands(pipeline, offset, count).await;
            if let Err(error) = &reply {
                self.link.failed(generation, error).await;
            }
            reply
        }
        .boxed()
    }

    fn get_db(&self) -> i64 {
        match &self.link.shared.primary {
            Primary::Direct(manager, _) => manager.get_db(),
            Primary::Sentinel(_) => self.pinned.as_ref().map_or(0, |c| c.manager.get_db()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

    use super::*;

    #[test]
    fn sentinel_is_off_by_default_and_refuses_unknown_keys() {
        let config: SentinelConfig = serde_json::from_str("{}").unwrap();
        assert!(!config.enabled());
        assert_eq!(config, SentinelConfig::default());
        let typo = serde_json::from_str::<SentinelConfig>(r#"{"master": "x"}"#);
        assert!(typo.is_err());
        let set: SentinelConfig =
            serde_json::from_str(r#"{"master_name": "m", "nodes": ["h:1"], "min_replicas": 1}"#)
                .unwrap();
        assert!(set.enabled());
    }

    #[test]
    fn sentinel_needs_between_one_and_sixteen_nodes() {
        let mut sentinel = SentinelConfig {
            master_name: "m".into(),
            ..SentinelConfig::default()
        };
        let url = "redis://127.0.0.1:1";
        assert!(RedisLink::new(url, &sentinel, Duration::from_secs(1)).is_err());
        sentinel.nodes = vec!["127.0.0.1:2".into(); 17];
        assert!(RedisLink::new(url, &sentinel, Duration::from_secs(1)).is_err());
        sentinel.nodes.truncate(3);
        sentinel.nodes[0] = "redis://127.0.0.1:3".into();
        assert!(RedisLink::new(url, &sentinel, Duration::from_secs(1)).is_ok());
    }

    #[tokio::test]
    async fn debug_never_shows_the_url() {
        let link = RedisLink::new(
            "redis://:hunter2@127.0.0.1:1",
            &SentinelConfig::default(),
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(!format!("{link:?}").contains("hunter2"));
    }

    #[test]
    fn only_failures_that_may_mean_a_new_primary_re_resolve() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(primary_may_have_moved(&refused));
        let timed_out = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(primary_may_have_moved(&timed_out));
        let read_only = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ReadOnly),
            "You can't write against a read only replica.",
        ));
        assert!(primary_may_have_moved(&read_only));
        let script_error =
            RedisError::from((ErrorKind::Server(ServerErrorKind::ResponseError), "ERR bad"));
        assert!(!primary_may_have_moved(&script_error));
    }
}
