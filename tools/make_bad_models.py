"""Writes the small broken models under fixtures/models/ that the validation tests use.

    .venv/bin/python tools/make_bad_models.py

- wrong_input_type.onnx: int64 input [1,3,H,W] (a restoration stage needs float32)
- two_inputs.onnx: two float inputs
- not_image.onnx: float32 input of rank 2 [N,16]
- not_a_model.onnx: text, not ONNX at all
"""

import os

import onnx
from onnx import TensorProto, helper

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "models")


def save(graph, name):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name))


def main():
    os.makedirs(OUT, exist_ok=True)
    x_int = helper.make_tensor_value_info("x", TensorProto.INT64, [1, 3, "H", "W"])
    y_int = helper.make_tensor_value_info("y", TensorProto.INT64, [1, 3, "H", "W"])
    save(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x_int], [y_int]), "wrong_input_type.onnx")

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3, "H", "W"])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, "H", "W"])
    save(helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "g", [a, b], [y]), "two_inputs.onnx")

    v = helper.make_tensor_value_info("v", TensorProto.FLOAT, ["N", 16])
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, ["N", 16])
    save(helper.make_graph([helper.make_node("Relu", ["v"], ["w"])], "g", [v], [w]), "not_image.onnx")

    with open(os.path.join(OUT, "not_a_model.onnx"), "w") as f:
        f.write("this is a text file, not an ONNX model\n")


if __name__ == "__main__":
    main()
