//! Between the RGB tiles FrameForge restores and the images a model takes. An RGB model
//! gets the tile as it is; a gray (1-channel) model gets each colour plane as an image
//! of its own, or one plane when all three are equal (a gray source); an RGBA model gets
//! the colour with an opaque alpha channel, and its alpha output is dropped (a source's
//! alpha is scaled on its own, whatever the model). Results come back as RGB.

use ndarray::{s, Array4, ArrayView4, Axis};

/// The images a model of `channels` channels is fed for RGB tiles `[n,3,h,w]`, as a
/// batch `[k,channels,h,w]`: one image per tile, except for a gray model, which takes
/// one tile at a time (`n` = 1) as one to three images.
pub fn model_images(rgb: ArrayView4<'_, f32>, channels: u32) -> Array4<f32> {
    match channels {
        1 => {
            let planes = rgb.index_axis(Axis(0), 0);
            let gray = planes.index_axis(Axis(0), 0) == planes.index_axis(Axis(0), 1)
                && planes.index_axis(Axis(0), 0) == planes.index_axis(Axis(0), 2);
            let count = if gray { 1 } else { 3 };
            let (_, _, h, w) = rgb.dim();
            let mut images = Array4::zeros((count, 1, h, w));
            for plane in 0..count {
                images
                    .slice_mut(s![plane, 0, .., ..])
                    .assign(&planes.index_axis(Axis(0), plane));
            }
            images
        }
        4 => {
            let (n, _, h, w) = rgb.dim();
            let mut images = Array4::ones((n, 4, h, w));
            images.slice_mut(s![.., 0..3, .., ..]).assign(&rgb);
            images
        }
        _ => rgb.to_owned(),
    }
}

/// Puts a model's results `[k,channels,H,W]` for the images of [`model_images`] back
/// together as RGB tiles `[n,3,H,W]`.
pub fn rgb_result(results: &Array4<f32>, channels: u32) -> Array4<f32> {
    let (count, _, h, w) = results.dim();
    match channels {
        1 => {
            let mut rgb = Array4::zeros((1, 3, h, w));
            for plane in 0..3 {
                let source = if count == 1 { 0 } else { plane };
                rgb.slice_mut(s![0, plane, .., ..])
                    .assign(&results.slice(s![source, 0, .., ..]));
            }
            rgb
        }
        4 => results.slice(s![.., 0..3, .., ..]).to_owned(),
        _ => results.clone(),
    }
}

/// Splits `images` into the batches a model with a fixed batch size takes (the last one
/// filled up with copies of its last image); a free batch size takes them all at once.
pub fn batches(images: Array4<f32>, fixed: Option<u32>) -> Vec<Array4<f32>> {
    let count = images.dim().0;
    let size = match fixed {
        Some(n) if n as usize != count => n as usize,
        _ => return vec![images],
    };
    (0..count)
        .step_by(size)
        .map(|first| {
            let mut batch = Array4::zeros((size, images.dim().1, images.dim().2, images.dim().3));
            for slot in 0..size {
                let source = (first + slot).min(count - 1);
                batch
                    .index_axis_mut(Axis(0), slot)
                    .assign(&images.index_axis(Axis(0), source));
            }
            batch
        })
        .collect()
}

/// The first `count` results of batches made by [`batches`], as one array.
pub fn join_batches(results: Vec<Array4<f32>>, count: usize) -> Array4<f32> {
    if results.len() == 1 && results[0].dim().0 == count {
        return results.into_iter().next().unwrap_or_default();
    }
    let views: Vec<_> = results.iter().map(|r| r.view()).collect();
    let all = ndarray::concatenate(Axis(0), &views).unwrap_or_default();
    all.slice(s![0..count, .., .., ..]).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile() -> Array4<f32> {
        Array4::from_shape_fn((1, 3, 2, 3), |(_, c, y, x)| (c * 100 + y * 10 + x) as f32)
    }

    #[test]
    fn a_gray_model_gets_each_plane_and_gives_rgb_back() {
        let images = model_images(tile().view(), 1);
        assert_eq!(images.dim(), (3, 1, 2, 3));
        assert_eq!(images[[2, 0, 1, 2]], 212.0);
        assert_eq!(rgb_result(&images, 1), tile());
    }

    #[test]
    fn a_gray_tile_is_one_image_for_a_gray_model() {
        let gray = Array4::from_shape_fn((1, 3, 2, 2), |(_, _, y, x)| (y * 2 + x) as f32);
        let images = model_images(gray.view(), 1);
        assert_eq!(images.dim(), (1, 1, 2, 2));
        assert_eq!(rgb_result(&images, 1), gray);
    }

    #[test]
    fn an_rgba_model_gets_opaque_alpha_which_is_dropped_after() {
        let images = model_images(tile().view(), 4);
        assert_eq!(images.dim(), (1, 4, 2, 3));
        assert!(images.slice(s![0, 3, .., ..]).iter().all(|v| *v == 1.0));
        assert_eq!(rgb_result(&images, 4), tile());
    }

    #[test]
    fn fixed_batches_are_filled_with_copies_and_cut_after() {
        let images = Array4::from_shape_fn((3, 1, 1, 1), |(n, _, _, _)| n as f32);
        let split = batches(images.clone(), Some(2));
        assert_eq!(split.len(), 2);
        assert_eq!(split[1].iter().copied().collect::<Vec<_>>(), vec![2.0, 2.0]);
        assert_eq!(join_batches(split, 3), images);
        let padded = batches(images.slice(s![0..1, .., .., ..]).to_owned(), Some(4));
        assert_eq!(padded[0].dim().0, 4);
        assert_eq!(join_batches(padded, 1).dim().0, 1);
        assert_eq!(batches(images.clone(), None).len(), 1);
    }
}
