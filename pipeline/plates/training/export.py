"""Write fine-tuned weights back into the base model's ONNX graph.

The exported file is the base model's graph, node for node, with only the trained initializers'
values replaced: the input (`input`, uint8 NHWC [N,64,128,3]) and outputs (`plate` [N,10,37],
`region` [N,66]) keep their names and shapes, so fast-plate-ocr loads it with the base model's
plate config, and nothing depends on how PyTorch would export the graph.

>>> export(trainable_ocr.trained_weights(), "cct_xs_v2_global.onnx", "models/plate_ocr_finetuned.onnx")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper


def export(weights: Mapping[str, np.ndarray], base: str | Path, out: str | Path) -> Path:
    """`base` with the initializers named in `weights` set to those values, saved to `out`."""
    model = onnx.load(str(base))
    missing = set(weights)
    for init in model.graph.initializer:
        if init.name not in weights:
            continue
        value = np.asarray(weights[init.name], dtype=numpy_helper.to_array(init).dtype)
        if tuple(value.shape) != tuple(init.dims):
            raise ValueError(f"{init.name}: trained shape {value.shape} differs from {base}'s {tuple(init.dims)}")
        init.CopyFrom(numpy_helper.from_array(value, init.name))
        missing.discard(init.name)
    if missing:
        raise ValueError(f"{base} has no initializer named {sorted(missing)[0]!r} ({len(missing)} missing)")
    onnx.checker.check_model(model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out
