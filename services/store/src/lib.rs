//! Storage boundaries: the segment index (which segments a stream's playlist lists) and the
//! segment object store, each a trait-like boundary with an in-memory twin for `dev` and
//! unit tests. [`keys`] is the one module that owns every key layout.

pub mod index;
pub mod keys;
mod memory_index;
mod segments;

pub use index::{IndexError, IndexState, SegmentIndex, SegmentRecord, SessionStart};
pub use memory_index::MemoryIndex;
pub use segments::{RetryPolicy, SegmentStore, StoreError};
