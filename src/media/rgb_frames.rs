//! RGB frames between ffmpeg and the stages: copying an `rgb24`/`rgb48le` frame out
//! into a tightly packed image, and an image into a frame for a filter graph.

use ffmpeg_next::format::Pixel;
use ffmpeg_next::util::frame::video::Video as VideoFrame;
use image::RgbImage;

use super::error::MediaError;
use super::image_io::{Colour, Rgb16Image};

/// Copies an `rgb24` or `rgb48le` frame into a tightly packed image (swscale rows are
/// padded).
pub fn colour_from(frame: &VideoFrame) -> Result<Colour, MediaError> {
    let (width, height) = (frame.width(), frame.height());
    let stride = frame.stride(0);
    let data = frame.data(0);
    let deep = frame.format() == Pixel::RGB48LE;
    let row_bytes = width as usize * if deep { 6 } else { 3 };
    let inconsistent = || MediaError::Unsupported("decoded frame has an inconsistent size".into());
    if deep {
        let mut samples = Vec::with_capacity(row_bytes / 2 * height as usize);
        for y in 0..height as usize {
            let row = &data[y * stride..y * stride + row_bytes];
            samples.extend(
                row.chunks_exact(2)
                    .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
            );
        }
        Rgb16Image::from_raw(width, height, samples)
            .map(Colour::Sixteen)
            .ok_or_else(inconsistent)
    } else {
        let mut packed = Vec::with_capacity(row_bytes * height as usize);
        for y in 0..height as usize {
            packed.extend_from_slice(&data[y * stride..y * stride + row_bytes]);
        }
        RgbImage::from_raw(width, height, packed)
            .map(Colour::Eight)
            .ok_or_else(inconsistent)
    }
}

/// An `rgb24` or `rgb48le` frame holding `image` (rows padded as ffmpeg wants them).
pub fn frame_from(image: &Colour) -> VideoFrame {
    let (width, height) = image.dimensions();
    let mut frame = match image {
        Colour::Eight(_) => VideoFrame::new(Pixel::RGB24, width, height),
        Colour::Sixteen(_) => VideoFrame::new(Pixel::RGB48LE, width, height),
    };
    let stride = frame.stride(0);
    let data = frame.data_mut(0);
    match image {
        Colour::Eight(image) => {
            let row_bytes = width as usize * 3;
            for (y, row) in image.as_raw().chunks_exact(row_bytes).enumerate() {
                data[y * stride..y * stride + row_bytes].copy_from_slice(row);
            }
        }
        Colour::Sixteen(image) => {
            let row_samples = width as usize * 3;
            for (y, row) in image.as_raw().chunks_exact(row_samples).enumerate() {
                let line = &mut data[y * stride..y * stride + row_samples * 2];
                for (bytes, sample) in line.chunks_exact_mut(2).zip(row) {
                    bytes.copy_from_slice(&sample.to_le_bytes());
                }
            }
        }
    }
    frame
}

/// Gives `frame` ATSC A/53 closed-caption side data holding `bytes`.
pub fn attach_closed_captions(frame: &mut VideoFrame, bytes: &[u8]) {
    if let Some(mut side_data) = frame.new_side_data(
        ffmpeg_next::util::frame::side_data::Type::A53CC,
        bytes.len(),
    ) {
        // SAFETY: the side data was just allocated with `bytes.len()` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (*side_data.as_mut_ptr()).data,
                bytes.len(),
            );
        }
    }
}

/// The frame's A/53 closed-caption bytes, if it has any.
pub fn closed_captions_of(frame: &VideoFrame) -> Option<Vec<u8>> {
    frame
        .side_data(ffmpeg_next::util::frame::side_data::Type::A53CC)
        .map(|data| data.data().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_go_into_frames_and_come_back_unchanged() {
        let eight = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8, y as u8, 200]));
        let back = colour_from(&frame_from(&Colour::Eight(eight.clone()))).unwrap();
        assert!(matches!(&back, Colour::Eight(b) if *b == eight));
        let sixteen =
            Rgb16Image::from_fn(3, 2, |x, y| image::Rgb([x as u16 * 1000, y as u16, 65535]));
        let back = colour_from(&frame_from(&Colour::Sixteen(sixteen.clone()))).unwrap();
        assert!(matches!(&back, Colour::Sixteen(b) if *b == sixteen));
    }
}
