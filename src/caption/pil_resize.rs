//! Resizing exactly as Pillow does for 8-bit RGB images (`Image.resize` with NEAREST,
//! BILINEAR or BICUBIC): separable convolution whose support widens when shrinking, with
//! Pillow's 22-bit fixed-point coefficients and rounding, horizontal pass first.
//!
//! transformers prepares captioning inputs with Pillow; using the same arithmetic keeps
//! the encoder's input, and so the captions, identical to the reference implementation.

use image::RgbImage;

use super::configs::Resample;

/// Fixed-point precision of Pillow's 8-bit resampling coefficients.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Resizes `source` to `width` × `height` with Pillow's arithmetic.
pub fn pil_resize(source: &RgbImage, width: u32, height: u32, filter: Resample) -> RgbImage {
    if source.dimensions() == (width, height) {
        // Pillow returns a copy when the size does not change.
        return source.clone();
    }
    if filter == Resample::Nearest {
        return nearest(source, width, height);
    }
    let (support, kernel): (f64, fn(f64) -> f64) = match filter {
        Resample::Bilinear => (1.0, bilinear),
        _ => (2.0, bicubic),
    };
    let mut image = source.clone();
    if width != source.width() {
        image = horizontal(&image, width, support, kernel);
    }
    if height != source.height() {
        image = vertical(&image, height, support, kernel);
    }
    image
}

fn bilinear(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// For each output position: the first input index and the fixed-point weights.
fn coefficients(
    in_size: u32,
    out_size: u32,
    support: f64,
    kernel: fn(f64) -> f64,
) -> Vec<(usize, Vec<i32>)> {
    let scale = f64::from(in_size) / f64::from(out_size);
    let filter_scale = scale.max(1.0);
    let support = support * filter_scale;
    (0..out_size)
        .map(|xx| {
            let center = (f64::from(xx) + 0.5) * scale;
            // Pillow truncates toward zero after adding 0.5.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(i64::from(in_size));
            let weights: Vec<f64> = (xmin..xmax)
                .map(|x| kernel((x as f64 - center + 0.5) / filter_scale))
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|w| {
                    let w = if total == 0.0 { *w } else { w / total };
                    let scaled = w * f64::from(1u32 << PRECISION_BITS);
                    (if w < 0.0 { scaled - 0.5 } else { scaled + 0.5 }) as i32
                })
                .collect();
            (usize::try_from(xmin).unwrap_or(0), fixed)
        })
        .collect()
}

fn clip8(sum: i64) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

fn convolve(samples: impl Fn(usize) -> [u8; 3], start: usize, weights: &[i32]) -> [u8; 3] {
    let mut sums = [1i64 << (PRECISION_BITS - 1); 3];
    for (offset, weight) in weights.iter().enumerate() {
        let pixel = samples(start + offset);
        for c in 0..3 {
            sums[c] += i64::from(pixel[c]) * i64::from(*weight);
        }
    }
    [clip8(sums[0]), clip8(sums[1]), clip8(sums[2])]
}

fn horizontal(source: &RgbImage, width: u32, support: f64, kernel: fn(f64) -> f64) -> RgbImage {
    let coeffs = coefficients(source.width(), width, support, kernel);
    RgbImage::from_fn(width, source.height(), |x, y| {
        let (start, weights) = &coeffs[x as usize];
        image::Rgb(convolve(
            |i| source.get_pixel(i as u32, y).0,
            *start,
            weights,
        ))
    })
}

fn vertical(source: &RgbImage, height: u32, support: f64, kernel: fn(f64) -> f64) -> RgbImage {
    let coeffs = coefficients(source.height(), height, support, kernel);
    RgbImage::from_fn(source.width(), height, |x, y| {
        let (start, weights) = &coeffs[y as usize];
        image::Rgb(convolve(
            |i| source.get_pixel(x, i as u32).0,
            *start,
            weights,
        ))
    })
}

fn nearest(source: &RgbImage, width: u32, height: u32) -> RgbImage {
    let sx = f64::from(source.width()) / f64::from(width);
    let sy = f64::from(source.height()) / f64::from(height);
    RgbImage::from_fn(width, height, |x, y| {
        let ix = ((f64::from(x) + 0.5) * sx) as u32;
        let iy = ((f64::from(y) + 0.5) * sy) as u32;
        *source.get_pixel(ix.min(source.width() - 1), iy.min(source.height() - 1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_a_copy() {
        let image = RgbImage::from_fn(5, 4, |x, y| image::Rgb([x as u8, y as u8, 7]));
        assert_eq!(pil_resize(&image, 5, 4, Resample::Bilinear), image);
    }

    #[test]
    fn flat_images_stay_flat() {
        let image = RgbImage::from_pixel(128, 96, image::Rgb([200, 120, 40]));
        for filter in [Resample::Bilinear, Resample::Bicubic, Resample::Nearest] {
            let small = pil_resize(&image, 64, 64, filter);
            assert!(small.pixels().all(|p| p.0 == [200, 120, 40]), "{filter:?}");
        }
    }

    #[test]
    fn halving_bilinear_averages_pixel_pairs_with_antialiasing() {
        // Shrinking by 2 widens the triangle to a support of 2 input pixels each side;
        // at the border Pillow drops the missing taps and renormalises the rest.
        let row: Vec<u8> = [0u8, 0, 0, 80, 80, 80, 160, 160, 160, 240, 240, 240].to_vec();
        let image = RgbImage::from_raw(4, 1, row).unwrap();
        let half = pil_resize(&image, 2, 1, Resample::Bilinear);
        // Output 0 is centred on input 1.0: taps 0, 1, 2 weigh 0.75, 0.75, 0.25.
        let expected0 = ((0.75 * 0.0 + 0.75 * 80.0 + 0.25 * 160.0) / 1.75_f64).round() as u8;
        assert_eq!(half.get_pixel(0, 0).0[0], expected0);
    }
}
