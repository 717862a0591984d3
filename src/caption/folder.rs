//! Finding the files of a captioning model folder in the layout that Hugging Face
//! Optimum and transformers.js publish: JSON configuration at the top, ONNX graphs at the
//! top or under `onnx/`, with an optional variant suffix (`_fp16`, `_quantized`…).

use std::path::{Path, PathBuf};

use super::CaptionModelError;
// The decoder's layouts are the ONNX side's to open; finding their files is this module's.
pub use crate::model::caption_graphs::DecoderFiles;

/// The files of a captioning model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    pub folder: PathBuf,
    pub encoder: PathBuf,
    pub decoder: DecoderFiles,
    pub tokenizer: PathBuf,
    pub config: PathBuf,
    pub generation_config: Option<PathBuf>,
    pub preprocessor_config: PathBuf,
}

/// Locates the files of `folder` for `variant` (`""` for the plain float export).
///
/// When both decoder forms are present the with-past graph of the split pair is chosen
/// (on the CPU it runs faster than the merged graph's `If` node, see BENCHMARKS.md); it
/// does every step, so the pair's `decoder_model.onnx` need not be there.
///
/// # Errors
/// The folder or a required file is missing; the message names what was looked for.
pub fn locate(folder: &Path, variant: &str) -> Result<ModelFiles, CaptionModelError> {
    if !folder.is_dir() {
        return Err(CaptionModelError::file(
            folder,
            "captioning model folder not found",
        ));
    }
    let graph = |stem: &str| -> Option<PathBuf> {
        let name = format!("{stem}{variant}.onnx");
        [folder.join(&name), folder.join("onnx").join(&name)]
            .into_iter()
            .find(|p| p.is_file())
    };
    let required = |name: &str| -> Result<PathBuf, CaptionModelError> {
        let path = folder.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(CaptionModelError::file(
                &path,
                format!("missing (a captioning model folder needs {name})"),
            ))
        }
    };
    let encoder = graph("encoder_model").ok_or_else(|| {
        CaptionModelError::file(
            folder,
            format!("no encoder_model{variant}.onnx (looked in the folder and in onnx/)"),
        )
    })?;
    let decoder = match (
        graph("decoder_model"),
        graph("decoder_with_past_model"),
        graph("decoder_model_merged"),
    ) {
        (_, Some(with_past), _) => DecoderFiles::WithPast(with_past),
        (_, _, Some(merged)) => DecoderFiles::Merged(merged),
        (Some(first), None, None) => DecoderFiles::NoCache(first),
        _ => {
            return Err(CaptionModelError::file(
                folder,
                format!(
                    "no decoder_model_merged{variant}.onnx or decoder_model{variant}.onnx \
                     (looked in the folder and in onnx/)"
                ),
            ))
        }
    };
    let generation_config = Some(folder.join("generation_config.json")).filter(|p| p.is_file());
    Ok(ModelFiles {
        folder: folder.to_path_buf(),
        encoder,
        decoder,
        tokenizer: required("tokenizer.json")?,
        config: required("config.json")?,
        generation_config,
        preprocessor_config: required("preprocessor_config.json")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"{}").unwrap();
    }

    fn folder(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            touch(dir.path(), f);
        }
        dir
    }

    const JSON: [&str; 3] = ["tokenizer.json", "config.json", "preprocessor_config.json"];

    #[test]
    fn split_pair_is_preferred_over_merged() {
        let mut files = vec![
            "encoder_model.onnx",
            "decoder_model.onnx",
            "decoder_with_past_model.onnx",
            "decoder_model_merged.onnx",
        ];
        files.extend(JSON);
        let dir = folder(&files);
        let found = locate(dir.path(), "").unwrap();
        assert!(matches!(found.decoder, DecoderFiles::WithPast(_)));
        // Without the first-step graph the with-past one still does every step.
        std::fs::remove_file(dir.path().join("decoder_model.onnx")).unwrap();
        let found = locate(dir.path(), "").unwrap();
        assert_eq!(
            found.decoder,
            DecoderFiles::WithPast(dir.path().join("decoder_with_past_model.onnx"))
        );
    }

    #[test]
    fn transformers_js_layout_with_a_variant() {
        let mut files = vec![
            "onnx/encoder_model_quantized.onnx",
            "onnx/decoder_model_merged_quantized.onnx",
        ];
        files.extend(JSON);
        let dir = folder(&files);
        let found = locate(dir.path(), "_quantized").unwrap();
        assert_eq!(
            found.encoder,
            dir.path().join("onnx/encoder_model_quantized.onnx")
        );
        assert_eq!(
            found.decoder,
            DecoderFiles::Merged(dir.path().join("onnx/decoder_model_merged_quantized.onnx"))
        );
    }

    #[test]
    fn missing_files_are_named() {
        let dir = folder(&[
            "encoder_model.onnx",
            "decoder_model_merged.onnx",
            "config.json",
            "preprocessor_config.json",
        ]);
        let err = locate(dir.path(), "").unwrap_err().to_string();
        assert!(
            err.ends_with(
                "tokenizer.json: missing (a captioning model folder needs tokenizer.json)"
            ),
            "{err}"
        );
        let dir = folder(&JSON);
        let err = locate(dir.path(), "").unwrap_err().to_string();
        assert!(
            err.ends_with(": no encoder_model.onnx (looked in the folder and in onnx/)"),
            "{err}"
        );
    }
}
