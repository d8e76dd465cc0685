//! Deleting what left the index: a segment's TS object with its CMAF objects, and the init
//! segments of sessions the index no longer lists any segment of. What a recording holds is
//! never handed back by the index (ADR 21), so it is never deleted here.

use ferrocast_base::Epoch;
use ferrocast_media::cmaf::TrackKind;
use ferrocast_store::{SegmentRecord, SessionObject};

use tokio::time::timeout;

use super::{INDEX_TIMEOUT, Uploader};

impl Uploader {
    /// Deletes a record's objects. Records leave the index oldest first, so the first one of
    /// a session means every older session has none listed: their init segments go too.
    pub(super) async fn delete_object(&mut self, record: &SegmentRecord) {
        self.delete_seq(record.epoch, record.seq).await;
        if self
            .inits_deleted_before
            .is_none_or(|before| before < record.epoch)
        {
            self.delete_inits_before(record.epoch).await;
        }
    }

    /// Deletes the TS object of segment `seq` and its CMAF objects (of either track: deleting
    /// a missing object is fine, and DELETEs cost nothing on S3).
    pub(super) async fn delete_seq(&self, epoch: Epoch, seq: u64) {
        let objects = [
            SessionObject::Ts { seq },
            SessionObject::CmafSegment {
                seq,
                track: TrackKind::Video,
            },
            SessionObject::CmafSegment {
                seq,
                track: TrackKind::Audio,
            },
        ];
        for object in objects {
            let deleting = self.store.delete_object(&self.stream_id, epoch, object);
            if let Err(error) = deleting.await {
                tracing::warn!(stream_id = %self.stream_id, epoch = epoch.get(), ?object, %error, "old segment object not deleted");
            }
        }
    }

    /// Deletes the init segments of every session older than `epoch`, once per boundary;
    /// never while this session records: an older session of its generation may belong to
    /// its recording, and the reaper deletes a recording's sessions whole (ADR 21). Nor
    /// those of any session of a recording still kept (an earlier broadcast's): its CMAF
    /// playlists name them (ADR 24).
    pub(super) async fn delete_inits_before(&mut self, epoch: Epoch) {
        self.inits_deleted_before = Some(epoch);
        if self.recording.is_some() {
            return;
        }
        let Some(epoch) = self.unrecorded_before(epoch).await else {
            return;
        };
        match self.store.delete_inits_before(&self.stream_id, epoch).await {
            Ok(deleted) => {
                tracing::debug!(stream_id = %self.stream_id, before = epoch.get(), deleted, "old init segments deleted")
            }
            Err(error) => {
                tracing::warn!(stream_id = %self.stream_id, before = epoch.get(), %error, "old init segments not deleted")
            }
        }
    }

    /// `epoch`, or the generation of the oldest recording the index keeps if that is older:
    /// every session a recording holds has an epoch at or after its generation. `None` when
    /// the index cannot say (the inits stay: a few kilobytes, deleted with their recording).
    async fn unrecorded_before(&self, epoch: Epoch) -> Option<Epoch> {
        let listing = timeout(INDEX_TIMEOUT, self.index.recordings(&self.stream_id)).await;
        match listing {
            Ok(Ok(recordings)) => Some(
                recordings
                    .iter()
                    .map(|recording| recording.generation)
                    .fold(epoch, Epoch::min),
            ),
            Ok(Err(error)) => {
                tracing::warn!(stream_id = %self.stream_id, %error, "recordings unknown; old init segments kept");
                None
            }
            Err(_) => {
                tracing::warn!(stream_id = %self.stream_id, "recordings unknown (timed out); old init segments kept");
                None
            }
        }
    }
}
