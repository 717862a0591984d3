//! Pipeline overhead: end-to-end frames per second of a video job (decode, filters,
//! inference workers, reorder, encode, mux) divided by pure inference frames per second
//! on the same decoded frames, with the same model, workers and threads.
//!
//! `cargo bench --bench pipeline_overhead -- [CLIP] [--workers N] [--threads N] [--tile N]
//!  [--tile-batch N] [--device cpu|cuda[:N]|tensorrt[:N]] [--precision auto|fp32|fp16]
//!  [--preset P]` (without CLIP, a 320×240 48-frame clip is generated with the ffmpeg
//! CLI). On a GPU, `--workers` is the number of sessions (`run: gpu_sessions`) and the
//! threads are the encoder's and decoder's; x264 at `--preset` (default medium) encodes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crossbeam_channel::unbounded;
use frameforge::cancel::Cancel;
use frameforge::config::{self, StreamPolicy};
use frameforge::config::{DecodeErrorPolicy, VideoDecoder, XmpOutput};
use frameforge::config::{Device, Precision};
use frameforge::file_progress::NoProgress;
use frameforge::media::decode::{SourceItem, VideoSource};
use frameforge::media::decode_graph::RgbConversion;
use frameforge::media::encode::EncodeSettings;
use frameforge::media::layout::CopyPolicy;
use frameforge::media::muxer_format::MuxerFormat;
use frameforge::metadata::Provenance;
use frameforge::model::session::SessionConfig;
use frameforge::process::settings::XmpSettings;
use frameforge::process::video::{restore_video, VideoOutput};
use frameforge::process::ProcessSettings;
use frameforge::stage::{StagePlan, StagePool};

struct Options {
    clip: Option<PathBuf>,
    workers: usize,
    threads: usize,
    tile: u32,
    tile_batch: u32,
    device: Device,
    precision: Precision,
    preset: String,
}

fn parse_options() -> Options {
    let mut options = Options {
        clip: None,
        workers: 2,
        threads: 2,
        tile: 256,
        tile_batch: 1,
        device: Device::Cpu,
        precision: Precision::Fp32,
        preset: "medium".into(),
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        let number = |text: String| text.parse::<usize>().unwrap_or(0);
        match arg.as_str() {
            "--workers" => options.workers = number(value()).max(1),
            "--threads" => options.threads = number(value()).max(1),
            "--tile" => options.tile = number(value()) as u32,
            "--tile-batch" => options.tile_batch = number(value()).max(1) as u32,
            "--device" => {
                let text = value();
                options.device = text
                    .parse()
                    .unwrap_or_else(|e| panic!("--device {text}: {e}"));
            }
            "--precision" => {
                options.precision = match value().as_str() {
                    "auto" => Precision::Auto,
                    "fp16" => Precision::Fp16,
                    _ => Precision::Fp32,
                }
            }
            "--preset" => options.preset = value(),
            other => options.clip = Some(PathBuf::from(other)),
        }
    }
    options
}

fn generated_clip(dir: &Path) -> PathBuf {
    let clip = dir.join("bench-320x240.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=24:duration=2",
        ])
        .args(["-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p"])
        .arg(&clip)
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "ffmpeg could not make the clip"
    );
    clip
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_options();
    let scratch = tempfile::tempdir()?;
    let clip = options
        .clip
        .clone()
        .unwrap_or_else(|| generated_clip(scratch.path()));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let yaml = format!(
        "input:\n  path: {}\noutput:\n  path: {}\ndevice: {}\nprecision: {}\nstages:\n  \
         - restore:\n      model: {}\n      tile: {}\n      tile_batch: {}\n\
         encode:\n  preset: {}\n",
        clip.display(),
        scratch.path().join("out").display(),
        options.device,
        options.precision,
        root.join("models/realesr-animevideov3-x2.onnx").display(),
        options.tile,
        options.tile_batch,
        options.preset
    );
    let pipeline_file = scratch.path().join("bench.yaml");
    std::fs::write(&pipeline_file, yaml)?;
    let draft = config::load_draft(&pipeline_file);
    let intra = (options.threads / options.workers).max(1);
    let session = SessionConfig {
        device: options.device,
        precision: options.precision,
        intra_threads: intra,
    };
    let plan = StagePlan::check(&draft, session).map_err(|p| p.to_string())?;
    let loaded = draft.finish(Vec::new()).map_err(|p| p.to_string())?;

    // Pure inference: frames decoded beforehand, workers pull from a queue.
    let (mut source, _) = VideoSource::open(
        &clip,
        plan.filters_before().chains(),
        RgbConversion::Exact,
        CopyPolicy {
            audio: false,
            subtitles: false,
        },
        VideoDecoder::Software,
    )?;
    let mut frames = Vec::new();
    while let Some(item) = source.next_item()? {
        if let SourceItem::Frame(frame) = item {
            frames.push(frame.image.to_eight().into_owned());
        }
    }
    let count = frames.len();
    let (tx, rx) = unbounded();
    for frame in frames {
        tx.send(frame)?;
    }
    drop(tx);
    let mut stage_sets = (0..options.workers)
        .map(|_| plan.instantiate())
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for stages in &mut stage_sets {
            let rx = rx.clone();
            scope.spawn(move || {
                for frame in rx {
                    let mut image = frame;
                    for stage in stages.iter_mut() {
                        image = stage
                            .process(&image)
                            .unwrap_or_else(|e| panic!("inference failed: {e}"));
                    }
                }
            });
        }
    });
    let pure = started.elapsed().as_secs_f64();

    // End to end through the real video job.
    let encode = EncodeSettings {
        codec: loaded.pipeline.encode.codec.clone(),
        crf: loaded.pipeline.encode.crf,
        preset: loaded.pipeline.encode.preset.clone(),
        pixel_format: None,
        threads: 0,
        large_frame_threads: 0,
    };
    let pool = StagePool::new(plan.clone(), options.workers);
    let cancel = Cancel::default();
    let settings = ProcessSettings {
        pool: &pool,
        captions: None,
        encode: &encode,
        codec_named: true,
        copy: CopyPolicy {
            audio: loaded.pipeline.encode.audio == StreamPolicy::Copy,
            subtitles: true,
        },
        damage: DecodeErrorPolicy::Fail,
        decoder: VideoDecoder::Software,
        cancel: &cancel,
        xmp: XmpSettings {
            place: XmpOutput::Off,
            provenance: &Provenance::default(),
        },
    };
    let output_path = scratch.path().join("out.mkv");
    let output = VideoOutput {
        path: &output_path,
        format: MuxerFormat::Matroska,
        checkpoints: None,
    };
    let started = Instant::now();
    let summary = restore_video(&clip, &output, &settings, &NoProgress)?;
    let end_to_end = started.elapsed().as_secs_f64();
    assert_eq!(summary.frames as usize, count, "frame counts differ");

    let pure_fps = count as f64 / pure;
    let e2e_fps = count as f64 / end_to_end;
    println!(
        "clip {} ({count} frames), {} {}, workers {} × {intra} threads, tile {} × {} a run",
        clip.display(),
        plan.device()
            .map_or_else(|| "?".to_string(), |d| d.to_string()),
        options.precision,
        options.workers,
        options.tile,
        options.tile_batch
    );
    println!("pure inference: {pure:.2} s, {pure_fps:.2} frames/s");
    println!("end to end:     {end_to_end:.2} s, {e2e_fps:.2} frames/s");
    println!(
        "overhead ratio (end-to-end / pure): {:.3}",
        e2e_fps / pure_fps
    );
    Ok(())
}
