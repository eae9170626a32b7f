//! `lathe catalog run|status|merge`: a catalogue of albums mastered as the tasks of an
//! array job. `run` checks the whole catalogue and the output paths before any work,
//! takes this task's units (by a stable hash of the unit key), skips those whose
//! manifest record still matches, masters the rest through the chain of `lathe album`
//! (staged, then moved into place, so a killed task leaves no partial output at the
//! target), and appends one fsynced manifest line per unit. `status` and `merge` join
//! the tasks' manifests with the catalogue.
//!
//! Exit codes: 0 all done; [`EXIT_PARTIAL`] some units failed, the rest were delivered;
//! 2 bad invocation or catalogue (nothing rendered); 1 a failure of the run itself
//! (the manifest cannot be written); `status`/`merge` also [`EXIT_PENDING`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::album::unit::{UnitSpec, UnitTrack, master_unit};
use crate::album::metadata::Provenance;
use crate::album::preset::Preset;
use crate::album::shard::Shard;
use crate::atomic_file::{ensure_not_overwriting, same_file, write_atomically};
use crate::audio_io::read_audio;
use crate::catalog::manifest::{
    CodecCheck, Loudness, ManifestWriter, Status, TrackRecord, UnitRecord, manifest_files,
    read_latest, task_path,
};
use crate::catalog::plan::{Plan, PlanOptions, Unit, plan};
use crate::catalog::report::{Merged, merge, to_csv};
use crate::catalog::shard::{ShardArg, from_env};
use crate::catalog::template::Template;
use crate::catalog::{EXIT_PARTIAL, EXIT_PENDING};
use crate::cli::{
    AlbumMode, CatalogArgs, CatalogCommand, CatalogReportArgs, CatalogRunArgs,
    DEFAULT_BLOCK_FRAMES, DeliveryFormat, SetArgs,
};
use crate::exit::{CliError, ResultExt};

/// Manifest folder inside `-o DIR` when `--manifest-dir` is not given.
pub const MANIFEST_DIR: &str = ".lathe-catalog";
/// Where a unit's files are written before they are moved into place, inside `-o DIR`
/// (the same file system, so the move is a rename).
pub const STAGING_DIR: &str = ".lathe-staging";

/// Runs a catalogue subcommand; it decides its own exit code.
pub fn run(args: CatalogArgs) -> ExitCode {
    let result = match &args.command {
        CatalogCommand::Run(a) => run_task(a),
        CatalogCommand::Status(a) => report(a, false),
        CatalogCommand::Merge(a) => report(a, true),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => e.report(),
    }
}

fn usage(message: String) -> CliError {
    CliError::user(anyhow!(message))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, streamed.
fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

/// The graph's identity: the bytes of every file compiling it read (the graph file, its
/// subgraphs and the scripts its nodes run, in the compiler's order) and the `--set`
/// values, in order. Editing a subgraph or a script changes it, so a rerun redoes the
/// units that used the old one.
fn graph_sha256(read_files: &[PathBuf], sets: &SetArgs) -> Result<String, CliError> {
    let mut hasher = Sha256::new();
    for file in read_files {
        let bytes = std::fs::read(file)
            .map_err(|e| usage(format!("cannot read `{}`: {e}", file.display())))?;
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update([0u8]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    for set in &sets.sets {
        hasher.update(format!("\n--set {set:?}").as_bytes());
    }
    Ok(hex(&hasher.finalize()))
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What every unit of the run shares.
struct Context<'a> {
    args: &'a CatalogRunArgs,
    out_dir: PathBuf,
    staging: PathBuf,
    shard: Shard,
    graph_sha256: String,
    version: &'static str,
}

fn run_task(args: &CatalogRunArgs) -> Result<u8, CliError> {
    let shard = match args.shard {
        None => Shard::ALL,
        Some(ShardArg::Literal(s)) => s,
        Some(ShardArg::Auto) => {
            let env = |k: &str| std::env::var(k).ok();
            from_env(&env, args.shard_count.map(|c| c as usize))
                .user_fault()?
                .shard
        }
    };
    let template = Template::parse(&args.template).user_fault()?;
    let preset = match &args.preset {
        Some(name) => Preset::find(name).user_fault()?,
        None => Preset::plain(),
    };
    // A bad graph fails every unit: find out before any work.
    let loaded = super::load(&args.graph, &args.sets.sets, 48_000.0, DEFAULT_BLOCK_FRAMES)?;
    let graph_sha256 = graph_sha256(&loaded.info().read_files, &args.sets)?;
    drop(loaded);
    let manifest_dir = args
        .manifest_dir
        .clone()
        .unwrap_or_else(|| args.output.join(MANIFEST_DIR));
    let plan = plan(&PlanOptions {
        catalogue: &args.catalogue,
        template: Some(&template),
        sanitize: args.sanitize,
        mode: args.mode,
        format: args.format,
        preset: &preset,
        target_lufs: args.target_lufs,
        shard,
        out_dir: &args.output,
        protected: vec![
            ("graph file", args.graph.clone()),
            ("catalogue", args.catalogue.clone()),
        ],
    })
    .map_err(CliError::user)?;
    let (latest, _) = read_latest(&manifest_dir)
        .map_err(|e| {
            anyhow!(
                "cannot read the manifests in `{}`: {e}",
                manifest_dir.display()
            )
        })
        .runtime_fault()?;
    let writer = ManifestWriter::open(&task_path(&manifest_dir, shard))
        .map_err(|e| {
            anyhow!(
                "cannot open the manifest in `{}`: {e}",
                manifest_dir.display()
            )
        })
        .runtime_fault()?;
    let staging = args
        .output
        .join(STAGING_DIR)
        .join(format!("task-{:04}", shard.index));
    // Leftovers of a task killed mid-unit: never delivered, so never needed.
    let _ = std::fs::remove_dir_all(&staging);
    let ctx = Context {
        args,
        out_dir: args.output.clone(),
        staging,
        shard,
        graph_sha256,
        version: env!("CARGO_PKG_VERSION"),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.map_or(0, usize::from))
        .build()
        .runtime_fault()?;
    let writer = Mutex::new(writer);
    let outcome = pool.install(|| execute(&ctx, &plan, &latest, &writer))?;
    let _ = std::fs::remove_dir_all(&ctx.staging);
    // The shared staging folder goes with its last task (fails while others use it).
    let _ = std::fs::remove_dir(args.output.join(STAGING_DIR));
    let msg = format!(
        "task {}/{}: {} unit(s) of {} in the catalogue: {} mastered, {} already done, {} failed",
        shard.index,
        shard.count,
        plan.units.len(),
        plan.catalogue_units,
        outcome.mastered,
        outcome.skipped,
        outcome.failed.len()
    );
    if outcome.failed.is_empty() {
        if !args.quiet {
            println!("{msg}");
        }
        return Ok(0);
    }
    eprintln!("{msg}");
    for (key, error) in &outcome.failed {
        eprintln!("FAILED {key}: {}", error.replace('\n', "\n  "));
    }
    Ok(EXIT_PARTIAL)
}

#[derive(Default)]
struct Outcome {
    mastered: usize,
    skipped: usize,
    failed: Vec<(String, String)>,
}

enum UnitResult {
    Skipped,
    Mastered,
    Failed(String),
}

fn execute(
    ctx: &Context<'_>,
    plan: &Plan,
    latest: &HashMap<String, UnitRecord>,
    writer: &Mutex<ManifestWriter>,
) -> Result<Outcome, CliError> {
    let results: Vec<(String, UnitResult)> = plan
        .units
        .par_iter()
        .map(|unit| {
            let result = process_unit(ctx, unit, latest.get(&unit.key), writer)?;
            Ok((unit.key.clone(), result))
        })
        .collect::<Result<_, CliError>>()?;
    let mut outcome = Outcome::default();
    for (key, r) in results {
        match r {
            UnitResult::Skipped => outcome.skipped += 1,
            UnitResult::Mastered => outcome.mastered += 1,
            UnitResult::Failed(e) => outcome.failed.push((key, e)),
        }
    }
    Ok(outcome)
}

/// Does `record` still describe what this run would deliver for `unit`?
fn still_done(
    ctx: &Context<'_>,
    unit: &Unit,
    record: &UnitRecord,
    input_hashes: &[Option<String>],
) -> bool {
    record.status == Status::Done
        && record.lathe_version == ctx.version
        && record.graph_sha256 == ctx.graph_sha256
        && record.preset == unit.preset
        && record.target_lufs == unit.target_lufs.or(unit.preset.target_lufs)
        && record.mode == mode_name(ctx.args.mode)
        && record.format == ctx.args.format.extension()
        && record.tracks.len() == unit.tracks.len()
        && record
            .tracks
            .iter()
            .zip(&unit.tracks)
            .zip(input_hashes)
            .all(|((r, t), h)| {
                r.input == t.path
                    && r.input_sha256.is_some()
                    && r.input_sha256 == *h
                    && r.output == t.output.to_string_lossy()
                    && r.title == t.tags.title
                    && r.track == t.tags.track
                    && r.isrc == t.tags.isrc
                    && r.output_sha256.is_some()
                    && file_sha256(&ctx.out_dir.join(&t.output)).ok() == r.output_sha256
            })
}

fn mode_name(mode: AlbumMode) -> &'static str {
    match mode {
        AlbumMode::Album => "album",
        AlbumMode::Track => "track",
    }
}

fn process_unit(
    ctx: &Context<'_>,
    unit: &Unit,
    previous: Option<&UnitRecord>,
    writer: &Mutex<ManifestWriter>,
) -> Result<UnitResult, CliError> {
    let started = Instant::now();
    let input_hashes: Vec<Option<String>> = unit
        .tracks
        .iter()
        .map(|t| file_sha256(&t.input).ok())
        .collect();
    if !ctx.args.force && previous.is_some_and(|r| still_done(ctx, unit, r, &input_hashes)) {
        return Ok(UnitResult::Skipped);
    }
    let unit_dir = ctx.staging.join(format!(
        "{:016x}",
        crate::catalog::shard::key_hash(&unit.key)
    ));
    let ext = ctx.args.format.extension();
    let staged: Vec<PathBuf> = (0..unit.tracks.len())
        .map(|k| unit_dir.join(format!("{k:04}.{ext}")))
        .collect();
    let spec = UnitSpec {
        graph: ctx.args.graph.clone(),
        sets: ctx.args.sets.sets.clone(),
        block_frames: DEFAULT_BLOCK_FRAMES,
        mode: ctx.args.mode,
        format: ctx.args.format,
        preset: unit.preset.clone(),
        target_lufs: unit.target_lufs,
        tracks: unit
            .tracks
            .iter()
            .zip(&staged)
            .map(|(t, out)| UnitTrack {
                input: t.input.clone(),
                output: out.clone(),
                tags: t.tags.clone(),
            })
            .collect(),
        provenance: Provenance {
            lathe_version: ctx.version.to_string(),
            graph_sha256: ctx.graph_sha256.clone(),
            preset: unit.preset.name.clone(),
        },
    };
    let mut record = UnitRecord {
        unit: unit.key.clone(),
        status: Status::Done,
        error: None,
        task: format!("{}/{}", ctx.shard.index, ctx.shard.count),
        lathe_version: ctx.version.to_string(),
        graph: ctx.args.graph.display().to_string(),
        graph_sha256: ctx.graph_sha256.clone(),
        mode: mode_name(ctx.args.mode).to_string(),
        format: ext.to_string(),
        preset: unit.preset.clone(),
        target_lufs: unit.target_lufs.or(unit.preset.target_lufs),
        passes: None,
        album_before: None,
        album_after: None,
        tracks: unit
            .tracks
            .iter()
            .zip(&input_hashes)
            .map(|(t, h)| TrackRecord {
                line: t.line,
                input: t.path.clone(),
                input_sha256: h.clone(),
                output: t.output.to_string_lossy().into_owned(),
                output_sha256: None,
                title: t.tags.title.clone(),
                track: t.tags.track,
                isrc: t.tags.isrc.clone(),
                gain_db: None,
                safety_gain_db: None,
                before: None,
                after: None,
                codec_check: None,
            })
            .collect(),
        seconds: 0.0,
        finished_at: 0.0,
    };
    let delivered = std::fs::create_dir_all(&unit_dir)
        .map_err(|e| format!("cannot create `{}`: {e}", unit_dir.display()))
        .and_then(|()| master_unit(spec))
        .and_then(|outcome| {
            record.passes = Some(outcome.passes);
            record.album_before = outcome.album_before.as_ref().map(Loudness::from);
            record.album_after = outcome.album_after.as_ref().map(Loudness::from);
            for (r, d) in record.tracks.iter_mut().zip(&outcome.tracks) {
                r.gain_db = Some(d.gain_db);
                r.safety_gain_db = Some(d.safety_gain_db);
                r.before = Some(Loudness::from(&d.before));
                r.after = Some(Loudness::from(&d.after));
                r.output_sha256 = Some(
                    file_sha256(&d.output)
                        .map_err(|e| format!("cannot read `{}` back: {e}", d.output.display()))?,
                );
                if ctx.args.verify {
                    r.codec_check = Some(codec_check(&d.output));
                }
            }
            move_into_place(ctx, unit, &staged)
        });
    let _ = std::fs::remove_dir_all(&unit_dir);
    let result = match delivered {
        Ok(()) => UnitResult::Mastered,
        Err(error) => {
            record.status = Status::Failed;
            record.error = Some(error.clone());
            UnitResult::Failed(error)
        }
    };
    record.seconds = started.elapsed().as_secs_f64();
    record.finished_at = now_secs();
    let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
    let path = w.path().to_path_buf();
    w.append(&record)
        .map_err(|e| anyhow!("cannot append to the manifest `{}`: {e}", path.display()))
        .runtime_fault()?;
    Ok(result)
}

/// Moves a unit's staged files to their outputs (renames on one file system).
fn move_into_place(ctx: &Context<'_>, unit: &Unit, staged: &[PathBuf]) -> Result<(), String> {
    for (t, from) in unit.tracks.iter().zip(staged) {
        let to = ctx.out_dir.join(&t.output);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        }
        std::fs::rename(from, &to)
            .map_err(|e| format!("cannot move the output into `{}`: {e}", to.display()))?;
    }
    Ok(())
}

fn codec_check(path: &Path) -> CodecCheck {
    match read_audio(path) {
        Ok(a) => CodecCheck {
            decoded: true,
            sample_rate_hz: Some(a.sample_rate_hz),
            channels: Some(a.channel_count()),
            frames: Some(a.frames()),
            error: None,
        },
        Err(e) => CodecCheck {
            decoded: false,
            sample_rate_hz: None,
            channels: None,
            frames: None,
            error: Some(e.to_string()),
        },
    }
}

/// `merge --json/--csv` may name no file the catalogue run reads or made: the catalogue,
/// a manifest, a track's input or a delivered file; nor may both name one file.
fn refuse_reports_over_inputs(
    args: &CatalogReportArgs,
    manifest_dir: &Path,
    units: &[Unit],
    latest: &HashMap<String, UnitRecord>,
) -> Result<(), CliError> {
    let reports: Vec<&Path> = [&args.json, &args.csv]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    if let [json, csv] = reports[..]
        && same_file(json, csv)
    {
        return Err(CliError::user(anyhow!(
            "--json and --csv both name `{}`; give each report its own file",
            csv.display()
        )));
    }
    let manifests = manifest_files(manifest_dir).unwrap_or_default();
    let inputs = units
        .iter()
        .flat_map(|u| &u.tracks)
        .map(|t| t.input.clone());
    let delivered = latest
        .values()
        .flat_map(|r| &r.tracks)
        .map(|t| args.output.join(&t.output));
    let candidates = std::iter::once(("catalogue", args.catalogue.clone()))
        .chain(manifests.into_iter().map(|p| ("manifest", p)))
        .chain(inputs.map(|p| ("input file", p)))
        .chain(delivered.map(|p| ("delivered file", p)));
    for (role, path) in candidates {
        // A report replaces the directory entry of its own name, so only a path of that
        // name, or a symbolic link (to a file of that name), can be the file it replaces:
        // a million inputs cost a name comparison each, and an lstat for those that differ.
        for report in &reports {
            let may_be = path.file_name() == report.file_name() || path.is_symlink();
            if may_be {
                ensure_not_overwriting(report, &[(role, &path)]).user_fault()?;
            }
        }
    }
    Ok(())
}

fn report(args: &CatalogReportArgs, write: bool) -> Result<u8, CliError> {
    let manifest_dir = args
        .manifest_dir
        .clone()
        .unwrap_or_else(|| args.output.join(MANIFEST_DIR));
    let preset = Preset::plain();
    let plan = plan(&PlanOptions {
        catalogue: &args.catalogue,
        template: None,
        sanitize: true,
        mode: args.mode,
        format: DeliveryFormat::Wav,
        preset: &preset,
        target_lufs: None,
        shard: Shard::ALL,
        out_dir: &args.output,
        protected: Vec::new(),
    })
    .map_err(CliError::user)?;
    let (latest, torn) = read_latest(&manifest_dir)
        .map_err(|e| {
            anyhow!(
                "cannot read the manifests in `{}`: {e}",
                manifest_dir.display()
            )
        })
        .runtime_fault()?;
    if write {
        refuse_reports_over_inputs(args, &manifest_dir, &plan.units, &latest)?;
    }
    let merged = merge(&plan.units, &latest, torn);
    print!("{}", summary_text(&merged));
    if write {
        if let Some(path) = &args.json {
            let json = serde_json::to_vec_pretty(&merged).runtime_fault()?;
            write_atomically(path, |w| std::io::Write::write_all(w, &json))
                .map_err(|e| anyhow!("cannot write `{}`: {e}", path.display()))
                .runtime_fault()?;
        }
        if let Some(path) = &args.csv {
            let csv = to_csv(&merged).runtime_fault()?;
            write_atomically(path, |w| std::io::Write::write_all(w, &csv))
                .map_err(|e| anyhow!("cannot write `{}`: {e}", path.display()))
                .runtime_fault()?;
        }
    }
    let s = &merged.summary;
    Ok(if s.failed > 0 {
        EXIT_PARTIAL
    } else if s.pending > 0 {
        EXIT_PENDING
    } else {
        0
    })
}

fn summary_text(merged: &Merged) -> String {
    let s = &merged.summary;
    let mut out = format!(
        "{} unit(s), {} track(s): {} done, {} failed, {} pending\n",
        s.units, s.tracks, s.done, s.failed, s.pending
    );
    if s.torn_lines > 0 {
        out.push_str(&format!(
            "{} manifest line(s) torn by a killed task were ignored\n",
            s.torn_lines
        ));
    }
    for u in &merged.units {
        if let Some(r) = u.record.as_ref().filter(|r| r.status == Status::Failed) {
            let error = r.error.as_deref().unwrap_or("").replace('\n', "\n    ");
            out.push_str(&format!("FAILED {}: {error}\n", u.unit));
        }
    }
    out
}
