//! NVDEC, NVIDIA's video decoder, through ffmpeg's `*_cuvid` decoders (`input.decoder:
//! nvdec`). Like the hardware encoders they load the driver only when opened, so one is
//! opened at load: a machine without NVDEC gets one problem at `input.decoder` instead of
//! a slower batch than asked for. Frames come back in system memory (NV12), so the rest
//! of the decode side is unchanged. NVDEC reads 8-bit 4:2:0 of the codecs it has; other
//! video, or a file it will not open (a profile it lacks), is decoded on the CPU.

use ffmpeg_next::codec::{self, Parameters};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::{decoder, Codec};

use super::ffmpeg_log::{explained, with_reason};

/// The size NVDEC is tried at when the pipeline loads.
const TRIAL_SIZE: (u32, u32) = (640, 360);

/// ffmpeg's NVDEC decoder for video of codec `id`, if it has one.
pub fn nvdec_decoder(id: codec::Id) -> Option<Codec> {
    super::init();
    let id: ffmpeg_next::ffi::AVCodecID = id.into();
    let mut opaque = std::ptr::null_mut();
    loop {
        // SAFETY: av_codec_iterate walks ffmpeg's static codec table; `opaque` is its
        // cursor, and every pointer it returns is a static AVCodec or null at the end.
        let codec = unsafe { ffmpeg_next::ffi::av_codec_iterate(&mut opaque) };
        if codec.is_null() {
            return None;
        }
        // SAFETY: `codec` is a static AVCodec (above), whose fields are only read.
        let (is_decoder, codec_id, name) = unsafe {
            (
                ffmpeg_next::ffi::av_codec_is_decoder(codec) != 0,
                (*codec).id,
                std::ffi::CStr::from_ptr((*codec).name).to_string_lossy(),
            )
        };
        if is_decoder && codec_id == id && name.ends_with("_cuvid") {
            return decoder::find_by_name(&name);
        }
    }
}

/// Why NVDEC cannot start here; `None` when it opens.
pub fn nvdec_refusal() -> Option<String> {
    let reason = match nvdec_decoder(codec::Id::H264) {
        None => "this ffmpeg was built without NVDEC (no h264_cuvid decoder)".to_string(),
        Some(codec) => {
            let (opened, said) = explained(|| {
                let mut context = codec::context::Context::new_with_codec(codec);
                // SAFETY: plain fields of a context not yet opened.
                unsafe {
                    let raw = context.as_mut_ptr();
                    (*raw).width = TRIAL_SIZE.0 as i32;
                    (*raw).height = TRIAL_SIZE.1 as i32;
                    (*raw).pix_fmt = Pixel::YUV420P.into();
                }
                context.decoder().open_as(codec).map(drop)
            });
            let error = opened.err()?;
            said.unwrap_or_else(|| error.to_string())
        }
    };
    Some(format!(
        "NVDEC cannot start on this machine ({reason}): it needs an NVIDIA GPU and its \
         driver's libcuda and libnvcuvid; `decoder: software` decodes on the CPU"
    ))
}

/// NVDEC opened for a stream of `parameters`; `None` when NVDEC does not read it (codec,
/// depth or chroma), `Some(Err)` with ffmpeg's reason when it will not open it.
pub fn open_nvdec(parameters: Parameters) -> Option<Result<decoder::Video, String>> {
    let codec = nvdec_decoder(parameters.id())?;
    // SAFETY: a plain field of the stream's parameters, compared as the integer it is.
    let format = unsafe { (*parameters.as_ptr()).format };
    let eight_bit_420 = [Pixel::YUV420P, Pixel::YUVJ420P, Pixel::NV12]
        .into_iter()
        .any(|taken| format == ffmpeg_next::ffi::AVPixelFormat::from(taken) as i32);
    if !eight_bit_420 {
        return None;
    }
    let (opened, said) = explained(|| {
        codec::context::Context::from_parameters(parameters)
            .and_then(|context| context.decoder().open_as(codec))
            .and_then(|opened| opened.video())
    });
    Some(opened.map_err(|error| with_reason(error.to_string(), said)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_nvdec_reads_have_their_cuvid_decoder() {
        // Debian's ffmpeg, here and in CI, is built with NVDEC.
        let name = |id| nvdec_decoder(id).map(|c| c.name().to_string());
        assert_eq!(name(codec::Id::H264).as_deref(), Some("h264_cuvid"));
        assert_eq!(name(codec::Id::MPEG2VIDEO).as_deref(), Some("mpeg2_cuvid"));
        assert_eq!(name(codec::Id::FFV1), None);
        assert_eq!(name(codec::Id::DVVIDEO), None);
    }

    #[test]
    fn without_a_driver_nvdec_says_what_it_needs() {
        let refusal = nvdec_refusal();
        if std::path::Path::new("/proc/driver/nvidia/version").exists() {
            assert!(refusal.is_none_or(|r| r.starts_with("NVDEC cannot start")));
            return;
        }
        let refusal = refusal.unwrap_or_default();
        assert!(
            refusal.starts_with("NVDEC cannot start on this machine ("),
            "{refusal}"
        );
        assert!(
            refusal.ends_with(
                "): it needs an NVIDIA GPU and its driver's libcuda and libnvcuvid; \
                 `decoder: software` decodes on the CPU"
            ),
            "{refusal}"
        );
    }
}
