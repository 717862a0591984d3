//! Weights held once for every session built from the same ONNX file: its large float
//! initializers read once into tensors that every such session uses in place of its own
//! copy (ONNX Runtime's `AddInitializer`), so that N captioners of a run hold one copy of
//! a model, not N.
//!
//! Tensors are kept only while a session uses them: the cache holds weak references.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use ort::value::{DynValue, Tensor};

use super::onnx_file::{Initializer, OnnxFile};

/// ONNX element type of the weights shared.
const FLOAT32: i32 = 1;
/// Smaller initializers are not worth sharing.
const SHARE_FROM: u64 = 64 * 1024;

/// Tensors by the file and offset their data was read from.
type Cache = HashMap<(PathBuf, u64), Weak<DynValue>>;

fn cache() -> std::sync::MutexGuard<'static, Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// How many tensors read from `file` sessions hold now.
pub fn shared_tensors_of(file: &std::path::Path) -> usize {
    cache()
        .iter()
        .filter(|((path, _), weak)| path == file && weak.strong_count() > 0)
        .count()
}

/// The shared tensors for `initializers` of `file`, read from the file unless a session
/// holds them already, by initializer name.
///
/// # Errors
/// The file cannot be read, or ONNX Runtime cannot make a tensor.
pub fn session_weights(
    file: &OnnxFile,
    initializers: &[&Initializer],
) -> io::Result<Vec<(String, Arc<DynValue>)>> {
    let mut cache = cache();
    cache.retain(|_, weak| weak.strong_count() > 0);
    let mut reader: Option<File> = None;
    let mut tensors = Vec::new();
    for initializer in initializers {
        let Some(raw) = initializer.raw.filter(|raw| {
            initializer.data_type == FLOAT32 && !initializer.external && raw.len >= SHARE_FROM
        }) else {
            continue;
        };
        let key = (file.path.clone(), raw.offset);
        let tensor = match cache.get(&key).and_then(Weak::upgrade) {
            Some(tensor) => tensor,
            None => {
                let source = match &mut reader {
                    Some(source) => source,
                    None => reader.insert(File::open(&file.path)?),
                };
                let tensor = Arc::new(read_tensor(source, initializer, raw)?);
                cache.insert(key, Arc::downgrade(&tensor));
                tensor
            }
        };
        tensors.push((initializer.name.clone(), tensor));
    }
    Ok(tensors)
}

/// Reads a float initializer's raw data (little-endian, as ONNX stores it).
fn read_tensor(
    file: &mut File,
    initializer: &Initializer,
    raw: super::protobuf::Span,
) -> io::Result<DynValue> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidData, message);
    let count: i64 = initializer.dims.iter().product();
    if raw.len != count as u64 * 4 {
        return Err(invalid(format!(
            "initializer {}: {} bytes for {count} floats",
            initializer.name, raw.len
        )));
    }
    file.seek(SeekFrom::Start(raw.offset))?;
    let mut values = Vec::with_capacity(count as usize);
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = raw.len as usize;
    while left > 0 {
        let part = &mut chunk[..left.min(1 << 20)];
        file.read_exact(part)?;
        values.extend(
            part.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        left -= part.len();
    }
    Tensor::from_array((initializer.dims.clone(), values))
        .map(Tensor::into_dyn)
        .map_err(|e| invalid(format!("initializer {}: {e}", initializer.name)))
}
