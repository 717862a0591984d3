//! Hardware encoders (NVENC, VAAPI, Quick Sync, V4L2) load their device's driver only
//! when opened, so ffmpeg lists them on machines that cannot run them. One is opened at
//! load on a small frame; a refusal becomes one problem at `encode.codec` instead of the
//! same failure for every file of the batch.

use ffmpeg_next::codec::encoder;

use super::encode::{encode_target, resolve_encoder, try_open, EncodeSettings};
use super::frame_size::typical_source;

/// The size a hardware encoder is tried at: above every minimum (NVENC's is 145×49).
const TRIAL_SIZE: (u32, u32) = (640, 360);

/// Why the hardware encoder `settings` names cannot start here; `None` for a software
/// encoder or one that opens.
pub fn hardware_refusal(settings: &EncodeSettings) -> Option<String> {
    super::init();
    let codec = encoder::find_by_name(&settings.codec)?;
    // SAFETY: `codec` wraps a static AVCodec, whose capabilities are only read.
    let capabilities = unsafe { (*codec.as_ptr()).capabilities } as u32;
    let device_bound =
        ffmpeg_next::ffi::AV_CODEC_CAP_HARDWARE | ffmpeg_next::ffi::AV_CODEC_CAP_HYBRID;
    if capabilities & device_bound == 0 {
        return None;
    }
    let source = typical_source(TRIAL_SIZE);
    let (codec, format) = resolve_encoder(settings, source.source_format).ok()?;
    let target = encode_target(&source, TRIAL_SIZE, format);
    let (opened, reason) = try_open(settings, codec, format, &target, false);
    let error = opened.err()?;
    Some(format!(
        "{} cannot start on this machine ({}): {}",
        settings.codec,
        reason.unwrap_or_else(|| error.to_string()),
        what_it_needs(&settings.codec)
    ))
}

/// What a hardware encoder family needs, and what to use instead.
fn what_it_needs(codec: &str) -> &'static str {
    if codec.ends_with("_nvenc") {
        "NVENC needs an NVIDIA GPU with a video encoder and its driver's libcuda and \
         libnvidia-encode (data-centre GPUs of the A100/H100/H200 family have none); \
         libx264, libx265 or ffv1 encode on the CPU"
    } else {
        "it needs its device and driver; libx264, libx265 or ffv1 encode on the CPU"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(codec: &str) -> EncodeSettings {
        EncodeSettings {
            codec: codec.to_string(),
            crf: None,
            preset: None,
            pixel_format: None,
            threads: 1,
            large_frame_threads: 1,
        }
    }

    #[test]
    fn software_encoders_are_not_tried() {
        assert_eq!(hardware_refusal(&settings("libx264")), None);
        assert_eq!(hardware_refusal(&settings("ffv1")), None);
        assert_eq!(hardware_refusal(&settings("no_such_encoder")), None);
    }

    /// Without an NVIDIA driver (this machine and CI), NVENC, which ffmpeg lists, cannot
    /// start; with one, it either opens or is refused with what it needs.
    #[test]
    fn nvenc_without_a_driver_says_what_it_needs() {
        let refusal = hardware_refusal(&settings("h264_nvenc"));
        if std::path::Path::new("/proc/driver/nvidia/version").exists() {
            assert!(refusal.is_none_or(|r| r.starts_with("h264_nvenc cannot start")));
            return;
        }
        let refusal = refusal.unwrap();
        assert!(
            refusal.starts_with("h264_nvenc cannot start on this machine (Cannot load libcuda.so.1): NVENC needs an NVIDIA GPU"),
            "{refusal}"
        );
        assert!(refusal.ends_with("libx264, libx265 or ffv1 encode on the CPU"));
    }
}
