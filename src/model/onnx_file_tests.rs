//! Reading the shipped captioner's decoder, and writing a model from its parts.

use super::*;
use crate::model::onnx_write::{ModelParts, NewPort, REFERENCE_FROM};

fn decoder() -> OnnxFile {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/captioner/decoder_with_past_model.onnx");
    OnnxFile::read(&path).unwrap()
}

#[test]
fn the_decoder_signature_is_read_as_optimum_wrote_it() {
    let file = decoder();
    let names: Vec<&str> = file.inputs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        &names[..3],
        [
            "input_ids",
            "encoder_hidden_states",
            "past_key_values.0.key"
        ]
    );
    let ids = file.input("input_ids").unwrap();
    assert_eq!(element_name(ids.element.unwrap()), "int64");
    assert_eq!(
        file.input("past_key_values.0.key").unwrap().shape,
        Some(vec![
            Dim::Named("batch_size".into()),
            Dim::Fixed(4),
            Dim::Named("past_sequence_length".into()),
            Dim::Fixed(32)
        ])
    );
    assert_eq!(file.outputs[0].name, "logits");
    assert!(file
        .nodes
        .iter()
        .any(|n| n.op_type == "Gemm" || n.op_type == "MatMul"));
    assert!(file.nodes.iter().all(|n| !n.has_subgraph));
    assert!(!file.initializers.is_empty() && file.initializers.iter().all(|i| !i.external));
}

#[test]
fn a_model_written_from_all_parts_reads_back_the_same() {
    let file = decoder();
    let parts = ModelParts {
        name: "copy",
        nodes: file.nodes.iter().collect(),
        initializers: file.initializers.iter().collect(),
        inputs: file.inputs.iter().map(NewPort::Existing).collect(),
        outputs: file.outputs.iter().map(NewPort::Existing).collect(),
    };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.onnx");
    std::fs::write(&copy, file.write_model(&parts).unwrap()).unwrap();
    let again = OnnxFile::read(&copy).unwrap();
    assert_eq!(again.nodes.len(), file.nodes.len());
    assert_eq!(again.inputs.len(), file.inputs.len());
    assert_eq!(again.outputs[0].name, "logits");
    // Large weights stay where they are: the copy refers to them; small ones are copied.
    for (a, b) in file.initializers.iter().zip(&again.initializers) {
        assert_eq!(
            (&a.name, &a.dims, a.data_type),
            (&b.name, &b.dims, b.data_type)
        );
        let large = a.raw.is_some_and(|raw| raw.len >= REFERENCE_FROM);
        assert_eq!(b.external, large, "{}", a.name);
        assert_eq!(b.raw.is_some(), !large, "{}", a.name);
    }
    assert!(again.initializers.iter().any(|i| i.external));
    assert!(again.initializers.iter().any(|i| !i.external));
}

#[test]
fn a_file_that_is_not_onnx_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.onnx");
    std::fs::write(&path, b"not a model at all").unwrap();
    assert!(OnnxFile::read(&path).is_err());
}
