"""A small logistic model written with onnx.helper: a scorer model needing no [train] extra."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def logistic_onnx(
    weights: Sequence[float],
    bias: float,
    *,
    metadata: Mapping[str, str] | None = None,
    columns: int | None = None,
) -> bytes:
    """``p = sigmoid(x · weights + bias)`` with output ``[N, 2]`` = ``[1 - p, p]``."""
    n = len(weights)
    w = numpy_helper.from_array(np.asarray(weights, dtype=np.float32).reshape(n, 1), "w")
    b = numpy_helper.from_array(np.asarray([bias], dtype=np.float32), "b")
    one = numpy_helper.from_array(np.asarray([1.0], dtype=np.float32), "one")
    nodes = [
        helper.make_node("MatMul", ["features", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        helper.make_node("Sub", ["one", "p"], ["q"]),
        helper.make_node("Concat", ["q", "p"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "logistic",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, columns or n])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        initializer=[w, b, one],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model.SerializeToString()
