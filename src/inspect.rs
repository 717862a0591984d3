//! `frameforge inspect MODEL`: what FrameForge makes of a restoration model before a
//! pipeline uses it: its tensors as ONNX Runtime lists them, the interface found at
//! load (channels, element types, fixed or free dimensions, scale, size multiple,
//! constant inputs), the sidecar's values and licence, the file's sha256 against the
//! sidecar's, and whether it runs here, or why not.

use std::path::Path;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::cli::InspectArgs;
use crate::config::Device;
use crate::model::restore_model::{port_infos, ModelInterface, RestoreModel, RestoreModelError};
use crate::model::session::SessionConfig;
use crate::model::sidecar::{read_sidecar, sidecar_path, RestoreSidecar};
use crate::model::signature::{format_dims, ImagePort, PortInfo};

/// What inspecting a model found.
struct Findings {
    sha256: Option<String>,
    sidecar: Result<Option<RestoreSidecar>, String>,
    ports: Result<(Vec<PortInfo>, Vec<PortInfo>), String>,
    interface: Result<(ModelInterface, String), String>,
}

/// The interface of a loaded model and the device it runs on. On TensorRT the model was
/// probed on CUDA (`RestoreModel::load`), so a TensorRT session is opened to say so.
fn where_it_runs(
    path: &Path,
    session: SessionConfig,
    model: RestoreModel,
) -> Result<(ModelInterface, String), RestoreModelError> {
    let interface = model.interface().clone();
    let device = match session.device {
        Device::TensorRt(_) => RestoreModel::reopen(path, session, &interface, None)?.device(),
        _ => model.device(),
    };
    Ok((interface, device.to_string()))
}

/// Runs `inspect`; exit 0 when the model can run here, 2 when it cannot.
pub fn inspect(args: &InspectArgs, session: SessionConfig) -> u8 {
    let path = args.model.as_path();
    let loaded = RestoreModel::load(path, session);
    // The tensors of a model that loads come from its session; only one that is refused
    // is opened a second time, to list what it has.
    let ports = match &loaded {
        Ok(model) => Ok(model.ports()),
        Err(_) => port_infos(path, session).map_err(|e| e.to_string()),
    };
    let findings = Findings {
        sha256: file_sha256(path),
        sidecar: read_sidecar(path).map_err(|e| e.to_string()),
        ports,
        interface: loaded
            .and_then(|model| where_it_runs(path, session, model))
            .map_err(|e| e.to_string()),
    };
    if args.json {
        println!("{}", as_json(path, &findings));
    } else {
        print!("{}", as_text(path, &findings));
    }
    if findings.interface.is_ok() {
        0
    } else {
        2
    }
}

fn file_sha256(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(format!("{:x}", Sha256::digest(&bytes)))
}

fn as_text(path: &Path, found: &Findings) -> String {
    let mut out = format!("model: {}\n", path.display());
    if let Some(sha) = &found.sha256 {
        out += &format!("  sha256: {sha}{}\n", sha_check(found));
    }
    match &found.ports {
        Ok((inputs, outputs)) => {
            for (role, ports) in [("input", inputs), ("output", outputs)] {
                for port in ports {
                    out += &format!("  {role} `{}`: {}\n", port.name, port.describe());
                }
            }
        }
        Err(error) => out += &format!("  cannot be opened: {error}\n"),
    }
    match &found.sidecar {
        Ok(Some(sidecar)) => out += &sidecar_text(path, sidecar),
        Ok(None) => {
            out += &format!(
                "  sidecar: none ({} absent)\n",
                sidecar_path(path).display()
            )
        }
        Err(error) => out += &format!("  sidecar: {error}\n"),
    }
    match &found.interface {
        Ok((interface, device)) => {
            out += &interface_text(interface);
            out += &format!("  runs here: yes, on {device}\n");
        }
        Err(error) => out += &format!("  runs here: no: {error}\n"),
    }
    out
}

fn sha_check(found: &Findings) -> &'static str {
    let declared = match &found.sidecar {
        Ok(Some(sidecar)) => sidecar.sha256.as_deref(),
        _ => None,
    };
    match (declared, found.sha256.as_deref()) {
        (Some(declared), Some(actual)) if declared.eq_ignore_ascii_case(actual) => {
            " (matches the sidecar)"
        }
        (Some(_), Some(_)) => " (DIFFERS from the sidecar's sha256)",
        _ => "",
    }
}

fn sidecar_text(path: &Path, sidecar: &RestoreSidecar) -> String {
    let mut out = format!("  sidecar: {}\n", sidecar_path(path).display());
    let fields = [
        ("content", sidecar.content.clone()),
        ("scale", sidecar.scale.map(|s| s.to_string())),
        ("multiple", sidecar.multiple.map(|m| m.to_string())),
        ("tile", sidecar.tile.map(|t| t.to_string())),
        ("tile_pad", sidecar.tile_pad.map(|t| t.to_string())),
        ("license", sidecar.license.clone()),
        ("source", sidecar.source.clone()),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            out += &format!("    {name}: {value}\n");
        }
    }
    out
}

fn interface_text(interface: &ModelInterface) -> String {
    let signature = &interface.signature;
    let channels = match signature.channels {
        1 => "1 (gray: each colour plane is restored as its own image)",
        4 => "4 (RGBA: fed opaque alpha; a source's alpha is scaled separately)",
        _ => "3 (RGB)",
    };
    let mut out = format!(
        "  frame in: `{}` {}\n  frame out: `{}` {}\n  channels: {channels}\n  scale: {}\n",
        signature.input.name,
        port_text(&signature.input),
        signature.output.name,
        port_text(&signature.output),
        interface.scale,
    );
    out += &format!(
        "  windows: {}\n",
        match (signature.input.height, signature.input.width) {
            (Some(h), Some(w)) => format!("fixed {w}x{h} (frames are cut into tiles of this size)"),
            _ if interface.multiple > 1 => format!(
                "any size that is a multiple of {} (frames are padded by reflection)",
                interface.multiple
            ),
            _ => "any size".to_string(),
        }
    );
    if let Some(n) = signature.input.batch.filter(|n| *n > 1) {
        out += &format!("  batch: fixed at {n} (short batches are filled with copies)\n");
    }
    for constant in &signature.constants {
        out += &format!(
            "  constant input `{}` = {}\n",
            constant.name, constant.value
        );
    }
    out
}

/// `float16 [1,3,64,64]`.
fn port_text(port: &ImagePort) -> String {
    let dims: Vec<i64> = [port.batch, port.channels, port.height, port.width]
        .iter()
        .map(|d| d.map_or(-1, i64::from))
        .collect();
    format!("{} {}", port.element.name(), format_dims(&dims))
}

fn as_json(path: &Path, found: &Findings) -> Value {
    let ports = |list: &[PortInfo]| -> Vec<Value> {
        list.iter()
            .map(|p| json!({"name": p.name, "type": p.describe()}))
            .collect()
    };
    let (inputs, outputs) = match &found.ports {
        Ok((i, o)) => (ports(i), ports(o)),
        Err(_) => (vec![], vec![]),
    };
    let sidecar = match &found.sidecar {
        Ok(Some(s)) => json!({
            "path": sidecar_path(path),
            "content": s.content, "scale": s.scale, "multiple": s.multiple,
            "tile": s.tile, "tile_pad": s.tile_pad, "license": s.license,
            "source": s.source, "sha256": s.sha256,
        }),
        Ok(None) => Value::Null,
        Err(e) => json!({"error": e}),
    };
    let mut value = json!({
        "model": path,
        "sha256": found.sha256,
        "inputs": inputs,
        "outputs": outputs,
        "sidecar": sidecar,
        "runs": found.interface.is_ok(),
    });
    match &found.interface {
        Ok((interface, device)) => {
            let s = &interface.signature;
            value["interface"] = json!({
                "input": {"name": s.input.name, "type": port_text(&s.input)},
                "output": {"name": s.output.name, "type": port_text(&s.output)},
                "channels": s.channels,
                "scale": interface.scale,
                "multiple": interface.multiple,
                "fixed_height": s.input.height,
                "fixed_width": s.input.width,
                "fixed_batch": s.input.batch,
                "constants": s.constants.iter()
                    .map(|c| json!({"name": c.name, "value": c.value}))
                    .collect::<Vec<_>>(),
            });
            value["device"] = json!(device);
        }
        Err(error) => value["error"] = json!(error),
    }
    value
}
