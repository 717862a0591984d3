//! New models built from parts of an ONNX file (`onnx_file`): some of its nodes,
//! initializers and ports, and new ports. Large initializers are not copied: the new
//! model refers to them where they lie in the original file, as ONNX external data, so
//! ONNX Runtime reads them from the file once and they never pass through a model held
//! in memory.

use std::fs::File;
use std::io::{self, BufReader};

use super::onnx_file::{
    Initializer, Node, OnnxFile, Port, EXTERNAL, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_NAME,
    GRAPH_NODE, GRAPH_OUTPUT, MODEL_GRAPH, TENSOR_DATA_LOCATION, TENSOR_DATA_TYPE, TENSOR_DIMS,
    TENSOR_NAME, TENSOR_TYPE_ELEM, TYPE_TENSOR, VALUE_INFO_NAME, VALUE_INFO_TYPE,
};
use super::protobuf::{
    put_bytes, put_bytes_header, put_varint, put_varint_field, FileReader, Span,
};

const TENSOR_EXTERNAL_DATA: u32 = 13;
const ENTRY_KEY: u32 = 1;
const ENTRY_VALUE: u32 = 2;
/// Initializers smaller than this are copied into new models rather than referred to.
pub const REFERENCE_FROM: u64 = 4096;

impl OnnxFile {
    /// A model of this file's header (IR version, opsets) and the given parts: copies of
    /// these nodes, initializers (large ones as external data in this file, to be
    /// opened with this file's folder as the external data folder) and inputs, and
    /// `outputs`, each an existing port or a bare name whose type ONNX Runtime infers.
    ///
    /// # Errors
    /// The file cannot be read again.
    pub fn write_model(&self, parts: &ModelParts<'_>) -> io::Result<Vec<u8>> {
        let mut graph = Vec::new();
        for node in &parts.nodes {
            put_bytes(&mut graph, GRAPH_NODE, &node.encoded);
        }
        put_bytes(&mut graph, GRAPH_NAME, parts.name.as_bytes());
        let mut reader = FileReader::new(BufReader::new(File::open(&self.path)?));
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string());
        for initializer in &parts.initializers {
            let tensor = match (initializer.raw, &file_name) {
                (Some(raw), Some(file_name)) if raw.len >= REFERENCE_FROM => {
                    initializer.reference(file_name, raw)
                }
                _ => reader.read(initializer.span)?,
            };
            put_bytes(&mut graph, GRAPH_INITIALIZER, &tensor);
        }
        for input in &parts.inputs {
            put_bytes(&mut graph, GRAPH_INPUT, &input.encoded());
        }
        for output in &parts.outputs {
            put_bytes(&mut graph, GRAPH_OUTPUT, &output.encoded());
        }
        let mut model = Vec::with_capacity(self.model_fields.len() + graph.len() + 16);
        model.extend_from_slice(&self.model_fields);
        put_bytes_header(&mut model, MODEL_GRAPH, graph.len());
        model.extend_from_slice(&graph);
        Ok(model)
    }
}

impl Initializer {
    /// The initializer as ONNX external data: its data where it lies in `file_name`.
    fn reference(&self, file_name: &str, raw: Span) -> Vec<u8> {
        let mut dims = Vec::new();
        for dim in &self.dims {
            put_varint(&mut dims, *dim as u64);
        }
        let mut tensor = Vec::new();
        put_bytes(&mut tensor, TENSOR_DIMS, &dims);
        put_varint_field(&mut tensor, TENSOR_DATA_TYPE, self.data_type as u64);
        put_bytes(&mut tensor, TENSOR_NAME, self.name.as_bytes());
        for (key, value) in [
            ("location", file_name.to_string()),
            ("offset", raw.offset.to_string()),
            ("length", raw.len.to_string()),
        ] {
            let mut entry = Vec::new();
            put_bytes(&mut entry, ENTRY_KEY, key.as_bytes());
            put_bytes(&mut entry, ENTRY_VALUE, value.as_bytes());
            put_bytes(&mut tensor, TENSOR_EXTERNAL_DATA, &entry);
        }
        put_varint_field(&mut tensor, TENSOR_DATA_LOCATION, EXTERNAL);
        tensor
    }
}

/// What `OnnxFile::write_model` puts in a new model.
pub struct ModelParts<'a> {
    pub name: &'a str,
    pub nodes: Vec<&'a Node>,
    pub initializers: Vec<&'a Initializer>,
    pub inputs: Vec<NewPort<'a>>,
    pub outputs: Vec<NewPort<'a>>,
}

impl<'a> ModelParts<'a> {
    /// All of `file`'s graph.
    pub fn whole(file: &'a OnnxFile) -> Self {
        Self {
            name: "main",
            nodes: file.nodes.iter().collect(),
            initializers: file.initializers.iter().collect(),
            inputs: file.inputs.iter().map(NewPort::Existing).collect(),
            outputs: file.outputs.iter().map(NewPort::Existing).collect(),
        }
    }
}

/// A port of a new model.
pub enum NewPort<'a> {
    /// As the original graph declares it.
    Existing(&'a Port),
    /// A tensor of this element type, of any shape.
    Typed { name: String, element: i32 },
    /// Only the name: ONNX Runtime infers an output's type.
    Untyped(String),
}

impl NewPort<'_> {
    fn encoded(&self) -> Vec<u8> {
        match self {
            NewPort::Existing(port) => port.encoded.clone(),
            NewPort::Typed { name, element } => {
                let mut tensor = Vec::new();
                put_varint_field(&mut tensor, TENSOR_TYPE_ELEM, *element as u64);
                let mut ty = Vec::new();
                put_bytes(&mut ty, TYPE_TENSOR, &tensor);
                let mut info = Vec::new();
                put_bytes(&mut info, VALUE_INFO_NAME, name.as_bytes());
                put_bytes(&mut info, VALUE_INFO_TYPE, &ty);
                info
            }
            NewPort::Untyped(name) => {
                let mut info = Vec::new();
                put_bytes(&mut info, VALUE_INFO_NAME, name.as_bytes());
                info
            }
        }
    }
}
