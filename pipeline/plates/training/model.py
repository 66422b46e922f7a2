"""The fast-plate-ocr ONNX model as a trainable PyTorch module, and its loss.

`onnx2torch` turns the ONNX graph into a `torch.fx.GraphModule` that computes the same thing
(checked against ONNX Runtime in the tests). It keeps convolution weights as parameters but every
other initializer (the dense layers' matrices, biases, DyT scales, positional embedding) as a
constant buffer; `TrainableOCR` makes the network's weights trainable again and remembers which
ONNX initializer each one came from, so `export.py` can write them back into the original graph.

Left constant: the input rescaling (1/255) and attention scale, the fixed blur kernels of the
stem's anti-aliased pooling, and the region (country) head, which has no labels here. The module
returns logits (the graph's final softmaxes are skipped) for a numerically sound cross-entropy.

>>> ocr = TrainableOCR.from_onnx("cct_xs_v2_global.onnx")  # doctest: +SKIP
>>> plate_logits, region_logits = ocr(images_uint8_nhwc)    # (N, 10, 37), (N, 66)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

# Initializers used by layers whose name holds one of these stay constant (module docstring).
FROZEN_NAMES = ("/region_", "max_blur_pooling")
# The region head has no labels here and stays frozen, but the trunk under it changes: a small KL
# term holds each crop's country read to the base model's read of the same plate, sharp and full size.
REGION_LOSS_WEIGHT = 0.1


class TrainableOCR(nn.Module):
    def __init__(self, graph: torch.fx.GraphModule, sources: dict[str, str]):
        super().__init__()
        self.graph = graph
        self.sources = sources  # parameter name in `graph` -> ONNX initializer name

    @classmethod
    def from_onnx(cls, path: str | Path) -> TrainableOCR:
        from onnx2torch import convert  # heavy, training only

        model = onnx.load(str(path))
        graph = convert(model, attach_onnx_mapping=True)
        _output_logits(graph)
        weights = _network_weights(model)
        sources = {}
        for node in graph.graph.nodes:
            if node.op != "call_module":
                continue
            module = graph.get_submodule(node.target)
            onnx_inputs = module.onnx_mapping.inputs
            if node.kwargs:
                raise ValueError(f"{path}: node {node.target} has optional inputs; not supported")
            for arg, source in zip(node.args, onnx_inputs):
                if getattr(arg, "op", None) == "get_attr" and source in weights:
                    sources[arg.target] = source
            # Convolutions hold their weight and bias as parameters: ONNX inputs 1 and 2 of the node.
            conv_inputs = _conv_inputs(model, node.target)
            for name, parameter in module.named_parameters():
                source = conv_inputs[0 if parameter.ndim > 1 else 1]
                if source in weights:
                    sources[f"{node.target}.{name}"] = source
                else:
                    parameter.requires_grad_(False)
        _lift_buffers(graph, [name for name in sources if name.startswith("initializers.")])
        if len(set(sources.values())) != len(sources):
            raise ValueError(f"{path}: an ONNX initializer feeds two trainable tensors; not supported")
        return cls(graph, sources)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 RGB (N, 64, 128, 3) in; plate logits (N, slots, alphabet) and region logits out."""
        plate, region = self.graph(images)
        return plate, region

    def trained_weights(self) -> dict[str, np.ndarray]:
        """ONNX initializer name -> its current value, for every trainable tensor."""
        named = dict(self.graph.named_parameters())
        return {source: named[name].detach().cpu().numpy() for name, source in self.sources.items()}


def loss_fn(
    plate_logits: torch.Tensor,
    targets: torch.Tensor,
    region_logits: torch.Tensor | None = None,
    region_targets: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy per character slot (pad slots included: the model must learn where a plate
    ends), plus, given `region_targets` (log-probabilities), a small KL term towards them."""
    loss = nn.functional.cross_entropy(plate_logits.flatten(0, 1), targets.flatten())
    if region_targets is not None:
        loss = loss + REGION_LOSS_WEIGHT * nn.functional.kl_div(
            region_logits.log_softmax(-1), region_targets, log_target=True, reduction="batchmean"
        )
    return loss


def _network_weights(model: onnx.ModelProto) -> set[str]:
    """Names of the float initializers that are learnt weights (see the module docstring)."""
    # Frozen by the layer (ONNX node) that uses them: constant-folded initializers lose the name.
    frozen = {i for node in model.graph.node if any(part in node.name for part in FROZEN_NAMES) for i in node.input}
    weights = set()
    for init in model.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or init.name in frozen:
            continue
        # Scalars are constants (1/255, attention scale) unless they were a Keras variable (DyT alpha).
        if len(init.dims) == 0 and "ReadVariableOp" not in init.name:
            continue
        weights.add(init.name)
    return weights


def _conv_inputs(model: onnx.ModelProto, node_name: str) -> list[str]:
    """Weight and bias initializer names of the ONNX Conv node `node_name` (bias may be "")."""
    for node in model.graph.node:
        if node.name == node_name and node.op_type == "Conv":
            return [node.input[1], node.input[2] if len(node.input) > 2 else ""]
    return ["", ""]


def _output_logits(graph: torch.fx.GraphModule) -> None:
    """Return each output's softmax input instead of the softmax (cross-entropy wants logits)."""
    output = next(n for n in graph.graph.nodes if n.op == "output")
    heads = output.args[0]
    logits = []
    for head in heads:
        if head.op != "call_module" or not isinstance(graph.get_submodule(head.target), nn.Softmax):
            raise ValueError(f"output {head.target} is not a softmax; cannot take its logits")
        logits.append(head.args[0])
    output.args = (tuple(logits),)
    graph.graph.eliminate_dead_code()
    graph.recompile()


def _lift_buffers(graph: torch.fx.GraphModule, names: list[str]) -> None:
    """Turn the buffers `names` ("initializers.<buffer>") into parameters."""
    container = graph.get_submodule("initializers")
    for name in names:
        buffer_name = name.removeprefix("initializers.")
        value = container._buffers.pop(buffer_name)
        container.register_parameter(buffer_name, nn.Parameter(value.clone()))
