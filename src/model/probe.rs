//! What a model's signature does not say: its scale and the multiple its height and
//! width must be (window-attention models such as SwinIR, HAT or DAT need 8 to 64). Both
//! are found by running the model on small blank images, as chaiNNer does, unless fixed
//! shapes or the sidecar already tell. The runs are cheap (a few hundred pixels) and
//! happen once per model at load.

/// The largest scale a restore stage takes.
pub const MAX_SCALE: u32 = 8;

/// Size multiples tried, smallest first.
const MULTIPLES: [u32; 7] = [1, 2, 4, 8, 16, 32, 64];

/// Probe images are at least this many pixels on a side.
const MIN_PROBE_SIDE: u32 = 16;

/// What is known before probing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Known {
    /// Input height and width the model fixes.
    pub height: Option<u32>,
    pub width: Option<u32>,
    /// Output height and width the model fixes.
    pub out_height: Option<u32>,
    pub out_width: Option<u32>,
    /// What the sidecar declares.
    pub scale: Option<u32>,
    pub multiple: Option<u32>,
}

/// How the model scales and what sizes it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeRules {
    pub scale: u32,
    /// Height and width (where free) must be multiples of this.
    pub multiple: u32,
}

/// Settles the scale and multiple, running the model through `run` (input height and
/// width → output height and width) where the signature and sidecar leave them open.
///
/// # Errors
/// The scale is not an integer from 1 to [`MAX_SCALE`], differs between two sizes or
/// from the sidecar, or no probe size runs at all.
pub fn find_shape_rules(
    known: Known,
    mut run: impl FnMut(u32, u32) -> Result<(u32, u32), String>,
) -> Result<ShapeRules, String> {
    if let Some(multiple) = known.multiple {
        if !(1..=64).contains(&multiple) {
            return Err(format!(
                "the sidecar's multiple {multiple} is out of range (expected 1 to 64)"
            ));
        }
    }
    if let (Some(h), Some(w), Some(oh), Some(ow)) =
        (known.height, known.width, known.out_height, known.out_width)
    {
        let scale = scale_of((h, w), (oh, ow))?;
        return agree_with_sidecar(known, scale, "the fixed shapes")
            .map(|scale| ShapeRules { scale, multiple: 1 });
    }
    let fixed = known.height.is_some() && known.width.is_some();
    if let (Some(scale), true) = (known.scale, known.multiple.is_some() || fixed) {
        check_range(scale)?;
        return Ok(ShapeRules {
            scale,
            multiple: known.multiple.unwrap_or(1),
        });
    }
    let candidates: Vec<u32> = match known.multiple {
        Some(m) => vec![m],
        None if fixed => vec![1],
        None => MULTIPLES.to_vec(),
    };
    let mut first_failure = None;
    for multiple in candidates {
        match try_multiple(known, multiple, &mut run) {
            Ok(scale) => {
                let scale = agree_with_sidecar(known, scale, "a probe run")?;
                return Ok(ShapeRules { scale, multiple });
            }
            Err(Failure::Inconsistent(message)) => return Err(message),
            Err(Failure::Retry(message)) => {
                first_failure.get_or_insert(message);
            }
        }
    }
    Err(first_failure.unwrap_or_else(|| "no probe size could be run".into()))
}

enum Failure {
    /// This size did not work; a larger multiple might.
    Retry(String),
    /// Two sizes gave two scales: no multiple can help.
    Inconsistent(String),
}

/// Runs two sizes that are odd multiples of `multiple` (and not of its double) and
/// returns the scale both give.
fn try_multiple(
    known: Known,
    multiple: u32,
    run: &mut impl FnMut(u32, u32) -> Result<(u32, u32), String>,
) -> Result<u32, Failure> {
    let side = probe_side(multiple);
    let first = (known.height.unwrap_or(side), known.width.unwrap_or(side));
    let scale = measure(first, run).map_err(Failure::Retry)?;
    let second = match (known.height, known.width) {
        (_, None) => (first.0, side + 2 * multiple),
        (None, Some(w)) => (side + 2 * multiple, w),
        (Some(_), Some(_)) => return Ok(scale),
    };
    let again = measure(second, run).map_err(Failure::Retry)?;
    if again != scale {
        return Err(Failure::Inconsistent(format!(
            "inconsistent scale: a {}x{} probe gave ×{scale} but {}x{} gave ×{again}",
            first.1, first.0, second.1, second.0
        )));
    }
    Ok(scale)
}

fn measure(
    (h, w): (u32, u32),
    run: &mut impl FnMut(u32, u32) -> Result<(u32, u32), String>,
) -> Result<u32, String> {
    let out = run(h, w).map_err(|e| format!("a {w}x{h} probe failed: {e}"))?;
    scale_of((h, w), out)
}

/// The smallest odd multiple of `multiple` that is at least [`MIN_PROBE_SIDE`], so that a
/// model needing a larger power of two fails at it rather than passing by chance.
fn probe_side(multiple: u32) -> u32 {
    let mut factor = MIN_PROBE_SIDE.div_ceil(multiple);
    if factor.is_multiple_of(2) {
        factor += 1;
    }
    multiple * factor
}

/// The integer factor from `input` (h, w) to `output`.
fn scale_of((h, w): (u32, u32), (oh, ow): (u32, u32)) -> Result<u32, String> {
    let shown = || format!("a {w}x{h} input gave {ow}x{oh}");
    if oh % h != 0 || ow % w != 0 || oh / h != ow / w || oh == 0 {
        let (sy, sx) = (f64::from(oh) / f64::from(h), f64::from(ow) / f64::from(w));
        let factor = if (sy - sx).abs() < 1e-9 {
            format!("×{}", round3(sy))
        } else {
            format!("×{} by ×{}", round3(sx), round3(sy))
        };
        return Err(format!(
            "{} ({factor}): a restore stage needs one integer scale from 1 to {MAX_SCALE}",
            shown()
        ));
    }
    let scale = oh / h;
    check_range(scale).map_err(|e| format!("{}: {e}", shown()))?;
    Ok(scale)
}

fn check_range(scale: u32) -> Result<(), String> {
    if (1..=MAX_SCALE).contains(&scale) {
        Ok(())
    } else {
        Err(format!(
            "scale {scale} is out of range (a restore stage takes 1 to {MAX_SCALE})"
        ))
    }
}

fn agree_with_sidecar(known: Known, found: u32, how: &str) -> Result<u32, String> {
    match known.scale {
        Some(declared) if declared != found => Err(format!(
            "the sidecar says scale {declared}, but {how} gave ×{found}"
        )),
        _ => Ok(found),
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model of `scale` that only runs on sides divisible by `multiple`.
    fn model(scale: u32, multiple: u32) -> impl FnMut(u32, u32) -> Result<(u32, u32), String> {
        move |h, w| {
            if h % multiple != 0 || w % multiple != 0 {
                Err(format!("shape {h}x{w} not divisible by {multiple}"))
            } else {
                Ok((h * scale, w * scale))
            }
        }
    }

    #[test]
    fn probe_sides_are_odd_multiples() {
        let sides: Vec<u32> = MULTIPLES.iter().map(|m| probe_side(*m)).collect();
        assert_eq!(sides, vec![17, 18, 20, 24, 16, 32, 64]);
    }

    #[test]
    fn the_smallest_multiple_that_runs_is_found() {
        for (scale, multiple) in [(1, 1), (2, 8), (4, 16), (3, 64), (8, 2)] {
            let rules = find_shape_rules(Known::default(), model(scale, multiple)).unwrap();
            assert_eq!(rules, ShapeRules { scale, multiple });
        }
    }

    #[test]
    fn a_model_that_pads_inside_is_found_by_its_output_size() {
        // Pads to a multiple of 8 and does not crop: 17 px in, 24·2 out.
        let pads = |h: u32, w: u32| Ok((h.div_ceil(8) * 16, w.div_ceil(8) * 16));
        let rules = find_shape_rules(Known::default(), pads).unwrap();
        assert_eq!(
            rules,
            ShapeRules {
                scale: 2,
                multiple: 8
            }
        );
    }

    #[test]
    fn a_fractional_scale_is_refused() {
        let error =
            find_shape_rules(Known::default(), |h, w| Ok((h * 3 / 2, w * 3 / 2))).unwrap_err();
        assert_eq!(
            error,
            "a 17x17 input gave 25x25 (×1.471): a restore stage needs one integer scale \
             from 1 to 8"
        );
    }

    #[test]
    fn a_scale_above_eight_is_refused() {
        let error = find_shape_rules(Known::default(), model(16, 1)).unwrap_err();
        assert_eq!(
            error,
            "a 17x17 input gave 272x272: scale 16 is out of range (a restore stage takes 1 to 8)"
        );
    }

    #[test]
    fn two_sizes_with_two_scales_are_inconsistent() {
        let odd = |h: u32, w: u32| {
            Ok(if w == 17 {
                (h * 2, w * 2)
            } else {
                (h * 4, w * 4)
            })
        };
        let error = find_shape_rules(Known::default(), odd).unwrap_err();
        assert_eq!(
            error,
            "inconsistent scale: a 17x17 probe gave ×2 but 19x17 gave ×4"
        );
    }

    #[test]
    fn fixed_shapes_give_the_scale_without_a_run() {
        let known = Known {
            height: Some(64),
            width: Some(64),
            out_height: Some(256),
            out_width: Some(256),
            ..Known::default()
        };
        let rules = find_shape_rules(known, |_, _| Err("must not run".into())).unwrap();
        assert_eq!(
            rules,
            ShapeRules {
                scale: 4,
                multiple: 1
            }
        );
        let mismatch = Known {
            scale: Some(2),
            ..known
        };
        assert_eq!(
            find_shape_rules(mismatch, |_, _| Err("must not run".into())).unwrap_err(),
            "the sidecar says scale 2, but the fixed shapes gave ×4"
        );
    }

    #[test]
    fn a_fixed_input_is_probed_at_its_own_size() {
        let known = Known {
            height: Some(48),
            width: Some(40),
            ..Known::default()
        };
        let mut sizes = Vec::new();
        let rules = find_shape_rules(known, |h, w| {
            sizes.push((h, w));
            Ok((h * 2, w * 2))
        })
        .unwrap();
        assert_eq!(
            rules,
            ShapeRules {
                scale: 2,
                multiple: 1
            }
        );
        assert_eq!(sizes, vec![(48, 40)]);
    }

    #[test]
    fn a_sidecar_with_scale_and_multiple_needs_no_run() {
        let known = Known {
            scale: Some(4),
            multiple: Some(8),
            ..Known::default()
        };
        let rules = find_shape_rules(known, |_, _| Err("must not run".into())).unwrap();
        assert_eq!(
            rules,
            ShapeRules {
                scale: 4,
                multiple: 8
            }
        );
    }

    #[test]
    fn a_model_that_never_runs_reports_its_first_failure() {
        let error = find_shape_rules(Known::default(), |_, _| Err("boom".into())).unwrap_err();
        assert_eq!(error, "a 17x17 probe failed: boom");
    }
}
