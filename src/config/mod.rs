//! Pipeline files: the YAML schema, loading with positions, and validation.
//!
//! [`load`] reads a pipeline file and either returns a [`LoadedPipeline`]
//! whose paths are resolved against the file's directory and whose defaults
//! are filled in, or every [`Problem`] found, each with `file:line:col`.
//! Loading happens in four steps:
//!
//! 1. YAML syntax (serde_yaml); a syntax error stops here.
//! 2. A position index from yaml-rust2's marked events (`positions.rs`).
//! 3. Each section and each stage deserialized on its own (`sections.rs`).
//! 4. Rules on the meaning of the values (`validate.rs`, `codec_rules.rs`).
//!
//! Later checks (opening models, finding encoders) run on a [`Draft`], what
//! could be read of the file even when it has problems, and add theirs with
//! [`Draft::problem`], so one list holds every problem of the file.
//!
//! Key paths name a place in the file: `input.path`, `stages[1]`,
//! `stages[1].restore.tile`, `encode.crf`; the empty path is the root.

mod codec_rules;
mod device;
mod draft;
mod duration;
mod input_filter;
mod number_messages;
mod paths;
mod positions;
mod precision;
mod problem;
mod schema;
mod sections;
mod validate;

use std::path::{Path, PathBuf};

pub use codec_rules::{X26X_MAX_CRF, X26X_PRESETS};
pub use device::{Device, ParseDeviceError, DEVICE_EXPECTED};
pub use draft::Draft;
pub use duration::parse_duration;
pub use input_filter::{
    compile_glob, media_kind, GlobList, InputFilter, InvalidGlob, MediaKind, IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
};
pub use precision::Precision;
pub use problem::{Location, Problem, Problems};
pub use schema::{
    CaptionSpec, Container, DecodeErrorPolicy, EncodeSpec, Existing, ImageFormat, InputSpec,
    Naming, OutputSpec, Pipeline, RestoreSpec, RunSpec, StageSpec, StreamPolicy, VideoDecoder,
    XmpOutput, DEFAULT_CODEC, DEFAULT_TILE, DEFAULT_TILE_OVERLAP, MAX_TILE_BATCH, MIN_TILE,
    STAGE_NAMES, TOP_LEVEL_FIELDS,
};

use paths::{base_dir, resolve};
use positions::PositionIndex;
use sections::{read_sections, Sections};

/// A pipeline that passed every check, with what is needed to report later
/// problems at the right place in its file.
#[derive(Debug, Clone)]
pub struct LoadedPipeline {
    /// The pipeline, paths resolved and defaults applied.
    pub pipeline: Pipeline,
    /// The file it came from, as the user named it.
    pub file: PathBuf,
    index: PositionIndex,
}

impl LoadedPipeline {
    /// Where the value at `key_path` starts (for a section, its first
    /// key or opening bracket); `None` when the file does not write it.
    #[must_use]
    pub fn locate(&self, key_path: &str) -> Option<Location> {
        self.index.value(key_path)
    }

    /// Where the key naming `key_path` starts; `None` for list items, the
    /// root, and keys the file does not write.
    #[must_use]
    pub fn locate_key(&self, key_path: &str) -> Option<Location> {
        self.index.key(key_path)
    }

    /// A problem about `key_path` in this pipeline's file. A setting left to
    /// its default is not in the file, so the problem points at the nearest
    /// enclosing section that is (or the start of the file).
    pub fn problem(&self, key_path: &str, message: impl Into<String>) -> Problem {
        Problem::new(
            self.file.clone(),
            self.index.value_or_ancestor(key_path),
            message,
        )
    }
}

/// Reads, parses and checks the pipeline file at `path`.
///
/// # Errors
///
/// Returns every problem found: an unreadable file, YAML syntax, unknown or
/// missing fields, wrong types, and values that break a rule (paths that do
/// not exist, out-of-range numbers, malformed globs, ...).
pub fn load(path: &Path) -> Result<LoadedPipeline, Problems> {
    load_draft(path).finish(Problems::new())
}

/// Parses and checks pipeline `text` as if it were read from `file`:
/// relative paths resolve against `file`'s directory, which must exist for
/// path checks to pass, and problems name `file`.
///
/// # Errors
///
/// As [`load`], less the reading.
pub fn load_str(text: &str, file: &Path) -> Result<LoadedPipeline, Problems> {
    draft_str(text, file).finish(Problems::new())
}

/// Reads and checks the pipeline file at `path` as far as it can be read, keeping
/// its problems, so that later checks (encoders, models) run on what could be read
/// and their problems are reported with these in one list.
#[must_use]
pub fn load_draft(path: &Path) -> Draft {
    match std::fs::read_to_string(path) {
        Ok(text) => draft_str(&text, path),
        Err(error) => Draft::failed(
            path,
            PositionIndex::default(),
            Problem::new(path, None, format!("cannot read pipeline file: {error}")).into(),
        ),
    }
}

/// [`load_draft`] of pipeline `text` as if it were read from `file`.
#[must_use]
pub fn draft_str(text: &str, file: &Path) -> Draft {
    let index = PositionIndex::build(text);
    let mut root: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(root) => root,
        Err(error) => {
            let problems = syntax_problems(file, &error, &index);
            return Draft::failed(file, index, problems);
        }
    };
    // Merge keys (`<<: *defaults`) are a YAML convention, not core syntax;
    // without this they would be reported as unknown fields.
    if let Err(error) = root.apply_merge() {
        return Draft::failed(file, index, syntax_problem(file, &error).into());
    }
    let mut problems = Problems::new();
    let mut sections = read_sections(&root, file, &index, &mut problems);
    let base = base_dir(file);
    for finding in validate::check_sections(&sections, base) {
        let location = index.value_or_ancestor(&finding.path);
        problems.push(Problem::new(file, location, finding.message));
    }
    resolve_paths(&mut sections, base);
    Draft::new(file, index, sections, problems)
}

fn syntax_problems(file: &Path, error: &serde_yaml::Error, index: &PositionIndex) -> Problems {
    let duplicates = index.duplicates();
    if duplicates.is_empty() || !error.to_string().contains("duplicate entry") {
        return syntax_problem(file, error).into();
    }
    // serde_yaml stops at the first repeated key and places it at the start
    // of its mapping; the index knows every repeat and where it is.
    let problems = duplicates.iter().map(|duplicate| {
        let message = format!(
            "duplicate field `{}` (first given at {})",
            duplicate.name, duplicate.first
        );
        Problem::new(file, Some(duplicate.again), message)
    });
    Problems(problems.collect())
}

fn syntax_problem(file: &Path, error: &serde_yaml::Error) -> Problem {
    let location = error
        .location()
        .map(|at| Location::new(at.line(), at.column()));
    let mut message = error.to_string();
    if let Some(at) = location {
        // The position is already in the `file:line:col` prefix.
        message = message.replacen(&format!(" at line {} column {}", at.line, at.column), "", 1);
    }
    Problem::new(file, location, format!("invalid YAML: {message}"))
}

/// Resolves the relative paths of what could be read against `base`, the pipeline
/// file's directory (after the rules, whose messages show paths as written).
fn resolve_paths(sections: &mut Sections, base: &Path) {
    if let Some(input) = &mut sections.input {
        input.path = resolve(base, &input.path);
    }
    if let Some(output) = &mut sections.output {
        output.path = resolve(base, &output.path);
    }
    for stage in sections.stages.iter_mut().flatten().flatten() {
        match stage {
            StageSpec::Restore(restore) => restore.model = resolve(base, &restore.model),
            StageSpec::Caption(caption) => caption.model = resolve(base, &caption.model),
            StageSpec::Filter(_) => {}
        }
    }
}

#[cfg(test)]
mod tests;
