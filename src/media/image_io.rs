//! Still images in and out: any format the `image` crate reads, turned upright by its
//! EXIF orientation, split into RGB (8 or 16 bits) and an optional alpha plane, and
//! written back as PNG with the source's ICC profile and EXIF data.

use std::path::Path;

use image::{DynamicImage, GrayImage, ImageBuffer, ImageDecoder, Luma, RgbImage};

use super::error::MediaError;

/// 16-bit RGB.
pub type Rgb16Image = ImageBuffer<image::Rgb<u16>, Vec<u16>>;
/// 16-bit single channel.
pub type Gray16Image = ImageBuffer<Luma<u16>, Vec<u16>>;

/// Colour samples of a still image or a video frame: 8 bits, or 16 for deep sources
/// (16-bit scans, 10- and 12-bit video), which keep their precision end to end.
#[derive(Debug, Clone, PartialEq)]
pub enum Colour {
    Eight(RgbImage),
    Sixteen(Rgb16Image),
}

impl Colour {
    /// Width and height.
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Self::Eight(i) => i.dimensions(),
            Self::Sixteen(i) => i.dimensions(),
        }
    }

    /// The samples at 8 bits (for captioning, shot changes and thumbnails): borrowed
    /// when they are 8-bit already.
    pub fn to_eight(&self) -> std::borrow::Cow<'_, RgbImage> {
        match self {
            Self::Eight(i) => std::borrow::Cow::Borrowed(i),
            Self::Sixteen(i) => {
                std::borrow::Cow::Owned(DynamicImage::ImageRgb16(i.clone()).to_rgb8())
            }
        }
    }
}

/// Alpha samples of a still image.
pub enum Alpha {
    Eight(GrayImage),
    Sixteen(Gray16Image),
}

/// A still image split for restoration.
pub struct Still {
    pub colour: Colour,
    pub alpha: Option<Alpha>,
    /// The source had one colour channel; the result is written as grayscale too.
    pub grayscale: bool,
    pub metadata: StillMetadata,
}

/// What of a source's metadata the restored PNG carries on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StillMetadata {
    /// The ICC profile, kept only where it describes the channels written (an RGB
    /// profile for colour, a gray one for grayscale): a scan in Adobe RGB must not be
    /// shown as sRGB, and a CMYK profile does not describe the RGB the decoder gives.
    pub icc_profile: Option<Vec<u8>>,
    /// The raw EXIF block (camera, dates, captions), its orientation set to upright
    /// because the pixels were turned already.
    pub exif: Option<Vec<u8>>,
    /// The colour space of a profile left out because it does not describe the samples
    /// written (a CMYK scan's, after the decoder turned it into RGB).
    pub unfit_profile: Option<String>,
}

impl Still {
    /// Width and height.
    pub fn dimensions(&self) -> (u32, u32) {
        self.colour.dimensions()
    }
}

/// Reads an image, keeping its bit depth (8 or 16) and alpha.
///
/// # Errors
/// The file cannot be read or decoded.
pub fn read_still(path: &Path) -> Result<Still, MediaError> {
    let image_error = |source| MediaError::Image {
        context: "cannot decode image".into(),
        source,
    };
    let reader = image::ImageReader::open(path)
        .map_err(|source| MediaError::Io {
            context: "cannot open image".into(),
            source,
        })?
        .with_guessed_format()
        .map_err(|source| MediaError::Io {
            context: "cannot read image".into(),
            source,
        })?;
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    // Metadata is a courtesy: a malformed EXIF or ICC block must not cost the pixels.
    let icc_profile = decoder.icc_profile().ok().flatten();
    let mut exif = decoder.exif_metadata().ok().flatten();
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    decoded.apply_orientation(orientation);
    if let Some(chunk) = exif.as_mut() {
        let _ = image::metadata::Orientation::remove_from_exif_chunk(chunk);
    }
    let mut still = split(decoded);
    let (icc_profile, unfit) = match icc_profile {
        Some(p) if !profile_fits(&p, still.grayscale) => (None, Some(profile_space(&p))),
        other => (other, None),
    };
    still.metadata = StillMetadata {
        icc_profile,
        exif,
        unfit_profile: unfit,
    };
    Ok(still)
}

/// The colour space an ICC profile's header names (`CMYK`, `GRAY`), for a message.
fn profile_space(profile: &[u8]) -> String {
    profile
        .get(16..20)
        .map(|space| String::from_utf8_lossy(space).trim().to_string())
        .filter(|space| !space.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether an ICC profile's colour space (header bytes 16..20) is the one written.
fn profile_fits(profile: &[u8], grayscale: bool) -> bool {
    let wanted: &[u8; 4] = if grayscale { b"GRAY" } else { b"RGB " };
    profile.get(16..20) == Some(wanted.as_slice())
}

fn split(decoded: DynamicImage) -> Still {
    let color = decoded.color();
    let grayscale = color.channel_count() <= 2;
    let deep = color.bytes_per_pixel() / color.channel_count() > 1;
    let alpha = color.has_alpha().then(|| {
        if deep {
            Alpha::Sixteen(alpha_plane(&decoded.to_rgba16()))
        } else {
            Alpha::Eight(alpha_plane(&decoded.to_rgba8()))
        }
    });
    let colour = if deep {
        Colour::Sixteen(decoded.to_rgb16())
    } else {
        Colour::Eight(decoded.to_rgb8())
    };
    Still {
        colour,
        alpha,
        grayscale,
        metadata: StillMetadata::default(),
    }
}

fn alpha_plane<S: image::Primitive>(
    rgba: &ImageBuffer<image::Rgba<S>, Vec<S>>,
) -> ImageBuffer<Luma<S>, Vec<S>>
where
    image::Rgba<S>: image::Pixel<Subpixel = S>,
    Luma<S>: image::Pixel<Subpixel = S>,
{
    ImageBuffer::from_fn(rgba.width(), rgba.height(), |x, y| {
        Luma([rgba.get_pixel(x, y).0[3]])
    })
}

/// Scales an alpha plane to the restored size (Catmull-Rom, like the colour's detail).
pub fn resize_alpha(alpha: &Alpha, width: u32, height: u32) -> Alpha {
    let filter = image::imageops::FilterType::CatmullRom;
    match alpha {
        Alpha::Eight(a) => Alpha::Eight(image::imageops::resize(a, width, height, filter)),
        Alpha::Sixteen(a) => Alpha::Sixteen(image::imageops::resize(a, width, height, filter)),
    }
}

/// Joins colour and alpha back into one image in the source's channel layout.
pub fn join(still: Still) -> DynamicImage {
    let colour = match still.colour {
        Colour::Eight(i) => DynamicImage::ImageRgb8(i),
        Colour::Sixteen(i) => DynamicImage::ImageRgb16(i),
    };
    match (still.alpha, still.grayscale) {
        (None, false) => colour,
        (None, true) => match colour {
            DynamicImage::ImageRgb16(_) => DynamicImage::ImageLuma16(colour.to_luma16()),
            _ => DynamicImage::ImageLuma8(colour.to_luma8()),
        },
        (Some(Alpha::Eight(a)), grayscale) => {
            let mut rgba = colour.to_rgba8();
            for (pixel, alpha) in rgba.pixels_mut().zip(a.pixels()) {
                pixel.0[3] = alpha.0[0];
            }
            let joined = DynamicImage::ImageRgba8(rgba);
            if grayscale {
                DynamicImage::ImageLumaA8(joined.to_luma_alpha8())
            } else {
                joined
            }
        }
        (Some(Alpha::Sixteen(a)), grayscale) => {
            let mut rgba = colour.to_rgba16();
            for (pixel, alpha) in rgba.pixels_mut().zip(a.pixels()) {
                pixel.0[3] = alpha.0[0];
            }
            let joined = DynamicImage::ImageRgba16(rgba);
            if grayscale {
                DynamicImage::ImageLumaA16(joined.to_luma_alpha16())
            } else {
                joined
            }
        }
    }
}

/// Writes `image` as PNG to `path`, with `metadata`'s ICC profile (iCCP) and EXIF
/// block (eXIf).
///
/// # Errors
/// The file cannot be written.
pub fn write_png(
    image: &DynamicImage,
    metadata: &StillMetadata,
    path: &Path,
) -> Result<(), MediaError> {
    use image::ImageEncoder;
    let file = std::fs::File::create(path).map_err(|source| MediaError::Io {
        context: "cannot create PNG".into(),
        source,
    })?;
    let mut writer = std::io::BufWriter::new(file);
    let mut encoder = image::codecs::png::PngEncoder::new(&mut writer);
    // The PNG encoder accepts both; an error here would only mean a format without them.
    if let Some(profile) = &metadata.icc_profile {
        let _ = encoder.set_icc_profile(profile.clone());
    }
    if let Some(exif) = &metadata.exif {
        let _ = encoder.set_exif_metadata(exif.clone());
    }
    let write_error = |source| MediaError::Image {
        context: "cannot write PNG".into(),
        source,
    };
    image.write_with_encoder(encoder).map_err(write_error)?;
    std::io::Write::flush(&mut writer).map_err(|source| MediaError::Io {
        context: "cannot write PNG".into(),
        source,
    })
}
