//! Listing a stored segment: its record appended to the index (and its recording), retried
//! with capped backoff until the index takes it or a newer session fences this one out. A
//! recorded session's record also names the segment's CMAF objects that were stored (ADR 24).

use std::time::Duration;

use ferrocast_store::{CmafTracks, IndexError, SegmentRecord};
use tokio::time::{Instant, sleep, timeout};

use super::queue::Work;
use super::{CMAF_SETTLE, FIRST_BACKOFF, INDEX_TIMEOUT, MAX_BACKOFF, Uploader, report_drops};
use crate::metrics;
use crate::publish::unix_millis;

impl Uploader {
    /// Lists the stored segment until the index takes it; false when this session is fenced.
    pub(super) async fn list(&mut self, work: &Work) -> bool {
        let segment = &work.segment;
        let mut record = SegmentRecord {
            msn: self.next_msn,
            epoch: self.epoch,
            seq: segment.seq,
            duration_ms: segment.duration_ms,
            bytes: segment.data.len() as u64,
            program_date_time_ms: segment.program_date_time_ms,
            listed_at_ms: 0,
            cmaf: self.stored_cmaf(segment.seq).await,
            discontinuity: work.gap_before || self.discontinuity_first,
        };
        let media_end_ms = record
            .program_date_time_ms
            .saturating_add(i64::try_from(record.duration_ms).unwrap_or(i64::MAX));
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Instant::now();
            // Stamped at every try: how late it is listed decides how long it stays shown.
            record.listed_at_ms = unix_millis();
            let retain = self.retention.retain_for(
                record.msn,
                record.duration_ms,
                media_end_ms,
                record.listed_at_ms,
            );
            let appending =
                self.index
                    .append_recorded(&self.stream_id, record.clone(), retain, self.recording);
            let appended = timeout(INDEX_TIMEOUT, appending)
                .await
                .unwrap_or_else(|_| Err(IndexError::Unavailable("append timed out".into())));
            let trimmed = match appended {
                Ok(trimmed) => trimmed,
                Err(IndexError::StaleEpoch { current, .. }) => {
                    metrics::index_write_failed(started.elapsed(), true);
                    tracing::warn!(stream_id = %self.stream_id, epoch = self.epoch.get(), current = current.get(), "fenced out by a newer publisher");
                    return false;
                }
                Err(IndexError::SequenceRewind { last, .. }) => match self.is_listed(&record).await
                {
                    // An earlier try was applied although its answer was lost.
                    Some(true) => Vec::new(),
                    Some(false) => {
                        metrics::index_write_failed(started.elapsed(), true);
                        tracing::error!(stream_id = %self.stream_id, msn = record.msn.get(), last = last.get(), "index is ahead of this session; stopping its uploads");
                        return false;
                    }
                    None => {
                        self.pause_listing(&mut backoff).await;
                        continue;
                    }
                },
                Err(error) => {
                    metrics::index_write_failed(started.elapsed(), false);
                    tracing::warn!(stream_id = %self.stream_id, msn = record.msn.get(), %error, retry_in = ?backoff, "segment append failed; retrying");
                    self.pause_listing(&mut backoff).await;
                    continue;
                }
            };
            metrics::segment_indexed(started.elapsed());
            self.stats.segment_indexed();
            tracing::debug!(stream_id = %self.stream_id, msn = record.msn.get(), seq = segment.seq, "segment indexed");
            self.next_msn = self.next_msn.next();
            self.discontinuity_first = false;
            self.shared.lock().listed(segment.seq);
            for old in trimmed {
                self.delete_object(&old).await;
            }
            return true;
        }
    }

    /// Which of segment `seq`'s CMAF objects a recorded session stored, after waiting at most
    /// [`CMAF_SETTLE`] for them; none for a session that does not record.
    async fn stored_cmaf(&self, seq: u64) -> CmafTracks {
        if self.recording.is_some() && !self.cmaf.settle(seq, Instant::now() + CMAF_SETTLE).await {
            metrics::cmaf_settle_timed_out();
            tracing::warn!(stream_id = %self.stream_id, seq, "recorded segment listed before its cmaf objects were stored; the recording's cmaf playlists leave it out");
        }
        let stored = self.cmaf.lock().take_stored(seq);
        if self.recording.is_some() {
            stored
        } else {
            CmafTracks::default()
        }
    }

    /// Whether the index's newest record is `record` (by msn and epoch); `None` when the index
    /// could not say.
    async fn is_listed(&self, record: &SegmentRecord) -> Option<bool> {
        let loading = timeout(INDEX_TIMEOUT, self.index.load(&self.stream_id)).await;
        let state = loading.ok()?.ok()?;
        let newest = state.and_then(|state| state.segments.last().cloned());
        Some(newest.is_some_and(|newest| newest.msn == record.msn && newest.epoch == record.epoch))
    }

    /// As [`Uploader::pause`] for the segment being listed, which is never dropped.
    async fn pause_listing(&self, backoff: &mut Duration) {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        let dropped = self.shared.lock().enforce(Instant::now());
        report_drops(&self.stream_id, &dropped);
        sleep(wait).await;
    }
}
