//! Checks on the meaning of a pipeline, after its shape has been read.
//!
//! Every rule runs on whatever sections could be read, so a broken `input`
//! does not hide a missing model. Rules return findings keyed by key path;
//! turning a key path into `line:col` is left to the caller, which keeps
//! these rules testable without YAML text.

use std::path::Path;

use super::codec_rules::{check_codec_named, check_crf, check_preset};
use super::duration::parse_duration;
use super::input_filter::{compile_glob, GlobList};
use super::paths::{resolve, same_place};
use super::positions::{child_path, item_path};
use super::schema::{
    CaptionSpec, EncodeSpec, InputSpec, OutputSpec, RestoreSpec, StageSpec, MAX_TILE_BATCH,
    MIN_TILE,
};
use super::sections::Sections;

/// A broken rule: the key path it concerns and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) path: String,
    pub(crate) message: String,
}

impl Finding {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Runs every rule on `sections`; relative paths are resolved against
/// `base`, the pipeline file's directory.
pub(crate) fn check_sections(sections: &Sections, base: &Path) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(input) = &sections.input {
        check_input(input, base, &mut findings);
    }
    if let Some(output) = &sections.output {
        check_output(output, sections.input.as_ref(), base, &mut findings);
    }
    if let Some(stages) = &sections.stages {
        if stages.is_empty() {
            findings.push(Finding::new(
                "stages",
                "stages is empty (expected at least one stage)",
            ));
        }
        let last = stages.len().saturating_sub(1);
        for (position, stage) in stages.iter().enumerate() {
            if let Some(stage) = stage {
                check_stage(&item_path("stages", position), stage, base, &mut findings);
                if matches!(stage, StageSpec::Caption(_)) && position != last {
                    findings.push(Finding::new(
                        stage.key_path(position),
                        "the caption stage must be the last stage",
                    ));
                }
            }
        }
    }
    if let Some(encode) = &sections.encode {
        check_encode(encode, &mut findings);
    }
    if let Some(run) = &sections.run {
        for (field, value) in [
            ("jobs", run.jobs),
            ("threads", run.threads),
            ("gpu_sessions", run.gpu_sessions),
        ] {
            if value == Some(0) {
                findings.push(Finding::new(
                    format!("run.{field}"),
                    format!("run.{field} 0 is invalid (expected >= 1)"),
                ));
            }
        }
        if let Err(message) = run.checkpoint_seconds() {
            findings.push(Finding::new("run.checkpoint", message));
        }
    }
    findings
}

fn check_input(input: &InputSpec, base: &Path, findings: &mut Vec<Finding>) {
    if input.path.as_os_str().is_empty() {
        findings.push(Finding::new(
            "input.path",
            "input path is empty (expected a file or directory)",
        ));
    } else if !resolve(base, &input.path).exists() {
        findings.push(Finding::new(
            "input.path",
            format!("input path does not exist: {}", input.path.display()),
        ));
    }
    let lists = [
        (
            GlobList::Include,
            input.include.as_deref().unwrap_or_default(),
        ),
        (GlobList::Exclude, input.exclude.as_slice()),
    ];
    for (list, globs) in lists {
        for (position, glob) in globs.iter().enumerate() {
            if let Err(error) = compile_glob(list, position, glob) {
                let path = item_path(&format!("input.{list}"), position);
                findings.push(Finding::new(path, error.to_string()));
            }
        }
    }
}

fn check_output(
    output: &OutputSpec,
    input: Option<&InputSpec>,
    base: &Path,
    findings: &mut Vec<Finding>,
) {
    if output.path.as_os_str().is_empty() {
        findings.push(Finding::new(
            "output.path",
            "output path is empty (expected a directory)",
        ));
        return;
    }
    let Some(input) = input.filter(|input| !input.path.as_os_str().is_empty()) else {
        return;
    };
    if same_place(&resolve(base, &output.path), &resolve(base, &input.path)) {
        findings.push(Finding::new(
            "output.path",
            "output path is the same as the input path \
             (expected a separate directory, so sources are never overwritten)",
        ));
    }
}

fn check_stage(path: &str, stage: &StageSpec, base: &Path, findings: &mut Vec<Finding>) {
    let body = child_path(path, stage.name());
    match stage {
        StageSpec::Filter(graph) => {
            if graph.trim().is_empty() {
                findings.push(Finding::new(
                    body,
                    "filter graph is empty \
                     (expected a libavfilter graph such as `yadif=mode=send_frame`)",
                ));
            }
        }
        StageSpec::Restore(restore) => check_restore(&body, restore, base, findings),
        StageSpec::Caption(caption) => check_caption(&body, caption, base, findings),
    }
}

fn check_caption(path: &str, caption: &CaptionSpec, base: &Path, findings: &mut Vec<Finding>) {
    let folder = resolve(base, &caption.model);
    if !folder.is_dir() {
        findings.push(Finding::new(
            child_path(path, "model"),
            format!(
                "captioning model folder not found: {}",
                caption.model.display()
            ),
        ));
    }
    for (field, value) in [
        ("every", &caption.every),
        ("min_gap", &caption.min_gap),
        ("max_gap", &caption.max_gap),
    ] {
        if let Some(text) = value {
            if let Err(message) = parse_duration(text) {
                findings.push(Finding::new(child_path(path, field), message));
            }
        }
    }
    if caption.every.is_some() && caption.scene_threshold.is_some() {
        findings.push(Finding::new(
            child_path(path, "scene_threshold"),
            "give either `every` or `scene_threshold`, not both",
        ));
    }
    if let Some(threshold) = caption.scene_threshold {
        if !(threshold > 0.0 && threshold < 1.0) {
            findings.push(Finding::new(
                child_path(path, "scene_threshold"),
                format!("scene_threshold {threshold} is out of range (expected between 0 and 1)"),
            ));
        }
    }
    for (field, value) in [("beams", caption.beams), ("max_tokens", caption.max_tokens)] {
        if value == Some(0) {
            findings.push(Finding::new(
                child_path(path, field),
                format!("{field} 0 is invalid (expected >= 1)"),
            ));
        }
    }
    if caption.batch == 0 {
        findings.push(Finding::new(
            child_path(path, "batch"),
            "batch 0 is invalid (expected >= 1)",
        ));
    }
}

fn check_restore(path: &str, restore: &RestoreSpec, base: &Path, findings: &mut Vec<Finding>) {
    let model = &restore.model;
    let model_path = child_path(path, "model");
    if model.as_os_str().is_empty() {
        findings.push(Finding::new(
            model_path,
            "model path is empty (expected an .onnx file)",
        ));
    } else {
        let resolved = resolve(base, model);
        if resolved.is_dir() {
            findings.push(Finding::new(
                model_path,
                format!(
                    "model path is a directory (expected an .onnx file): {}",
                    model.display()
                ),
            ));
        } else if !resolved.is_file() {
            findings.push(Finding::new(
                model_path,
                format!("model file not found: {}", model.display()),
            ));
        }
    }
    if let Some(scale) = restore.scale {
        if !(1..=8).contains(&scale) {
            findings.push(Finding::new(
                child_path(path, "scale"),
                format!("scale {scale} is out of range (expected 1 to 8)"),
            ));
        }
    }
    if !(1..=MAX_TILE_BATCH).contains(&restore.tile_batch) {
        findings.push(Finding::new(
            child_path(path, "tile_batch"),
            format!(
                "tile_batch {} is out of range (expected 1 to {MAX_TILE_BATCH})",
                restore.tile_batch
            ),
        ));
    }
    let Some(tile) = restore.tile else {
        // The effective tile comes from the model's sidecar, so the overlap
        // can only be checked once the model is opened.
        return;
    };
    if tile != 0 && tile < MIN_TILE {
        findings.push(Finding::new(
            child_path(path, "tile"),
            format!("tile {tile} is too small (expected 0 for whole frame, or >= {MIN_TILE})"),
        ));
    } else if tile != 0 && restore.tile_overlap > tile {
        // The overlap is context read around each tile and thrown away after
        // inference; wider than the tile itself, most of the work is wasted.
        findings.push(Finding::new(
            child_path(path, "tile_overlap"),
            format!(
                "tile_overlap {} is larger than tile {tile} (expected <= {tile})",
                restore.tile_overlap
            ),
        ));
    }
}

fn check_encode(encode: &EncodeSpec, findings: &mut Vec<Finding>) {
    let codec = encode.codec.as_str();
    let codec_findings = [
        check_codec_named(codec),
        check_crf(codec, encode.crf),
        check_preset(codec, encode.preset.as_deref()),
    ];
    for finding in codec_findings.into_iter().flatten() {
        findings.push(Finding::new(
            child_path("encode", finding.field),
            finding.message,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use crate::config::schema::DEFAULT_TILE_OVERLAP;

    /// A directory with an input folder `film` and a model file `m.onnx`.
    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("film")).unwrap();
        std::fs::write(dir.path().join("m.onnx"), b"").unwrap();
        dir
    }

    fn input(path: &str) -> InputSpec {
        InputSpec {
            path: PathBuf::from(path),
            include: None,
            exclude: Vec::new(),
            on_decode_error: crate::config::DecodeErrorPolicy::Fail,
            decoder: crate::config::VideoDecoder::Software,
        }
    }

    fn output(path: &str) -> OutputSpec {
        OutputSpec {
            path: PathBuf::from(path),
            existing: Default::default(),
            naming: Default::default(),
            xmp: Default::default(),
        }
    }

    fn restore(model: &str, tile: Option<u32>, tile_overlap: u32) -> StageSpec {
        StageSpec::Restore(RestoreSpec {
            model: PathBuf::from(model),
            tile,
            tile_overlap,
            tile_batch: 1,
            scale: None,
        })
    }

    fn valid_sections() -> Sections {
        Sections {
            input: Some(input("film")),
            output: Some(output("out")),
            stages: Some(vec![Some(restore("m.onnx", None, DEFAULT_TILE_OVERLAP))]),
            encode: Some(EncodeSpec::default()),
            ..Sections::default()
        }
    }

    fn findings(sections: &Sections) -> Vec<(String, String)> {
        let dir = workspace();
        check_sections(sections, dir.path())
            .into_iter()
            .map(|finding| (finding.path, finding.message))
            .collect()
    }

    fn one(path: &str, message: &str) -> Vec<(String, String)> {
        vec![(path.to_owned(), message.to_owned())]
    }

    #[test]
    fn a_valid_pipeline_has_no_findings() {
        assert_eq!(findings(&valid_sections()), Vec::new());
    }

    #[test]
    fn missing_input_path_is_reported_as_written() {
        let mut sections = valid_sections();
        sections.input = Some(input("../nowhere"));
        assert_eq!(
            findings(&sections),
            one("input.path", "input path does not exist: ../nowhere")
        );
    }

    #[test]
    fn bad_globs_point_at_their_list_item() {
        let mut sections = valid_sections();
        let mut spec = input("film");
        spec.include = Some(vec!["*.mp4".to_owned(), "[a".to_owned()]);
        spec.exclude = vec!["a{b".to_owned()];
        sections.input = Some(spec);
        let found = findings(&sections);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, "input.include[1]");
        assert!(
            found[0].1.starts_with("invalid include glob `[a`: "),
            "{found:?}"
        );
        assert_eq!(found[1].0, "input.exclude[0]");
    }

    #[test]
    fn output_equal_to_input_is_refused() {
        let mut sections = valid_sections();
        sections.output = Some(output("./film/"));
        assert_eq!(
            findings(&sections),
            one(
                "output.path",
                "output path is the same as the input path \
                 (expected a separate directory, so sources are never overwritten)"
            )
        );
    }

    #[test]
    fn empty_stage_list_is_refused() {
        let mut sections = valid_sections();
        sections.stages = Some(Vec::new());
        assert_eq!(
            findings(&sections),
            one("stages", "stages is empty (expected at least one stage)")
        );
    }

    #[test]
    fn empty_filter_graph_is_refused() {
        let mut sections = valid_sections();
        sections.stages = Some(vec![None, Some(StageSpec::Filter("  ".to_owned()))]);
        assert_eq!(
            findings(&sections),
            one(
                "stages[1].filter",
                "filter graph is empty (expected a libavfilter graph such as `yadif=mode=send_frame`)"
            )
        );
    }

    #[test]
    fn missing_model_and_directory_model_are_told_apart() {
        let mut sections = valid_sections();
        sections.stages = Some(vec![
            Some(restore("gone.onnx", None, 16)),
            Some(restore("film", None, 16)),
        ]);
        assert_eq!(
            findings(&sections),
            vec![
                (
                    "stages[0].restore.model".to_owned(),
                    "model file not found: gone.onnx".to_owned()
                ),
                (
                    "stages[1].restore.model".to_owned(),
                    "model path is a directory (expected an .onnx file): film".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn tile_bounds() {
        let mut sections = valid_sections();
        sections.stages = Some(vec![
            Some(restore("m.onnx", Some(0), 500)),
            Some(restore("m.onnx", Some(32), 15)),
            Some(restore("m.onnx", Some(16), 0)),
        ]);
        assert_eq!(
            findings(&sections),
            one(
                "stages[2].restore.tile",
                "tile 16 is too small (expected 0 for whole frame, or >= 32)"
            )
        );
    }

    #[test]
    fn overlap_may_not_exceed_the_tile() {
        let mut sections = valid_sections();
        sections.stages = Some(vec![
            Some(restore("m.onnx", Some(256), 300)),
            Some(restore("m.onnx", Some(32), 32)),
            Some(restore("m.onnx", Some(33), 34)),
        ]);
        assert_eq!(
            findings(&sections),
            vec![
                (
                    "stages[0].restore.tile_overlap".to_owned(),
                    "tile_overlap 300 is larger than tile 256 (expected <= 256)".to_owned()
                ),
                (
                    "stages[2].restore.tile_overlap".to_owned(),
                    "tile_overlap 34 is larger than tile 33 (expected <= 33)".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_caption_stage_before_another_stage_is_refused_where_it_is() {
        let dir = workspace();
        std::fs::create_dir(dir.path().join("captioner")).unwrap();
        let caption = |model: &str| {
            let spec: CaptionSpec =
                serde_yaml::from_str(&format!("model: {model}")).unwrap_or_else(|e| panic!("{e}"));
            Some(StageSpec::Caption(spec))
        };
        let mut sections = valid_sections();
        sections.stages = Some(vec![
            caption("captioner"),
            Some(restore("m.onnx", None, 16)),
            caption("captioner"),
        ]);
        let found: Vec<(String, String)> = check_sections(&sections, dir.path())
            .into_iter()
            .map(|finding| (finding.path, finding.message))
            .collect();
        assert_eq!(
            found,
            one(
                "stages[0].caption",
                "the caption stage must be the last stage"
            )
        );
    }

    #[test]
    fn encode_rules_point_into_the_encode_section() {
        let mut sections = valid_sections();
        sections.encode = Some(EncodeSpec {
            codec: "ffv1".to_owned(),
            crf: Some(10),
            ..EncodeSpec::default()
        });
        assert_eq!(
            findings(&sections),
            one("encode.crf", "crf does not apply to ffv1 (lossless)")
        );
    }
}
