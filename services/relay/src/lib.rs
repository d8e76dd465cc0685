//! The origin → edge live relay over gRPC.
//!
//! An origin serves [`RelayService`]: each `Subscribe` is one server stream of FLV-tag frames
//! from a live hub (metadata, codec configurations, the current GOP, then live frames). An
//! edge uses [`RelaySource`], a [`ferrocast_live::LiveSource`] that pulls each watched stream
//! once from its owning origin (found through [`StreamOwners`]) into a local hub and fans it
//! out to every local viewer, resubscribing to the stream's new owner when its origin goes
//! away.
//!
//! For LL-HLS (ADR 16) an origin also serves each stream's part log (`SubscribeParts`: a
//! replay, then live events), and an edge mirrors it with [`RelayParts`], a
//! [`ferrocast_live::PartSource`] built on the same owner lookup and credential.
//!
//! Frames cross the wire as the same FLV tag bytes the hub holds, so nothing is re-serialized.
//! Only edges of the cluster may subscribe: each `Subscribe` carries the edge's cluster
//! credential ([`ferrocast_proto::auth`]), and origins refuse calls without one.

mod client;
mod config;
mod convert;
mod convert_parts;
mod error;
pub mod metrics;
mod owners;
mod parts_mirror;
mod parts_server;
mod puller;
mod rebase;
mod server;
mod shared;
mod upstream;

pub use client::RelaySource;
pub use config::RelayConfig;
pub use convert::{frame_from_proto, frame_to_proto};
pub use convert_parts::{event_from_proto, event_to_proto};
pub use error::RelayError;
pub use owners::{OwnersError, StreamOwners};
pub use parts_mirror::RelayParts;
pub use server::{MAX_MESSAGE_BYTES, RelayService, serve, service};
