//! An image-to-image restoration model: one ONNX Runtime session whose input is NCHW
//! float RGB and whose output is the same image scaled by an integer factor.

use std::path::{Path, PathBuf};

use ndarray::{Array4, ArrayView4, Ix4};
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use super::runtime::Device;
use super::session::{open_session, SessionConfig, SessionError};
use super::sidecar::{read_sidecar, RestoreSidecar, SidecarError};

/// Side of the blank image used to find the scale of a model without a sidecar.
const PROBE_SIDE: usize = 16;

/// Errors of a restoration model.
#[derive(Debug, thiserror::Error)]
pub enum RestoreModelError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Sidecar(#[from] SidecarError),
    #[error("model {path}: {problem}")]
    Interface { path: String, problem: String },
    #[error("model {path}: inference failed: {message}")]
    Run { path: String, message: String },
}

/// A loaded restoration model.
pub struct RestoreModel {
    path: PathBuf,
    session: Session,
    input_name: String,
    output_name: String,
    scale: u32,
    device: Device,
    sidecar: RestoreSidecar,
}

impl RestoreModel {
    /// Loads the model, checks its inputs and outputs and finds its scale (from the
    /// sidecar, else with a probe run).
    ///
    /// # Errors
    /// The model cannot be opened, does not have the NCHW RGB shape a restoration stage
    /// needs, or its scale is not a positive integer.
    pub fn load(path: &Path, config: SessionConfig) -> Result<Self, RestoreModelError> {
        let sidecar = read_sidecar(path)?.unwrap_or_default();
        let (session, device) = open_session(path, config)?;
        let interface = |problem: String| RestoreModelError::Interface {
            path: path.display().to_string(),
            problem,
        };
        let input = session
            .inputs()
            .first()
            .ok_or_else(|| interface("has no inputs".into()))?;
        if session.inputs().len() != 1 {
            return Err(interface(format!(
                "expected 1 input (float32 [N,3,H,W]), found {}",
                session.inputs().len()
            )));
        }
        check_image_tensor(input.dtype()).map_err(|found| {
            interface(format!(
                "expected input `{}` to be float32 [N,3,H,W], found {found}",
                input.name()
            ))
        })?;
        let output = session
            .outputs()
            .first()
            .ok_or_else(|| interface("has no outputs".into()))?;
        check_image_tensor(output.dtype()).map_err(|found| {
            interface(format!(
                "expected output `{}` to be float32 [N,3,H,W], found {found}",
                output.name()
            ))
        })?;
        let input_name = input.name().to_string();
        let output_name = output.name().to_string();
        let mut model = Self {
            path: path.to_path_buf(),
            session,
            input_name,
            output_name,
            scale: sidecar.scale.unwrap_or(1),
            device,
            sidecar,
        };
        if model.sidecar.scale.is_none() {
            model.scale = model.probe_scale()?;
        }
        Ok(model)
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The integer upscaling factor.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Where the model runs.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The model's sidecar (empty when it has none).
    pub fn sidecar(&self) -> &RestoreSidecar {
        &self.sidecar
    }

    /// Runs the model on one NCHW batch.
    ///
    /// # Errors
    /// ONNX Runtime fails, or the output does not have the expected shape.
    pub fn infer(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>, RestoreModelError> {
        let result = self.run(input)?;
        let (n, _, h, w) = input.dim();
        let expected = (n, 3, h * self.scale as usize, w * self.scale as usize);
        if result.dim() != expected {
            return Err(self.run_error(format!(
                "output shape {:?} does not match input {:?} × scale {}",
                result.dim(),
                input.dim(),
                self.scale
            )));
        }
        Ok(result)
    }

    /// One session run, the output as a 4-dimensional array of any shape.
    fn run(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>, RestoreModelError> {
        let tensor =
            TensorRef::from_array_view(input).map_err(|e| self.run_error(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])
            .map_err(|e| RestoreModelError::Run {
                path: self.path.display().to_string(),
                message: e.to_string(),
            })?;
        let run_error = |message: String| RestoreModelError::Run {
            path: self.path.display().to_string(),
            message,
        };
        let value = outputs
            .get(self.output_name.as_str())
            .ok_or_else(|| run_error(format!("no output `{}`", self.output_name)))?;
        let view = value
            .try_extract_array::<f32>()
            .map_err(|e| run_error(e.to_string()))?;
        Ok(view
            .into_dimensionality::<Ix4>()
            .map_err(|e| run_error(format!("output is not 4-dimensional: {e}")))?
            .to_owned())
    }

    fn run_error(&self, message: String) -> RestoreModelError {
        RestoreModelError::Run {
            path: self.path.display().to_string(),
            message,
        }
    }

    fn probe_scale(&mut self) -> Result<u32, RestoreModelError> {
        let probe = Array4::<f32>::from_elem((1, 3, PROBE_SIDE, PROBE_SIDE), 0.5);
        let (_, c, h, w) = self.run(probe.view())?.dim();
        if c == 3 && h == w && h > 0 && h % PROBE_SIDE == 0 {
            return Ok((h / PROBE_SIDE) as u32);
        }
        let side = PROBE_SIDE;
        Err(RestoreModelError::Interface {
            path: self.path.display().to_string(),
            problem: format!(
                "a {side}x{side} probe gave output shape [1,{c},{h},{w}], not an integer upscale \
                 of [1,3,{side},{side}] (add a sidecar with `scale:`)"
            ),
        })
    }
}

/// `Ok` when the type is a float32 tensor of rank 4 whose channel axis is 3 or dynamic;
/// otherwise a description of what was found.
fn check_image_tensor(value: &ValueType) -> Result<(), String> {
    match value {
        ValueType::Tensor { ty, shape, .. } => {
            let dims: Vec<i64> = shape.iter().copied().collect();
            let channels_ok = dims.get(1).is_some_and(|c| *c == 3 || *c < 0);
            if *ty == TensorElementType::Float32 && dims.len() == 4 && channels_ok {
                Ok(())
            } else {
                Err(format!("{} {}", element_name(*ty), format_dims(&dims)))
            }
        }
        other => Err(format!("{other:?}")),
    }
}

fn element_name(ty: TensorElementType) -> String {
    format!("{ty:?}").to_lowercase()
}

fn format_dims(dims: &[i64]) -> String {
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
