//! What an encoder-decoder captioner's graphs must have, checked on the ONNX files' own
//! signatures (read by `onnx_file` in milliseconds, before any session is built): image
//! pixels into the encoder; token ids and encoder states into the decoder, logits out,
//! each cached tensor fed back from its `present.*` output; the merged graph's switch.

use super::caption_graphs::{CacheGeometry, CachePair, CaptionGraphError};
use super::onnx_file::{element_name, Dim, OnnxFile, Port};

/// ONNX element types used here.
const FLOAT32: i32 = 1;
const INT64: i32 = 7;

/// The decoder input that carries the encoder's output.
pub const ENCODER_STATES: &str = "encoder_hidden_states";

/// Checks the encoder's input and returns the name of its output.
///
/// # Errors
/// No float `pixel_values` input of rank 4, or no output.
pub fn check_encoder(file: &OnnxFile) -> Result<String, CaptionGraphError> {
    expect_input(file, "pixel_values", FLOAT32, 4)?;
    file.outputs
        .first()
        .map(|o| o.name.clone())
        .ok_or_else(|| CaptionGraphError::file(&file.path, "has no outputs"))
}

/// Checks what every decoder form needs: token ids and encoder states in, logits out.
///
/// # Errors
/// An input or output is missing or of another type or rank.
pub fn check_decoder(file: &OnnxFile) -> Result<(), CaptionGraphError> {
    expect_input(file, "input_ids", INT64, 2)?;
    expect_input(file, ENCODER_STATES, FLOAT32, 3)?;
    expect_output(file, "logits")
}

/// Checks the merged decoder's `use_cache_branch` switch.
///
/// # Errors
/// The graph has no such input.
pub fn check_merged(file: &OnnxFile) -> Result<(), CaptionGraphError> {
    if file.input("use_cache_branch").is_some() {
        return Ok(());
    }
    Err(CaptionGraphError::file(
        &file.path,
        format!(
            "expected input `use_cache_branch` (bool [1]) in a merged decoder, found inputs: {}",
            names(&file.inputs)
        ),
    ))
}

/// Pairs each `past_key_values.*` input with its `present.*` output.
///
/// # Errors
/// A cached input has no matching output.
pub fn cache_pairs(file: &OnnxFile) -> Result<Vec<CachePair>, CaptionGraphError> {
    let mut pairs = Vec::new();
    for input in &file.inputs {
        if let Some(rest) = input.name.strip_prefix("past_key_values.") {
            let present = format!("present.{rest}");
            if !file.outputs.iter().any(|o| o.name == present) {
                return Err(CaptionGraphError::file(
                    &file.path,
                    format!("input `{}` has no matching output `{present}`", input.name),
                ));
            }
            pairs.push(CachePair {
                past: input.name.clone(),
                present,
            });
        }
    }
    Ok(pairs)
}

/// Heads and head size of the cache tensors, when their input shapes fix them.
pub fn geometry_from_shapes(file: &OnnxFile) -> Option<CacheGeometry> {
    let past = file
        .inputs
        .iter()
        .find(|i| i.name.starts_with("past_key_values."))?;
    match past.shape.as_deref()? {
        [_, Dim::Fixed(h), _, Dim::Fixed(d)] if *h > 0 && *d > 0 => Some(CacheGeometry {
            heads: *h as usize,
            head_dim: *d as usize,
        }),
        _ => None,
    }
}

fn names(ports: &[Port]) -> String {
    ports
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn expect_input(
    file: &OnnxFile,
    name: &str,
    element: i32,
    rank: usize,
) -> Result<(), CaptionGraphError> {
    let described = format!("{} [rank {rank}]", element_name(element));
    let error = |message: String| Err(CaptionGraphError::file(&file.path, message));
    match file.input(name) {
        None => error(format!(
            "expected input `{name}` ({described}), found inputs: {}",
            names(&file.inputs)
        )),
        Some(Port {
            element: Some(found),
            shape: Some(shape),
            ..
        }) if *found == element && shape.len() == rank => Ok(()),
        Some(Port {
            element: Some(found),
            shape,
            ..
        }) => error(format!(
            "expected input `{name}` to be {described}, found {} [rank {}]",
            element_name(*found),
            shape
                .as_ref()
                .map_or_else(|| "unknown".into(), |s| s.len().to_string())
        )),
        Some(_) => error(format!(
            "expected input `{name}` to be a tensor ({described})"
        )),
    }
}

fn expect_output(file: &OnnxFile, name: &str) -> Result<(), CaptionGraphError> {
    if file.outputs.iter().any(|o| o.name == name) {
        return Ok(());
    }
    Err(CaptionGraphError::file(
        &file.path,
        format!(
            "expected output `{name}`, found outputs: {}",
            names(&file.outputs)
        ),
    ))
}
