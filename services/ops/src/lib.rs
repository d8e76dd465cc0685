//! The ops surface every role shares: the Prometheus recorder, `/metrics`, `/healthz`,
//! `/readyz` and `/drain` on a port apart from the public ones, process metrics, the HTTP
//! request metrics layer for axum routers, and the defences of every listener: an HTTP
//! server with header and idle timeouts and a connection cap ([`http`]), backoff on failed
//! accepts ([`accept`]) and the file-descriptor budget ([`fd`]).
//! Every role's configuration names its drain deadlines with one type, [`Drain`].
//!
//! Libraries record with the `metrics` facade; only the binary installs the recorder. Gauges
//! are sampled when scraped, by [`Collector`]s, so a gauge of a stream that ended disappears
//! once it is no longer set (see [`recorder::install`]).

pub mod accept;
pub mod count;
pub mod drain;
pub mod fd;
pub mod health;
pub mod http;
pub mod http_metrics;
pub mod process;
pub mod recorder;
pub mod server;
pub mod throttle;

pub use count::{LiveCount, LiveGuard};
pub use drain::Drain;
pub use health::Health;
pub use recorder::Collector;
pub use server::{OpsState, serve};
