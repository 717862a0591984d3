//! How a frame is cut for tiled inference: into tiles, each run in a window with a
//! margin of real neighbouring pixels (reflected at the image border), so that when only
//! the tile's own part of each result is kept (`tile_run`), the seams of a tiled run
//! match a whole-frame run.
//!
//! Memory is bounded by the tile size, not the frame size: a 4K frame at tile 256 needs
//! only a few MB of model input at a time.

use image::{ImageBuffer, Primitive};

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
    /// Tiles whose windows share one shape run together, up to this many in one batch
    /// (`tile_batch`); 1 runs each alone.
    pub per_run: u32,
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
pub(super) struct Span {
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) window_start: i64,
    pub(super) window_end: i64,
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
pub(super) fn reflect(index: i64, len: i64) -> usize {
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
    pub(super) row: Span,
    pub(super) column: Span,
}

impl Tile {
    /// The height and width of the window the tile is run on.
    pub fn window_size(&self) -> (usize, usize) {
        let size = |span: Span| (span.window_end - span.window_start) as usize;
        (size(self.row), size(self.column))
    }
}

/// The tiles that cover a `width` × `height` frame, row by row.
pub fn tiles(width: u32, height: u32, layout: TileLayout) -> Vec<Tile> {
    let columns = spans(width, layout, layout.window.width);
    spans(height, layout, layout.window.height)
        .into_iter()
        .flat_map(|row| columns.iter().map(move |&column| Tile { row, column }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_axis_exactly_once() {
        let layout = TileLayout {
            tile: 32,
            overlap: 4,
            pad: 10,
            one_shape: false,
            window: WindowRule::default(),
            per_run: 1,
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
                    per_run: 1,
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
            per_run: 1,
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
    fn sixteen_bit_samples_round_trip() {
        assert_eq!(u16::from_unit(1.2), 65535);
        assert_eq!(u16::from_unit(-0.1), 0);
        assert_eq!(u8::from_unit(0.5), 128);
        assert_eq!(u8::from_unit(200.0 / 255.0), 200);
    }
}
