//! One output's XMP packet: the source's metadata, then what FrameForge adds.

use std::path::{Path, PathBuf};

use xmp_toolkit::{xmp_ns, OpenFileOptions, ToStringOptions, XmpFile, XmpMeta, XmpValue};

use super::MetadataError;

/// IPTC's code for "the media was enhanced by an algorithm" (Digital Source Type
/// vocabulary).
const ALGORITHMICALLY_ENHANCED: &str =
    "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicallyEnhanced";

/// Sizes the source's XMP or EXIF states, which a restored file no longer has.
const SIZE_PROPERTIES: [(&str, &str); 4] = [
    (xmp_ns::TIFF, "ImageWidth"),
    (xmp_ns::TIFF, "ImageLength"),
    (xmp_ns::EXIF, "PixelXDimension"),
    (xmp_ns::EXIF, "PixelYDimension"),
];

/// What was done to make the outputs of a run, for their history.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// `FrameForge 0.3.0`.
    pub software: String,
    /// Each restoration model, as its file and sha256.
    pub models: Vec<(PathBuf, String)>,
    /// The product of the restoration scales.
    pub scale: u32,
    /// The captioning model's folder, when the pipeline captions.
    pub captioner: Option<PathBuf>,
}

impl Provenance {
    /// `restored with models/x.onnx (sha256 3f…) at ×2; captioned with models/captioner`.
    fn parameters(&self) -> String {
        let mut parts = Vec::new();
        if !self.models.is_empty() {
            let models: Vec<String> = self
                .models
                .iter()
                .map(|(file, sha256)| format!("{} (sha256 {sha256})", file.display()))
                .collect();
            parts.push(format!(
                "restored with {} at ×{}",
                models.join(" then "),
                self.scale
            ));
        }
        if let Some(captioner) = &self.captioner {
            parts.push(format!("captioned with {}", captioner.display()));
        }
        parts.join("; ")
    }
}

/// What one output's XMP says.
#[derive(Debug, Clone, Copy)]
pub struct XmpFacts<'a> {
    /// The file's caption (for a video, its captions in order).
    pub caption: Option<&'a str>,
    /// Whether the pixels were restored (not only captioned).
    pub restored: bool,
    pub provenance: &'a Provenance,
}

/// An output's XMP packet.
pub struct Xmp {
    meta: XmpMeta,
}

fn build_error(error: impl std::fmt::Display) -> MetadataError {
    MetadataError::Build(error.to_string())
}

impl Xmp {
    /// The XMP of `source` (with its IPTC-IIM and EXIF reconciled in, as the XMP Toolkit
    /// reads them; empty when it has none or its format carries none) and what
    /// `facts` add. A description the source has already is kept: a person wrote it.
    ///
    /// # Errors
    /// The XMP Toolkit refuses a property.
    pub fn for_output(source: &Path, facts: &XmpFacts<'_>) -> Result<Self, MetadataError> {
        let mut meta = match read_source(source) {
            Some(meta) => meta,
            None => XmpMeta::new().map_err(build_error)?,
        };
        if let Some(caption) = facts.caption.filter(|c| !c.is_empty()) {
            for (namespace, name) in [
                (xmp_ns::DC, "description"),
                (xmp_ns::IPTC_CORE, "AltTextAccessibility"),
            ] {
                if !meta.contains_property(namespace, name) {
                    meta.set_localized_text(namespace, name, None, "en", caption)
                        .map_err(build_error)?;
                }
            }
        }
        if facts.restored {
            for (namespace, name) in SIZE_PROPERTIES {
                meta.delete_property(namespace, name).map_err(build_error)?;
            }
            meta.set_property(
                xmp_ns::IPTC_EXT,
                "DigitalSourceType",
                &XmpValue::new(ALGORITHMICALLY_ENHANCED.to_string()),
            )
            .map_err(build_error)?;
        }
        append_history(&mut meta, facts)?;
        Ok(Self { meta })
    }

    /// Writes the packet into `file` (PNG, JPEG, TIFF, MP4, MOV), keeping its other
    /// metadata.
    ///
    /// # Errors
    /// The file's format cannot carry XMP, or it cannot be rewritten.
    pub fn embed_into(&self, file: &Path) -> Result<(), MetadataError> {
        let embed_error = |error: xmp_toolkit::XmpError| MetadataError::Embed {
            path: file.to_path_buf(),
            reason: error.to_string(),
        };
        let mut handle = XmpFile::new().map_err(embed_error)?;
        handle
            .open_file(
                file,
                OpenFileOptions::default().for_update().use_smart_handler(),
            )
            .map_err(embed_error)?;
        handle.put_xmp(&self.meta).map_err(embed_error)?;
        handle.try_close().map_err(embed_error)
    }

    /// The packet as the text of a `.xmp` sidecar.
    ///
    /// # Errors
    /// The XMP Toolkit cannot serialise it.
    pub fn sidecar_text(&self) -> Result<String, MetadataError> {
        self.meta
            .to_string_with_options(ToStringOptions::default().omit_packet_wrapper())
            .map_err(build_error)
    }
}

/// The source's XMP as the XMP Toolkit's format handler reads it (legacy IPTC and EXIF
/// reconciled), or nothing for a format it has no handler for. Only handlers that
/// know the format are used: scanning a long video for a packet would read all of it.
fn read_source(source: &Path) -> Option<XmpMeta> {
    let mut handle = XmpFile::new().ok()?;
    handle
        .open_file(
            source,
            OpenFileOptions::default().for_read().use_smart_handler(),
        )
        .ok()?;
    let meta = handle.xmp();
    handle.close();
    meta
}

/// Adds one `stEvt` event (action, date, software, parameters) to `xmpMM:History`.
fn append_history(meta: &mut XmpMeta, facts: &XmpFacts<'_>) -> Result<(), MetadataError> {
    let history = XmpValue::new("History".to_string())
        .set_is_array(true)
        .set_is_ordered(true);
    meta.append_array_item(
        xmp_ns::XMP_MM,
        &history,
        &XmpValue::new(String::new()).set_is_struct(true),
    )
    .map_err(build_error)?;
    let when = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let action = if facts.restored {
        "edited"
    } else {
        "captioned"
    };
    let fields = [
        ("action", action.to_string()),
        ("when", when),
        ("softwareAgent", facts.provenance.software.clone()),
        ("parameters", facts.provenance.parameters()),
        (
            "changed",
            if facts.restored { "/" } else { "/metadata" }.to_string(),
        ),
    ];
    for (name, value) in fields {
        meta.set_struct_field(
            xmp_ns::XMP_MM,
            "History[last()]",
            xmp_ns::RESOURCE_EVENT,
            name,
            &XmpValue::new(value),
        )
        .map_err(build_error)?;
    }
    Ok(())
}
