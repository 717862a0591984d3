//! TensorRT shape profiles for the windows a restore stage runs a model on. TensorRT
//! builds an engine for a range of input shapes; without a profile it builds one for the
//! first shape it meets and builds again for every shape outside what it has built for
//! (a new frame size, the border tile of another file). A stage knows the largest window
//! its tiles can have, so its sessions declare it: one engine, tuned for that window (the
//! shape nearly every run has on a GPU, where tiles are cut in one shape), valid for any
//! smaller one.

use super::restore_model::ModelInterface;
use super::tile::{AxisRule, TileLayout};

/// The shapes one input may take: `[n, c, h, w]` from `min` to `max`, tuned for `opt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeProfile {
    pub input: String,
    pub min: [usize; 4],
    pub opt: [usize; 4],
    pub max: [usize; 4],
}

impl ShapeProfile {
    /// The profile of the windows `layout` cuts for a model of `interface`; `None` when
    /// the input has one shape anyway (every dimension fixed), when window sizes are only
    /// known per file (`tile: 0`, whole frames), or when constant inputs follow the
    /// frame's shape (a profile would have to name them too): TensorRT then builds for
    /// the shapes it meets.
    pub fn for_windows(interface: &ModelInterface, layout: &TileLayout) -> Option<Self> {
        if !interface.signature.constants.is_empty() {
            return None;
        }
        let input = &interface.signature.input;
        let channels = interface.signature.channels as usize;
        let (min_batch, max_batch) = match input.batch {
            Some(fixed) => (fixed as usize, fixed as usize),
            // A gray model takes the three planes of one tile as three images.
            None if channels == 1 => (1, 3),
            None => (1, layout.per_run.max(1) as usize),
        };
        let height = window_range(layout, layout.window.height)?;
        let width = window_range(layout, layout.window.width)?;
        let all_fixed = min_batch == max_batch && height.0 == height.1 && width.0 == width.1;
        if all_fixed {
            return None;
        }
        let max = [max_batch, channels, height.1, width.1];
        Some(Self {
            input: input.name.clone(),
            min: [min_batch, channels, height.0, width.0],
            opt: max,
            max,
        })
    }

    /// The profile in TensorRT's option syntax, `name:1x3x64x64`, for `shape`.
    pub fn option(&self, shape: [usize; 4]) -> String {
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        format!("{}:{}", self.input, dims.join("x"))
    }

    /// `min..max` in words, for messages.
    pub fn describe(&self) -> String {
        let dims = |shape: [usize; 4]| {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            dims.join("x")
        };
        format!(
            "{} from {} to {}",
            self.input,
            dims(self.min),
            dims(self.max)
        )
    }
}

/// The smallest and largest window along one axis, or `None` when it depends on the
/// frame size.
fn window_range(layout: &TileLayout, rule: AxisRule) -> Option<(usize, usize)> {
    if let Some(fixed) = rule.fixed {
        return Some((fixed as usize, fixed as usize));
    }
    if layout.tile == 0 {
        return None;
    }
    // A window is at most the tile and the wider of the overlap and the reflected border
    // on each side, rounded up to the model's multiple; it is never below the multiple.
    // A shape outside the profile would fail the run, so the bounds are generous.
    let multiple = rule.multiple.max(1);
    let margin = layout.overlap.max(layout.pad);
    let largest = (layout.tile + 2 * margin).div_ceil(multiple) * multiple;
    Some((multiple as usize, largest as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Precision;
    use crate::model::sidecar::RestoreSidecar;
    use crate::model::signature::{Element, ImagePort, Signature};
    use crate::model::tile::WindowRule;

    fn interface(batch: Option<u32>, channels: u32, size: Option<u32>) -> ModelInterface {
        let port = |name: &str| ImagePort {
            name: name.into(),
            element: Element::Float32,
            batch,
            channels: Some(channels),
            height: size,
            width: size,
        };
        ModelInterface {
            signature: Signature {
                input: port("input"),
                output: port("output"),
                channels,
                constants: Vec::new(),
            },
            scale: 2,
            multiple: 1,
            sidecar: RestoreSidecar::default(),
            precision: Precision::Fp32,
        }
    }

    fn layout(tile: u32, per_run: u32, multiple: u32, fixed: Option<u32>) -> TileLayout {
        let axis = AxisRule { fixed, multiple };
        TileLayout {
            tile,
            overlap: 16,
            pad: 10,
            one_shape: true,
            window: WindowRule {
                height: axis,
                width: axis,
            },
            per_run,
        }
    }

    #[test]
    fn a_free_model_is_tuned_for_the_largest_window_of_its_tiles() {
        let profile =
            ShapeProfile::for_windows(&interface(None, 3, None), &layout(256, 2, 1, None)).unwrap();
        assert_eq!(profile.option(profile.min), "input:1x3x1x1");
        assert_eq!(profile.option(profile.opt), "input:2x3x288x288");
        assert_eq!(profile.opt, profile.max);
        assert_eq!(profile.describe(), "input from 1x3x1x1 to 2x3x288x288");
    }

    #[test]
    fn windows_rounded_to_a_multiple_stay_multiples() {
        let profile =
            ShapeProfile::for_windows(&interface(None, 3, None), &layout(100, 1, 8, None)).unwrap();
        assert_eq!(profile.min, [1, 3, 8, 8]);
        assert_eq!(profile.max, [1, 3, 136, 136]);
    }

    #[test]
    fn a_gray_model_takes_up_to_three_planes_a_run() {
        let profile =
            ShapeProfile::for_windows(&interface(None, 1, None), &layout(64, 8, 1, None)).unwrap();
        assert_eq!((profile.min[0], profile.max[0]), (1, 3));
        assert_eq!(profile.max[1], 1);
    }

    #[test]
    fn fixed_shapes_and_whole_frames_need_no_profile() {
        let fixed = interface(Some(1), 3, Some(64));
        assert_eq!(
            ShapeProfile::for_windows(&fixed, &layout(256, 4, 1, Some(64))),
            None
        );
        let free = interface(None, 3, None);
        assert_eq!(
            ShapeProfile::for_windows(&free, &layout(0, 1, 1, None)),
            None
        );
        // A fixed size with a free batch still declares the batch.
        let fixed_size = interface(None, 3, Some(64));
        let profile = ShapeProfile::for_windows(&fixed_size, &layout(256, 4, 1, Some(64))).unwrap();
        assert_eq!((profile.min, profile.max), ([1, 3, 64, 64], [4, 3, 64, 64]));
    }

    #[test]
    fn every_run_a_frame_is_cut_into_lies_inside_the_profile() {
        use crate::model::tile_run::tile_runs;
        for (tile, multiple, one_shape, per_run) in [
            (256, 1, true, 2),
            (64, 4, false, 3),
            (32, 8, true, 1),
            (100, 16, false, 64),
        ] {
            let layout = TileLayout {
                one_shape,
                ..layout(tile, per_run, multiple, None)
            };
            let profile = ShapeProfile::for_windows(&interface(None, 3, None), &layout).unwrap();
            for (width, height) in [(1, 1), (7, 300), (61, 47), (720, 576), (1920, 1080)] {
                for run in tile_runs(width, height, layout) {
                    let (h, w) = run[0].1.window_size();
                    let shape = [run.len(), 3, h, w];
                    let inside =
                        (0..4).all(|d| profile.min[d] <= shape[d] && shape[d] <= profile.max[d]);
                    assert!(
                        inside,
                        "{shape:?} of {width}x{height} outside {}",
                        profile.describe()
                    );
                }
            }
        }
    }

    #[test]
    fn constant_inputs_leave_the_shapes_to_tensorrt() {
        use crate::model::signature::ConstantInput;
        let mut noisy = interface(None, 3, None);
        noisy.signature.constants.push(ConstantInput {
            name: "sigma".into(),
            element: Element::Float32,
            dims: vec![None, Some(1), None, None],
            value: 0.1,
        });
        assert_eq!(
            ShapeProfile::for_windows(&noisy, &layout(256, 1, 1, None)),
            None
        );
    }
}
