//! The ops surface every role shares: the Prometheus recorder, `/metrics`, `/healthz`,
//! `/readyz` and `/drain` on a port apart from the public ones, process metrics, and the
//! HTTP request metrics layer for axum routers.
//!
//! Libraries record with the `metrics` facade; only the binary installs the recorder. Gauges
//! are sampled when scraped, by [`Collector`]s, so a gauge of a stream that ended disappears
//! once it is no longer set (see [`recorder::install`]).

pub mod count;
pub mod health;
pub mod http_metrics;
pub mod process;
pub mod recorder;
pub mod server;

pub use count::{LiveCount, LiveGuard};
pub use health::Health;
pub use recorder::Collector;
pub use server::{OpsState, serve};
