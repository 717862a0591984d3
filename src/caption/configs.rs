//! The JSON configuration files of a captioning model folder, read the way transformers
//! reads them: `preprocessor_config.json` (how pixels are prepared),
//! `generation_config.json` and `config.json` (token ids and decoding defaults).

use std::path::Path;

use serde::Deserialize;

use super::CaptionModelError;
use crate::model::caption_graphs::CacheGeometry;

/// Resampling filters by PIL's numbering, as `preprocessor_config.json` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    Nearest,
    Bilinear,
    Bicubic,
}

/// How an image becomes the encoder's `pixel_values`.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    pub resize: Option<(u32, u32)>,
    pub resample: Resample,
    pub rescale: Option<f32>,
    pub normalize: Option<([f32; 3], [f32; 3])>,
}

/// Token ids and decoding defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub decoder_start_token_id: i64,
    pub eos_token_ids: Vec<i64>,
    pub pad_token_id: i64,
    /// Total length including the start token, as transformers counts it.
    pub max_length: usize,
    pub num_beams: usize,
    pub no_repeat_ngram_size: usize,
    pub length_penalty: f32,
    pub early_stopping: EarlyStopping,
}

/// transformers' `early_stopping`: `true`, `false` or `"never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyStopping {
    Yes,
    No,
    Never,
}

#[derive(Debug, Deserialize)]
struct RawPreprocessor {
    #[serde(default = "yes")]
    do_resize: bool,
    size: Option<serde_json::Value>,
    #[serde(default = "bilinear")]
    resample: u32,
    #[serde(default = "yes")]
    do_rescale: bool,
    #[serde(default = "one_over_255")]
    rescale_factor: f32,
    #[serde(default = "yes")]
    do_normalize: bool,
    image_mean: Option<Vec<f32>>,
    image_std: Option<Vec<f32>>,
}

fn yes() -> bool {
    true
}
fn bilinear() -> u32 {
    2
}
fn one_over_255() -> f32 {
    1.0 / 255.0
}

/// One id or a list of ids (transformers allows both for `eos_token_id`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Ids {
    One(i64),
    Many(Vec<i64>),
}

#[derive(Debug, Default, Deserialize)]
struct RawGeneration {
    decoder_start_token_id: Option<i64>,
    bos_token_id: Option<i64>,
    eos_token_id: Option<Ids>,
    pad_token_id: Option<i64>,
    max_length: Option<usize>,
    max_new_tokens: Option<usize>,
    num_beams: Option<usize>,
    no_repeat_ngram_size: Option<usize>,
    length_penalty: Option<f32>,
    early_stopping: Option<serde_json::Value>,
    decoder: Option<Box<RawGeneration>>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, CaptionModelError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| CaptionModelError::file(path, e.to_string()))?;
    serde_json::from_str(&text)
        .map_err(|e| CaptionModelError::file(path, format!("invalid JSON: {e}")))
}

/// Reads `preprocessor_config.json`.
///
/// # Errors
/// The file is missing, not JSON, or names an unsupported resampling filter.
pub fn read_preprocess(path: &Path) -> Result<Preprocess, CaptionModelError> {
    let raw: RawPreprocessor = read_json(path)?;
    let resample = match raw.resample {
        0 => Resample::Nearest,
        2 => Resample::Bilinear,
        3 => Resample::Bicubic,
        other => {
            return Err(CaptionModelError::file(
                path,
                format!(
                "resample {other} is not supported (expected 0 nearest, 2 bilinear or 3 bicubic)"
            ),
            ))
        }
    };
    let resize = if raw.do_resize {
        Some(size_of(raw.size.as_ref()).ok_or_else(|| {
            CaptionModelError::file(
                path,
                "do_resize is set but `size` has no height/width".to_string(),
            )
        })?)
    } else {
        None
    };
    let normalize = if raw.do_normalize {
        let three = |v: Option<Vec<f32>>, default: f32| -> Result<[f32; 3], CaptionModelError> {
            match v.as_deref() {
                None => Ok([default; 3]),
                Some([a, b, c]) => Ok([*a, *b, *c]),
                Some([a]) => Ok([*a; 3]),
                Some(other) => Err(CaptionModelError::file(
                    path,
                    format!("image_mean/image_std need 3 values, found {}", other.len()),
                )),
            }
        };
        Some((three(raw.image_mean, 0.5)?, three(raw.image_std, 0.5)?))
    } else {
        None
    };
    Ok(Preprocess {
        resize,
        resample,
        rescale: raw.do_rescale.then_some(raw.rescale_factor),
        normalize,
    })
}

/// `size` is `{"height": h, "width": w}`, `{"shortest_edge": s}` or a bare number.
fn size_of(size: Option<&serde_json::Value>) -> Option<(u32, u32)> {
    let size = size?;
    if let Some(n) = size.as_u64() {
        let n = u32::try_from(n).ok()?;
        return Some((n, n));
    }
    let h = size.get("height").and_then(serde_json::Value::as_u64);
    let w = size.get("width").and_then(serde_json::Value::as_u64);
    match (h, w) {
        (Some(h), Some(w)) => Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?)),
        _ => None,
    }
}

/// transformers' `GenerationConfig().max_length`.
const DEFAULT_MAX_LENGTH: usize = 20;
/// Tokens a caption starts with before generation: the decoder start token.
const PROMPT_TOKENS: usize = 1;

/// Reads `generation_config.json`, falling back to `config.json` (and its `decoder`
/// part) for what it does not say.
///
/// # Errors
/// A file is unreadable, or no start or end token id is given anywhere.
pub fn read_generation(
    generation: Option<&Path>,
    config: &Path,
) -> Result<Generation, CaptionModelError> {
    let primary: RawGeneration = match generation {
        Some(path) => read_json(path)?,
        None => RawGeneration::default(),
    };
    let model: RawGeneration = read_json(config)?;
    let decoder = model.decoder.as_deref();
    let pick = |f: &dyn Fn(&RawGeneration) -> Option<i64>| {
        f(&primary)
            .or_else(|| f(&model))
            .or_else(|| decoder.and_then(f))
    };
    let start = pick(&|g| g.decoder_start_token_id)
        .or_else(|| pick(&|g| g.bos_token_id))
        .ok_or_else(|| {
            CaptionModelError::file(
                config,
                "no decoder_start_token_id or bos_token_id".to_string(),
            )
        })?;
    let eos = primary
        .eos_token_id
        .as_ref()
        .or(model.eos_token_id.as_ref())
        .or_else(|| decoder.and_then(|d| d.eos_token_id.as_ref()))
        .map(|ids| match ids {
            Ids::One(id) => vec![*id],
            Ids::Many(ids) => ids.clone(),
        })
        .unwrap_or_default();
    // An empty list is as good as none: nothing could end a caption.
    let Some(&first_eos) = eos.first() else {
        return Err(CaptionModelError::file(
            config,
            "no eos_token_id".to_string(),
        ));
    };
    let pad = pick(&|g| g.pad_token_id).unwrap_or(first_eos);
    let max_length = match primary.max_new_tokens {
        Some(new_tokens) => new_tokens + PROMPT_TOKENS,
        None => match primary.max_length.or(model.max_length) {
            // generate() takes its own default length, set or not, as a number of new
            // tokens, so the start token comes on top.
            None | Some(DEFAULT_MAX_LENGTH) => DEFAULT_MAX_LENGTH + PROMPT_TOKENS,
            Some(length) => length,
        },
    };
    let early_stopping = match primary
        .early_stopping
        .as_ref()
        .or(model.early_stopping.as_ref())
    {
        Some(serde_json::Value::Bool(true)) => EarlyStopping::Yes,
        Some(serde_json::Value::String(s)) if s == "never" => EarlyStopping::Never,
        _ => EarlyStopping::No,
    };
    Ok(Generation {
        decoder_start_token_id: start,
        eos_token_ids: eos,
        pad_token_id: pad,
        max_length,
        num_beams: primary.num_beams.or(model.num_beams).unwrap_or(1).max(1),
        no_repeat_ngram_size: primary
            .no_repeat_ngram_size
            .or(model.no_repeat_ngram_size)
            .unwrap_or(0),
        length_penalty: primary
            .length_penalty
            .or(model.length_penalty)
            .unwrap_or(1.0),
        early_stopping,
    })
}

/// Reads the decoder's heads and head size from `config.json` (its `decoder` part if it
/// has one), for graphs whose cache inputs do not fix them.
///
/// # Errors
/// The file is unreadable, or names neither `n_head`/`num_attention_heads` nor
/// `n_embd`/`hidden_size`.
pub fn read_cache_geometry(config: &Path) -> Result<CacheGeometry, CaptionModelError> {
    let json: serde_json::Value = read_json(config)?;
    let decoder = json.get("decoder").unwrap_or(&json);
    let number = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| decoder.get(*k).and_then(serde_json::Value::as_u64))
    };
    match (
        number(&["n_head", "num_attention_heads"]),
        number(&["n_embd", "hidden_size"]),
    ) {
        (Some(heads), Some(width)) if heads > 0 => Ok(CacheGeometry {
            heads: heads as usize,
            head_dim: (width / heads) as usize,
        }),
        _ => Err(CaptionModelError::file(
            config,
            "cannot tell the decoder's heads and head size (no n_head/n_embd)".to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn vit_preprocessor_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "p.json",
            r#"{"do_resize": true, "size": {"height": 224, "width": 224}, "resample": 2,
                "do_rescale": true, "rescale_factor": 0.00392156862745098,
                "do_normalize": true, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}"#,
        );
        let pre = read_preprocess(&p).unwrap();
        assert_eq!(pre.resize, Some((224, 224)));
        assert_eq!(pre.resample, Resample::Bilinear);
        assert_eq!(pre.normalize, Some(([0.5; 3], [0.5; 3])));
    }

    /// The older feature-extractor form that `nlpconnect/vit-gpt2-image-captioning` ships:
    /// an integer `size` and no rescale keys, which transformers reads as a 1/255
    /// rescale; token ids only in `config.json`.
    #[test]
    fn legacy_vit_feature_extractor_and_config_only_ids_are_read_like_transformers() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "p.json",
            r#"{"do_normalize": true, "do_resize": true,
                "feature_extractor_type": "ViTFeatureExtractor",
                "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
                "resample": 2, "size": 224}"#,
        );
        let pre = read_preprocess(&p).unwrap();
        assert_eq!(pre.resize, Some((224, 224)));
        assert_eq!(pre.resample, Resample::Bilinear);
        assert_eq!(pre.rescale, Some(1.0 / 255.0));
        assert_eq!(pre.normalize, Some(([0.5; 3], [0.5; 3])));
        let c = write(
            dir.path(),
            "c.json",
            r#"{"architectures": ["VisionEncoderDecoderModel"],
                "decoder_start_token_id": 50256, "eos_token_id": 50256, "pad_token_id": 50256,
                "decoder": {"model_type": "gpt2", "bos_token_id": 50256, "eos_token_id": 50256,
                            "n_head": 12, "n_embd": 768},
                "encoder": {"model_type": "vit", "image_size": 224}}"#,
        );
        let gen = read_generation(None, &c).unwrap();
        assert_eq!(
            (
                gen.decoder_start_token_id,
                gen.eos_token_ids.clone(),
                gen.pad_token_id
            ),
            (50256, vec![50256], 50256)
        );
        // With no length set, generate() makes 20 new tokens after the start token.
        assert_eq!(gen.max_length, 21);
    }

    #[test]
    fn generation_falls_back_to_the_model_config() {
        let dir = tempfile::tempdir().unwrap();
        let g = write(
            dir.path(),
            "g.json",
            r#"{"max_length": 16, "num_beams": 3}"#,
        );
        let c = write(
            dir.path(),
            "c.json",
            r#"{"decoder_start_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
                "decoder": {"no_repeat_ngram_size": 3}}"#,
        );
        let gen = read_generation(Some(&g), &c).unwrap();
        assert_eq!(
            (
                gen.decoder_start_token_id,
                gen.eos_token_ids.clone(),
                gen.pad_token_id,
                gen.max_length,
                gen.num_beams
            ),
            (1, vec![2], 0, 16, 3)
        );
    }

    /// generate() reads a length of exactly its default (20) as 20 new tokens, whether
    /// a file says so or not (transformers' `_prepare_generated_length`); any other
    /// length counts the start token.
    #[test]
    fn a_length_of_twenty_is_twenty_new_tokens_as_generate_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let c = write(
            dir.path(),
            "c.json",
            r#"{"decoder_start_token_id": 1, "eos_token_id": 2}"#,
        );
        let length = |text: &str| {
            let g = write(dir.path(), "g.json", text);
            read_generation(Some(&g), &c).unwrap().max_length
        };
        assert_eq!(length(r#"{"max_length": 20}"#), 21);
        assert_eq!(length(r#"{"max_length": 19}"#), 19);
        assert_eq!(length(r#"{"max_new_tokens": 20}"#), 21);
    }

    #[test]
    fn an_empty_eos_token_list_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let c = write(
            dir.path(),
            "config.json",
            r#"{"decoder_start_token_id": 1, "eos_token_id": []}"#,
        );
        let err = read_generation(None, &c).unwrap_err().to_string();
        assert!(err.ends_with("config.json: no eos_token_id"), "{err}");
    }

    #[test]
    fn cache_geometry_comes_from_the_decoder_part_of_config_json() {
        let dir = tempfile::tempdir().unwrap();
        let c = write(
            dir.path(),
            "config.json",
            r#"{"hidden_size": 1, "decoder": {"n_head": 12, "n_embd": 768}}"#,
        );
        assert_eq!(
            read_cache_geometry(&c).unwrap(),
            CacheGeometry {
                heads: 12,
                head_dim: 64
            }
        );
        let c = write(dir.path(), "config.json", r#"{"num_attention_heads": 4}"#);
        let err = read_cache_geometry(&c).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "config.json: cannot tell the decoder's heads and head size (no n_head/n_embd)"
            ),
            "{err}"
        );
    }

    #[test]
    fn missing_start_token_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = write(dir.path(), "config.json", r#"{"eos_token_id": 2}"#);
        let err = read_generation(None, &c).unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("decoder_start_token_id"),
            "{err}"
        );
    }
}
