//! The `precision` setting: the float width restoration models run at.

use serde::Deserialize;

/// The float width of restoration models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Float16 on a GPU (where it runs several times faster), float32 on the CPU (which
    /// has no float16 arithmetic to gain from); a model that cannot be converted runs
    /// in float32.
    #[default]
    Auto,
    /// The model as it is.
    Fp32,
    /// Converted to float16 at load, also on the CPU (slower there: ONNX Runtime casts
    /// around its float32 kernels; useful to check a model's float16 output).
    Fp16,
}

impl Precision {
    /// Whether a model runs in float16 on a GPU (`gpu`) or the CPU.
    pub fn half_on(self, gpu: bool) -> bool {
        match self {
            Self::Auto => gpu,
            Self::Fp32 => false,
            Self::Fp16 => true,
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Fp32 => "fp32",
            Self::Fp16 => "fp16",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_half_on_gpus_only() {
        assert!(Precision::Auto.half_on(true));
        assert!(!Precision::Auto.half_on(false));
        assert!(Precision::Fp16.half_on(false));
        assert!(!Precision::Fp32.half_on(true));
    }

    #[test]
    fn reads_the_three_words() {
        for (text, precision) in [
            ("auto", Precision::Auto),
            ("fp32", Precision::Fp32),
            ("fp16", Precision::Fp16),
        ] {
            assert_eq!(serde_yaml::from_str::<Precision>(text).unwrap(), precision);
        }
        let error = serde_yaml::from_str::<Precision>("half").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown variant `half`, expected one of `auto`, `fp32`, `fp16`"
        );
    }
}
