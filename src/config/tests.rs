//! Loading whole pipeline texts: sections, positions and rules together.

use super::*;

/// A pipeline directory with an input folder `film` and a model `m.onnx`.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("film")).unwrap();
        std::fs::write(dir.path().join("m.onnx"), b"").unwrap();
        Self { dir }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("p.yaml")
    }

    fn load(&self, text: &str) -> Result<LoadedPipeline, Problems> {
        load_str(text, &self.file())
    }

    /// The problems of `text` as `line:col: message` (or just the message),
    /// in display order.
    fn problems(&self, text: &str) -> Vec<String> {
        let problems = self.load(text).err().unwrap_or_default();
        let prefix = format!("{}:", self.file().display());
        problems
            .to_string()
            .lines()
            .map(|line| line.strip_prefix(&prefix).unwrap_or(line).trim().to_owned())
            .collect()
    }
}

const MINIMAL: &str = "\
input:
  path: film
output:
  path: out
stages:
  - restore:
      model: m.onnx
";

#[test]
fn minimal_pipeline_gets_resolved_paths_and_defaults() {
    let work = Workspace::new();
    let loaded = work.load(MINIMAL).unwrap();
    let base = work.dir.path();
    let pipeline = &loaded.pipeline;
    assert_eq!(pipeline.name, None);
    assert_eq!(pipeline.input.path, base.join("film"));
    assert_eq!(pipeline.input.include, None);
    assert!(pipeline.input.exclude.is_empty());
    assert_eq!(pipeline.output.path, base.join("out"));
    assert_eq!(pipeline.output.existing, Existing::Skip);
    assert_eq!(pipeline.device, Device::Auto);
    assert_eq!(
        pipeline.stages,
        vec![StageSpec::Restore(RestoreSpec {
            model: base.join("m.onnx"),
            tile: None,
            tile_overlap: DEFAULT_TILE_OVERLAP,
            tile_batch: 1,
            scale: None,
        })]
    );
    assert_eq!(pipeline.encode, EncodeSpec::default());
    assert_eq!(loaded.file, work.file());
}

#[test]
fn optional_sections_left_empty_take_their_defaults() {
    let work = Workspace::new();
    let text = format!("{MINIMAL}name:\ndevice:\nencode:\n");
    let pipeline = work.load(&text).unwrap().pipeline;
    assert_eq!(pipeline.device, Device::Auto);
    assert_eq!(pipeline.encode, EncodeSpec::default());
}

#[test]
fn problems_from_every_section_are_reported_together_in_file_order() {
    let work = Workspace::new();
    let text = "\
foo: 1
input: {path: film, foo: 1}
output:
  path: out
  existing: maybe
stages:
  - restore:
      model: m.onnx
      tilee: 3
  - restore:
      model: m.onnx
      tile: \"big\"
  - denoise: 3
  - 5
device: cuda:x
encode: {crf: 60}
";
    assert_eq!(
        work.problems(text),
        vec![
            "1:1: unknown field `foo`, expected one of `name`, `input`, `output`, `device`, `precision`, `stages`, `encode`, `run`",
            "2:21: unknown field `foo`, expected one of `path`, `include`, `exclude`, `on_decode_error`, `decoder`",
            "5:13: unknown variant `maybe`, expected one of `skip`, `overwrite`, `fail`",
            "9:7: unknown field `tilee`, expected one of `model`, `tile`, `tile_overlap`, `tile_batch`, `scale`",
            "12:13: tile `big` is not a whole number (expected 0 for whole frame, or >= 32)",
            "13:5: unknown stage `denoise`, expected one of `filter`, `restore`, `caption`",
            "14:5: invalid type: integer `5`, expected a mapping with one stage name (one of `filter`, `restore`, `caption`)",
            "15:9: invalid device `cuda:x` (expected `auto`, `cpu`, `cuda`, `cuda:N`, `tensorrt` or `tensorrt:N` with N a GPU index)",
            "16:15: crf 60 is out of range for libx264 (expected 0..=51)",
        ]
    );
}

#[test]
fn rules_still_run_on_sections_that_could_be_read() {
    let work = Workspace::new();
    let text = "\
input: {path: nowhere}
output: {path: out, bogus: 1}
stages:
  - restore: {model: gone.onnx}
";
    assert_eq!(
        work.problems(text),
        vec![
            "1:15: input path does not exist: nowhere",
            "2:21: unknown field `bogus`, expected one of `path`, `existing`, `naming`, `xmp`",
            "4:22: model file not found: gone.onnx",
        ]
    );
}

#[test]
fn missing_required_sections_point_at_the_start_of_the_mapping() {
    let work = Workspace::new();
    let text = "# a comment\nname: x\n";
    assert_eq!(
        work.problems(text),
        vec![
            "2:1: missing field `input`",
            "2:1: missing field `output`",
            "2:1: missing field `stages`",
        ]
    );
}

#[test]
fn missing_field_in_an_empty_stage_body_points_at_the_stage_name() {
    let work = Workspace::new();
    let text = "input: {path: film}\noutput: {path: out}\nstages:\n  - restore:\n";
    assert_eq!(work.problems(text), vec!["4:5: missing field `model`"]);
}

#[test]
fn stage_with_two_keys_suggests_indenting() {
    let work = Workspace::new();
    let text =
        "input: {path: film}\noutput: {path: out}\nstages:\n  - restore:\n    model: m.onnx\n";
    assert_eq!(
        work.problems(text),
        vec![
            "4:5: stage has 2 keys (`restore`, `model`), expected a mapping with one stage name \
             (one of `filter`, `restore`, `caption`) (should the other keys be indented under `restore:`?)"
        ]
    );
}

#[test]
fn empty_or_absent_stage_list_is_reported_once() {
    let work = Workspace::new();
    let text = "input: {path: film}\noutput: {path: out}\nstages:\n";
    assert_eq!(
        work.problems(text),
        vec!["3:1: stages is empty (expected at least one stage)"]
    );
    let text = "input: {path: film}\noutput: {path: out}\nstages: []\n";
    assert_eq!(
        work.problems(text),
        vec!["3:9: stages is empty (expected at least one stage)"]
    );
}

#[test]
fn unit_enums_given_a_non_string_say_a_string_was_expected() {
    let work = Workspace::new();
    let text = format!("{MINIMAL}encode:\n  audio: [copy]\n");
    assert_eq!(
        work.problems(&text),
        vec!["9:10: invalid type: sequence, expected a string"]
    );
}

#[test]
fn a_section_of_the_wrong_type_names_what_was_expected() {
    let work = Workspace::new();
    let text = "input: film\noutput: {path: out}\nstages: {restore: x}\n";
    assert_eq!(
        work.problems(text),
        vec![
            "1:8: invalid type: string \"film\", expected a mapping with `path`",
            "3:9: invalid type: map, expected a list of stages",
        ]
    );
}

#[test]
fn syntax_errors_stop_loading_with_their_position() {
    let work = Workspace::new();
    assert_eq!(
        work.problems("name: x\n  input: y\n"),
        vec!["2:8: invalid YAML: mapping values are not allowed in this context"]
    );
}

#[test]
fn every_repeated_key_is_reported_where_it_repeats() {
    let work = Workspace::new();
    let text = "input:\n  path: film\n  path: film\noutput: {path: out}\noutput: {path: o}\n";
    assert_eq!(
        work.problems(text),
        vec![
            "3:3: duplicate field `path` (first given at 2:3)",
            "5:1: duplicate field `output` (first given at 4:1)",
        ]
    );
}

#[test]
fn whole_file_problems_have_no_position() {
    let work = Workspace::new();
    assert_eq!(
        work.problems(""),
        vec!["pipeline file is empty (expected a mapping with `input`, `output` and `stages`)"]
    );
    assert_eq!(
        work.problems("- 1\n"),
        vec!["1:1: invalid type: sequence, expected a mapping with `input`, `output` and `stages`"]
    );
}

#[test]
fn unreadable_file_is_a_problem_without_position() {
    let work = Workspace::new();
    let missing = work.dir.path().join("absent.yaml");
    let problems = load(&missing).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems.0[0].location, None);
    assert!(problems.0[0]
        .message
        .starts_with("cannot read pipeline file: "));
}

#[test]
fn loaded_pipeline_locates_values_and_places_later_problems() {
    let work = Workspace::new();
    let loaded = work.load(MINIMAL).unwrap();
    assert_eq!(
        loaded.locate("stages[0].restore.model"),
        Some(Location::new(7, 14))
    );
    assert_eq!(
        loaded.locate_key("stages[0].restore.model"),
        Some(Location::new(7, 7))
    );
    assert_eq!(loaded.locate("encode.codec"), None);
    let stage_path = loaded.pipeline.stages[0].key_path(0);
    assert_eq!(stage_path, "stages[0].restore");
    let problem = loaded.problem(&format!("{stage_path}.model"), "model has 2 inputs");
    assert_eq!(problem.location, Some(Location::new(7, 14)));
    // A defaulted setting is not in the file: the problem falls back to the
    // start of the file rather than losing its position.
    let problem = loaded.problem("encode.codec", "encoder libx264 is not available");
    assert_eq!(problem.location, Some(Location::new(1, 1)));
    assert_eq!(problem.file, work.file());
}

#[test]
fn every_bad_field_of_one_section_is_reported() {
    let work = Workspace::new();
    let text =
        format!("{MINIMAL}encode:\n  container: avi\n  codec: 5\n  audio: mute\n  extra: 1\n");
    assert_eq!(
        work.problems(&text),
        vec![
            "9:14: unknown variant `avi`, expected one of `mkv`, `mp4`, `same`",
            "10:10: invalid type: integer `5`, expected a string",
            "11:10: unknown variant `mute`, expected `copy` or `drop`",
            "12:3: unknown field `extra`, expected one of `container`, `codec`, `crf`, `preset`, `pixel_format`, `audio`, `subtitles`, `image_format`",
        ]
    );
}

#[test]
fn a_section_with_only_unknown_fields_is_still_checked() {
    let work = Workspace::new();
    let text = "input:\n  path: nowhere\n  inclde: []\noutput: {path: out}\nstages:\n  - restore: {model: m.onnx, tilee: 1, tile: 8}\n";
    assert_eq!(
        work.problems(text),
        vec![
            "2:9: input path does not exist: nowhere",
            "3:3: unknown field `inclde`, expected one of `path`, `include`, `exclude`, `on_decode_error`, `decoder`",
            "6:30: unknown field `tilee`, expected one of `model`, `tile`, `tile_overlap`, `tile_batch`, `scale`",
            "6:46: tile 8 is too small (expected 0 for whole frame, or >= 32)",
        ]
    );
}

#[test]
fn a_bad_value_keeps_its_section_out_of_rule_checks() {
    // With `codec` unreadable, judging `crf` against the default codec
    // would report a problem the file does not have.
    let work = Workspace::new();
    let text = format!("{MINIMAL}encode: {{codec: [x], crf: 60}}\n");
    assert_eq!(
        work.problems(&text),
        vec!["8:17: invalid type: sequence, expected a string"]
    );
}

#[test]
fn merge_keys_share_settings_between_stages() {
    let work = Workspace::new();
    let text = "\
input: {path: film}
output: {path: out}
stages:
  - restore: &base {model: m.onnx, tile: 128}
  - restore: {<<: *base, tile_overlap: 8}
";
    let stages = work.load(text).unwrap().pipeline.stages;
    assert_eq!(
        stages[1],
        StageSpec::Restore(RestoreSpec {
            model: work.dir.path().join("m.onnx"),
            tile: Some(128),
            tile_overlap: 8,
            tile_batch: 1,
            scale: None,
        })
    );
}
