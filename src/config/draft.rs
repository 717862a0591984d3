//! A pipeline as far as it could be read, with the problems found so far.
//!
//! Checks that need more than the file (is there such an encoder, does the model
//! load) run on a [`Draft`] before it becomes a [`LoadedPipeline`], also when the
//! file has problems: a bad `crf` must not hide a pixel format this ffmpeg lacks or a
//! model that does not load. [`Draft::finish`] then reports every problem at once.

use std::path::{Path, PathBuf};

use super::device::Device;
use super::positions::PositionIndex;
use super::precision::Precision;
use super::problem::{Problem, Problems};
use super::schema::{EncodeSpec, Pipeline, StageSpec, VideoDecoder};
use super::sections::Sections;
use super::LoadedPipeline;

/// What could be read of a pipeline file, paths resolved, and its problems so far.
#[derive(Debug)]
pub struct Draft {
    file: PathBuf,
    index: PositionIndex,
    sections: Sections,
    problems: Problems,
}

impl Draft {
    pub(crate) fn new(
        file: &Path,
        index: PositionIndex,
        sections: Sections,
        problems: Problems,
    ) -> Self {
        Self {
            file: file.to_path_buf(),
            index,
            sections,
            problems,
        }
    }

    /// A file of which nothing could be read (unreadable, or not YAML).
    pub(crate) fn failed(file: &Path, index: PositionIndex, problems: Problems) -> Self {
        Self::new(file, index, Sections::default(), problems)
    }

    /// The pipeline file, as the user named it.
    #[must_use]
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The stages that could be read, with their position in `stages`; model paths
    /// are resolved.
    pub fn stages(&self) -> impl Iterator<Item = (usize, &StageSpec)> {
        self.sections
            .stages
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(position, stage)| stage.as_ref().map(|stage| (position, stage)))
    }

    /// The `encode` section: its defaults when the file has none, `None` when it could
    /// not be read as written.
    #[must_use]
    pub fn encode(&self) -> Option<EncodeSpec> {
        match (&self.sections.encode, self.index.value("encode")) {
            (Some(encode), _) => Some(encode.clone()),
            // Written but unreadable: its defaults would be judged, not the file.
            (None, Some(_)) => None,
            (None, None) => Some(EncodeSpec::default()),
        }
    }

    /// Where models are opened: the file's device, or the default when it has none
    /// or gives an unreadable one.
    #[must_use]
    pub fn device(&self) -> Device {
        self.sections.device.unwrap_or_default()
    }

    /// The `run.threads` the file asks for, when it could be read.
    #[must_use]
    pub fn threads(&self) -> Option<u32> {
        self.sections.run.as_ref().and_then(|run| run.threads)
    }

    /// Which decoder reads video: the file's, or the default when it has none or its
    /// `input` section could not be read.
    #[must_use]
    pub fn decoder(&self) -> VideoDecoder {
        self.sections
            .input
            .as_ref()
            .map(|input| input.decoder)
            .unwrap_or_default()
    }

    /// The float width of restoration models: the file's, or `auto`.
    #[must_use]
    pub fn precision(&self) -> Precision {
        self.sections.precision.unwrap_or_default()
    }

    /// A problem about `key_path` in this file, placed as
    /// [`LoadedPipeline::problem`] places it.
    pub fn problem(&self, key_path: &str, message: impl Into<String>) -> Problem {
        Problem::new(
            self.file.clone(),
            self.index.value_or_ancestor(key_path),
            message,
        )
    }

    /// The pipeline, when neither loading nor `later` (the problems of the checks run
    /// on this draft) found anything.
    ///
    /// # Errors
    /// Every problem, loading's and `later`, ordered by position.
    pub fn finish(
        self,
        later: impl IntoIterator<Item = Problem>,
    ) -> Result<LoadedPipeline, Problems> {
        let mut problems = self.problems;
        problems.extend(later);
        if !problems.is_empty() {
            problems.sort();
            return Err(problems);
        }
        match assemble(self.sections) {
            Some(pipeline) => Ok(LoadedPipeline {
                pipeline,
                file: self.file,
                index: self.index,
            }),
            // Every way a section can be absent or unreadable records a
            // problem, so this is only reached if that ever stops being true.
            None => Err(Problem::new(self.file, None, "pipeline is incomplete").into()),
        }
    }
}

/// Builds the pipeline from fully read sections, filling in defaults.
fn assemble(sections: Sections) -> Option<Pipeline> {
    let stages = sections.stages?.into_iter().collect::<Option<Vec<_>>>()?;
    Some(Pipeline {
        name: sections.name,
        input: sections.input?,
        output: sections.output?,
        device: sections.device.unwrap_or_default(),
        precision: sections.precision.unwrap_or_default(),
        stages,
        encode: sections.encode.unwrap_or_default(),
        run: sections.run.unwrap_or_default(),
    })
}
