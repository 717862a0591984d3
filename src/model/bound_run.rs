//! Runs of a restoration model with its input and output in buffers bound once per tile
//! shape (ONNX Runtime's I/O binding). On a GPU the buffers are pinned host memory, which
//! the device reads and writes by DMA: uploads and read-backs run at full bus speed and
//! without a staging copy, and one session's transfers overlap other sessions' compute
//! (each session has its own CUDA stream). On the CPU they spare an allocation of the
//! input and output per run. Tiles on a GPU all have one shape, so a stage binds once.

use ndarray::{Array4, ArrayView4};
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{IoBinding, Session};
use ort::value::Tensor;

use super::runtime::Device;

/// A binding of one float32 input and one float32 output of fixed shapes.
pub struct BoundRun {
    binding: IoBinding,
    input: Tensor<f32>,
    output_name: String,
    input_shape: [usize; 4],
    output_shape: [usize; 4],
}

impl BoundRun {
    /// Buffers for `input_shape` → `output_shape` of `session`'s ports, in pinned memory
    /// on a GPU and the session's own (CPU) memory otherwise.
    ///
    /// # Errors
    /// ONNX Runtime cannot allocate or bind them.
    pub fn new(
        session: &Session,
        device: Device,
        (input_name, output_name): (&str, &str),
        input_shape: [usize; 4],
        output_shape: [usize; 4],
    ) -> ort::Result<Self> {
        let pinned = |kind| {
            MemoryInfo::new(
                AllocationDevice::CUDA_PINNED,
                0,
                AllocatorType::Device,
                kind,
            )
            .and_then(|info| Allocator::new(session, info))
        };
        let (input, output) = match device {
            Device::Cpu => (
                Tensor::<f32>::new(session.allocator(), input_shape)?,
                Tensor::<f32>::new(session.allocator(), output_shape)?,
            ),
            Device::Cuda(_) | Device::TensorRt(_) => (
                Tensor::<f32>::new(&pinned(MemoryType::CPUInput)?, input_shape)?,
                Tensor::<f32>::new(&pinned(MemoryType::CPUOutput)?, output_shape)?,
            ),
        };
        let mut binding = session.create_binding()?;
        binding.bind_input(input_name, &input)?;
        binding.bind_output(output_name, output)?;
        Ok(Self {
            binding,
            input,
            output_name: output_name.to_string(),
            input_shape,
            output_shape,
        })
    }

    /// Whether these buffers are for `input_shape` → `output_shape`.
    pub fn fits(&self, input_shape: [usize; 4], output_shape: [usize; 4]) -> bool {
        self.input_shape == input_shape && self.output_shape == output_shape
    }

    /// One run of `session` on `batch` (of this binding's input shape).
    ///
    /// # Errors
    /// ONNX Runtime fails, or the output is not float32 of the bound shape.
    pub fn run(
        &mut self,
        session: &mut Session,
        batch: ArrayView4<'_, f32>,
    ) -> ort::Result<Array4<f32>> {
        let (_, buffer) = self.input.extract_tensor_mut();
        match batch.as_slice() {
            Some(values) => buffer.copy_from_slice(values),
            None => buffer
                .iter_mut()
                .zip(batch.iter())
                .for_each(|(slot, value)| *slot = *value),
        }
        let outputs = session.run_binding(&self.binding)?;
        let (_, values) = outputs[self.output_name.as_str()].try_extract_tensor::<f32>()?;
        Array4::from_shape_vec(self.output_shape, values.to_vec())
            .map_err(|e| ort::Error::new(format!("output of an unexpected size: {e}")))
    }
}
