//! Splitting a captioning decoder's graph in two: the part that depends only on the
//! encoder's output (in a GPT-2 decoder, the keys and values of every cross-attention
//! layer: 12 projections of all 197 image positions) and the rest. Optimum's export
//! computes the first again at every generated token; run once per set of images, it
//! leaves each step only the work of the new token.
//!
//! The split is a partition of the graph's own nodes, so every tensor is computed by the
//! same operations on the same values as before and the logits are bit-identical.
//! Constant subgraphs (shape arithmetic, `Constant` nodes) go to whichever part reads
//! them, to both if both do.

use std::collections::{HashMap, HashSet};

use super::onnx_file::{Initializer, Node, OnnxFile};
use super::onnx_write::{ModelParts, NewPort};

/// Operations whose results may differ between two runs: never moved or repeated.
const NONDETERMINISTIC: [&str; 5] = [
    "RandomNormal",
    "RandomNormalLike",
    "RandomUniform",
    "RandomUniformLike",
    "Multinomial",
];

/// Operations that make splitting worth a second graph.
const HEAVY: [&str; 3] = ["MatMul", "Gemm", "Conv"];

/// How a graph splits at one of its inputs.
#[derive(Debug)]
pub struct ImageSplit<'f> {
    file: &'f OnnxFile,
    input: &'f str,
    image_nodes: Vec<&'f Node>,
    step_nodes: Vec<&'f Node>,
    /// Tensors the image part computes and the step part reads, in the order computed.
    pub boundary: Vec<String>,
    /// Whether the step part still reads the input itself.
    pub step_reads_input: bool,
}

/// Where each tensor comes from while walking the graph.
struct Sources<'f> {
    /// Initializers and what constant nodes make of them.
    constant: HashSet<&'f str>,
    /// What nodes make from the input and constants alone.
    image: HashSet<&'f str>,
    producer: HashMap<&'f str, &'f Node>,
}

impl<'f> ImageSplit<'f> {
    /// The split of `file` at `input`, or `None` when it has nothing heavy to move, or
    /// holds what a split cannot carry over (subgraphs, sparse or external weights, an
    /// output computed from the input alone).
    pub fn plan(file: &'f OnnxFile, input: &'f str) -> Option<Self> {
        let unsupported = file.has_sparse_initializers
            || file.initializers.iter().any(|i| i.external)
            || file.nodes.iter().any(|n| n.has_subgraph);
        if unsupported || file.input(input).is_none() {
            return None;
        }
        let mut sources = Sources {
            constant: file.initializers.iter().map(|i| i.name.as_str()).collect(),
            image: HashSet::from([input]),
            producer: HashMap::new(),
        };
        let (mut image, mut step, mut constant) = (Vec::new(), Vec::new(), Vec::new());
        for node in &file.nodes {
            for output in &node.outputs {
                sources.producer.insert(output, node);
            }
            let deterministic = !NONDETERMINISTIC.contains(&node.op_type.as_str());
            let known = |t: &String| {
                sources.constant.contains(t.as_str()) || sources.image.contains(t.as_str())
            };
            let from_image = node
                .inputs
                .iter()
                .any(|t| sources.image.contains(t.as_str()));
            if deterministic && node.inputs.iter().all(known) && from_image {
                sources
                    .image
                    .extend(node.outputs.iter().map(String::as_str));
                image.push(node);
            } else if deterministic && !from_image && node.inputs.iter().all(known) {
                sources
                    .constant
                    .extend(node.outputs.iter().map(String::as_str));
                constant.push(node);
            } else {
                step.push(node);
            }
        }
        let heavy = image.iter().any(|n| HEAVY.contains(&n.op_type.as_str()));
        let output_from_image = file
            .outputs
            .iter()
            .any(|o| sources.image.contains(o.name.as_str()));
        if !heavy || output_from_image {
            return None;
        }
        let step_reads: HashSet<&str> = step
            .iter()
            .flat_map(|n| n.inputs.iter().map(String::as_str))
            .collect();
        let boundary = image
            .iter()
            .flat_map(|n| n.outputs.iter())
            .filter(|t| step_reads.contains(t.as_str()))
            .cloned()
            .collect();
        Some(Self {
            file,
            input,
            step_reads_input: step_reads.contains(input),
            image_nodes: with_constants(file, &image, &sources),
            step_nodes: with_constants(file, &step, &sources),
            boundary,
        })
    }

    /// The file split.
    pub fn file(&self) -> &'f OnnxFile {
        self.file
    }

    /// The image part: the input in, the boundary tensors out (ONNX Runtime infers
    /// their types).
    pub fn image_model(&self) -> ModelParts<'f> {
        ModelParts {
            name: "image_part",
            nodes: self.image_nodes.clone(),
            initializers: initializers(self.file, &self.image_nodes),
            inputs: self
                .file
                .inputs
                .iter()
                .filter(|p| p.name == self.input)
                .map(NewPort::Existing)
                .collect(),
            outputs: self
                .boundary
                .iter()
                .map(|t| NewPort::Untyped(t.clone()))
                .collect(),
        }
    }

    /// The step part: the graph's inputs (less the split one, unless it still reads it)
    /// and the boundary tensors, typed `elements` (ONNX element types, in boundary
    /// order), in; the graph's outputs out.
    pub fn step_model(&self, elements: &[i32]) -> ModelParts<'f> {
        let mut inputs: Vec<NewPort<'f>> = self
            .file
            .inputs
            .iter()
            .filter(|p| self.step_reads_input || p.name != self.input)
            .map(NewPort::Existing)
            .collect();
        inputs.extend(
            self.boundary
                .iter()
                .zip(elements)
                .map(|(name, element)| NewPort::Typed {
                    name: name.clone(),
                    element: *element,
                }),
        );
        ModelParts {
            name: "step_part",
            nodes: self.step_nodes.clone(),
            initializers: initializers(self.file, &self.step_nodes),
            inputs,
            outputs: self.file.outputs.iter().map(NewPort::Existing).collect(),
        }
    }
}

/// `nodes` and the constant nodes they read from (directly or through other constant
/// nodes), in the graph's order.
fn with_constants<'f>(
    file: &'f OnnxFile,
    nodes: &[&'f Node],
    sources: &Sources<'f>,
) -> Vec<&'f Node> {
    let mut keep: HashSet<*const Node> = nodes.iter().map(|n| *n as *const Node).collect();
    let mut wanted: Vec<&str> = nodes
        .iter()
        .flat_map(|n| n.inputs.iter().map(String::as_str))
        .collect();
    while let Some(tensor) = wanted.pop() {
        if !sources.constant.contains(tensor) {
            continue;
        }
        if let Some(node) = sources.producer.get(tensor) {
            if keep.insert(*node as *const Node) {
                wanted.extend(node.inputs.iter().map(String::as_str));
            }
        }
    }
    file.nodes
        .iter()
        .filter(|n| keep.contains(&(*n as *const Node)))
        .collect()
}

/// The initializers `nodes` read.
fn initializers<'f>(file: &'f OnnxFile, nodes: &[&'f Node]) -> Vec<&'f Initializer> {
    let read: HashSet<&str> = nodes
        .iter()
        .flat_map(|n| n.inputs.iter().map(String::as_str))
        .collect();
    file.initializers
        .iter()
        .filter(|i| read.contains(i.name.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn decoder(name: &str) -> OnnxFile {
        OnnxFile::read(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("models/captioner")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn the_cross_attention_projections_move_to_the_image_part() {
        let file = decoder("decoder_with_past_model.onnx");
        let split = ImageSplit::plan(&file, "encoder_hidden_states").unwrap();
        // Three layers: one key/value projection each, run once per image.
        let gemms = |nodes: &[&Node]| {
            nodes
                .iter()
                .filter(|n| HEAVY.contains(&n.op_type.as_str()))
                .count()
        };
        assert_eq!(gemms(&split.image_nodes), 3);
        assert!(gemms(&split.step_nodes) > 3);
        assert!(!split.step_reads_input);
        // No node is computed in both parts but constants.
        for node in &split.image_nodes {
            let twice = split.step_nodes.iter().any(|s| std::ptr::eq(*s, *node));
            assert!(
                !twice || node.inputs.iter().all(|i| !i.contains("encoder")),
                "{node:?}"
            );
        }
        assert!(!split.boundary.is_empty());
    }

    #[test]
    fn a_graph_with_subgraphs_is_not_split() {
        let file = decoder("decoder_model_merged.onnx");
        assert!(file.nodes.iter().any(|n| n.has_subgraph));
        assert!(ImageSplit::plan(&file, "encoder_hidden_states").is_none());
    }
}
