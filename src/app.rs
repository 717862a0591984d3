//! The three phases of a run: load (pipeline and models, all problems at once), discover
//! (the files to process) and run (each file on its own, failures reported per file).

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{RunArgs, ValidateArgs};
use crate::config::{self, Container, Device, Existing, LoadedPipeline, MediaKind, StreamPolicy};
use crate::discover::discover;
use crate::job::{Job, JobOutcome};
use crate::media::encode::EncodeSettings;
use crate::media::layout::CopyPolicy;
use crate::model::runtime::DeviceRequest;
use crate::model::session::SessionConfig;
use crate::process::image::restore_image;
use crate::process::video::{restore_video, VideoSettings};
use crate::stage::StagePlan;

/// Process exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const SOME_FAILED: u8 = 1;
    pub const CONFIG: u8 = 2;
}

/// `frameforge validate`: load and check everything, decode nothing.
pub fn validate(args: &ValidateArgs) -> u8 {
    match load(&args.pipeline, 1) {
        Ok((loaded, plan)) => {
            println!(
                "{}: ok ({} stage(s), scale ×{}, device {})",
                loaded.file.display(),
                loaded.pipeline.stages.len(),
                plan.scale(),
                plan.device()
                    .map_or_else(|| "none".to_string(), |d| d.to_string())
            );
            exit::OK
        }
        Err(code) => code,
    }
}

/// `frameforge run`: restore every input file.
pub fn run(args: &RunArgs) -> u8 {
    let threads = args.threads.map_or_else(available_threads, usize::from);
    let workers = args
        .workers
        .map_or(threads, usize::from)
        .clamp(1, threads.max(1));
    let intra = (threads / workers).max(1);
    let (loaded, plan) = match load(&args.pipeline, intra) {
        Ok(ok) => ok,
        Err(code) => return code,
    };
    let pipeline = &loaded.pipeline;
    let discovery = match discover(pipeline) {
        Ok(d) => d,
        Err(error) => {
            eprintln!("{}: {error}", pipeline.input.path.display());
            return exit::SOME_FAILED;
        }
    };
    let mut failed = discovery.rejected.len();
    for (path, reason) in &discovery.rejected {
        eprintln!("{}: {reason}", path.display());
    }
    let encode = EncodeSettings {
        codec: pipeline.encode.codec.clone(),
        crf: pipeline.encode.crf,
        preset: pipeline.encode.preset.clone(),
        pixel_format: pipeline.encode.pixel_format.clone(),
        threads: 0,
    };
    let policy = CopyPolicy {
        audio: pipeline.encode.audio == StreamPolicy::Copy,
        subtitles: pipeline.encode.subtitles == StreamPolicy::Copy,
    };
    let files = progress_bar(discovery.jobs.len() as u64, args.quiet);
    let started = Instant::now();
    let (mut done, mut skipped) = (0usize, 0usize);
    for job in &discovery.jobs {
        files.set_message(job.relative.display().to_string());
        let outcome = run_job(
            job,
            pipeline.output.existing,
            &plan,
            &encode,
            policy,
            pipeline.encode.container,
            workers,
        );
        match &outcome {
            JobOutcome::Done {
                frames,
                seconds,
                width,
                height,
            } => {
                done += 1;
                if !args.quiet {
                    files.suspend(|| {
                        eprintln!(
                            "done {} → {} ({width}x{height}, {frames} frame(s), {seconds:.1} s)",
                            job.input.display(),
                            job.output.display()
                        );
                    });
                }
            }
            JobOutcome::Skipped { reason } => {
                skipped += 1;
                if !args.quiet {
                    files.suspend(|| eprintln!("skip {}: {reason}", job.input.display()));
                }
            }
            JobOutcome::Failed { error } => {
                failed += 1;
                files.suspend(|| eprintln!("{}: {error}", job.input.display()));
            }
        }
        files.inc(1);
    }
    files.finish_and_clear();
    eprintln!(
        "{done} restored, {skipped} skipped, {failed} failed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        exit::SOME_FAILED
    } else {
        exit::OK
    }
}

fn run_job(
    job: &Job,
    existing: Existing,
    plan: &StagePlan,
    encode: &EncodeSettings,
    policy: CopyPolicy,
    container: Container,
    workers: usize,
) -> JobOutcome {
    if job.output.exists() {
        match existing {
            Existing::Skip => {
                return JobOutcome::Skipped {
                    reason: format!("{} exists", job.output.display()),
                }
            }
            Existing::Fail => {
                return JobOutcome::Failed {
                    error: format!(
                        "output {} already exists (existing: fail)",
                        job.output.display()
                    ),
                }
            }
            Existing::Overwrite => {}
        }
    }
    let started = Instant::now();
    let result = match job.kind {
        MediaKind::Image => plan
            .instantiate()
            .map_err(crate::process::ProcessError::from)
            .and_then(|mut stages| restore_image(&job.input, &job.output, &mut stages))
            .map(|(width, height)| (1, width, height)),
        MediaKind::Video => {
            let format = muxer_name(container, &job.output);
            let settings = VideoSettings {
                plan,
                encode,
                policy,
                format: &format,
                workers,
            };
            restore_video(&job.input, &job.output, &settings, &|_| {})
                .map(|s| (s.frames, s.width, s.height))
        }
    };
    match result {
        Ok((frames, width, height)) => JobOutcome::Done {
            frames,
            seconds: started.elapsed().as_secs_f64(),
            width,
            height,
        },
        Err(error) => JobOutcome::failed(&error),
    }
}

/// The ffmpeg muxer for an output file.
fn muxer_name(container: Container, output: &Path) -> String {
    match container {
        Container::Mkv => "matroska".into(),
        Container::Mp4 => "mp4".into(),
        Container::Same => {
            let ext = output
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            match ext.as_str() {
                "mkv" => "matroska",
                "webm" => "webm",
                "mp4" | "m4v" => "mp4",
                "mov" => "mov",
                "avi" => "avi",
                "mpg" | "mpeg" | "vob" => "vob",
                "ts" | "m2ts" | "mts" => "mpegts",
                other => return other.to_string(),
            }
            .into()
        }
    }
}

/// Loads the pipeline and checks its models; prints every problem and returns exit 2.
fn load(path: &Path, intra_threads: usize) -> Result<(LoadedPipeline, StagePlan), u8> {
    let loaded = config::load(path).map_err(|problems| {
        eprintln!("{problems}");
        exit::CONFIG
    })?;
    let session = SessionConfig {
        device: match loaded.pipeline.device {
            Device::Auto => DeviceRequest::Auto,
            Device::Cpu => DeviceRequest::Cpu,
            Device::Cuda(n) => DeviceRequest::Cuda(n),
        },
        intra_threads,
    };
    let plan = StagePlan::check(&loaded, session).map_err(|problems| {
        eprintln!("{problems}");
        exit::CONFIG
    })?;
    Ok((loaded, plan))
}

fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

fn progress_bar(length: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(length);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} files, ETA {eta} {wide_msg}")
    {
        bar.set_style(style);
    }
    bar
}
