"""A loaded ONNX model: an onnxruntime session, its feature list and its provenance."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from garrison_onnx.metadata import VERSION_KEY, ModelError, feature_names

FloatMatrix = npt.NDArray[np.float32]


@attrs.frozen
class OnnxModel:
    """A model ready to score: ``probabilities(rows)`` gives each row's win probability."""

    session: Any
    input_name: str
    output_name: str
    features: tuple[str, ...]
    sha256: str
    version: str
    name: str

    def probabilities(self, rows: FloatMatrix) -> npt.NDArray[np.float64]:
        """Column 1 of the model's probabilities for ``rows`` (shape ``[N, features]``)."""
        (proba,) = self.session.run([self.output_name], {self.input_name: rows})
        return np.asarray(proba[:, 1], dtype=np.float64)


def load(path: Path, *, threads: int = 1) -> OnnxModel:
    """Load the model at ``path``; ModelError naming it when it is not one the scorer can use."""
    if not path.is_file():
        raise ModelError(f"ONNX model {path} not found")
    data = path.read_bytes()
    return load_bytes(data, str(path), threads=threads)


def load_bytes(data: bytes, where: str, *, threads: int = 1) -> OnnxModel:
    """Load a model from its bytes (``where`` names it in errors)."""
    # Imported here: loading the plugin (``garrison plugins``) need not load onnxruntime.
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"{where} is not a model onnxruntime can load: {exc}") from exc
    meta = dict(session.get_modelmeta().custom_metadata_map)
    features = feature_names(meta, where)
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"{where} takes {len(inputs)} inputs; a scorer model takes one")
    shape = inputs[0].shape
    if inputs[0].type != "tensor(float)" or len(shape) != 2:
        raise ModelError(
            f"{where}: its input is {inputs[0].type} of shape {shape}; a scorer model takes "
            "a 2-D float tensor (rows of features)"
        )
    if isinstance(shape[1], int) and shape[1] != len(features):
        raise ModelError(
            f"{where}: its input has {shape[1]} columns but its metadata names "
            f"{len(features)} features"
        )
    output = _probability_output(session.get_outputs(), where)
    digest = hashlib.sha256(data).hexdigest()
    return OnnxModel(
        session=session,
        input_name=inputs[0].name,
        output_name=output,
        features=features,
        sha256=digest,
        version=meta.get(VERSION_KEY) or digest[:12],
        name=Path(where).name,
    )


def _probability_output(outputs: Sequence[Any], where: str) -> str:
    for output in outputs:
        shape = output.shape
        if output.type == "tensor(float)" and len(shape) == 2 and shape[1] == 2:
            return str(output.name)
    described = ", ".join(f"{o.name} {o.type} {o.shape}" for o in outputs)
    raise ModelError(
        f"{where} has no [N, 2] float output of class probabilities (outputs: {described}); "
        "export classifiers without a ZipMap"
    )
