//! Writing an output's XMP metadata where the pipeline says: inside the output when its
//! format carries XMP, else (or also, with `xmp: sidecar`) in a `NAME.EXT.xmp` sidecar
//! beside it, the name digiKam and darktable look for.

use std::path::{Path, PathBuf};

use crate::config::XmpOutput;
use crate::metadata::{can_embed, sidecar_path, Xmp, XmpFacts};
use crate::output_file::write_atomically;

use super::settings::XmpSettings;
use super::warnings::Warnings;
use super::ProcessError;

/// An output the XMP describes.
pub struct Described<'a> {
    /// The file read.
    pub input: &'a Path,
    /// Where the output will be once committed.
    pub output: &'a Path,
    /// The output as written so far (its temporary), to embed into; `None` when the run
    /// writes no media for this input (captions only).
    pub written: Option<&'a Path>,
    pub caption: Option<&'a str>,
}

/// Writes the XMP of `described`; returns the sidecar written, if any. A file whose
/// XMP cannot be embedded gets a sidecar instead, with a warning: the restored media
/// is not lost over its metadata.
///
/// # Errors
/// The packet cannot be made, or the sidecar cannot be written.
pub fn write_xmp(
    described: &Described<'_>,
    settings: &XmpSettings<'_>,
    warnings: &mut Warnings,
) -> Result<Option<PathBuf>, ProcessError> {
    if settings.place == XmpOutput::Off {
        return Ok(None);
    }
    let facts = XmpFacts {
        caption: described.caption,
        restored: described.written.is_some(),
        provenance: settings.provenance,
    };
    let xmp = Xmp::for_output(described.input, &facts)?;
    let mut sidecar = settings.place == XmpOutput::Sidecar;
    match described.written {
        Some(written) if can_embed(described.output) => {
            if let Err(error) = xmp.embed_into(written) {
                warnings.add(format!("{error}; written to a sidecar instead"));
                sidecar = true;
            }
        }
        _ => sidecar = true,
    }
    if !sidecar {
        return Ok(None);
    }
    let path = sidecar_for(described);
    write_atomically(&path, xmp.sidecar_text()?.as_bytes())?;
    Ok(Some(path))
}

/// `out/clip.mkv.xmp` beside a media output; for captions only, named after the input
/// (`out/clip.mkv.xmp` for `in/clip.mkv`), beside its caption files.
fn sidecar_for(described: &Described<'_>) -> PathBuf {
    if described.written.is_some() {
        return sidecar_path(described.output);
    }
    let name = described.input.file_name().unwrap_or_default();
    let folder = described.output.parent().unwrap_or(Path::new(""));
    sidecar_path(&folder.join(name))
}
