//! An ONNX file's graph as FrameForge reads it without ONNX Runtime: its inputs and
//! outputs with their element types and shapes, its nodes with the tensors they read and
//! write, and where each initializer lies in the file. Weights are located, never read,
//! so a 700 MB decoder is read in milliseconds. New models are built from its parts in
//! `onnx_write`.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use super::protobuf::{fields, put_bytes, put_varint_field, FileReader, FileValue, Span};

// Field numbers of onnx.proto.
pub(super) const MODEL_GRAPH: u32 = 7;
pub(super) const GRAPH_NODE: u32 = 1;
pub(super) const GRAPH_NAME: u32 = 2;
pub(super) const GRAPH_INITIALIZER: u32 = 5;
pub(super) const GRAPH_INPUT: u32 = 11;
pub(super) const GRAPH_OUTPUT: u32 = 12;
const GRAPH_SPARSE_INITIALIZER: u32 = 15;
const NODE_INPUT: u32 = 1;
const NODE_OUTPUT: u32 = 2;
const NODE_OP_TYPE: u32 = 4;
const NODE_ATTRIBUTE: u32 = 5;
const ATTRIBUTE_GRAPH: u32 = 6;
const ATTRIBUTE_GRAPHS: u32 = 11;
pub(super) const TENSOR_DIMS: u32 = 1;
pub(super) const TENSOR_DATA_TYPE: u32 = 2;
pub(super) const TENSOR_NAME: u32 = 8;
const TENSOR_RAW_DATA: u32 = 9;
pub(super) const TENSOR_DATA_LOCATION: u32 = 14;
/// `TensorProto.DataLocation.EXTERNAL`.
pub(super) const EXTERNAL: u64 = 1;
pub(super) const VALUE_INFO_NAME: u32 = 1;
pub(super) const VALUE_INFO_TYPE: u32 = 2;
pub(super) const TYPE_TENSOR: u32 = 1;
pub(super) const TENSOR_TYPE_ELEM: u32 = 1;
const TENSOR_TYPE_SHAPE: u32 = 2;
const SHAPE_DIM: u32 = 1;
const DIM_VALUE: u32 = 1;
const DIM_PARAM: u32 = 2;

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    Named(String),
    Unknown,
}

/// A graph input or output.
#[derive(Debug, Clone)]
pub struct Port {
    pub name: String,
    /// ONNX element type (`TensorProto.DataType`); `None` when not a tensor.
    pub element: Option<i32>,
    /// `None` when the rank is not declared.
    pub shape: Option<Vec<Dim>>,
    pub(super) encoded: Vec<u8>,
}

/// A node of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    pub op_type: String,
    /// Tensors read; optional inputs left out are not listed.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// Whether an attribute holds a subgraph (`If`, `Loop`, `Scan`).
    pub has_subgraph: bool,
    pub(super) encoded: Vec<u8>,
}

/// An initializer, located in the file.
#[derive(Debug, Clone)]
pub struct Initializer {
    pub name: String,
    /// ONNX element type.
    pub data_type: i32,
    pub dims: Vec<i64>,
    /// Its data is in another file (models over 2 GB).
    pub external: bool,
    /// Where its `raw_data` lies, when it has some.
    pub raw: Option<Span>,
    pub(super) span: Span,
}

/// The graph of an ONNX file.
#[derive(Debug, Clone)]
pub struct OnnxFile {
    pub path: PathBuf,
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
    pub nodes: Vec<Node>,
    pub initializers: Vec<Initializer>,
    /// Sparse initializers are not located; a graph with them is only read.
    pub has_sparse_initializers: bool,
    /// The model's fields other than the graph (IR version, opsets, functions…), encoded.
    pub(super) model_fields: Vec<u8>,
}

impl OnnxFile {
    /// Reads the graph of `path`.
    ///
    /// # Errors
    /// The file cannot be read or is not an ONNX model.
    pub fn read(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let end = file.metadata()?.len();
        let mut reader = FileReader::new(BufReader::new(file));
        let mut model = Self {
            path: path.to_path_buf(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            nodes: Vec::new(),
            initializers: Vec::new(),
            has_sparse_initializers: false,
            model_fields: Vec::new(),
        };
        let mut graph = None;
        while let Some((number, value)) = reader.next(end)? {
            match (number, value) {
                (MODEL_GRAPH, FileValue::Bytes(span)) => {
                    model.read_graph(&mut reader, span)?;
                    graph = Some(span);
                }
                (_, FileValue::Bytes(span)) => {
                    put_bytes(&mut model.model_fields, number, &reader.read(span)?);
                }
                (_, FileValue::Varint(v)) => put_varint_field(&mut model.model_fields, number, v),
                (_, FileValue::Fixed) => return Err(invalid("unexpected fixed-width model field")),
            }
        }
        graph.map(|_| model).ok_or_else(|| invalid("no graph"))
    }

    fn read_graph<R: io::Read + io::Seek>(
        &mut self,
        reader: &mut FileReader<R>,
        graph: Span,
    ) -> io::Result<()> {
        while let Some((number, value)) = reader.next(graph.end())? {
            let FileValue::Bytes(span) = value else {
                continue;
            };
            match number {
                GRAPH_NODE => self.nodes.push(node(reader.read(span)?)?),
                GRAPH_INPUT => self.inputs.push(port(reader.read(span)?)?),
                GRAPH_OUTPUT => self.outputs.push(port(reader.read(span)?)?),
                GRAPH_INITIALIZER => self.initializers.push(initializer(reader, span)?),
                GRAPH_SPARSE_INITIALIZER => {
                    self.has_sparse_initializers = true;
                    reader.pass(span)?;
                }
                _ => reader.pass(span)?,
            }
        }
        Ok(())
    }

    /// An input by name.
    pub fn input(&self, name: &str) -> Option<&Port> {
        self.inputs.iter().find(|p| p.name == name)
    }
}

/// The name of an ONNX element type, as ONNX Runtime's Rust binding writes it.
pub fn element_name(element: i32) -> String {
    match element {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        other => return format!("element type {other}"),
    }
    .to_string()
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not an ONNX model ({message})"),
    )
}

fn node(encoded: Vec<u8>) -> io::Result<Node> {
    let mut node = Node {
        op_type: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        has_subgraph: false,
        encoded: Vec::new(),
    };
    for field in fields(&encoded) {
        let field = field?;
        let text = || {
            field
                .text()
                .map(str::to_string)
                .ok_or_else(|| invalid("node"))
        };
        match field.number {
            NODE_INPUT => {
                let name = text()?;
                if !name.is_empty() {
                    node.inputs.push(name);
                }
            }
            NODE_OUTPUT => node.outputs.push(text()?),
            NODE_OP_TYPE => node.op_type = text()?,
            NODE_ATTRIBUTE => {
                let attribute = field.bytes().ok_or_else(|| invalid("attribute"))?;
                for inner in fields(attribute) {
                    let number = inner?.number;
                    node.has_subgraph |= number == ATTRIBUTE_GRAPH || number == ATTRIBUTE_GRAPHS;
                }
            }
            _ => {}
        }
    }
    node.encoded = encoded;
    Ok(node)
}

fn port(encoded: Vec<u8>) -> io::Result<Port> {
    let mut port = Port {
        name: String::new(),
        element: None,
        shape: None,
        encoded: Vec::new(),
    };
    for field in fields(&encoded) {
        let field = field?;
        match (field.number, field.bytes()) {
            (VALUE_INFO_NAME, _) => {
                port.name = field.text().ok_or_else(|| invalid("port name"))?.into();
            }
            (VALUE_INFO_TYPE, Some(ty)) => {
                for inner in fields(ty) {
                    let inner = inner?;
                    if let (TYPE_TENSOR, Some(tensor)) = (inner.number, inner.bytes()) {
                        tensor_type(tensor, &mut port)?;
                    }
                }
            }
            _ => {}
        }
    }
    port.encoded = encoded;
    Ok(port)
}

fn tensor_type(tensor: &[u8], port: &mut Port) -> io::Result<()> {
    for field in fields(tensor) {
        let field = field?;
        match (field.number, field.varint(), field.bytes()) {
            (TENSOR_TYPE_ELEM, Some(element), _) => port.element = i32::try_from(element).ok(),
            (TENSOR_TYPE_SHAPE, _, Some(shape)) => {
                let mut dims = Vec::new();
                for dim in fields(shape) {
                    let dim = dim?;
                    if let (SHAPE_DIM, Some(bytes)) = (dim.number, dim.bytes()) {
                        dims.push(dimension(bytes)?);
                    }
                }
                port.shape = Some(dims);
            }
            _ => {}
        }
    }
    Ok(())
}

fn dimension(dim: &[u8]) -> io::Result<Dim> {
    let mut found = Dim::Unknown;
    for field in fields(dim) {
        let field = field?;
        match field.number {
            DIM_VALUE => found = Dim::Fixed(field.varint().unwrap_or_default() as i64),
            DIM_PARAM => found = Dim::Named(field.text().unwrap_or_default().to_string()),
            _ => {}
        }
    }
    Ok(found)
}

fn initializer<R: io::Read + io::Seek>(
    reader: &mut FileReader<R>,
    span: Span,
) -> io::Result<Initializer> {
    let mut found = Initializer {
        name: String::new(),
        data_type: 0,
        dims: Vec::new(),
        external: false,
        raw: None,
        span,
    };
    while let Some((number, value)) = reader.next(span.end())? {
        match (number, value) {
            (TENSOR_NAME, FileValue::Bytes(name)) => {
                found.name = String::from_utf8(reader.read(name)?)
                    .map_err(|_| invalid("initializer name"))?;
            }
            (TENSOR_DIMS, FileValue::Varint(dim)) => found.dims.push(dim as i64),
            (TENSOR_DIMS, FileValue::Bytes(packed)) => {
                for dim in super::protobuf::varints(&reader.read(packed)?) {
                    found.dims.push(dim? as i64);
                }
            }
            (TENSOR_DATA_TYPE, FileValue::Varint(ty)) => found.data_type = ty as i32,
            (TENSOR_RAW_DATA, FileValue::Bytes(raw)) => {
                found.raw = Some(raw);
                reader.pass(raw)?;
            }
            (TENSOR_DATA_LOCATION, FileValue::Varint(location)) => {
                found.external = location == EXTERNAL;
            }
            (_, FileValue::Bytes(skipped)) => reader.pass(skipped)?,
            _ => {}
        }
    }
    Ok(found)
}

#[cfg(test)]
#[path = "onnx_file_tests.rs"]
mod tests;
