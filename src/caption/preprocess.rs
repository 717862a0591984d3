//! Turning frames into the encoder's `pixel_values`: resize (with Pillow's arithmetic),
//! rescale and normalise, as the model's `preprocessor_config.json` says, batched.

use image::RgbImage;
use ndarray::Array4;

use super::configs::Preprocess;
use super::pil_resize::pil_resize;

/// A batch of frames as NCHW float input.
pub fn pixel_values(frames: &[&RgbImage], config: &Preprocess) -> Array4<f32> {
    let (width, height) = config
        .resize
        .or_else(|| frames.first().map(|f| f.dimensions()))
        .unwrap_or((1, 1));
    let mut batch = Array4::<f32>::zeros((frames.len(), 3, height as usize, width as usize));
    for (n, frame) in frames.iter().enumerate() {
        let resized = if config.resize.is_some() {
            pil_resize(frame, width, height, config.resample)
        } else {
            (*frame).clone()
        };
        for (x, y, pixel) in resized.enumerate_pixels() {
            for c in 0..3 {
                let mut value = f32::from(pixel.0[c]);
                if let Some(factor) = config.rescale {
                    // transformers rescales in double precision, then casts to float.
                    value = (f64::from(pixel.0[c]) * f64::from(factor)) as f32;
                }
                if let Some((mean, std)) = config.normalize {
                    value = (value - mean[c]) / std[c];
                }
                batch[[n, c, y as usize, x as usize]] = value;
            }
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caption::configs::Resample;

    #[test]
    fn vit_style_normalisation_maps_to_minus_one_one() {
        let config = Preprocess {
            resize: Some((4, 4)),
            resample: Resample::Bilinear,
            rescale: Some(1.0 / 255.0),
            normalize: Some(([0.5; 3], [0.5; 3])),
        };
        let black = RgbImage::from_pixel(8, 8, image::Rgb([0, 255, 0]));
        let batch = pixel_values(&[&black, &black], &config);
        assert_eq!(batch.dim(), (2, 3, 4, 4));
        assert_eq!(batch[[1, 0, 3, 3]], -1.0);
        assert_eq!(batch[[1, 1, 0, 0]], 1.0);
    }
}
