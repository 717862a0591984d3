//! Resizing a model's output to another scale (a ×4 model where ×2 is wanted, as
//! Real-ESRGAN's `--outscale` does): Lanczos-3 on the float result, before it is
//! clamped and quantised, so no precision is lost in between. Each tile's window is
//! resized whole and only its own part kept, so the kernel's reach stays inside the
//! tile's context margin and the seams match a whole-frame resize.

use image::imageops::{resize, FilterType};
use image::{ImageBuffer, Rgb};
use ndarray::Array4;

/// Resizes RGB results `[n,3,h,w]` to `[n,3,height,width]`, each image alone.
pub fn resize_rgb(result: &Array4<f32>, height: u32, width: u32) -> Array4<f32> {
    let (n, _, h, w) = result.dim();
    let resized: Vec<ImageBuffer<Rgb<f32>, Vec<f32>>> = (0..n)
        .map(|i| {
            let image = ImageBuffer::from_fn(w as u32, h as u32, |x, y| {
                let (x, y) = (x as usize, y as usize);
                Rgb([
                    result[[i, 0, y, x]],
                    result[[i, 1, y, x]],
                    result[[i, 2, y, x]],
                ])
            });
            resize(&image, width, height, FilterType::Lanczos3)
        })
        .collect();
    Array4::from_shape_fn((n, 3, height as usize, width as usize), |(i, c, y, x)| {
        resized[i].get_pixel(x as u32, y as u32).0[c]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_result_stays_flat_and_takes_the_new_size() {
        let flat = Array4::from_elem((1, 3, 8, 12), 0.25f32);
        let half = resize_rgb(&flat, 4, 6);
        assert_eq!(half.dim(), (1, 3, 4, 6));
        assert!(half.iter().all(|v| (v - 0.25).abs() < 1e-5));
    }

    #[test]
    fn each_image_of_a_batch_is_resized_alone() {
        let mut two = Array4::from_elem((2, 3, 8, 12), 0.25f32);
        two.slice_mut(ndarray::s![1, .., .., ..]).fill(0.75);
        let half = resize_rgb(&two, 4, 6);
        assert_eq!(half.dim(), (2, 3, 4, 6));
        assert!(half
            .slice(ndarray::s![0, .., .., ..])
            .iter()
            .all(|v| (v - 0.25).abs() < 1e-5));
        assert!(half
            .slice(ndarray::s![1, .., .., ..])
            .iter()
            .all(|v| (v - 0.75).abs() < 1e-5));
    }
}
