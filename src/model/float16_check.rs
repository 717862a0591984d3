//! Whether a restoration model keeps its quality in float16. Rounding every tensor to
//! float16 costs the compact Real-ESRGAN and RRDB models nothing visible (over 60 dB
//! against float32), but some architectures amplify it layer by layer: SPAN, which
//! scales its input by 255, ends tens of levels off in dark saturated colours. So
//! `precision: auto` runs a model in float16 only when its float16 output on a probe
//! photograph stays within [`FAITHFUL_PSNR`] of its float32 output.

use ndarray::Array4;

use super::restore_model::{RestoreModel, RestoreModelError};
use super::runtime::Device;
use super::session::SessionConfig;
use super::tile::WindowRule;
use crate::config::{Device as DeviceSetting, Precision};

/// Float16 output at least this close to float32 (PSNR over 8-bit levels) is kept.
pub const FAITHFUL_PSNR: f64 = 45.0;

/// The probe's size (the photograph's) where the model's window rule leaves it free.
const PROBE_SIZE: (u32, u32) = (64, 72);

/// `model` (loaded as it is) at the float width `precision` asks for on its device:
/// float16 when asked, or under `auto` on a GPU when its float16 output on the probe is
/// faithful; the same model otherwise. The choice is kept in its interface, so every
/// later session of it runs at that width.
///
/// # Errors
/// `fp16` was asked for and the float16 form cannot be made or run.
pub fn settle_precision(
    model: RestoreModel,
    precision: Precision,
) -> Result<RestoreModel, RestoreModelError> {
    let device = model.device();
    if !precision.half_on(device != Device::Cpu) {
        return Ok(model);
    }
    let config = SessionConfig {
        device: match device {
            Device::Cpu => DeviceSetting::Cpu,
            Device::Cuda(id) => DeviceSetting::Cuda(id),
            Device::TensorRt(id) => DeviceSetting::TensorRt(id),
        },
        precision: Precision::Fp16,
        intra_threads: 1,
    };
    let mut interface = model.interface().clone();
    interface.precision = Precision::Fp16;
    let path = model.path().display().to_string();
    let half = RestoreModel::reopen(model.path(), config, &interface, None);
    if precision == Precision::Fp16 {
        return half;
    }
    let mut full = model;
    let mut half = match half {
        Ok(half) => half,
        Err(error) => {
            tracing::info!("{path}: runs in float32 on {device} ({error})");
            return Ok(full);
        }
    };
    match float16_psnr(&mut full, &mut half) {
        Ok(psnr) if psnr >= FAITHFUL_PSNR => {
            tracing::info!(
                "{path}: runs in float16 on {device} ({psnr:.1} dB from float32 on the probe)"
            );
            Ok(half)
        }
        Ok(psnr) => {
            tracing::info!(
                "{path}: runs in float32 on {device}: in float16 it is {psnr:.1} dB from \
                 float32 on the probe (under {FAITHFUL_PSNR} dB)"
            );
            Ok(full)
        }
        Err(error) => {
            tracing::info!(
                "{path}: runs in float32 on {device}: float16 failed the probe ({error})"
            );
            Ok(full)
        }
    }
}

/// The PSNR (dB, 8-bit levels) of `half`'s output against `full`'s on the probe image;
/// both are the same model, `half` in float16.
///
/// # Errors
/// Either model fails on the probe.
pub fn float16_psnr(
    full: &mut RestoreModel,
    half: &mut RestoreModel,
) -> Result<f64, RestoreModelError> {
    let probe = probe_image(probe_size(full.interface().window_rule()));
    let reference = full.infer(probe.view())?;
    let converted = half.infer(probe.view())?;
    Ok(psnr_8bit(&reference, &converted))
}

/// A size the model takes: its fixed sides, else the photograph's rounded up to its
/// multiple.
fn probe_size(rule: WindowRule) -> (u32, u32) {
    let side = |axis: super::tile::AxisRule, free: u32| {
        let multiple = axis.multiple.max(1);
        axis.fixed
            .unwrap_or_else(|| free.div_ceil(multiple) * multiple)
    };
    (
        side(rule.height, PROBE_SIZE.0),
        side(rule.width, PROBE_SIZE.1),
    )
}

/// A crop of a real photograph (scikit-image's `coffee`: dark saturated browns and
/// reds, bright highlights, fine texture), the fixture the goldens start from.
const PROBE_PNG: &[u8] = include_bytes!("../../fixtures/golden/coffee_72x64.png");

/// The probe photograph as `[1,3,h,w]` in 0..1, mirrored past its borders to any size
/// (the embedded PNG is read by every test of the check; were it unreadable, one flat
/// brown pixel would stand in).
pub fn probe_image((height, width): (u32, u32)) -> Array4<f32> {
    let photo = image::load_from_memory(PROBE_PNG)
        .map(|image| image.to_rgb8())
        .unwrap_or_else(|_| image::RgbImage::from_pixel(1, 1, image::Rgb([128, 64, 32])));
    let mirror = |i: u32, n: u32| {
        let period = 2 * n;
        let i = i % period;
        if i < n {
            i
        } else {
            period - 1 - i
        }
    };
    Array4::from_shape_fn((1, 3, height as usize, width as usize), |(_, c, y, x)| {
        let pixel = photo.get_pixel(
            mirror(x as u32, photo.width()),
            mirror(y as u32, photo.height()),
        );
        f32::from(pixel[c]) / 255.0
    })
}

/// PSNR in 8-bit levels between two outputs of equal shape, clamped to 0..1 as the
/// writer clamps them.
fn psnr_8bit(a: &Array4<f32>, b: &Array4<f32>) -> f64 {
    let level = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round();
    let count = a.len().max(1) as f64;
    let squared: f64 = a
        .iter()
        .zip(b.iter())
        .map(|(&x, &y)| f64::from(level(x) - level(y)).powi(2))
        .sum();
    let mse = squared / count;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}
