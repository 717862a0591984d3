//! Running the tiles of a frame through a model: each tile's window is gathered into the
//! model's input, and only the part of the result the tile owns is placed in the output.
//! Tiles whose windows share one shape can run together as one batch (`tile_batch`),
//! which keeps a GPU busier than one small tile per run; each tile is still computed
//! alone, so the result does not depend on how the tiles were grouped.

use image::{ImageBuffer, Pixel};
use ndarray::{Array4, ArrayView3, ArrayView4, ArrayViewMut3};

use super::tile::{reflect, tiles, RgbImageOf, Sample, Tile, TileLayout};

/// A tile of one of several frames run together: the frame's place among them, and
/// the tile.
pub type FrameTile = (usize, Tile);

/// The tiles of a `width` × `height` frame in runs: tiles with windows of one shape, at
/// most `layout.per_run` in a run. Every tile owns its own part of the output, so the
/// order they run in does not matter; grouping by shape lets the inner tiles of a frame
/// cut without one shape (their windows equal, the border's differ) still run together.
pub fn tile_runs(width: u32, height: u32, layout: TileLayout) -> Vec<Vec<FrameTile>> {
    frame_tile_runs(&[(width, height)], layout)
}

/// [`tile_runs`] over several frames of the given sizes at once: tiles of one window
/// shape run together whichever frame they belong to, so frames restored whole (one
/// tile each) can share a run too.
pub fn frame_tile_runs(sizes: &[(u32, u32)], layout: TileLayout) -> Vec<Vec<FrameTile>> {
    let per_run = layout.per_run.max(1) as usize;
    let mut by_shape: Vec<Vec<FrameTile>> = Vec::new();
    for (frame, &(width, height)) in sizes.iter().enumerate() {
        for tile in tiles(width, height, layout) {
            match by_shape
                .iter_mut()
                .find(|group| group[0].1.window_size() == tile.window_size())
            {
                Some(group) => group.push((frame, tile)),
                None => by_shape.push(vec![(frame, tile)]),
            }
        }
    }
    by_shape
        .iter()
        .flat_map(|group| group.chunks(per_run).map(<[FrameTile]>::to_vec))
        .collect()
}

/// Restores `sources` (frames) run by run with `infer`, which maps a batch `[n,3,h,w]`
/// in 0..1 to `[n,3,h·scale,w·scale]`; tiles of one window shape run together, from any
/// of the frames.
///
/// # Errors
/// Whatever `infer` returns, or a result of the wrong shape (reported through
/// `shape_error`).
pub fn restore_frames<S, E>(
    sources: &[&RgbImageOf<S>],
    scale: u32,
    layout: TileLayout,
    mut infer: impl FnMut(ArrayView4<'_, f32>) -> Result<Array4<f32>, E>,
    shape_error: impl Fn(String) -> E,
) -> Result<Vec<RgbImageOf<S>>, E>
where
    S: Sample,
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    let sizes: Vec<(u32, u32)> = sources.iter().map(|s| s.dimensions()).collect();
    let mut outputs: Vec<RgbImageOf<S>> = sizes
        .iter()
        .map(|&(width, height)| ImageBuffer::new(width * scale, height * scale))
        .collect();
    for run in frame_tile_runs(&sizes, layout) {
        let result = restore_run(sources, &run, scale, &mut infer, &shape_error)?;
        place_run(&result, &mut outputs, &run, scale);
    }
    Ok(outputs)
}

/// Runs `infer` once on the windows of `run` (tiles of one window shape, of the frames
/// in `sources`) stacked as a batch, and checks the result's shape.
///
/// # Errors
/// Whatever `infer` returns, or a result of the wrong shape (reported through
/// `shape_error`).
pub fn restore_run<S, E>(
    sources: &[&RgbImageOf<S>],
    run: &[FrameTile],
    scale: u32,
    infer: impl FnOnce(ArrayView4<'_, f32>) -> Result<Array4<f32>, E>,
    shape_error: impl Fn(String) -> E,
) -> Result<Array4<f32>, E>
where
    S: Sample,
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    let (window_h, window_w) = run.first().map_or((0, 0), |(_, tile)| tile.window_size());
    let mut batch = Array4::<f32>::zeros((run.len(), 3, window_h, window_w));
    for (slot, &(frame, tile)) in batch.outer_iter_mut().zip(run) {
        if let Some(source) = sources.get(frame) {
            gather(source, tile, slot);
        }
    }
    let result = infer(batch.view())?;
    let scale = scale as usize;
    let expected = (run.len(), 3, window_h * scale, window_w * scale);
    if result.dim() != expected {
        return Err(shape_error(format!(
            "model output {:?} for input {:?} (expected {:?})",
            result.dim(),
            batch.dim(),
            expected
        )));
    }
    Ok(result)
}

/// Writes the part of each tile's (shape-checked) result in `result` that the tile owns
/// into its frame's output in `outputs`, each `scale` times its source's size.
pub fn place_run<S: Sample>(
    result: &Array4<f32>,
    outputs: &mut [RgbImageOf<S>],
    run: &[FrameTile],
    scale: u32,
) where
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    for (tile_result, &(frame, tile)) in result.outer_iter().zip(run) {
        if let Some(output) = outputs.get_mut(frame) {
            scatter(tile_result, output, tile, scale as usize);
        }
    }
}

/// Copies the window of `tile` (reflected past the image border) into `slot`, `[3,h,w]`.
fn gather<S: Sample>(source: &RgbImageOf<S>, tile: Tile, mut slot: ArrayViewMut3<'_, f32>)
where
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    let (width, height) = (i64::from(source.width()), i64::from(source.height()));
    let (row, column) = (tile.row, tile.column);
    let raw = source.as_raw();
    let columns: Vec<usize> = (column.window_start..column.window_end)
        .map(|x| reflect(x, width))
        .collect();
    for (wy, y) in (row.window_start..row.window_end).enumerate() {
        let line = reflect(y, height) * width as usize * 3;
        for (wx, &x) in columns.iter().enumerate() {
            let at = line + x * 3;
            for c in 0..3 {
                slot[[c, wy, wx]] = raw[at + c].to_unit();
            }
        }
    }
}

/// Writes the part of one tile's `result` (`[3,h,w]`) that the tile owns into `output`.
fn scatter<S: Sample>(
    result: ArrayView3<'_, f32>,
    output: &mut RgbImageOf<S>,
    tile: Tile,
    scale: usize,
) where
    image::Rgb<S>: Pixel<Subpixel = S>,
{
    let (row, column) = (tile.row, tile.column);
    let out_width = output.width() as usize;
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
                raw[at + c] = S::from_unit(result[[c, skip_y + dy, skip_x + dx]]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tile::{AxisRule, WindowRule};

    /// One frame through [`restore_frames`].
    fn restore_tiled(
        source: &RgbImageOf<u8>,
        scale: u32,
        layout: TileLayout,
        infer: impl FnMut(ArrayView4<'_, f32>) -> Result<Array4<f32>, String>,
        shape_error: impl Fn(String) -> String,
    ) -> Result<RgbImageOf<u8>, String> {
        let mut restored = restore_frames(&[source], scale, layout, infer, shape_error)?;
        Ok(restored.pop().unwrap())
    }

    /// A stand-in model: nearest-neighbour ×scale plus a 3×3 box blur, so results depend
    /// on neighbours the way a convolutional network's do. Each image of the batch alone.
    fn blur_upscale(input: ArrayView4<'_, f32>, scale: usize) -> Array4<f32> {
        let (n, c, h, w) = input.dim();
        let mut out = Array4::zeros((n, c, h * scale, w * scale));
        for i in 0..n {
            for ch in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        let mut sum = 0.0;
                        let mut count = 0.0;
                        for dy in -1i64..=1 {
                            for dx in -1i64..=1 {
                                let (yy, xx) = (y as i64 + dy, x as i64 + dx);
                                if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                                    sum += input[[i, ch, yy as usize, xx as usize]];
                                    count += 1.0;
                                }
                            }
                        }
                        for sy in 0..scale {
                            for sx in 0..scale {
                                out[[i, ch, y * scale + sy, x * scale + sx]] = sum / count;
                            }
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

    fn layout(tile: u32, overlap: u32, pad: u32, one_shape: bool) -> TileLayout {
        TileLayout {
            tile,
            overlap,
            pad,
            one_shape,
            window: WindowRule::default(),
            per_run: 1,
        }
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
    fn tiled_equals_whole_frame_when_overlap_covers_the_receptive_field() {
        let image = pattern(75, 41);
        let whole = run(&image, layout(0, 0, 3, false));
        let tiled = run(&image, layout(16, 2, 3, false));
        assert_eq!(whole.dimensions(), (150, 82));
        assert_eq!(whole, tiled);
        let one_shape = run(&image, layout(16, 2, 3, true));
        assert_eq!(whole, one_shape);
    }

    #[test]
    fn tiles_run_together_give_the_result_of_tiles_run_alone() {
        let image = pattern(75, 41);
        let alone = run(&image, layout(16, 2, 3, true));
        for per_run in [2, 3, 64] {
            let mut runs = 0;
            let together = restore_tiled(
                &image,
                2,
                TileLayout {
                    per_run,
                    ..layout(16, 2, 3, true)
                },
                |v| {
                    runs += 1;
                    Ok::<_, String>(blur_upscale(v, 2))
                },
                |e| e,
            )
            .unwrap();
            assert_eq!(together, alone, "per_run {per_run}");
            // 75×41 in balanced tiles of at most 16: 5 columns × 3 rows, one shape.
            assert_eq!(
                runs,
                15usize.div_ceil(per_run as usize),
                "per_run {per_run}"
            );
        }
    }

    #[test]
    fn runs_hold_one_window_shape_each() {
        // Without one shape, border windows differ from inner ones: 70×100 at tile 20 is
        // 4 columns × 5 rows; windows are 34 px at a border (tile, pad and overlap), 28
        // inside, 24 for the short last column: 3 column × 2 row sizes, six shapes.
        let cut = |per_run| TileLayout {
            per_run,
            ..layout(20, 4, 10, false)
        };
        let (image, alone) = (pattern(70, 100), run(&pattern(70, 100), cut(1)));
        for (per_run, expected_runs) in [(1, 20), (2, 11), (64, 6)] {
            let runs = tile_runs(70, 100, cut(per_run));
            assert_eq!(runs.len(), expected_runs, "per_run {per_run}");
            assert_eq!(runs.iter().map(Vec::len).sum::<usize>(), 4 * 5);
            for run in &runs {
                assert!(run.len() <= per_run as usize);
                assert!(run
                    .iter()
                    .all(|(_, t)| t.window_size() == run[0].1.window_size()));
            }
            assert_eq!(run(&image, cut(per_run)), alone, "per_run {per_run}");
        }
    }

    #[test]
    fn fixed_and_multiple_windows_give_the_whole_frame_result() {
        let image = pattern(75, 41);
        let whole = run(&image, layout(0, 0, 3, false));
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
                    window,
                    ..layout(16, 2, 3, one_shape)
                };
                for tile in tiles(75, 41, layout) {
                    let (h, w) = tile.window_size();
                    match window.height.fixed {
                        Some(size) => {
                            assert_eq!(
                                (h, w),
                                (size as usize, window.width.fixed.unwrap() as usize)
                            )
                        }
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
        let whole = run(&image, layout(0, 0, 3, false));
        let tiled = run(&image, layout(16, 0, 3, false));
        assert_ne!(whole, tiled);
    }

    #[test]
    fn wrong_output_shape_is_an_error() {
        let image = pattern(8, 8);
        let err = restore_tiled(
            &image,
            2,
            layout(0, 0, 0, false),
            |v| Ok::<_, String>(blur_upscale(v, 3)),
            |e| e,
        )
        .unwrap_err();
        assert!(err.contains("expected (1, 3, 16, 16)"), "{err}");
    }

    #[test]
    fn whole_frames_run_together_and_come_out_as_alone() {
        let frames = [pattern(30, 20), pattern(30, 20), pattern(30, 20)];
        let sources: Vec<&RgbImageOf<u8>> = frames.iter().collect();
        let whole = |per_run| TileLayout {
            per_run,
            ..layout(0, 0, 3, false)
        };
        assert_eq!(frame_tile_runs(&[(30, 20); 3], whole(1)).len(), 3);
        assert_eq!(
            frame_tile_runs(&[(30, 20); 3], whole(2))
                .iter()
                .map(Vec::len)
                .collect::<Vec<_>>(),
            [2, 1]
        );
        let mut runs = 0;
        let together = restore_frames(
            &sources,
            2,
            whole(3),
            |v| {
                runs += 1;
                Ok::<_, String>(blur_upscale(v, 2))
            },
            |e| e,
        )
        .unwrap();
        assert_eq!(runs, 1);
        for (frame, restored) in frames.iter().zip(&together) {
            assert_eq!(restored, &run(frame, whole(1)));
        }
    }
}
