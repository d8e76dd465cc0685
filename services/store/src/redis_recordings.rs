//! The recording calls of [`RedisIndex`] (ADR 21): each one script of
//! [`crate::redis_scripts`], and the decoding of a recording's summary hash.

use std::collections::HashMap;

use ferrocast_base::{Epoch, Msn, StreamId};

use crate::encoding::decode_record;
use crate::index::{IndexError, SegmentRecord};
use crate::keys;
use crate::recording::{Recording, RecordingSummary, Retired};
use crate::redis_index::{RedisIndex, decode_records, number};

/// A summary hash as the scripts return it: field, value, field, value…
type Fields = Vec<String>;

impl RedisIndex {
    pub(crate) async fn load_recordings(
        &self,
        stream_id: &StreamId,
    ) -> Result<Vec<RecordingSummary>, IndexError> {
        let mut invocation = self.scripts.recordings.prepare_invoke();
        invocation
            .key(keys::recordings(stream_id))
            .arg(keys::index_prefix(stream_id));
        let listed: Vec<(String, Fields)> = self.run("recordings", stream_id, &invocation).await?;
        let mut summaries = listed
            .iter()
            .map(|(generation, fields)| summary(generation, fields))
            .collect::<Result<Vec<_>, _>>()?;
        summaries.sort_by_key(|summary| summary.generation);
        Ok(summaries)
    }

    pub(crate) async fn load_recording(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Option<Recording>, IndexError> {
        let mut invocation = self.scripts.recording.prepare_invoke();
        invocation
            .key(keys::recording_meta(stream_id, generation))
            .key(keys::recording_log(stream_id, generation))
            .arg(keys::index_prefix(stream_id))
            .arg(generation.to_string());
        let found: Option<(Fields, Vec<String>)> =
            self.run("recording", stream_id, &invocation).await?;
        let Some((fields, records)) = found else {
            return Ok(None);
        };
        Ok(Some(Recording {
            summary: summary(&generation.to_string(), &fields)?,
            segments: decode_records(&records)?,
        }))
    }

    pub(crate) async fn load_recording_segment(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
        msn: Msn,
    ) -> Result<Option<(RecordingSummary, SegmentRecord)>, IndexError> {
        let mut invocation = self.scripts.recording_segment.prepare_invoke();
        invocation
            .key(keys::recording_meta(stream_id, generation))
            .key(keys::recording_log(stream_id, generation))
            .arg(keys::index_prefix(stream_id))
            .arg(generation.to_string())
            .arg(msn.to_string());
        let found: Option<(Fields, String)> = self
            .run("recording_segment", stream_id, &invocation)
            .await?;
        let Some((fields, record)) = found else {
            return Ok(None);
        };
        let record = decode_record(&record).map_err(|bad| IndexError::Unavailable(bad.into()))?;
        Ok(Some((summary(&generation.to_string(), &fields)?, record)))
    }

    pub(crate) async fn retire(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<Retired, IndexError> {
        let mut invocation = self.scripts.retire_recording.prepare_invoke();
        invocation
            .key(keys::index_meta(stream_id))
            .key(keys::index_segments(stream_id))
            .key(keys::recording_meta(stream_id, generation))
            .key(keys::recording_log(stream_id, generation))
            .arg(keys::index_prefix(stream_id))
            .arg(generation.to_string())
            .arg(keys::INDEX_CHANGED_CHANNEL)
            .arg(stream_id.as_str());
        let reply: redis::Value = self
            .run_durable("retire_recording", stream_id, &invocation)
            .await?;
        let bad = |detail: &str| {
            IndexError::Unavailable(format!("retire_recording replied {detail}").into())
        };
        let redis::Value::Array(items) = reply else {
            return Err(bad("no array"));
        };
        let status: String = match items.first() {
            Some(value) => redis::from_redis_value(value.clone()).map_err(|_| bad("no status"))?,
            None => return Err(bad("nothing")),
        };
        match status.as_str() {
            "unknown" => return Ok(Retired::Unknown),
            "busy" => return Ok(Retired::Busy),
            "ok" => {}
            _ => return Err(bad("an unknown status")),
        }
        let (_, fields, records, cleared): (String, Fields, Vec<String>, Vec<String>) =
            redis::from_redis_value(redis::Value::Array(items)).map_err(|_| bad("badly"))?;
        Ok(Retired::Retired {
            recording: Recording {
                summary: summary(&generation.to_string(), &fields)?,
                segments: decode_records(&records)?,
            },
            cleared: decode_records(&cleared)?,
        })
    }

    pub(crate) async fn forget(
        &self,
        stream_id: &StreamId,
        generation: Epoch,
    ) -> Result<bool, IndexError> {
        let mut invocation = self.scripts.forget_recording.prepare_invoke();
        invocation
            .key(keys::recordings(stream_id))
            .key(keys::recording_meta(stream_id, generation))
            .key(keys::recording_log(stream_id, generation))
            .arg(keys::index_prefix(stream_id))
            .arg(generation.to_string());
        let removed: i64 = self
            .run_durable("forget_recording", stream_id, &invocation)
            .await?;
        Ok(removed == 1)
    }
}

/// Decodes a summary hash of `generation`.
fn summary(generation: &str, fields: &[String]) -> Result<RecordingSummary, IndexError> {
    let map: HashMap<&str, &str> = fields
        .chunks_exact(2)
        .map(|pair| (pair[0].as_str(), pair[1].as_str()))
        .collect();
    let get = |name: &str| map.get(name).copied().unwrap_or("0");
    let signed = |name: &str| -> Result<i64, IndexError> {
        let text = get(name);
        text.parse().map_err(|_| {
            IndexError::Unavailable(format!("redis returned a bad number {text:?}").into())
        })
    };
    Ok(RecordingSummary {
        generation: Epoch(number(generation)?),
        first_msn: Msn(number(get("first_msn"))?),
        last_msn: match map.get("last_msn").copied().unwrap_or("") {
            "" => None,
            last => Some(Msn(number(last)?)),
        },
        started_at_ms: signed("started_at_ms")?,
        media_end_ms: signed("media_end_ms")?,
        ended_at_ms: match map.get("ended_at_ms") {
            Some(_) => Some(signed("ended_at_ms")?),
            None => None,
        },
        segments: number(get("segments"))?,
        duration_ms: number(get("duration_ms"))?,
        bytes: number(get("bytes"))?,
        discontinuities: number(get("discontinuities"))?,
        retention_ms: number(get("retention_ms"))?,
        skipped_segments: number(get("skipped"))?,
        stopped: get("stopped") == "1",
        deleting: get("deleting") == "1",
    })
}
