//! Command-line definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0    every item was restored (or was already done)
  1    finished, but some items failed (each printed as `path: reason`)
  2    usage or pipeline error (every problem printed as `file:line:col: message`)";

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
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pipeline file (YAML).
    pub pipeline: PathBuf,
    /// CPU threads for inference in all (default: every core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Inference workers per video, each with its own model session (default: one per
    /// thread).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
    /// Print only failures and the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The pipeline file (YAML).
    pub pipeline: PathBuf,
}
