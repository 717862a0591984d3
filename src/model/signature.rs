//! What a restoration model's ONNX signature says, read once at load: which input takes
//! the frame and which output gives it back, their element types (float32 or float16),
//! which of N, C, H, W are fixed, the channel count, and the inputs that get a constant
//! from the sidecar (a noise level, say). Everything a model cannot be fed is refused
//! here with the tensor and the reason, before any frame is decoded.

use std::collections::BTreeMap;

use ort::value::{TensorElementType, ValueType};

/// The element type of a model's image tensors; frames are converted at the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    Float32,
    Float16,
}

impl Element {
    /// The ONNX name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Self::Float32 => "float32",
            Self::Float16 => "float16",
        }
    }
}

/// A tensor of the model as ONNX Runtime describes it: a name, and either an element
/// type with dimensions (-1 where free) or what it is instead of a tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct PortInfo {
    pub name: String,
    pub tensor: Result<(TensorElementType, Vec<i64>), String>,
}

impl PortInfo {
    /// Describes one input or output of a loaded session.
    pub fn from_value_type(name: &str, value: &ValueType) -> Self {
        let tensor = match value {
            ValueType::Tensor { ty, shape, .. } => Ok((*ty, shape.iter().copied().collect())),
            ValueType::Sequence(_) => Err("a sequence".to_string()),
            ValueType::Map { .. } => Err("a map".to_string()),
            ValueType::Optional(_) => Err("an optional value".to_string()),
        };
        Self {
            name: name.to_string(),
            tensor,
        }
    }

    /// `float32 [1,3,?,?]`, as messages show it.
    pub fn describe(&self) -> String {
        match &self.tensor {
            Ok((ty, dims)) => format!("{} {}", element_name(*ty), format_dims(dims)),
            Err(what) => what.clone(),
        }
    }
}

/// One image tensor (the frame going in or coming out) in NCHW layout; `None` where the
/// dimension is free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePort {
    pub name: String,
    pub element: Element,
    pub batch: Option<u32>,
    pub channels: Option<u32>,
    pub height: Option<u32>,
    pub width: Option<u32>,
}

/// An input filled with one value everywhere; free dimensions follow the frame tensor
/// (N, H, W of a rank-4 input) or are 1.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantInput {
    pub name: String,
    pub element: Element,
    pub dims: Vec<Option<u32>>,
    pub value: f32,
}

/// The model's signature as FrameForge uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub input: ImagePort,
    pub output: ImagePort,
    /// Channels of the frame tensors: 1 (gray), 3 (RGB) or 4 (RGBA).
    pub channels: u32,
    pub constants: Vec<ConstantInput>,
}

/// What the sidecar says about the signature.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignatureHints<'a> {
    pub input: Option<&'a str>,
    pub output: Option<&'a str>,
    pub constants: Option<&'a BTreeMap<String, f32>>,
}

const IMAGE_FORM: &str = "float32 or float16 [N,C,H,W] with C = 1, 3 or 4";

/// Reads the signature from the model's inputs and outputs.
///
/// # Errors
/// A description of the first thing FrameForge cannot feed or read, naming the tensor.
pub fn read_signature(
    inputs: &[PortInfo],
    outputs: &[PortInfo],
    hints: SignatureHints<'_>,
) -> Result<Signature, String> {
    let empty = BTreeMap::new();
    let constants = hints.constants.unwrap_or(&empty);
    check_constants_exist(inputs, constants)?;
    let image = pick_image_input(inputs, hints.input, constants)?;
    let input = image_port(image, "input")?;
    let output_info = pick_output(outputs, hints.output)?;
    let output = image_port(output_info, "output")?;
    let channels = match (input.channels, output.channels) {
        (Some(i), Some(o)) if i != o => {
            return Err(format!(
                "output `{}` has {o} channels but input `{}` has {i}: a restoration model \
                 must give back the channels it takes",
                output.name, input.name
            ))
        }
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => 3,
    };
    if let (Some(i), Some(o)) = (input.batch, output.batch) {
        if i != o {
            return Err(format!(
                "output `{}` has batch {o} but input `{}` has batch {i}",
                output.name, input.name
            ));
        }
    }
    let constants = inputs
        .iter()
        .filter(|info| info.name != input.name)
        .map(|info| constant_input(info, constants, &input.name))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Signature {
        input,
        output,
        channels,
        constants,
    })
}

fn check_constants_exist(
    inputs: &[PortInfo],
    constants: &BTreeMap<String, f32>,
) -> Result<(), String> {
    for name in constants.keys() {
        if !inputs.iter().any(|info| &info.name == name) {
            return Err(format!(
                "the sidecar gives a constant for `{name}`, which is not an input of the \
                 model (inputs: {})",
                names(inputs)
            ));
        }
    }
    Ok(())
}

/// The input that takes the frame: the one the sidecar names, else the first that is
/// not a constant and looks like an image, else the first that is not a constant (so
/// that its error is the one shown).
fn pick_image_input<'a>(
    inputs: &'a [PortInfo],
    named: Option<&str>,
    constants: &BTreeMap<String, f32>,
) -> Result<&'a PortInfo, String> {
    if let Some(name) = named {
        return inputs.iter().find(|info| info.name == name).ok_or_else(|| {
            format!(
                "the sidecar names input `{name}`, but the model's inputs are {}",
                names(inputs)
            )
        });
    }
    let free: Vec<&PortInfo> = inputs
        .iter()
        .filter(|info| !constants.contains_key(&info.name))
        .collect();
    if inputs.is_empty() {
        return Err("has no inputs".into());
    }
    free.iter()
        .find(|info| image_port(info, "input").is_ok())
        .or_else(|| free.first())
        .copied()
        .ok_or_else(|| {
            format!(
                "every input ({}) has a constant in the sidecar; one must take the frame",
                names(inputs)
            )
        })
}

fn pick_output<'a>(outputs: &'a [PortInfo], named: Option<&str>) -> Result<&'a PortInfo, String> {
    match named {
        Some(name) => outputs
            .iter()
            .find(|info| info.name == name)
            .ok_or_else(|| {
                format!(
                    "the sidecar names output `{name}`, but the model's outputs are {}",
                    names(outputs)
                )
            }),
        None => outputs.first().ok_or_else(|| "has no outputs".to_string()),
    }
}

/// Reads an NCHW image tensor, or says why it is not one.
fn image_port(info: &PortInfo, role: &str) -> Result<ImagePort, String> {
    let refuse = || {
        format!(
            "{role} `{}` is {}: the image {role} must be {IMAGE_FORM}",
            info.name,
            info.describe()
        )
    };
    let (ty, dims) = info.tensor.as_ref().map_err(|_| refuse())?;
    let element = element_of(*ty).ok_or_else(refuse)?;
    if dims.len() != 4 {
        return Err(refuse());
    }
    let dim = |d: i64| u32::try_from(d).ok().filter(|d| *d > 0);
    let channels = dim(dims[1]);
    if channels.is_some_and(|c| !matches!(c, 1 | 3 | 4)) {
        return Err(refuse());
    }
    Ok(ImagePort {
        name: info.name.clone(),
        element,
        batch: dim(dims[0]),
        channels,
        height: dim(dims[2]),
        width: dim(dims[3]),
    })
}

fn constant_input(
    info: &PortInfo,
    constants: &BTreeMap<String, f32>,
    image: &str,
) -> Result<ConstantInput, String> {
    let Some(value) = constants.get(&info.name) else {
        return Err(format!(
            "input `{}` ({}) has no value: FrameForge feeds the frame to `{image}` and can \
             fill another input only with a constant from the model's sidecar \
             (`constants: {{{}: VALUE}}`, e.g. a noise level)",
            info.name,
            info.describe(),
            info.name
        ));
    };
    let refuse = || {
        format!(
            "input `{}` is {}: a constant input must be float32 or float16",
            info.name,
            info.describe()
        )
    };
    let (ty, dims) = info.tensor.as_ref().map_err(|_| refuse())?;
    let element = element_of(*ty).ok_or_else(refuse)?;
    Ok(ConstantInput {
        name: info.name.clone(),
        element,
        dims: dims
            .iter()
            .map(|d| u32::try_from(*d).ok().filter(|d| *d > 0))
            .collect(),
        value: *value,
    })
}

fn element_of(ty: TensorElementType) -> Option<Element> {
    match ty {
        TensorElementType::Float32 => Some(Element::Float32),
        TensorElementType::Float16 => Some(Element::Float16),
        _ => None,
    }
}

fn names(ports: &[PortInfo]) -> String {
    let listed: Vec<String> = ports.iter().map(|p| format!("`{}`", p.name)).collect();
    if listed.is_empty() {
        "none".into()
    } else {
        listed.join(", ")
    }
}

fn element_name(ty: TensorElementType) -> String {
    match ty {
        TensorElementType::Float32 => "float32".into(),
        TensorElementType::Float16 => "float16".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// `[1,3,?,?]`: free dimensions as `?`.
pub fn format_dims(dims: &[i64]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| {
            if *d < 0 {
                "?".to_string()
            } else {
                d.to_string()
            }
        })
        .collect();
    format!("[{}]", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(name: &str, ty: TensorElementType, dims: &[i64]) -> PortInfo {
        PortInfo {
            name: name.into(),
            tensor: Ok((ty, dims.to_vec())),
        }
    }

    const F32: TensorElementType = TensorElementType::Float32;
    const F16: TensorElementType = TensorElementType::Float16;

    #[test]
    fn a_float16_model_with_fixed_shapes_is_read_as_it_is() {
        let signature = read_signature(
            &[port("x", F16, &[1, 3, 64, 64])],
            &[port("y", F16, &[1, 3, 128, 128])],
            SignatureHints::default(),
        )
        .unwrap();
        assert_eq!(signature.input.element, Element::Float16);
        assert_eq!(signature.input.height, Some(64));
        assert_eq!(signature.output.width, Some(128));
        assert_eq!(signature.channels, 3);
    }

    #[test]
    fn free_channels_mean_rgb_and_gray_models_keep_one_channel() {
        let rgb = read_signature(
            &[port("x", F32, &[-1, -1, -1, -1])],
            &[port("y", F32, &[-1, -1, -1, -1])],
            SignatureHints::default(),
        )
        .unwrap();
        assert_eq!(rgb.channels, 3);
        let gray = read_signature(
            &[port("x", F32, &[1, 1, -1, -1])],
            &[port("y", F32, &[1, -1, -1, -1])],
            SignatureHints::default(),
        )
        .unwrap();
        assert_eq!(gray.channels, 1);
    }

    #[test]
    fn a_second_input_without_a_constant_is_refused_by_name() {
        let error = read_signature(
            &[
                port("input", F32, &[1, 3, -1, -1]),
                port("sigma", F32, &[1, 1, -1, -1]),
            ],
            &[port("output", F32, &[1, 3, -1, -1])],
            SignatureHints::default(),
        )
        .unwrap_err();
        assert_eq!(
            error,
            "input `sigma` (float32 [1,1,?,?]) has no value: FrameForge feeds the frame to \
             `input` and can fill another input only with a constant from the model's \
             sidecar (`constants: {sigma: VALUE}`, e.g. a noise level)"
        );
    }

    #[test]
    fn a_second_input_with_a_constant_is_filled() {
        let constants = BTreeMap::from([("sigma".to_string(), 0.1)]);
        let signature = read_signature(
            &[
                port("sigma", F32, &[1, 1, -1, -1]),
                port("input", F32, &[1, 3, -1, -1]),
            ],
            &[port("output", F32, &[1, 3, -1, -1])],
            SignatureHints {
                constants: Some(&constants),
                ..SignatureHints::default()
            },
        )
        .unwrap();
        assert_eq!(signature.input.name, "input");
        assert_eq!(
            signature.constants[0].dims,
            vec![Some(1), Some(1), None, None]
        );
    }

    #[test]
    fn channels_that_change_are_refused() {
        let error = read_signature(
            &[port("x", F32, &[1, 1, -1, -1])],
            &[port("y", F32, &[1, 3, -1, -1])],
            SignatureHints::default(),
        )
        .unwrap_err();
        assert!(
            error.starts_with("output `y` has 3 channels but input `x` has 1"),
            "{error}"
        );
    }

    #[test]
    fn a_non_image_input_is_refused_with_what_it_is() {
        let error = read_signature(
            &[port("v", F32, &[-1, 16])],
            &[port("w", F32, &[-1, 16])],
            SignatureHints::default(),
        )
        .unwrap_err();
        assert_eq!(
            error,
            "input `v` is float32 [?,16]: the image input must be float32 or float16 \
             [N,C,H,W] with C = 1, 3 or 4"
        );
    }
}
