//! Tiled inference: an image is cut into tiles, each tile is run with a margin of real
//! neighbouring pixels (reflected at the image border), and only the tile's own part of
//! each result is kept, so the seams of a tiled run match a whole-frame run.
//!
//! Memory is bounded by the tile size, not the frame size: a 4K frame at tile 256 needs
//! only a few MB of model input at a time.

use image::{ImageBuffer, Pixel, Primitive};
use ndarray::{Array4, ArrayView4};

/// How a frame is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileLayout {
    /// Tile side in input pixels; 0 runs the whole frame at once.
    pub tile: u32,
    /// Real pixels added on each side of an inner tile edge.
    pub overlap: u32,
    /// Reflected pixels added on each side at the image border.
    pub pad: u32,
    /// Run every tile of a frame in a window of one shape (see [`spans`]): for GPUs,
    /// which tune their kernels per input shape. On a CPU the shortest windows are
    /// cheaper (about 3 % fewer pixels at 720×576, tile 256).
    pub one_shape: bool,
    /// What the model demands of window heights and widths.
    pub window: WindowRule,
}

/// What a model demands of the size of the windows it runs on, per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowRule {
    pub height: AxisRule,
    pub width: AxisRule,
}

/// One axis of a [`WindowRule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisRule {
    /// The model takes exactly this many pixels (a static input dimension): every window
    /// has this size, whatever the tile setting, and windows past the image border are
    /// filled by reflection.
    pub fixed: Option<u32>,
    /// Window sizes are rounded up to a multiple of this by reading further into the
    /// image (reflected past its border); the extra output is not kept.
    pub multiple: u32,
}

impl Default for AxisRule {
    fn default() -> Self {
        Self {
            fixed: None,
            multiple: 1,
        }
    }
}

/// An RGB image with samples of type `S`.
pub type RgbImageOf<S> = ImageBuffer<image::Rgb<S>, Vec<S>>;

/// A pixel sample that maps to and from the model's 0..1 range.
pub trait Sample: Primitive + Send + Sync + 'static {
    /// Sample value for 1.0.
    const FULL: f32;

    fn to_unit(self) -> f32;

    /// Clamps to 0..1 first: GAN outputs overshoot slightly both ways.
    fn from_unit(value: f32) -> Self;
}

impl Sample for u8 {
    const FULL: f32 = 255.0;
    fn to_unit(self) -> f32 {
        f32::from(self) / Self::FULL
    }
    fn from_unit(value: f32) -> Self {
        // Truncation is exact: the value is in 0.5..=255.5 before flooring.
        (value.clamp(0.0, 1.0) * Self::FULL + 0.5).floor() as u8
    }
}

impl Sample for u16 {
    const FULL: f32 = 65535.0;
    fn to_unit(self) -> f32 {
        f32::from(self) / Self::FULL
    }
    fn from_unit(value: f32) -> Self {
        (value.clamp(0.0, 1.0) * Self::FULL + 0.5).floor() as u16
    }
}

/// One tile: the output region it owns and the input window it is run on (window
/// coordinates may lie outside the image; those pixels are reflected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: i64,
    end: i64,
    window_start: i64,
    window_end: i64,
}

/// The spans that cover `len` pixels along one axis: tiles of `tile` pixels (the last
/// one shorter), each run with `overlap` real pixels of context at inner edges and `pad`
/// reflected pixels at the image border.
///
/// With `one_shape`, every window of the axis has the same size instead: a GPU chooses
/// its convolution algorithms per input shape (cuDNN's search costs about a second per
/// shape and session), so a frame whose windows share one shape pays for one search
/// rather than nine. The tiles are then balanced (`len` split into equal parts no larger
/// than `tile`) so that equal windows cost hardly more pixels than a short last tile,
/// and a window at the image border reaches further inward instead of outward.
fn spans(len: u32, layout: TileLayout, rule: AxisRule) -> Vec<Span> {
    if let Some(size) = rule.fixed {
        return fixed_spans(i64::from(len), layout, i64::from(size));
    }
    let mut spans = free_spans(len, layout);
    let multiple = i64::from(rule.multiple.max(1));
    for span in &mut spans {
        let size = span.window_end - span.window_start;
        span.window_end += (multiple - size % multiple) % multiple;
    }
    spans
}

/// Spans for a model that takes windows of exactly `size` pixels: each owns `size` less
/// the margins (the margins shrink to a quarter of the window when the window is small),
/// and a window at the border reaches inward as far as the image allows.
fn fixed_spans(len: i64, layout: TileLayout, size: i64) -> Vec<Span> {
    let pad = i64::from(layout.pad);
    let mut margin = i64::from(layout.overlap.max(layout.pad));
    if 2 * (size - 2 * margin) < size {
        margin = size / 4;
    }
    let tile = size - 2 * margin;
    let mut out = Vec::new();
    let mut start = 0;
    while start < len {
        let end = (start + tile).min(len);
        let window_start = (start - margin).min(len + pad - size).max(-pad);
        out.push(Span {
            start,
            end,
            window_start,
            window_end: window_start + size,
        });
        start = end;
    }
    out
}

/// Spans for a model that takes any window size.
fn free_spans(len: u32, layout: TileLayout) -> Vec<Span> {
    let len = i64::from(len);
    let pad = i64::from(layout.pad);
    let overlap = i64::from(layout.overlap);
    let requested = if layout.tile == 0 {
        len
    } else {
        i64::from(layout.tile)
    };
    let tile = if layout.one_shape {
        let count = ((len + requested - 1) / requested).max(1);
        (len + count - 1) / count
    } else {
        requested
    };
    let margin = overlap.max(pad);
    let size = (tile + 2 * margin).min(len + 2 * pad);
    let mut out = Vec::new();
    let mut start = 0;
    while start < len {
        let end = (start + tile).min(len);
        let (window_start, window_end) = if layout.one_shape {
            let window_start = (start - margin).clamp(-pad, len + pad - size);
            (window_start, window_start + size)
        } else {
            (
                if start == 0 { -pad } else { start - overlap },
                if end == len { len + pad } else { end + overlap },
            )
        };
        out.push(Span {
            start,
            end,
            window_start,
            window_end,
        });
        start = end;
    }
    out
}

/// Index into `0..len` with mirror reflection that does not repeat the edge pixel
/// (numpy's and PyTorch's `reflect`), folding as often as needed for tiny images.
fn reflect(index: i64, len: i64) -> usize {
    if len <= 1 {
        return 0;
    }
    let period = 2 * (len - 1);
    let folded = index.rem_euclid(period);
    (if folded < len {
        folded
    } else {
        period - folded
    }) as usize
}

/// One tile of a frame: the output region it owns and the window it is run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    row: Span,
    column: Span,
}

/// The tiles that cover a `width` × `height` frame, row by row.
pub fn tiles(width: u32, height: u32, layout: TileLayout) -> Vec<Tile> {
    let columns = spans(width, layout, layout.window.width);
    spans(height, layout, layout.window.height)
        .into_iter()
        .flat_map(|row| columns.iter().map(move |&column| Tile { row, column }))
        .collect()
}

/// Restores `source` tile by tile with `infer`, which maps a [1,3,h,w] batch in 0..1 to
/// [1,3,h·scale,w·scale].
///
/// # Errors
/// Whatever `infer` returns, or a result of the wrong shape (reported through
/// `shape_error`).
pub fn restore_tiled<S, E>(
    source: &RgbImageOf<S>,
    scale: u32,
    layout: TileLayout,
    mut infer: impl FnMut(ArrayView4<'_, f32>) -> Result<Array4<f32>, E>,
    shape_error: impl Fn(String) -> E,
) -> Result<RgbImageOf<S>, E>
where
    S: Sample,
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    let (width, height) = source.dimensions();
    let mut output: RgbImageOf<S> = ImageBuffer::new(width * scale, height * scale);
    for tile in tiles(width, height, layout) {
        let result = restore_tile(source, tile, scale, &mut infer, &shape_error)?;
        place_tile(&result, &mut output, tile, scale);
    }
    Ok(output)
}

/// Runs `infer` on the window of one tile of `source` and checks the result's shape.
///
/// # Errors
/// Whatever `infer` returns, or a result of the wrong shape (reported through
/// `shape_error`).
pub fn restore_tile<S, E>(
    source: &RgbImageOf<S>,
    tile: Tile,
    scale: u32,
    infer: impl FnOnce(ArrayView4<'_, f32>) -> Result<Array4<f32>, E>,
    shape_error: impl Fn(String) -> E,
) -> Result<Array4<f32>, E>
where
    S: Sample,
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    let input = gather(source, tile.row, tile.column);
    let result = infer(input.view())?;
    let scale = scale as usize;
    let expected = (1, 3, input.dim().2 * scale, input.dim().3 * scale);
    if result.dim() != expected {
        return Err(shape_error(format!(
            "model output {:?} for input {:?} (expected {:?})",
            result.dim(),
            input.dim(),
            expected
        )));
    }
    Ok(result)
}

/// Writes the part of a tile's (shape-checked) result that the tile owns into `output`,
/// an image `scale` times the source's size.
pub fn place_tile<S: Sample>(
    result: &Array4<f32>,
    output: &mut RgbImageOf<S>,
    tile: Tile,
    scale: u32,
) where
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    let out_width = output.width() as usize;
    scatter(
        result,
        output,
        out_width,
        tile.row,
        tile.column,
        scale as usize,
    );
}

/// Copies the window of `row` × `column` into a model input batch.
fn gather<S: Sample>(source: &RgbImageOf<S>, row: Span, column: Span) -> Array4<f32>
where
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    let (width, height) = (i64::from(source.width()), i64::from(source.height()));
    let window_h = (row.window_end - row.window_start) as usize;
    let window_w = (column.window_end - column.window_start) as usize;
    let raw = source.as_raw();
    let columns: Vec<usize> = (column.window_start..column.window_end)
        .map(|x| reflect(x, width))
        .collect();
    let mut batch = Array4::<f32>::zeros((1, 3, window_h, window_w));
    for (wy, y) in (row.window_start..row.window_end).enumerate() {
        let line = reflect(y, height) * width as usize * 3;
        for (wx, &x) in columns.iter().enumerate() {
            let at = line + x * 3;
            for c in 0..3 {
                batch[[0, c, wy, wx]] = raw[at + c].to_unit();
            }
        }
    }
    batch
}

/// Writes the part of `result` that `row` × `column` owns into `output`.
fn scatter<S: Sample>(
    result: &Array4<f32>,
    output: &mut RgbImageOf<S>,
    out_width: usize,
    row: Span,
    column: Span,
    scale: usize,
) where
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    let raw: &mut [S] = output;
    let skip_y = (row.start - row.window_start) as usize * scale;
    let skip_x = (column.start - column.window_start) as usize * scale;
    let rows = (row.end - row.start) as usize * scale;
    let cols = (column.end - column.start) as usize * scale;
    let y0 = row.start as usize * scale;
    let x0 = column.start as usize * scale;
    for dy in 0..rows {
        let line = (y0 + dy) * out_width * 3;
        for dx in 0..cols {
            let at = line + (x0 + dx) * 3;
            for c in 0..3 {
                raw[at + c] = S::from_unit(result[[0, c, skip_y + dy, skip_x + dx]]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    /// A stand-in model: nearest-neighbour ×scale plus a 3×3 box blur, so results depend
    /// on neighbours the way a convolutional network's do.
    fn blur_upscale(input: ArrayView4<'_, f32>, scale: usize) -> Array4<f32> {
        let (_, c, h, w) = input.dim();
        let mut out = Array4::zeros((1, c, h * scale, w * scale));
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let mut sum = 0.0;
                    let mut n = 0.0;
                    for dy in -1i64..=1 {
                        for dx in -1i64..=1 {
                            let (yy, xx) = (y as i64 + dy, x as i64 + dx);
                            if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                                sum += input[[0, ch, yy as usize, xx as usize]];
                                n += 1.0;
                            }
                        }
                    }
                    for sy in 0..scale {
                        for sx in 0..scale {
                            out[[0, ch, y * scale + sy, x * scale + sx]] = sum / n;
                        }
                    }
                }
            }
        }
        out
    }

    fn pattern(width: u32, height: u32) -> RgbImageOf<u8> {
        ImageBuffer::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7 + y * 3) as u8, (x * x + y) as u8, (y * 11) as u8])
        })
    }

    fn run(image: &RgbImageOf<u8>, layout: TileLayout) -> RgbImageOf<u8> {
        restore_tiled(
            image,
            2,
            layout,
            |v| Ok::<_, String>(blur_upscale(v, 2)),
            |e| e,
        )
        .unwrap()
    }

    #[test]
    fn spans_cover_the_axis_exactly_once() {
        let layout = TileLayout {
            tile: 32,
            overlap: 4,
            pad: 10,
            one_shape: false,
            window: WindowRule::default(),
        };
        let s = spans(70, layout, AxisRule::default());
        let got: Vec<_> = s
            .iter()
            .map(|s| (s.start, s.end, s.window_start, s.window_end))
            .collect();
        assert_eq!(
            got,
            vec![(0, 32, -10, 36), (32, 64, 28, 68), (64, 70, 60, 80)]
        );
        // One shape: 70 px in tiles of at most 32 are three balanced tiles of 24, 24 and
        // 22 px, each run in a window of 24 + 2·10 px inside the padded axis.
        let s = spans(
            70,
            TileLayout {
                one_shape: true,
                window: WindowRule::default(),
                ..layout
            },
            AxisRule::default(),
        );
        let got: Vec<_> = s
            .iter()
            .map(|s| (s.start, s.end, s.window_start, s.window_end))
            .collect();
        assert_eq!(
            got,
            vec![(0, 24, -10, 34), (24, 48, 14, 58), (48, 70, 36, 80)]
        );
    }

    #[test]
    fn every_window_of_an_axis_has_one_size_and_holds_its_span() {
        for len in [1, 7, 63, 64, 65, 135, 241, 576, 720, 1080, 1920] {
            for (tile, overlap, pad) in [(64, 16, 10), (256, 16, 10), (32, 4, 10), (8, 16, 2)] {
                let layout = TileLayout {
                    tile,
                    overlap,
                    pad,
                    one_shape: true,
                    window: WindowRule::default(),
                };
                let s = spans(len, layout, AxisRule::default());
                let size = s[0].window_end - s[0].window_start;
                let mut covered = 0;
                for span in &s {
                    assert_eq!(span.start, covered, "len {len} {layout:?}");
                    assert!(span.end - span.start <= i64::from(tile));
                    assert_eq!(span.window_end - span.window_start, size);
                    assert!(span.window_start <= span.start && span.end <= span.window_end);
                    assert!(span.window_start >= -i64::from(pad));
                    assert!(span.window_end <= i64::from(len) + i64::from(pad));
                    covered = span.end;
                }
                assert_eq!(covered, i64::from(len));
            }
        }
    }

    #[test]
    fn whole_frame_is_one_span_with_padding() {
        let layout = TileLayout {
            tile: 0,
            overlap: 16,
            pad: 10,
            one_shape: false,
            window: WindowRule::default(),
        };
        let s = spans(50, layout, AxisRule::default());
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].window_start, s[0].window_end), (-10, 60));
    }

    #[test]
    fn reflect_mirrors_without_repeating_the_edge() {
        let got: Vec<usize> = (-3..8).map(|i| reflect(i, 5)).collect();
        assert_eq!(got, vec![3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1]);
        assert_eq!(reflect(-25, 3), 1);
        assert_eq!(reflect(7, 1), 0);
    }

    #[test]
    fn tiled_equals_whole_frame_when_overlap_covers_the_receptive_field() {
        let image = pattern(75, 41);
        let whole = run(
            &image,
            TileLayout {
                tile: 0,
                overlap: 0,
                pad: 3,
                one_shape: false,
                window: WindowRule::default(),
            },
        );
        let tiled = run(
            &image,
            TileLayout {
                tile: 16,
                overlap: 2,
                pad: 3,
                one_shape: false,
                window: WindowRule::default(),
            },
        );
        assert_eq!(whole.dimensions(), (150, 82));
        assert_eq!(whole, tiled);
        let one_shape = run(
            &image,
            TileLayout {
                tile: 16,
                overlap: 2,
                pad: 3,
                one_shape: true,
                window: WindowRule::default(),
            },
        );
        assert_eq!(whole, one_shape);
    }

    #[test]
    fn fixed_and_multiple_windows_give_the_whole_frame_result() {
        let image = pattern(75, 41);
        let whole = run(
            &image,
            TileLayout {
                tile: 0,
                overlap: 0,
                pad: 3,
                one_shape: false,
                window: WindowRule::default(),
            },
        );
        let fixed = |h, w| WindowRule {
            height: AxisRule {
                fixed: Some(h),
                multiple: 1,
            },
            width: AxisRule {
                fixed: Some(w),
                multiple: 1,
            },
        };
        let multiple = WindowRule {
            height: AxisRule {
                fixed: None,
                multiple: 8,
            },
            width: AxisRule {
                fixed: None,
                multiple: 16,
            },
        };
        // Windows smaller than the image, a multiple, and windows larger than the image.
        for window in [fixed(16, 24), multiple, fixed(64, 128)] {
            for one_shape in [false, true] {
                let layout = TileLayout {
                    tile: 16,
                    overlap: 2,
                    pad: 3,
                    one_shape,
                    window,
                };
                for tile in tiles(75, 41, layout) {
                    let h = (tile.row.window_end - tile.row.window_start) as u32;
                    let w = (tile.column.window_end - tile.column.window_start) as u32;
                    match window.height.fixed {
                        Some(size) => assert_eq!((h, w), (size, window.width.fixed.unwrap())),
                        None => assert_eq!((h % 8, w % 16), (0, 0), "{h}x{w}"),
                    }
                }
                assert_eq!(
                    run(&image, layout),
                    whole,
                    "{window:?} one_shape {one_shape}"
                );
            }
        }
    }

    #[test]
    fn zero_overlap_shows_seams() {
        let image = pattern(64, 64);
        let whole = run(
            &image,
            TileLayout {
                tile: 0,
                overlap: 0,
                pad: 3,
                one_shape: false,
                window: WindowRule::default(),
            },
        );
        let tiled = run(
            &image,
            TileLayout {
                tile: 16,
                overlap: 0,
                pad: 3,
                one_shape: false,
                window: WindowRule::default(),
            },
        );
        assert_ne!(whole, tiled);
    }

    #[test]
    fn sixteen_bit_samples_round_trip() {
        assert_eq!(u16::from_unit(1.2), 65535);
        assert_eq!(u16::from_unit(-0.1), 0);
        assert_eq!(u8::from_unit(0.5), 128);
        assert_eq!(u8::from_unit(200.0 / 255.0), 200);
    }

    #[test]
    fn wrong_output_shape_is_an_error() {
        let image = pattern(8, 8);
        let err = restore_tiled(
            &image,
            2,
            TileLayout {
                tile: 0,
                overlap: 0,
                pad: 0,
                one_shape: false,
                window: WindowRule::default(),
            },
            |v| Ok::<_, String>(blur_upscale(v, 3)),
            |e| e,
        )
        .unwrap_err();
        assert!(err.contains("expected (1, 3, 16, 16)"), "{err}");
    }
}
