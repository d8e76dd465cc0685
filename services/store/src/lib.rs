//! Storage boundaries: the segment index (which segments a stream's playlist lists) and the
//! segment object store, each a trait-like boundary with an in-memory twin for `dev` and
//! unit tests. [`keys`] is the one module that owns every key layout.
//!
//! - Index: [`MemoryIndex`] (tests), [`DiskIndex`] (`dev`, kept across restarts),
//!   [`RedisIndex`] (cluster), and [`CachedIndex`] in front of any for edges; every index
//!   announces changes ([`SegmentIndex::changes`]) and keeps [`recording`]s.
//! - Redis: [`RedisLink`] reaches the current primary, through Sentinel when
//!   [`SentinelConfig`] is set, and confirms durable writes with `WAIT`.
//! - Objects: [`SegmentStore`] over any `object_store` (memory, local directory, or S3 via
//!   [`s3_object_store`]), and [`SegmentCache`] in front of it for edges.

mod cached_index;
mod disk_index;
mod encoding;
pub mod index;
pub mod keys;
mod memory_index;
pub mod recording;
mod redis_changes;
mod redis_index;
mod redis_link;
mod redis_recordings;
mod redis_scripts;
mod s3;
mod scripted_index;
mod segment_cache;
mod segments;
mod stream_state;

pub use cached_index::{CachedIndex, CachedIndexConfig};
pub use disk_index::DiskIndex;
pub use index::{
    BackendError, CmafTracks, IndexChange, IndexError, IndexState, SegmentIndex, SegmentRecord,
    SessionStart,
};
pub use keys::SessionObject;
pub use memory_index::MemoryIndex;
pub use recording::{
    MAX_RECORDING_SEGMENTS, Recording, RecordingPolicy, RecordingSummary, Retired,
    parse_recording_id, recording_id,
};
pub use redis_index::{RedisIndex, RedisIndexConfig};
pub use redis_link::{LinkHandle, RedisLink, SentinelConfig};
pub use s3::{S3Config, s3_object_store};
pub use scripted_index::{AppendFault, ScriptedIndex};
pub use segment_cache::{CacheStats, DEFAULT_SEGMENT_CACHE_BYTES, SegmentCache};
pub use segments::{ObjectFailure, RetryPolicy, SegmentStore, StoreError};
