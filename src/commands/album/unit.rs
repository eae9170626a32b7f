//! One unit of a catalogue (an album, or a single track in track mode) through exactly
//! the chain of `lathe album`: the same gain iteration, resampling, safety gain, dither
//! and tags, with the output paths and provenance the catalogue decides. A unit is all
//! or nothing: a track that cannot be used fails its unit before anything is rendered,
//! because an album's gain needs every one of its tracks.

use std::path::PathBuf;

use lathe_nodes::dsp::analysis::FileAnalysis;

use super::Job;
use crate::album::metadata::{Manifest, ManifestTrack, Provenance, TrackTags, origination_secs};
use crate::album::preset::Preset;
use crate::album::shard::Shard;
use crate::cli::{AlbumMode, DeliveryFormat, ParamSet};

/// Everything one unit needs; the tracks in album order.
#[derive(Debug, Clone)]
pub(crate) struct UnitSpec {
    pub graph: PathBuf,
    pub sets: Vec<ParamSet>,
    pub block_frames: usize,
    pub mode: AlbumMode,
    pub format: DeliveryFormat,
    pub preset: Preset,
    pub target_lufs: Option<f64>,
    pub tracks: Vec<UnitTrack>,
    pub provenance: Provenance,
}

/// One track of a unit: where it is read, where it is written, its tags.
#[derive(Debug, Clone)]
pub(crate) struct UnitTrack {
    pub input: PathBuf,
    pub output: PathBuf,
    pub tags: TrackTags,
}

/// What was delivered for one track.
#[derive(Debug, Clone)]
pub(crate) struct DeliveredTrack {
    pub output: PathBuf,
    pub gain_db: f64,
    pub safety_gain_db: f64,
    pub before: FileAnalysis,
    pub after: FileAnalysis,
}

/// What a finished unit measured and wrote.
#[derive(Debug, Clone)]
pub(crate) struct UnitOutcome {
    pub tracks: Vec<DeliveredTrack>,
    pub passes: usize,
    pub album_before: Option<FileAnalysis>,
    pub album_after: Option<FileAnalysis>,
}

/// Masters one unit; `Err` carries every reason it failed (one line per track). Outputs
/// already written when a later track fails are the caller's to remove.
pub(crate) fn master_unit(spec: UnitSpec) -> Result<UnitOutcome, String> {
    let manifest = Manifest {
        artist: None,
        album: None,
        tracks: spec
            .tracks
            .iter()
            .map(|t| ManifestTrack {
                file: t.input.display().to_string(),
                tags: t.tags.clone(),
            })
            .collect(),
    };
    let job = Job {
        graph: spec.graph,
        sets: spec.sets,
        block_frames: spec.block_frames,
        out_dir: PathBuf::new(),
        mode: spec.mode,
        format: spec.format,
        lossy: spec
            .format
            .codec()
            .map(crate::audio_io::lossy_output::default_spec),
        target: spec.target_lufs.or(spec.preset.target_lufs),
        preset: spec.preset,
        shard: Shard::ALL,
        manifest,
        outputs: spec
            .tracks
            .iter()
            .map(|t| (t.input.clone(), t.output.clone()))
            .collect(),
        provenance: Some(spec.provenance),
        platforms: None,
    };
    let inputs: Vec<PathBuf> = spec.tracks.iter().map(|t| t.input.clone()).collect();
    let (tracks, failed) = job.decode(&inputs, &[]).map_err(|e| e.to_string())?;
    if !failed.is_empty() {
        return Err(failed
            .iter()
            .map(|f| f.error.clone())
            .collect::<Vec<_>>()
            .join("\n"));
    }
    let secs = origination_secs();
    let (finished, passes, codec_album_db) = job.solve(&tracks, secs).map_err(|e| e.to_string())?;
    let mut reports = Vec::with_capacity(finished.len());
    let mut errors = Vec::new();
    for result in finished {
        match result {
            Ok(r) => reports.push(r),
            Err(f) => errors.push(format!("{}: {}", f.input, f.error)),
        }
    }
    if job.album_tags() {
        let failed = job
            .write_with_album_tags(&tracks, &mut reports, secs)
            .map_err(|e| e.to_string())?;
        errors.extend(failed.iter().map(|f| format!("{}: {}", f.input, f.error)));
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let report = job.report(&tracks, reports, Vec::new(), passes, codec_album_db);
    Ok(UnitOutcome {
        tracks: report
            .tracks
            .into_iter()
            .map(|t| DeliveredTrack {
                output: PathBuf::from(t.output),
                gain_db: t.gain_db,
                safety_gain_db: t.safety_gain_db,
                before: t.before,
                after: t.after,
            })
            .collect(),
        passes,
        album_before: report.album_before,
        album_after: report.album_after,
    })
}
