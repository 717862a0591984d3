//! The report's before/after pair of a restored item: the same region of its first frame
//! before and after, cut from the most detailed part of the picture, upright as a player
//! shows it. The "after" crop keeps the restored pixels 1:1 (no resampling), so what the
//! model did can be judged; the "before" crop keeps the source's pixels and the page
//! shows it enlarged to the same on-screen size.

use std::io::Cursor;

use image::{GenericImageView, RgbImage};
use serde::{Deserialize, Serialize};

use super::detail::most_detailed;

/// The largest side, in pixels, of an "after" crop (and so of both pictures on the page):
/// a ×2 restoration shows a 128-pixel region of the source, a ×4 one a 64-pixel region.
pub const CROP_SIDE: u32 = 256;

/// Items of one run whose crops the report keeps. A pair of a photo is 150–200 KB of
/// PNG, held until the run ends and then inlined in report.html: a nightly run over
/// 100 000 new stills would otherwise hold 20 GB and write a page no browser opens. The
/// journal keeps the pairs of this many most recent items for later reports.
pub const REPORT_THUMBNAILS: usize = 500;

/// Takes one of the `left` thumbnail places; false once they are all taken.
pub fn take_thumbnail_place(left: &std::sync::atomic::AtomicUsize) -> bool {
    use std::sync::atomic::Ordering;
    left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

/// Where the pair was cut, in upright pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crop {
    /// The region of the "before" frame.
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// The size of the whole "before" frame.
    pub frame_width: u32,
    pub frame_height: u32,
    /// The size of the "after" crop: the region at the restored frame's scale.
    pub after_width: u32,
    pub after_height: u32,
}

/// PNG crops of an item's first frame before and after restoration.
#[derive(Debug, Clone)]
pub struct Preview {
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    pub crop: Crop,
}

impl Preview {
    /// Turns both frames upright (`rotation`: degrees counter-clockwise, as a display
    /// matrix says), cuts the most detailed region of `before` and the same region of
    /// `after`, and encodes both as PNG.
    pub fn new(before: &RgbImage, after: &RgbImage, rotation: f64) -> Option<Self> {
        let (before, after) = (upright(before, rotation), upright(after, rotation));
        let crop = choose_crop(&before, &after)?;
        let before_crop = before.view(crop.x, crop.y, crop.width, crop.height);
        let (ax, ay) = after_origin(&crop, after.dimensions());
        let after_crop = after.view(ax, ay, crop.after_width, crop.after_height);
        Some(Self {
            before: png(&before_crop.to_image())?,
            after: png(&after_crop.to_image())?,
            crop,
        })
    }
}

/// The picture as a player shows it: turned by the nearest quarter turn to `degrees`
/// counter-clockwise.
#[must_use]
pub fn upright(image: &RgbImage, degrees: f64) -> RgbImage {
    let quarter_turns = if degrees.is_finite() {
        ((degrees / 90.0).round() as i64).rem_euclid(4)
    } else {
        0
    };
    match quarter_turns {
        // `rotate270` turns 270° clockwise, which is 90° counter-clockwise.
        1 => image::imageops::rotate270(image),
        2 => image::imageops::rotate180(image),
        3 => image::imageops::rotate90(image),
        _ => image.clone(),
    }
}

/// The region of `before` to show: as large as fits [`CROP_SIDE`] once scaled to the
/// restored size, where the picture has the most detail.
fn choose_crop(before: &RgbImage, after: &RgbImage) -> Option<Crop> {
    let ((bw, bh), (aw, ah)) = (before.dimensions(), after.dimensions());
    if bw == 0 || bh == 0 || aw == 0 || ah == 0 {
        return None;
    }
    let (sx, sy) = (f64::from(aw) / f64::from(bw), f64::from(ah) / f64::from(bh));
    let side = |scale: f64, whole: u32| ((f64::from(CROP_SIDE) / scale) as u32).clamp(1, whole);
    let (width, height) = (side(sx, bw), side(sy, bh));
    let (x, y) = most_detailed(before, width, height);
    let scaled = |length: u32, scale: f64, whole: u32| {
        ((f64::from(length) * scale).round() as u32).clamp(1, whole)
    };
    Some(Crop {
        x,
        y,
        width,
        height,
        frame_width: bw,
        frame_height: bh,
        after_width: scaled(width, sx, aw),
        after_height: scaled(height, sy, ah),
    })
}

/// Where the crop's region starts in the restored frame of size `(aw, ah)`.
fn after_origin(crop: &Crop, (aw, ah): (u32, u32)) -> (u32, u32) {
    let at = |start: u32, whole: u32, restored: u32, length: u32| {
        let scaled = (u64::from(start) * u64::from(restored) / u64::from(whole)) as u32;
        scaled.min(restored - length)
    };
    (
        at(crop.x, crop.frame_width, aw, crop.after_width),
        at(crop.y, crop.frame_height, ah, crop.after_height),
    )
}

fn png(image: &RgbImage) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails loudly on any unexpected error"
    )]

    use super::*;
    use image::Rgb;
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

    fn decode(png: &[u8]) -> RgbImage {
        image::load_from_memory(png).unwrap().to_rgb8()
    }

    /// Every pixel different, so a crop is found at one place only.
    fn numbered(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, (x * 7 + y * 3) as u8]))
    }

    #[test]
    fn the_after_crop_is_the_same_region_at_the_restored_scale() {
        let before = numbered(200, 100);
        let after = image::imageops::resize(&before, 800, 400, image::imageops::Nearest);
        let preview = Preview::new(&before, &after, 0.0).unwrap();
        let crop = preview.crop;
        assert_eq!((crop.width, crop.height), (64, 64));
        assert_eq!((crop.after_width, crop.after_height), (256, 256));
        let (b, a) = (decode(&preview.before), decode(&preview.after));
        assert_eq!(
            b,
            before.view(crop.x, crop.y, 64, 64).to_image(),
            "{crop:?}"
        );
        assert_eq!(
            a,
            after.view(crop.x * 4, crop.y * 4, 256, 256).to_image(),
            "{crop:?}"
        );
    }

    #[test]
    fn a_small_frame_is_shown_whole() {
        let before = numbered(96, 64);
        let after = image::imageops::resize(&before, 192, 128, image::imageops::Nearest);
        let preview = Preview::new(&before, &after, 0.0).unwrap();
        assert_eq!(decode(&preview.before), before);
        assert_eq!(decode(&preview.after), after);
    }

    #[test]
    fn a_quarter_turn_counter_clockwise_puts_the_top_right_corner_top_left() {
        let mut image = RgbImage::new(3, 2);
        image.put_pixel(2, 0, Rgb([255, 0, 0]));
        let turned = upright(&image, 90.0);
        assert_eq!(turned.dimensions(), (2, 3));
        assert_eq!(turned.get_pixel(0, 0), &Rgb([255, 0, 0]));
        let back = upright(&image, -90.0);
        assert_eq!(back.get_pixel(1, 2), &Rgb([255, 0, 0]));
        assert_eq!(upright(&image, 180.0).get_pixel(0, 1), &Rgb([255, 0, 0]));
        assert_eq!(upright(&image, 0.0), image);
    }
}
