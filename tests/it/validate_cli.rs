//! The command line around validation: `validate` and `run` on broken pipelines and
//! models exit 2 with every problem at its `file:line:col`, and decode nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use crate::util;

use util::{frameforge, root, Workspace};

const INVALID_MODELS: &str = "fixtures/pipelines/invalid_models";

/// Models that do not fit a restore stage, filter chains that do not parse or give a
/// filter a bad option (with ffmpeg's reason), an encoder or pixel format this ffmpeg
/// lacks (a codec's name answered with its encoders), and a filter that fixes a frame
/// size the encoder refuses are reported at their line; a file with one problem of each
/// kind gets them all in one round (`every_kind_at_once`).
#[test]
fn stages_that_cannot_run_are_reported_at_their_line() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join(INVALID_MODELS)).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let relative = format!(
            "{INVALID_MODELS}/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let output = frameforge()
            .current_dir(root())
            .args(["validate", &relative])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{relative}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            expected,
            "{relative}"
        );
        assert!(output.stdout.is_empty(), "{relative}");
        checked += 1;
    }
    assert_eq!(checked, 12);
}

#[test]
fn run_with_an_invalid_pipeline_exits_2_and_writes_nothing() {
    let ws = Workspace::new();
    ws.input(&[("video/ffv1.mkv", "a.mkv")]);
    let pipeline = ws.pipeline(
        "stages:\n  - restore:\n      model: {x2}\n      tilee: 64\nencode:\n  crf: 99\n",
    );
    let output = frameforge().arg("run").arg(&pipeline).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].ends_with(
            ":8:7: unknown field `tilee`, expected one of `model`, `tile`, `tile_overlap`, `tile_batch`, `scale`"
        ),
        "{stderr}"
    );
    assert!(
        lines[1].ends_with(":10:8: crf 99 is out of range for libx264 (expected 0..=51)"),
        "{stderr}"
    );
    assert!(!ws.path("out").exists(), "nothing may be written");
}

/// Every example pipeline in `pipelines/` loads, with its models, as the run would.
#[test]
fn every_shipped_pipeline_validates() {
    let expected = [
        ("caption-archive.yaml", "1 stage(s), scale ×1"),
        ("dv-captures.yaml", "2 stage(s), scale ×2"),
        ("film-scans.yaml", "6 stage(s), scale ×2"),
        ("interpolate-film.yaml", "2 stage(s), scale ×2"),
        ("photo-scans.yaml", "1 stage(s), scale ×4"),
        ("restore-and-caption.yaml", "3 stage(s), scale ×2"),
        ("restore-animation.yaml", "2 stage(s), scale ×2"),
        ("restore-film.yaml", "2 stage(s), scale ×2"),
        ("vhs-captures.yaml", "4 stage(s), scale ×2"),
        ("web-video.yaml", "2 stage(s), scale ×2"),
    ];
    let mut shipped: Vec<String> = std::fs::read_dir(root().join("pipelines"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    shipped.sort();
    let listed: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        shipped, listed,
        "a shipped pipeline without its expected summary"
    );
    for (name, summary) in expected {
        let relative = format!("pipelines/{name}");
        frameforge()
            .current_dir(root())
            .args(["validate", &relative])
            .assert()
            .success()
            .stdout(format!("{relative}: ok ({summary}, device cpu)\n"));
    }
}

#[test]
fn help_documents_the_exit_codes() {
    let output = frameforge().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    for line in [
        "0    every item",
        "1    finished, but some items failed",
        "2    usage or pipeline error",
    ] {
        assert!(text.contains(line), "{text}");
    }
    frameforge()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("frameforge {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_missing_onnx_runtime_is_a_clear_error_not_a_panic() {
    let ws = Workspace::new();
    let pipeline = ws.pipeline("stages:\n  - restore:\n      model: {x2}\n");
    let output = frameforge()
        .env("ORT_DYLIB_PATH", ws.path("nowhere/libonnxruntime.so"))
        .args(["validate"])
        .arg(&pipeline)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ORT_DYLIB_PATH=") && stderr.contains("does not exist"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// With the CPU build of ONNX Runtime (this machine's), asking for CUDA or TensorRT is a
/// configuration error at the model that names the library and how to get the GPU build.
#[test]
fn a_gpu_without_its_provider_is_a_clear_error() {
    let ws = Workspace::new();
    for (device, provider) in [("cuda:1", "CUDA"), ("tensorrt", "TensorRT")] {
        let pipeline = ws.pipeline(&format!(
            "device: {device}\nstages:\n  - restore:\n      model: {{x2}}\n"
        ));
        let stderr = util::refused_by_validate(&pipeline);
        let shown = if device == "tensorrt" {
            "tensorrt:0"
        } else {
            device
        };
        let (head, tail) = stderr
            .trim_end()
            .split_once(&format!(
                ": device {shown} is not available: the ONNX Runtime library "
            ))
            .unwrap_or_else(|| panic!("{stderr}"));
        assert!(head.ends_with(":8:14"), "{stderr}");
        assert!(
            tail.ends_with(&format!(
                "libonnxruntime.so.1.31.1 has no {provider} execution provider (on a machine with \
                 an NVIDIA driver, `bash tools/setup.sh` installs the GPU build, which the \
                 binary then uses)"
            )),
            "{stderr}"
        );
    }
}

/// `device: auto` quietly runs on the CPU when the build has no CUDA support.
#[test]
fn auto_device_runs_on_the_cpu_here() {
    let ws = Workspace::new();
    let pipeline = ws.pipeline("device: auto\nstages:\n  - restore:\n      model: {x2}\n");
    let output = frameforge()
        .arg("validate")
        .arg(&pipeline)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).ends_with("device cpu)\n"));
}

/// The shipped demonstration captioner's card says it cannot describe real photographs:
/// `validate` and `run` say so once, with where a real captioner comes from; the same
/// model without its card is not warned about.
#[test]
fn a_captioner_whose_card_rules_out_real_photographs_is_warned_about_once() {
    let ws = Workspace::new();
    ws.input(&[
        ("caption/stills/purple_star.png", "a.png"),
        ("caption/stills/bw_cross_star.png", "b.png"),
    ]);
    let shipped = root().join("models/captioner");
    let warning = format!(
        "WARN {}: this captioner's card (captioner.yaml) says it cannot describe real \
         photographs or film frames; for real captions bring a real model such as \
         vit-gpt2-image-captioning exported with optimum-cli (README.md, \"Bringing a real \
         captioner\")",
        shipped.display()
    );
    let pipeline = |folder: &std::path::Path| {
        ws.pipeline(&format!(
            "device: cpu\nstages:\n  - caption:\n      model: {}\n",
            folder.display()
        ))
    };
    let warnings = |stderr: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(stderr)
            .lines()
            .filter(|l| l.contains("WARN"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    let validate = frameforge()
        .args(["validate", pipeline(&shipped).to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(validate.status.code(), Some(0));
    assert_eq!(warnings(&validate.stderr), std::slice::from_ref(&warning));
    let run = ws.run(&pipeline(&shipped), &["--threads", "2"]);
    assert_eq!(warnings(run.stderr.as_bytes()), [warning]);

    let uncarded = ws.path("captioner");
    util::copy_captioner(&uncarded, &["captioner.yaml"]);
    let validate = frameforge()
        .args(["validate", pipeline(&uncarded).to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(validate.status.code(), Some(0));
    assert!(warnings(&validate.stderr).is_empty());
}

/// ffmpeg lists NVENC here, but without an NVIDIA driver it cannot start: one problem at
/// `encode.codec` that says what it needs, instead of the same failure for every file.
#[test]
fn nvenc_without_its_driver_is_refused_at_load() {
    if std::path::Path::new("/proc/driver/nvidia/version").exists() {
        // A machine with the driver may well have NVENC: nothing to refuse.
        return;
    }
    let ws = Workspace::new();
    let pipeline =
        ws.pipeline("stages:\n  - restore:\n      model: {x2}\nencode:\n  codec: hevc_nvenc\n");
    let stderr = util::refused_by_validate(&pipeline);
    assert!(
        stderr.trim_end().ends_with(
            ":9:10: hevc_nvenc cannot start on this machine (Cannot load libcuda.so.1): NVENC \
             needs an NVIDIA GPU with a video encoder and its driver's libcuda and \
             libnvidia-encode (data-centre GPUs of the A100/H100/H200 family have none); \
             libx264, libx265 or ffv1 encode on the CPU"
        ),
        "{stderr}"
    );
}

/// `input.decoder: nvdec` on a machine without NVIDIA's driver is one problem at its
/// line, with ffmpeg's reason and the way back to the CPU.
#[test]
fn nvdec_without_its_driver_is_refused_at_load() {
    if std::path::Path::new("/proc/driver/nvidia/version").exists() {
        return;
    }
    let ws = Workspace::new();
    let pipeline = ws.pipeline_with(
        "  decoder: nvdec\n",
        "out",
        "stages:\n  - restore:\n      model: {x2}\n",
    );
    let stderr = util::refused_by_validate(&pipeline);
    assert!(
        stderr.trim_end().ends_with(
            ":3:12: NVDEC cannot start on this machine (Cannot load libnvcuvid.so.1; Failed \
             loading nvcuvid): it needs an NVIDIA GPU and its driver's libcuda and \
             libnvcuvid; `decoder: software` decodes on the CPU"
        ),
        "{stderr}"
    );
}
