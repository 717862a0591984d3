//! What to say about an `encode.codec` that names no encoder: a codec's name (`h264`,
//! `hevc`, `av1`) is a common mistake, answered with that codec's encoders in this
//! ffmpeg (`libx264`).

use std::ffi::{CStr, CString};

/// Names people give codecs that ffmpeg spells otherwise.
const CODEC_ALIASES: &[(&str, &str)] = &[
    ("h265", "hevc"),
    ("x265", "hevc"),
    ("avc", "h264"),
    ("x264", "h264"),
];

/// Why `name` is not a video encoder, with its codec's encoders when `name` names a
/// codec: "unknown video encoder `h264` (h264 is a codec; its encoders here: `libx264`,
/// `libx264rgb`)".
#[must_use]
pub fn unknown_encoder(name: &str) -> String {
    let encoders = encoders_of_codec(name);
    if encoders.is_empty() {
        return format!("unknown video encoder `{name}`");
    }
    let listed: Vec<String> = encoders.iter().map(|e| format!("`{e}`")).collect();
    format!(
        "unknown video encoder `{name}` ({name} is a codec; {} here: {})",
        if listed.len() == 1 {
            "its encoder"
        } else {
            "its encoders"
        },
        listed.join(", ")
    )
}

/// The software encoders of the video codec called `name` (or one of its aliases):
/// those of external libraries (x264, libvpx, SVT-AV1…) when there are any, else
/// ffmpeg's own; hardware encoders need a device and are left out.
fn encoders_of_codec(name: &str) -> Vec<String> {
    super::init();
    let lower = name.trim().to_ascii_lowercase();
    let codec = CODEC_ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map_or(lower.as_str(), |(_, codec)| codec);
    let Ok(codec) = CString::new(codec) else {
        return Vec::new();
    };
    // SAFETY: the descriptor table is static; the name is only read.
    let descriptor = unsafe { ffmpeg_next::ffi::avcodec_descriptor_get_by_name(codec.as_ptr()) };
    if descriptor.is_null() {
        return Vec::new();
    }
    // SAFETY: checked non-null; descriptors are static.
    let (id, kind) = unsafe { ((*descriptor).id, (*descriptor).type_) };
    if kind != ffmpeg_next::ffi::AVMediaType::AVMEDIA_TYPE_VIDEO {
        return Vec::new();
    }
    let software = software_encoders(id);
    let libraries: Vec<String> = software
        .iter()
        .filter(|(_, wrapper)| wrapper.as_deref().is_some_and(|w| w.starts_with("lib")))
        .map(|(name, _)| name.clone())
        .collect();
    if libraries.is_empty() {
        software.into_iter().map(|(name, _)| name).collect()
    } else {
        libraries
    }
}

/// Every encoder of codec `id` that is neither hardware nor experimental, in ffmpeg's
/// order, with the name of the library it wraps.
fn software_encoders(id: ffmpeg_next::ffi::AVCodecID) -> Vec<(String, Option<String>)> {
    let excluded = ffmpeg_next::ffi::AV_CODEC_CAP_HARDWARE
        | ffmpeg_next::ffi::AV_CODEC_CAP_HYBRID
        | ffmpeg_next::ffi::AV_CODEC_CAP_EXPERIMENTAL;
    let mut found = Vec::new();
    let mut opaque = std::ptr::null_mut();
    loop {
        // SAFETY: av_codec_iterate walks libavcodec's static codec list with `opaque`.
        let codec = unsafe { ffmpeg_next::ffi::av_codec_iterate(&mut opaque) };
        if codec.is_null() {
            return found;
        }
        // SAFETY: `codec` is a static AVCodec; its strings are static or null.
        unsafe {
            let is_encoder = ffmpeg_next::ffi::av_codec_is_encoder(codec) != 0;
            let capabilities = u32::try_from((*codec).capabilities).unwrap_or(u32::MAX);
            if is_encoder && (*codec).id == id && capabilities & excluded == 0 {
                let text = |p: *const std::ffi::c_char| {
                    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
                };
                if let Some(name) = text((*codec).name) {
                    found.push((name, text((*codec).wrapper_name)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unknown_encoder;

    #[test]
    fn a_codec_name_is_answered_with_its_encoders() {
        assert_eq!(
            unknown_encoder("h264"),
            "unknown video encoder `h264` (h264 is a codec; its encoders here: `libx264`, \
             `libx264rgb`)"
        );
        assert_eq!(
            unknown_encoder("h265"),
            "unknown video encoder `h265` (h265 is a codec; its encoder here: `libx265`)"
        );
        assert_eq!(
            unknown_encoder("vp9"),
            "unknown video encoder `vp9` (vp9 is a codec; its encoder here: `libvpx-vp9`)"
        );
        assert!(unknown_encoder("av1").contains("`libsvtav1`"));
    }

    #[test]
    fn other_names_are_just_unknown() {
        assert_eq!(
            unknown_encoder("libx266"),
            "unknown video encoder `libx266`"
        );
        // A codec, but not a video one.
        assert_eq!(unknown_encoder("mp3"), "unknown video encoder `mp3`");
    }
}
