//! Command-line definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::batch::shard::Shard;
use crate::config::Device;

const EXIT_CODES: &str = "\
Exit codes:
  0    every item was restored (or was already done)
  1    finished, but some items failed (each printed as `path: reason`)
  2    usage or pipeline error (every problem printed as `file:line:col: message`)
  75   the output directory is locked by another run (see --wait)
  130  interrupted (SIGINT/SIGTERM); a rerun resumes where it stopped";

/// Batch restoration of film, video and image archives.
#[derive(Debug, Parser)]
#[command(name = "frameforge", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Restore every video and image under the pipeline's input into its output tree.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Check a pipeline and open its models without decoding anything.
    #[command(after_help = EXIT_CODES)]
    Validate(ValidateArgs),
    /// Show what FrameForge makes of a restoration model: tensors, channels, scale, size
    /// multiple, sidecar, licence, and whether it runs here (exit 0) or why not (exit 2).
    Inspect(InspectArgs),
    /// Find captioned shots and images in an output directory: each hit's input, time
    /// range and caption, best match first (exit 0 with hits, 1 without, 2 on error).
    Search(SearchArgs),
    /// Time a pipeline's restoration here: synthetic frames through its restore stages
    /// with its device, precision, tiles and sessions, without decoding or encoding (the
    /// ceiling its models set on a run's frames per second).
    #[command(after_help = EXIT_CODES)]
    Speed(SpeedArgs),
}

#[derive(Debug, clap::Args)]
pub struct SpeedArgs {
    /// The pipeline file (YAML).
    pub pipeline: PathBuf,
    /// The frame size to time, WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", default_value = "720x576", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Frames to time (after one untimed frame per session).
    #[arg(long, value_name = "N", default_value_t = 48, value_parser = clap::value_parser!(u32).range(1..))]
    pub frames: u32,
    /// Inference threads in all (default: the pipeline's `run.threads`, else every core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `720x576` as (720, 576); each side from 1 to 16384.
fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let invalid = || format!("`{text}` is not a frame size (expected WIDTHxHEIGHT, e.g. 720x576)");
    let (width, height) = text.split_once(['x', 'X']).ok_or_else(invalid)?;
    let side = |value: &str| {
        value
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|v| (1..=16384).contains(v))
            .ok_or_else(invalid)
    };
    Ok((side(width)?, side(height)?))
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pipeline file (YAML).
    pub pipeline: PathBuf,
    /// Files processed at once (default: the pipeline's `run.jobs`, else the thread count).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Inference threads in all, shared by every file (default: the pipeline's
    /// `run.threads`, else every core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Process only share i of n (1-based) of the discovered files, chosen by a hash of
    /// each file's relative path: n copies with 1/n … n/n cover every file exactly once.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Redo every item, even those the journal says are finished.
    #[arg(long)]
    pub force: bool,
    /// When another run holds the output directory, wait for it instead of exiting 75.
    #[arg(long)]
    pub wait: bool,
    /// Discover and decide only: print what would be processed or skipped, touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print a machine-readable summary (JSON) on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print only failures and the final summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The pipeline file (YAML).
    pub pipeline: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The output directory of a captioning run (the pipeline's `output.path`).
    pub output: PathBuf,
    /// Words to find (all of them, any form: "boats" finds "boat").
    #[arg(required = true, num_args = 1..)]
    pub words: Vec<String>,
    /// Hits shown at most.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print the hits as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The `.onnx` model file.
    pub model: PathBuf,
    /// Where to open it: `auto`, `cpu`, `cuda[:N]` or `tensorrt[:N]`.
    #[arg(long, default_value = "auto")]
    pub device: Device,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}
