//! Where a picture has the most detail: the window whose luma gradients add up to the
//! most. The report crops there, because restoration shows in edges and texture, and a
//! flat sky or a black border shows nothing.

use image::RgbImage;

/// The top-left corner of the `width`×`height` window of `image` with the most gradient
/// energy (the sum over its pixels of |∂x luma| + |∂y luma|). A picture with no detail
/// anywhere, or a tie, keeps the centred window, which is what a viewer looks at first.
/// The window is clamped to the picture.
#[must_use]
pub fn most_detailed(image: &RgbImage, width: u32, height: u32) -> (u32, u32) {
    let (w, h) = image.dimensions();
    let (width, height) = (width.min(w), height.min(h));
    if width == 0 || height == 0 {
        return (0, 0);
    }
    let sums = EnergySums::of(image);
    let centre = ((w - width) / 2, (h - height) / 2);
    let mut best = (centre, sums.window(centre.0, centre.1, width, height));
    for y in 0..=h - height {
        for x in 0..=w - width {
            let energy = sums.window(x, y, width, height);
            if energy > best.1 {
                best = ((x, y), energy);
            }
        }
    }
    best.0
}

/// A summed-area table of gradient energy, so any window's sum is four look-ups.
struct EnergySums {
    /// `(w + 1) × (h + 1)`, row-major; row 0 and column 0 are zero.
    table: Vec<u64>,
    stride: usize,
}

impl EnergySums {
    fn of(image: &RgbImage) -> Self {
        let (w, h) = (image.width() as usize, image.height() as usize);
        let luma: Vec<i32> = image.pixels().map(|p| luma(p.0)).collect();
        let stride = w + 1;
        let mut table = vec![0u64; stride * (h + 1)];
        for y in 0..h {
            let mut row = 0u64;
            for x in 0..w {
                let here = luma[y * w + x];
                let right = if x + 1 < w { luma[y * w + x + 1] } else { here };
                let below = if y + 1 < h {
                    luma[(y + 1) * w + x]
                } else {
                    here
                };
                row += u64::from((right - here).unsigned_abs() + (below - here).unsigned_abs());
                table[(y + 1) * stride + x + 1] = table[y * stride + x + 1] + row;
            }
        }
        Self { table, stride }
    }

    fn window(&self, x: u32, y: u32, width: u32, height: u32) -> u64 {
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = (x0 + width as usize, y0 + height as usize);
        let at = |x: usize, y: usize| self.table[y * self.stride + x];
        at(x1, y1) + at(x0, y0) - at(x0, y1) - at(x1, y0)
    }
}

/// BT.709 luma in 8-bit integer weights (54 + 183 + 19 = 256).
fn luma([r, g, b]: [u8; 3]) -> i32 {
    (54 * i32::from(r) + 183 * i32::from(g) + 19 * i32::from(b)) >> 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A flat grey picture with a checkerboard patch at `(px, py)`.
    fn patched(w: u32, h: u32, (px, py): (u32, u32), side: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let inside = (px..px + side).contains(&x) && (py..py + side).contains(&y);
            if inside && (x + y) % 2 == 0 {
                Rgb([250, 250, 250])
            } else {
                Rgb([100, 100, 100])
            }
        })
    }

    #[test]
    fn the_window_covers_the_detailed_patch() {
        let image = patched(300, 200, (230, 150), 20);
        let (x, y) = most_detailed(&image, 64, 48);
        assert!(x <= 230 && x + 64 >= 250, "x = {x}");
        assert!(y <= 150 && y + 48 >= 170, "y = {y}");
    }

    #[test]
    fn a_flat_picture_keeps_the_centre_and_a_large_window_is_clamped() {
        let flat = RgbImage::from_pixel(100, 60, Rgb([7, 7, 7]));
        assert_eq!(most_detailed(&flat, 40, 20), (30, 20));
        assert_eq!(most_detailed(&flat, 400, 400), (0, 0));
        assert_eq!(most_detailed(&RgbImage::new(0, 0), 4, 4), (0, 0));
    }
}
