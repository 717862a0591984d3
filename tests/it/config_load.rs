//! Loading the committed pipeline fixtures.
//!
//! Each `fixtures/pipelines/invalid/NAME.yaml` must fail to load with exactly
//! the lines in `NAME.expected`; each file under `fixtures/pipelines/valid/`
//! must load. Paths are relative to the crate root, where cargo runs
//! integration tests, so messages name the files as a user would type them.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::fs;
use std::path::{Path, PathBuf};

use frameforge::config::{
    self, Container, Device, EncodeSpec, Existing, ImageFormat, RestoreSpec, StageSpec,
    StreamPolicy,
};

const INVALID: &str = "fixtures/pipelines/invalid";
const VALID: &str = "fixtures/pipelines/valid";
const MODEL: &str = "../../../models/realesr-animevideov3-x2.onnx";

/// The `.yaml` files of a fixture directory, sorted so failures list in a
/// stable order.
fn pipelines_in(dir: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {dir}: {error}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    found.sort();
    found
}

#[test]
fn every_invalid_fixture_fails_with_exactly_its_expected_problems() {
    let fixtures = pipelines_in(INVALID);
    assert!(
        fixtures.len() >= 17,
        "only {} invalid fixtures",
        fixtures.len()
    );
    let mut mismatches = Vec::new();
    for pipeline in &fixtures {
        let expected_file = pipeline.with_extension("expected");
        let expected = fs::read_to_string(&expected_file)
            .unwrap_or_else(|error| panic!("{}: {error}", expected_file.display()));
        let actual = match config::load(pipeline) {
            Ok(_) => "<loaded without problems>".to_owned(),
            Err(problems) => problems.to_string(),
        };
        if actual != expected.trim_end_matches('\n') {
            mismatches.push(format!(
                "{}\n--- expected\n{}\n--- actual\n{actual}\n",
                pipeline.display(),
                expected.trim_end_matches('\n')
            ));
        }
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

#[test]
fn every_expected_file_has_its_pipeline() {
    for entry in fs::read_dir(INVALID).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "expected") {
            assert!(
                path.with_extension("yaml").is_file(),
                "{} has no pipeline",
                path.display()
            );
        }
    }
}

#[test]
fn problems_name_the_file_as_given() {
    let path = Path::new(INVALID).join("unknown_stage.yaml");
    let problems = config::load(&path).unwrap_err();
    assert_eq!(problems.0[0].file, path);
}

#[test]
fn every_valid_fixture_loads() {
    let fixtures = pipelines_in(VALID);
    assert!(
        fixtures.len() >= 2,
        "only {} valid fixtures",
        fixtures.len()
    );
    for pipeline in fixtures {
        if let Err(problems) = config::load(&pipeline) {
            panic!("{} did not load:\n{problems}", pipeline.display());
        }
    }
}

#[test]
fn minimal_fixture_resolves_paths_and_applies_defaults() {
    let file = Path::new(VALID).join("minimal.yaml");
    let loaded = config::load(&file).unwrap();
    let base = Path::new(VALID);
    let pipeline = loaded.pipeline;
    assert_eq!(loaded.file, file);
    assert_eq!(pipeline.name, None);
    assert_eq!(pipeline.input.path, base.join("../../film"));
    assert_eq!(pipeline.input.include, None);
    assert!(pipeline.input.exclude.is_empty());
    assert_eq!(pipeline.output.path, base.join("../../../out/minimal"));
    assert_eq!(pipeline.output.existing, Existing::Skip);
    assert_eq!(pipeline.device, Device::Auto);
    assert_eq!(
        pipeline.stages,
        vec![StageSpec::Restore(RestoreSpec {
            model: base.join(MODEL),
            tile: None,
            tile_overlap: 16,
            tile_batch: 1,
            scale: None,
        })]
    );
    assert_eq!(pipeline.encode, EncodeSpec::default());
    assert_eq!(pipeline.encode.codec, "libx264");
    assert_eq!(pipeline.encode.container, Container::Mkv);
}

#[test]
fn full_fixture_keeps_every_written_setting() {
    let file = Path::new(VALID).join("full.yaml");
    let loaded = config::load(&file).unwrap();
    let base = Path::new(VALID);
    let pipeline = &loaded.pipeline;
    assert_eq!(pipeline.name.as_deref(), Some("restore-film"));
    assert_eq!(pipeline.input.path, base.join("../../film"));
    assert_eq!(
        pipeline.input.include,
        Some(vec!["**/*.{mkv,mpg}".to_owned(), "stills/*.png".to_owned()])
    );
    assert_eq!(pipeline.input.exclude, vec!["**/.*".to_owned()]);
    assert_eq!(pipeline.output.path, base.join("../../../out/restored"));
    assert_eq!(pipeline.output.existing, Existing::Overwrite);
    assert_eq!(pipeline.device, Device::Cuda(1));
    assert_eq!(
        pipeline.stages,
        vec![
            StageSpec::Filter("yadif=mode=send_frame".to_owned()),
            StageSpec::Restore(RestoreSpec {
                model: base.join(MODEL),
                tile: Some(128),
                tile_overlap: 8,
                tile_batch: 4,
                scale: None,
            }),
            StageSpec::Restore(RestoreSpec {
                model: base.join(MODEL),
                tile: Some(0),
                tile_overlap: 16,
                tile_batch: 1,
                scale: Some(1),
            }),
        ]
    );
    assert_eq!(
        pipeline.encode,
        EncodeSpec {
            container: Container::Mp4,
            codec: "libx265".to_owned(),
            crf: Some(20),
            preset: Some("slow".to_owned()),
            pixel_format: Some("yuv420p10le".to_owned()),
            audio: StreamPolicy::Drop,
            subtitles: StreamPolicy::Copy,
            image_format: ImageFormat::Png,
        }
    );
    // Later checks place their problems through the loaded file's positions.
    assert_eq!(
        loaded.problem("stages[1].restore.model", "x").to_string(),
        format!("{}:14:14: x", file.display())
    );
}

#[test]
fn full_fixture_selects_the_files_its_globs_name() {
    let loaded = config::load(&Path::new(VALID).join("full.yaml")).unwrap();
    let filter = config::InputFilter::new(&loaded.pipeline.input).unwrap();
    assert!(filter.matches(Path::new("reel1.mkv")));
    assert!(filter.matches(Path::new("stills/frame_001.png")));
    assert!(!filter.matches(Path::new("stills/scan.jpg")));
    assert!(!filter.matches(Path::new(".hidden.mkv")));
}
