//! A float32 ONNX graph converted to float16 at load, for GPUs, whose tensor cores run
//! float16 several times faster: float weights and constants become float16, every
//! float tensor between nodes float16, `Cast`s to float now cast to float16. The model's
//! inputs and outputs stay float32 (a `Cast` at each), so everything around the session
//! is unchanged.
//!
//! What ONNX requires in float32 stays so: the `scales` of `Resize` and `Upsample`, and
//! whatever computes them. A graph this cannot convert safely (subgraphs, weights in
//! external files) is refused with the reason, and the caller runs it in float32.

use std::collections::HashSet;
use std::io;

use half::f16;

use super::protobuf::{fields_with_bytes, put_bytes, put_varint_field, Field, Value};

// Field numbers of onnx.proto.
const MODEL_GRAPH: u32 = 7;
const GRAPH_NODE: u32 = 1;
const GRAPH_INITIALIZER: u32 = 5;
const GRAPH_INPUT: u32 = 11;
const GRAPH_OUTPUT: u32 = 12;
const GRAPH_VALUE_INFO: u32 = 13;
const NODE_INPUT: u32 = 1;
const NODE_OUTPUT: u32 = 2;
const NODE_NAME: u32 = 3;
const NODE_OP_TYPE: u32 = 4;
const NODE_ATTRIBUTE: u32 = 5;
const ATTRIBUTE_NAME: u32 = 1;
const ATTRIBUTE_I: u32 = 3;
const ATTRIBUTE_T: u32 = 5;
const ATTRIBUTE_GRAPH: u32 = 6;
const ATTRIBUTE_TYPE: u32 = 20;
const ATTRIBUTE_GRAPHS: u32 = 11;
/// `AttributeProto.AttributeType.INT`.
const ATTRIBUTE_TYPE_INT: u64 = 2;
const TENSOR_DATA_TYPE: u32 = 2;
const TENSOR_FLOAT_DATA: u32 = 4;
const TENSOR_NAME: u32 = 8;
const TENSOR_RAW_DATA: u32 = 9;
const TENSOR_EXTERNAL_DATA: u32 = 13;
const VALUE_INFO_NAME: u32 = 1;
const VALUE_INFO_TYPE: u32 = 2;
const TYPE_TENSOR: u32 = 1;
const TENSOR_TYPE_ELEM: u32 = 1;
/// `TensorProto.DataType`.
const FLOAT: u64 = 1;
const FLOAT16: u64 = 10;

/// Why a graph is not converted.
#[derive(Debug, thiserror::Error)]
pub enum HalfPrecisionError {
    #[error("the graph has subgraphs (If/Loop/Scan), which are not converted")]
    Subgraph,
    #[error("weight `{0}` lies in an external file, which is not converted")]
    ExternalWeights(String),
    #[error("a value is out of float16's range in `{0}`")]
    OutOfRange(String),
    #[error("the model file is not a valid ONNX protobuf: {0}")]
    Malformed(#[from] io::Error),
}

/// `model` (a serialized ModelProto) with its graph in float16 and its float32 inputs
/// and outputs kept, by a `Cast` after each input and before each output.
///
/// # Errors
/// The graph has something this does not convert, or is not valid protobuf.
pub fn to_float16(model: &[u8]) -> Result<Vec<u8>, HalfPrecisionError> {
    let mut out = Vec::with_capacity(model.len() / 2 + 1024);
    for field in fields_with_bytes(model) {
        let (field, raw) = field?;
        match (field.number, field.value) {
            (MODEL_GRAPH, Value::Bytes(graph)) => {
                put_bytes(&mut out, MODEL_GRAPH, &graph_to_float16(graph)?)
            }
            _ => out.extend_from_slice(raw),
        }
    }
    Ok(out)
}

/// What the graph reads and writes, gathered before it is rewritten.
#[derive(Default)]
struct Plan {
    /// Float32 graph inputs and outputs, which get a `Cast` at the boundary.
    float_inputs: Vec<String>,
    float_outputs: Vec<String>,
    /// Tensors that must stay float32 (Resize/Upsample scales).
    keep_float: HashSet<String>,
}

fn graph_to_float16(graph: &[u8]) -> Result<Vec<u8>, HalfPrecisionError> {
    let plan = plan_of(graph)?;
    let mut nodes = Vec::new();
    let mut rest = Vec::new();
    for name in &plan.float_inputs {
        put_bytes(
            &mut nodes,
            GRAPH_NODE,
            &cast_node(name, &boundary(name), FLOAT16),
        );
    }
    for field in fields_with_bytes(graph) {
        let (field, raw) = field?;
        match (field.number, field.value) {
            (GRAPH_NODE, Value::Bytes(node)) => {
                put_bytes(&mut nodes, GRAPH_NODE, &node_to_float16(node, &plan)?);
            }
            (GRAPH_INITIALIZER, Value::Bytes(tensor)) => {
                put_bytes(&mut rest, GRAPH_INITIALIZER, &initializer(tensor, &plan)?);
            }
            (GRAPH_VALUE_INFO, Value::Bytes(info)) => {
                let name = value_info_name(info)?;
                let info = if plan.keep_float.contains(&name) {
                    info.to_vec()
                } else {
                    value_info_as(info, FLOAT16)?
                };
                put_bytes(&mut rest, GRAPH_VALUE_INFO, &info);
            }
            // The graph's own inputs and outputs keep their types.
            _ => rest.extend_from_slice(raw),
        }
    }
    for name in &plan.float_outputs {
        put_bytes(
            &mut nodes,
            GRAPH_NODE,
            &cast_node(&boundary(name), name, FLOAT),
        );
    }
    nodes.extend_from_slice(&rest);
    Ok(nodes)
}

/// The float16 tensor that stands for graph input or output `name` inside the graph.
fn boundary(name: &str) -> String {
    format!("{name}__float16")
}

fn plan_of(graph: &[u8]) -> Result<Plan, HalfPrecisionError> {
    let mut plan = Plan::default();
    for field in fields_with_bytes(graph) {
        let (field, _) = field?;
        match (field.number, field.value) {
            (GRAPH_INPUT | GRAPH_OUTPUT, Value::Bytes(info)) if elem_type(info)? == Some(FLOAT) => {
                let name = value_info_name(info)?;
                if field.number == GRAPH_INPUT {
                    plan.float_inputs.push(name);
                } else {
                    plan.float_outputs.push(name);
                }
            }
            (GRAPH_NODE, Value::Bytes(node)) => {
                let (op, inputs, _) = node_ports(node)?;
                let scales = match op.as_str() {
                    "Resize" => inputs.get(2),
                    "Upsample" => inputs.get(1),
                    _ => None,
                };
                plan.keep_float
                    .extend(scales.filter(|s| !s.is_empty()).cloned());
            }
            _ => {}
        }
    }
    Ok(plan)
}

fn node_ports(node: &[u8]) -> Result<(String, Vec<String>, Vec<String>), HalfPrecisionError> {
    let (mut op, mut inputs, mut outputs) = (String::new(), Vec::new(), Vec::new());
    for field in fields_with_bytes(node) {
        let (field, _) = field?;
        let text = || field.text().unwrap_or_default().to_string();
        match field.number {
            NODE_OP_TYPE => op = text(),
            NODE_INPUT => inputs.push(text()),
            NODE_OUTPUT => outputs.push(text()),
            _ => {}
        }
    }
    Ok((op, inputs, outputs))
}

fn node_to_float16(node: &[u8], plan: &Plan) -> Result<Vec<u8>, HalfPrecisionError> {
    let (op, _, outputs) = node_ports(node)?;
    // A node whose result must stay float32 is copied as it is.
    let keeps_float = outputs.iter().any(|o| plan.keep_float.contains(o));
    let mut out = Vec::with_capacity(node.len());
    for field in fields_with_bytes(node) {
        let (field, raw) = field?;
        match (field.number, field.value) {
            // An output read by other nodes too: they read its float16 form.
            (NODE_INPUT, Value::Bytes(name))
                if is_boundary(name, &plan.float_inputs)
                    || is_boundary(name, &plan.float_outputs) =>
            {
                put_bytes(
                    &mut out,
                    NODE_INPUT,
                    boundary(&String::from_utf8_lossy(name)).as_bytes(),
                );
            }
            (NODE_OUTPUT, Value::Bytes(name)) if is_boundary(name, &plan.float_outputs) => {
                put_bytes(
                    &mut out,
                    NODE_OUTPUT,
                    boundary(&String::from_utf8_lossy(name)).as_bytes(),
                );
            }
            (NODE_ATTRIBUTE, Value::Bytes(attribute)) if !keeps_float => {
                put_bytes(
                    &mut out,
                    NODE_ATTRIBUTE,
                    &attribute_to_float16(attribute, &op)?,
                );
            }
            _ => out.extend_from_slice(raw),
        }
    }
    Ok(out)
}

fn is_boundary(name: &[u8], ports: &[String]) -> bool {
    ports.iter().any(|port| port.as_bytes() == name)
}

/// A node attribute with its float tensors (`Constant`'s value) in float16, and a
/// `Cast` to float turned into one to float16.
fn attribute_to_float16(attribute: &[u8], op: &str) -> Result<Vec<u8>, HalfPrecisionError> {
    let mut name = "";
    for field in fields_with_bytes(attribute) {
        let (field, _) = field?;
        match field.number {
            ATTRIBUTE_NAME => name = field.text().unwrap_or_default(),
            ATTRIBUTE_GRAPH | ATTRIBUTE_GRAPHS => return Err(HalfPrecisionError::Subgraph),
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(attribute.len());
    for field in fields_with_bytes(attribute) {
        let (field, raw) = field?;
        match (field.number, field.value) {
            (ATTRIBUTE_T, Value::Bytes(tensor)) => {
                put_bytes(&mut out, ATTRIBUTE_T, &tensor_to_float16(tensor, name)?);
            }
            (ATTRIBUTE_I, Value::Varint(FLOAT)) if op == "Cast" && name == "to" => {
                put_varint_field(&mut out, ATTRIBUTE_I, FLOAT16);
            }
            _ => out.extend_from_slice(raw),
        }
    }
    Ok(out)
}

fn initializer(tensor: &[u8], plan: &Plan) -> Result<Vec<u8>, HalfPrecisionError> {
    let name = tensor_name(tensor)?;
    if plan.keep_float.contains(&name) {
        Ok(tensor.to_vec())
    } else {
        tensor_to_float16(tensor, &name)
    }
}

/// The first string field `number` of `message`; empty when it has none.
fn text_field(message: &[u8], number: u32) -> Result<String, HalfPrecisionError> {
    for field in fields_with_bytes(message) {
        let (field, _) = field?;
        if field.number == number {
            return Ok(field.text().unwrap_or_default().to_string());
        }
    }
    Ok(String::new())
}

fn tensor_name(tensor: &[u8]) -> Result<String, HalfPrecisionError> {
    text_field(tensor, TENSOR_NAME)
}

/// A float32 TensorProto as float16 (raw data); any other tensor unchanged.
fn tensor_to_float16(tensor: &[u8], name: &str) -> Result<Vec<u8>, HalfPrecisionError> {
    let mut is_float = false;
    let mut values = Vec::new();
    for field in fields_with_bytes(tensor) {
        let (field, raw) = field?;
        match (field.number, field.value) {
            (TENSOR_DATA_TYPE, Value::Varint(kind)) => is_float = kind == FLOAT,
            (TENSOR_EXTERNAL_DATA, _) => {
                return Err(HalfPrecisionError::ExternalWeights(name.to_string()))
            }
            (TENSOR_RAW_DATA, Value::Bytes(bytes)) => values.extend(floats(bytes)),
            // Packed float_data, or one unpacked value (its last four bytes).
            (TENSOR_FLOAT_DATA, Value::Bytes(bytes)) => values.extend(floats(bytes)),
            (TENSOR_FLOAT_DATA, _) => values.extend(floats(&raw[raw.len().saturating_sub(4)..])),
            _ => {}
        }
    }
    if !is_float {
        return Ok(tensor.to_vec());
    }
    let mut half = Vec::with_capacity(values.len() * 2);
    for value in values {
        let converted = f16::from_f32(value);
        if value.is_finite() && !converted.is_finite() {
            return Err(HalfPrecisionError::OutOfRange(name.to_string()));
        }
        half.extend_from_slice(&converted.to_le_bytes());
    }
    let mut out = Vec::with_capacity(tensor.len() / 2 + 16);
    for field in fields_with_bytes(tensor) {
        let (field, raw) = field?;
        match field.number {
            TENSOR_DATA_TYPE => put_varint_field(&mut out, TENSOR_DATA_TYPE, FLOAT16),
            TENSOR_RAW_DATA | TENSOR_FLOAT_DATA => {}
            _ => out.extend_from_slice(raw),
        }
    }
    put_bytes(&mut out, TENSOR_RAW_DATA, &half);
    Ok(out)
}

fn floats(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn value_info_name(info: &[u8]) -> Result<String, HalfPrecisionError> {
    text_field(info, VALUE_INFO_NAME)
}

/// The element type of a tensor ValueInfoProto.
fn elem_type(info: &[u8]) -> Result<Option<u64>, HalfPrecisionError> {
    let Some(tensor) = nested(info, &[VALUE_INFO_TYPE, TYPE_TENSOR])? else {
        return Ok(None);
    };
    for field in fields_with_bytes(tensor) {
        let (field, _) = field?;
        if field.number == TENSOR_TYPE_ELEM {
            return Ok(field.varint());
        }
    }
    Ok(None)
}

/// The message at `path` of field numbers inside `message`.
fn nested<'a>(message: &'a [u8], path: &[u32]) -> Result<Option<&'a [u8]>, HalfPrecisionError> {
    let mut current = message;
    for &number in path {
        let mut found = None;
        for field in fields_with_bytes(current) {
            let (field, _) = field?;
            if field.number == number {
                found = field.bytes();
            }
        }
        match found {
            Some(inner) => current = inner,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// A ValueInfoProto whose float tensor type is `to` instead.
fn value_info_as(info: &[u8], to: u64) -> Result<Vec<u8>, HalfPrecisionError> {
    rewrite_path(info, &[VALUE_INFO_TYPE, TYPE_TENSOR], &|tensor_type| {
        let mut out = Vec::with_capacity(tensor_type.len());
        for field in fields_with_bytes(tensor_type) {
            let (field, raw) = field?;
            match field {
                Field {
                    number: TENSOR_TYPE_ELEM,
                    value: Value::Varint(FLOAT),
                } => put_varint_field(&mut out, TENSOR_TYPE_ELEM, to),
                _ => out.extend_from_slice(raw),
            }
        }
        Ok(out)
    })
}

type Rewrite<'r> = dyn Fn(&[u8]) -> Result<Vec<u8>, HalfPrecisionError> + 'r;

/// `message` with the message at `path` replaced by what `rewrite` makes of it.
fn rewrite_path(
    message: &[u8],
    path: &[u32],
    rewrite: &Rewrite<'_>,
) -> Result<Vec<u8>, HalfPrecisionError> {
    let Some((&first, rest)) = path.split_first() else {
        return rewrite(message);
    };
    let mut out = Vec::with_capacity(message.len());
    for field in fields_with_bytes(message) {
        let (field, raw) = field?;
        match (field.number, field.value) {
            (number, Value::Bytes(inner)) if number == first => {
                put_bytes(&mut out, number, &rewrite_path(inner, rest, rewrite)?);
            }
            _ => out.extend_from_slice(raw),
        }
    }
    Ok(out)
}

/// A `Cast` node from `from` to `to` (a `TensorProto.DataType`).
fn cast_node(from: &str, to_name: &str, to: u64) -> Vec<u8> {
    let mut attribute = Vec::new();
    put_bytes(&mut attribute, ATTRIBUTE_NAME, b"to");
    put_varint_field(&mut attribute, ATTRIBUTE_I, to);
    put_varint_field(&mut attribute, ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_INT);
    let mut node = Vec::new();
    put_bytes(&mut node, NODE_INPUT, from.as_bytes());
    put_bytes(&mut node, NODE_OUTPUT, to_name.as_bytes());
    put_bytes(&mut node, NODE_NAME, format!("{to_name}__cast").as_bytes());
    put_bytes(&mut node, NODE_OP_TYPE, b"Cast");
    put_bytes(&mut node, NODE_ATTRIBUTE, &attribute);
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models")
            .join(name);
        std::fs::read(path).unwrap()
    }

    fn graph(model: &[u8]) -> Vec<u8> {
        nested(model, &[MODEL_GRAPH]).unwrap().unwrap().to_vec()
    }

    /// Every field `number` of `graph`, as messages.
    fn all(graph: &[u8], number: u32) -> Vec<Vec<u8>> {
        fields_with_bytes(graph)
            .map(Result::unwrap)
            .filter(|(f, _)| f.number == number)
            .map(|(f, _)| f.bytes().unwrap().to_vec())
            .collect()
    }

    fn data_type(tensor: &[u8]) -> u64 {
        fields_with_bytes(tensor)
            .map(Result::unwrap)
            .find(|(f, _)| f.number == TENSOR_DATA_TYPE)
            .and_then(|(f, _)| f.varint())
            .unwrap_or(0)
    }

    /// The compact ×2 model ends in a bicubic Resize whose scales must stay float32;
    /// everything else that was float is float16, behind float32 ports.
    #[test]
    fn a_shipped_model_becomes_float16_inside_float32_ports() {
        let original = shipped("realesr-animevideov3-x2.onnx");
        let converted = graph(&to_float16(&original).unwrap());
        let plan = plan_of(&graph(&original)).unwrap();
        assert_eq!(plan.float_inputs.len(), 1);
        assert_eq!(plan.float_outputs.len(), 1);
        assert_eq!(plan.keep_float.len(), 1, "{:?}", plan.keep_float);
        for port in [GRAPH_INPUT, GRAPH_OUTPUT] {
            for info in all(&converted, port) {
                assert_eq!(elem_type(&info).unwrap(), Some(FLOAT));
            }
        }
        let mut kept = 0;
        for tensor in all(&converted, GRAPH_INITIALIZER) {
            let name = tensor_name(&tensor).unwrap();
            match data_type(&tensor) {
                FLOAT => {
                    assert!(plan.keep_float.contains(&name), "{name} is still float32");
                    kept += 1;
                }
                kind => assert_ne!(kind, FLOAT, "{name}"),
            }
        }
        let nodes = all(&converted, GRAPH_NODE);
        let (first, _, _) = node_ports(&nodes[0]).unwrap();
        let (last, inputs, outputs) = node_ports(nodes.last().unwrap()).unwrap();
        assert_eq!((first.as_str(), last.as_str()), ("Cast", "Cast"));
        assert_eq!(outputs, plan.float_outputs);
        assert_eq!(inputs, vec![boundary(&plan.float_outputs[0])]);
        // The Resize's scales, an initializer here.
        assert_eq!(kept, 1);
    }

    #[test]
    fn float_values_are_rounded_to_float16() {
        let mut tensor = Vec::new();
        put_varint_field(&mut tensor, 1, 3);
        put_varint_field(&mut tensor, TENSOR_DATA_TYPE, FLOAT);
        put_bytes(&mut tensor, 8, b"w");
        let values: Vec<u8> = [0.5f32, -1.0 / 3.0, 1000.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        put_bytes(&mut tensor, TENSOR_RAW_DATA, &values);
        let half = tensor_to_float16(&tensor, "w").unwrap();
        assert_eq!(data_type(&half), FLOAT16);
        let raw = fields_with_bytes(&half)
            .map(Result::unwrap)
            .find(|(f, _)| f.number == TENSOR_RAW_DATA)
            .and_then(|(f, _)| f.bytes())
            .unwrap();
        let read: Vec<f32> = raw
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        assert_eq!(read, vec![0.5, f16::from_f32(-1.0 / 3.0).to_f32(), 1000.0]);

        let mut huge = Vec::new();
        put_varint_field(&mut huge, TENSOR_DATA_TYPE, FLOAT);
        put_bytes(&mut huge, TENSOR_RAW_DATA, &1.0e6f32.to_le_bytes());
        assert_eq!(
            tensor_to_float16(&huge, "big").unwrap_err().to_string(),
            "a value is out of float16's range in `big`"
        );
    }

    #[test]
    fn subgraphs_are_refused() {
        let mut attribute = Vec::new();
        put_bytes(&mut attribute, ATTRIBUTE_NAME, b"then_branch");
        put_bytes(&mut attribute, ATTRIBUTE_GRAPH, b"");
        let mut node = Vec::new();
        put_bytes(&mut node, NODE_OP_TYPE, b"If");
        put_bytes(&mut node, NODE_ATTRIBUTE, &attribute);
        let mut graph = Vec::new();
        put_bytes(&mut graph, GRAPH_NODE, &node);
        let mut model = Vec::new();
        put_bytes(&mut model, MODEL_GRAPH, &graph);
        assert_eq!(
            to_float16(&model).unwrap_err().to_string(),
            "the graph has subgraphs (If/Loop/Scan), which are not converted"
        );
    }
}
