//! The `device` setting: where inference runs.
//!
//! Written as one string (`auto`, `cpu`, `cuda`, `cuda:N`, `tensorrt`, `tensorrt:N`)
//! because that is
//! how users name devices on command lines; parsed into [`Device`] so no
//! later phase handles the string form.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// What a device setting must look like, used in every related message.
pub const DEVICE_EXPECTED: &str =
    "`auto`, `cpu`, `cuda`, `cuda:N`, `tensorrt` or `tensorrt:N` with N a GPU index";

/// Where inference runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Device {
    /// The first CUDA GPU when one is usable, else the CPU.
    #[default]
    Auto,
    /// The CPU only.
    Cpu,
    /// The CUDA GPU with this index; `cuda` alone means GPU 0.
    Cuda(u32),
    /// TensorRT on the GPU with this index (CUDA runs what TensorRT does not take);
    /// `tensorrt` alone means GPU 0.
    TensorRt(u32),
}

/// A device string that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid device `{given}` (expected {DEVICE_EXPECTED})")]
pub struct ParseDeviceError {
    /// The string as written.
    pub given: String,
}

impl FromStr for Device {
    type Err = ParseDeviceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseDeviceError {
            given: text.to_owned(),
        };
        match text {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            "tensorrt" => Ok(Self::TensorRt(0)),
            _ => {
                let (index, device): (&str, fn(u32) -> Self) =
                    match (text.strip_prefix("cuda:"), text.strip_prefix("tensorrt:")) {
                        (Some(index), _) => (index, Self::Cuda),
                        (_, Some(index)) => (index, Self::TensorRt),
                        _ => return Err(invalid()),
                    };
                // `u32::from_str` also takes a leading `+`, which is not a
                // GPU index anyone writes; only digits are accepted.
                if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                index.parse().map(device).map_err(|_| invalid())
            }
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(index) => write!(f, "cuda:{index}"),
            Self::TensorRt(index) => write!(f, "tensorrt:{index}"),
        }
    }
}

impl<'de> Deserialize<'de> for Device {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(DeviceVisitor)
    }
}

struct DeviceVisitor;

impl Visitor<'_> for DeviceVisitor {
    type Value = Device;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a device: {DEVICE_EXPECTED}")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Device, E> {
        text.parse().map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!("auto".parse(), Ok(Device::Auto));
        assert_eq!("cpu".parse(), Ok(Device::Cpu));
        assert_eq!("cuda".parse(), Ok(Device::Cuda(0)));
        assert_eq!("cuda:0".parse(), Ok(Device::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(Device::Cuda(3)));
        assert_eq!("tensorrt".parse(), Ok(Device::TensorRt(0)));
        assert_eq!("tensorrt:1".parse(), Ok(Device::TensorRt(1)));
    }

    #[test]
    fn rejected_forms_say_what_was_expected() {
        for text in [
            "cuda:x",
            "cuda:",
            "cuda:+1",
            "cuda:-1",
            "CPU",
            "gpu",
            "",
            "cuda:99999999999",
            "tensorrt:",
            "tensorrt:x",
            "trt",
        ] {
            let error = text.parse::<Device>().unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid device `{text}` (expected `auto`, `cpu`, `cuda`, `cuda:N`, `tensorrt` or `tensorrt:N` with N a GPU index)"
                )
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for device in [
            Device::Auto,
            Device::Cpu,
            Device::Cuda(2),
            Device::TensorRt(1),
        ] {
            assert_eq!(device.to_string().parse(), Ok(device));
        }
    }

    #[test]
    fn deserializes_from_yaml_strings_only() {
        let device: Device = serde_yaml::from_value("cuda:1".into()).unwrap();
        assert_eq!(device, Device::Cuda(1));
        let error = serde_yaml::from_value::<Device>(serde_yaml::Value::from(1)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid type: integer `1`, expected a device: `auto`, `cpu`, `cuda`, `cuda:N`, `tensorrt` or `tensorrt:N` with N a GPU index"
        );
    }
}
