//! Small before/after pictures of a restored item for the HTML report.

use std::io::Cursor;

use image::imageops::FilterType;
use image::RgbImage;

/// Width of a thumbnail in the report.
pub const THUMBNAIL_WIDTH: u32 = 240;

/// Items of one run whose thumbnails the report keeps. A pair is some 100 KB of PNG, held
/// until the run ends and then inlined in report.html: a nightly run over 100 000 new
/// stills would otherwise hold 10 GB and write a page no browser opens.
pub const REPORT_THUMBNAILS: usize = 500;

/// Takes one of the `left` thumbnail places; false once they are all taken.
pub fn take_thumbnail_place(left: &std::sync::atomic::AtomicUsize) -> bool {
    use std::sync::atomic::Ordering;
    left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

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

#[cfg(test)]
mod tests {
    use super::take_thumbnail_place;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn places_run_out_and_stay_out() {
        let left = AtomicUsize::new(2);
        let taken: Vec<bool> = (0..4).map(|_| take_thumbnail_place(&left)).collect();
        assert_eq!(taken, [true, true, false, false]);
    }

    #[test]
    fn places_are_shared_by_threads_without_overshoot() {
        let left = AtomicUsize::new(100);
        let taken = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        if take_thumbnail_place(&left) {
                            taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(taken.into_inner(), 100);
    }
}
