//! An image-to-image restoration model: one ONNX Runtime session and the interface found
//! when the model was first loaded (signature, scale, size multiple). Tiles come in as
//! RGB float32 `[n,3,h,w]` in 0..1 and go out as `[n,3,h·s,w·s]`; what lies between
//! (channels, fixed batch, float16, constant inputs, another output scale) is adapted
//! here, and a result with NaN or Inf fails the file instead of turning black.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::config::{Device as DeviceSetting, Precision};
use half::f16;
use ndarray::{Array4, ArrayD, ArrayView4, ArrayViewD, Axis, IxDyn};
use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorRef};

use super::bound_run::BoundRun;
use super::engine_build::timed_first_run;
use super::feed::{batches, join_batches, model_images, rgb_result};
use super::float16_check::settle_precision;
use super::probe::{find_shape_rules, Known, MAX_SCALE};
use super::providers::require_for;
use super::resample::resize_rgb;
use super::runtime::{environment, Device};
use super::session::{open_session, open_session_for_windows, SessionConfig, SessionError};
use super::sidecar::{read_sidecar, RestoreSidecar, SidecarError};
use super::signature::{read_signature, Element, PortInfo, Signature, SignatureHints};
use super::tensorrt_profile::ShapeProfile;
use super::tile::{AxisRule, WindowRule};

/// Run shapes whose bound buffers a model keeps (a frame's full runs, its shorter last
/// run, and those of a second frame size).
const BOUND_SHAPES: usize = 4;

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

/// What FrameForge found out about a model when it first loaded it; later sessions of
/// the same model reuse it instead of probing again.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInterface {
    pub signature: Signature,
    /// The model's own scale.
    pub scale: u32,
    /// Free heights and widths must be multiples of this.
    pub multiple: u32,
    pub sidecar: RestoreSidecar,
    /// The float width its sessions run at, settled at load (`float16_check`).
    pub precision: Precision,
}

impl ModelInterface {
    /// Whether runs can go through bound buffers: one float32 input, a float32 output
    /// and no constant inputs to bind besides.
    pub fn can_bind(&self) -> bool {
        self.signature.input.element == Element::Float32
            && self.signature.output.element == Element::Float32
            && self.signature.constants.is_empty()
    }

    /// What the model demands of the windows it is run on.
    pub fn window_rule(&self) -> WindowRule {
        let axis = |fixed: Option<u32>| AxisRule {
            fixed,
            multiple: self.multiple,
        };
        WindowRule {
            height: axis(self.signature.input.height),
            width: axis(self.signature.input.width),
        }
    }
}

/// A loaded restoration model.
pub struct RestoreModel {
    path: PathBuf,
    session: Session,
    interface: ModelInterface,
    device: Device,
    /// The scale results are delivered at (the model's own unless an output scale is set).
    output_scale: u32,
    /// Whether runs go through bound buffers (float32 ports and no constant inputs, once
    /// the interface is known), and the buffers of the last few run shapes, most recent
    /// last: a frame's full runs and its last, shorter one alternate, and pinned memory
    /// is slow to allocate.
    binds: bool,
    bound: Vec<BoundRun>,
    /// Whether TensorRT built its engine when the session was made (for a shape
    /// profile), rather than at the first run of each shape.
    engine_at_open: bool,
}

impl RestoreModel {
    /// Loads the model and finds its interface: the signature, then the scale and size
    /// multiple from fixed shapes, the sidecar, or probe runs.
    ///
    /// On TensorRT, which would build an engine for every probe's shape, the interface
    /// and the float width are found on CUDA on the same GPU; the stage's sessions are
    /// then opened on TensorRT with [`RestoreModel::reopen`] and the windows' profile.
    ///
    /// # Errors
    /// The model cannot be opened, takes or gives something a restore stage cannot use
    /// (each named with its tensor), or its scale is not an integer from 1 to 8.
    pub fn load(path: &Path, config: SessionConfig) -> Result<Self, RestoreModelError> {
        if let DeviceSetting::TensorRt(id) = config.device {
            let tensorrt = Device::TensorRt(id);
            environment().map_err(SessionError::from)?;
            require_for(tensorrt)?;
            let on_cuda = SessionConfig {
                device: DeviceSetting::Cuda(id),
                ..config
            };
            // CUDA's failure is TensorRT's: it runs on CUDA.
            return Self::load(path, on_cuda).map_err(|error| match error {
                RestoreModelError::Session(SessionError::GpuUnavailable { reason, .. }) => {
                    SessionError::GpuUnavailable {
                        device: tensorrt,
                        reason,
                    }
                    .into()
                }
                other => other,
            });
        }
        let sidecar = read_sidecar(path)?.unwrap_or_default();
        // The interface is found on the model as it is; its float width is settled after.
        let as_it_is = SessionConfig {
            precision: Precision::Fp32,
            ..config
        };
        let (session, device) = open_session(path, as_it_is)?;
        let interface_error = |problem: String| RestoreModelError::Interface {
            path: path.display().to_string(),
            problem,
        };
        let (inputs, outputs) = session_ports(&session);
        let signature = read_signature(
            &inputs,
            &outputs,
            SignatureHints {
                input: sidecar.input.as_deref(),
                output: sidecar.output.as_deref(),
                constants: sidecar.constants.as_ref(),
            },
        )
        .map_err(interface_error)?;
        let known = Known {
            height: signature.input.height,
            width: signature.input.width,
            out_height: signature.output.height,
            out_width: signature.output.width,
            scale: sidecar.scale,
            multiple: sidecar.multiple,
        };
        let mut model = Self {
            path: path.to_path_buf(),
            session,
            interface: ModelInterface {
                signature,
                scale: 1,
                multiple: 1,
                sidecar,
                precision: Precision::Fp32,
            },
            device,
            output_scale: 1,
            binds: false,
            bound: Vec::new(),
            engine_at_open: false,
        };
        let rules = find_shape_rules(known, |h, w| model.probe(h, w)).map_err(interface_error)?;
        model.interface.scale = rules.scale;
        model.interface.multiple = rules.multiple;
        model.output_scale = rules.scale;
        model.binds = model.interface.can_bind();
        settle_precision(model, config.precision)
    }

    /// Opens another session of a model whose interface [`RestoreModel::load`] found,
    /// for windows within `profile` where the stage knows them (TensorRT builds its
    /// engine for them as the session is made).
    ///
    /// # Errors
    /// The model cannot be opened again.
    pub fn reopen(
        path: &Path,
        config: SessionConfig,
        interface: &ModelInterface,
        profile: Option<&ShapeProfile>,
    ) -> Result<Self, RestoreModelError> {
        let config = SessionConfig {
            precision: interface.precision,
            ..config
        };
        let (session, device) = open_session_for_windows(path, config, profile)?;
        Ok(Self {
            path: path.to_path_buf(),
            session,
            interface: interface.clone(),
            device,
            output_scale: interface.scale,
            binds: interface.can_bind(),
            bound: Vec::new(),
            engine_at_open: profile.is_some(),
        })
    }

    /// Delivers results at `scale` instead of the model's own (Lanczos-3 resize).
    ///
    /// # Errors
    /// The scale is outside 1 to 8.
    pub fn with_output_scale(mut self, scale: Option<u32>) -> Result<Self, RestoreModelError> {
        if let Some(scale) = scale {
            if !(1..=MAX_SCALE).contains(&scale) {
                return Err(self.interface_error(format!(
                    "output scale {scale} is out of range (expected 1 to {MAX_SCALE})"
                )));
            }
            self.output_scale = scale;
        }
        Ok(self)
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The scale results are delivered at.
    pub fn scale(&self) -> u32 {
        self.output_scale
    }

    /// What was found out about the model at load.
    pub fn interface(&self) -> &ModelInterface {
        &self.interface
    }

    /// Where the model runs.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The model's inputs and outputs as ONNX Runtime lists them.
    pub fn ports(&self) -> (Vec<PortInfo>, Vec<PortInfo>) {
        session_ports(&self.session)
    }

    /// The model's sidecar (empty when it has none).
    pub fn sidecar(&self) -> &RestoreSidecar {
        &self.interface.sidecar
    }

    /// Restores RGB tiles `[n,3,h,w]` (h and w as the window rule allows) into
    /// `[n,3,h·scale,w·scale]`, each tile alone; tiles the model cannot take in one run
    /// (a fixed batch size, a gray model) are run in several.
    ///
    /// # Errors
    /// ONNX Runtime fails, the output has the wrong shape, or it holds NaN or Inf.
    pub fn infer(&mut self, input: ArrayView4<'_, f32>) -> Result<Array4<f32>, RestoreModelError> {
        let channels = self.interface.signature.channels;
        if channels == 1 && input.dim().0 > 1 {
            // A gray model takes the planes of one tile as images of their own.
            let results = input
                .outer_iter()
                .map(|tile| self.infer(tile.insert_axis(Axis(0))))
                .collect::<Result<Vec<_>, _>>()?;
            let views: Vec<_> = results.iter().map(|r| r.view()).collect();
            return ndarray::concatenate(Axis(0), &views)
                .map_err(|e| self.run_error(e.to_string()));
        }
        let images = model_images(input, channels);
        let count = images.dim().0;
        let results = batches(images, self.interface.signature.input.batch)
            .iter()
            .map(|batch| self.run_checked(batch))
            .collect::<Result<Vec<_>, _>>()?;
        let rgb = rgb_result(&join_batches(results, count), channels);
        let (_, _, h, w) = input.dim();
        if self.output_scale == self.interface.scale {
            return Ok(rgb);
        }
        let scale = self.output_scale as usize;
        Ok(resize_rgb(&rgb, (h * scale) as u32, (w * scale) as u32))
    }

    /// One run on a batch the model takes, its output checked for shape and for values
    /// that are not finite.
    fn run_checked(&mut self, batch: &Array4<f32>) -> Result<Array4<f32>, RestoreModelError> {
        let output = if matches!(self.device, Device::TensorRt(_)) && !self.engine_at_open {
            let (device, path) = (self.device, self.path.clone());
            timed_first_run(device, &path, batch.shape(), || self.run(batch))?
        } else {
            self.run(batch)?
        };
        let (n, c, h, w) = batch.dim();
        let scale = self.interface.scale as usize;
        let expected = (n, c, h * scale, w * scale);
        if output.dim() != expected {
            return Err(self.run_error(format!(
                "output shape {:?} does not match input {:?} × scale {}",
                output.dim(),
                batch.dim(),
                self.interface.scale
            )));
        }
        let bad = output.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            let hint = if self.interface.signature.output.element == Element::Float16 {
                " (float16 overflow?)"
            } else {
                ""
            };
            return Err(self.run_error(format!(
                "the model gave {bad} NaN/Inf values of {} for a {w}x{h} tile{hint}; \
                 the frame would come out black, so the file is failed",
                output.len()
            )));
        }
        Ok(output)
    }

    /// A probe run on a blank `h`×`w` image: the output's height and width.
    fn probe(&mut self, h: u32, w: u32) -> Result<(u32, u32), String> {
        let n = self.interface.signature.input.batch.unwrap_or(1) as usize;
        let c = self.interface.signature.channels as usize;
        let blank = Array4::from_elem((n, c, h as usize, w as usize), 0.5);
        let output = self.run(&blank).map_err(|e| match e {
            RestoreModelError::Run { message, .. } => message,
            other => other.to_string(),
        })?;
        let (_, oc, oh, ow) = output.dim();
        if oc != c {
            return Err(format!("gave {oc} channels for {c}"));
        }
        Ok((oh as u32, ow as u32))
    }

    /// One session run with the frame batch and the constant inputs; the output as
    /// float32, of whatever 4-dimensional shape the model gives.
    fn run(&mut self, batch: &Array4<f32>) -> Result<Array4<f32>, RestoreModelError> {
        if self.binds {
            return self.run_bound(batch);
        }
        let signature = &self.interface.signature;
        let (n, _, h, w) = batch.dim();
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![(
            Cow::Owned(signature.input.name.clone()),
            frame_tensor(batch, signature.input.element).map_err(|e| self.run_error(e))?,
        )];
        for constant in &signature.constants {
            let dims: Vec<usize> = constant
                .dims
                .iter()
                .enumerate()
                .map(|(axis, dim)| match (dim, constant.dims.len(), axis) {
                    (Some(d), _, _) => *d as usize,
                    (None, 4, 0) => n,
                    (None, 4, 2) => h,
                    (None, 4, 3) => w,
                    (None, _, _) => 1,
                })
                .collect();
            let filled = ArrayD::from_elem(IxDyn(&dims), constant.value);
            inputs.push((
                Cow::Owned(constant.name.clone()),
                tensor(filled.view(), constant.element).map_err(|e| self.run_error(e))?,
            ));
        }
        let output_name = signature.output.name.clone();
        let output_element = signature.output.element;
        let path = self.path.display().to_string();
        let run_error = |message: String| RestoreModelError::Run {
            path: path.clone(),
            message,
        };
        let outputs = self
            .session
            .run(inputs)
            .map_err(|e| run_error(e.to_string()))?;
        let value = outputs
            .get(output_name.as_str())
            .ok_or_else(|| run_error(format!("no output `{output_name}`")))?;
        let array = match output_element {
            Element::Float32 => value
                .try_extract_array::<f32>()
                .map_err(|e| run_error(e.to_string()))?
                .to_owned(),
            Element::Float16 => value
                .try_extract_array::<f16>()
                .map_err(|e| run_error(e.to_string()))?
                .mapv(f16::to_f32),
        };
        array
            .into_dimensionality()
            .map_err(|e| run_error(format!("output is not 4-dimensional: {e}")))
    }

    /// One run through the bound buffers of this run's shape, bound when it is new.
    fn run_bound(&mut self, batch: &Array4<f32>) -> Result<Array4<f32>, RestoreModelError> {
        let (n, c, h, w) = batch.dim();
        let scale = self.interface.scale as usize;
        let shapes = ([n, c, h, w], [n, c, h * scale, w * scale]);
        let Self {
            session,
            bound,
            interface,
            device,
            path,
            ..
        } = self;
        let run_error = |e: ort::Error| RestoreModelError::Run {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let current = match bound.iter().position(|b| b.fits(shapes.0, shapes.1)) {
            Some(at) => bound.remove(at),
            None => {
                if bound.len() >= BOUND_SHAPES {
                    // The oldest buffers go before new ones are allocated.
                    bound.remove(0);
                }
                let ports = (
                    interface.signature.input.name.as_str(),
                    interface.signature.output.name.as_str(),
                );
                BoundRun::new(session, *device, ports, shapes.0, shapes.1).map_err(run_error)?
            }
        };
        bound.push(current);
        let last = bound.len() - 1;
        bound[last].run(session, batch.view()).map_err(run_error)
    }

    fn run_error(&self, message: String) -> RestoreModelError {
        RestoreModelError::Run {
            path: self.path.display().to_string(),
            message,
        }
    }

    fn interface_error(&self, problem: String) -> RestoreModelError {
        RestoreModelError::Interface {
            path: self.path.display().to_string(),
            problem,
        }
    }
}

/// The inputs and outputs of the model at `path` as ONNX Runtime lists them.
///
/// # Errors
/// The model cannot be opened.
pub fn port_infos(
    path: &Path,
    config: SessionConfig,
) -> Result<(Vec<PortInfo>, Vec<PortInfo>), SessionError> {
    let (session, _) = open_session(path, config)?;
    Ok(session_ports(&session))
}

fn session_ports(session: &Session) -> (Vec<PortInfo>, Vec<PortInfo>) {
    let ports = |outlets: &[ort::value::Outlet]| -> Vec<PortInfo> {
        outlets
            .iter()
            .map(|o| PortInfo::from_value_type(o.name(), o.dtype()))
            .collect()
    };
    (ports(session.inputs()), ports(session.outputs()))
}

/// The frame batch as a session input: borrowed when the model takes float32, converted
/// when it takes float16.
fn frame_tensor(batch: &Array4<f32>, element: Element) -> Result<SessionInputValue<'_>, String> {
    match element {
        Element::Float32 => TensorRef::from_array_view(batch.view())
            .map(Into::into)
            .map_err(|e| e.to_string()),
        Element::Float16 => tensor(batch.view().into_dyn(), element),
    }
}

/// A session input of the model's element type.
fn tensor(
    values: ArrayViewD<'_, f32>,
    element: Element,
) -> Result<SessionInputValue<'static>, String> {
    match element {
        Element::Float32 => Tensor::from_array(values.to_owned())
            .map(Into::into)
            .map_err(|e| e.to_string()),
        Element::Float16 => Tensor::from_array(values.mapv(f16::from_f32))
            .map(Into::into)
            .map_err(|e| e.to_string()),
    }
}
