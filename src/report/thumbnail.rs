//! Small before/after pictures of a restored item for the HTML report.

use std::io::Cursor;

use image::imageops::FilterType;
use image::RgbImage;

/// Width of a thumbnail in the report.
pub const THUMBNAIL_WIDTH: u32 = 240;

/// PNG thumbnails of an item's first frame before and after restoration.
#[derive(Debug, Clone)]
pub struct Preview {
    pub before: Vec<u8>,
    pub after: Vec<u8>,
}

impl Preview {
    /// Scales both frames to the report's thumbnail width and encodes them as PNG.
    pub fn new(before: &RgbImage, after: &RgbImage) -> Option<Self> {
        Some(Self {
            before: png_thumbnail(before)?,
            after: png_thumbnail(after)?,
        })
    }
}

fn png_thumbnail(image: &RgbImage) -> Option<Vec<u8>> {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return None;
    }
    let height = (u64::from(h) * u64::from(THUMBNAIL_WIDTH) / u64::from(w)).max(1);
    // Upscaling for display uses nearest so the "after" detail is not invented; both
    // sides are shown at the same size so they can be compared.
    let filter = if w < THUMBNAIL_WIDTH {
        FilterType::Nearest
    } else {
        FilterType::Triangle
    };
    let small =
        image::imageops::resize(image, THUMBNAIL_WIDTH, u32::try_from(height).ok()?, filter);
    let mut bytes = Vec::new();
    small
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .ok()?;
    Some(bytes)
}
