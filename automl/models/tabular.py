"""The tabular network: depth 0 is a linear (logistic / ridge-like) model, up to 4 hidden layers."""

from __future__ import annotations

from typing import Any

import torch.nn as nn

from automl.errors import invalid_parameter
from automl.models.registry import register_model

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}


@register_model(
    "mlp", description="a multilayer perceptron: depth 0 is a linear model, up to 8 hidden layers"
)
def mlp(n_inputs: int, n_outputs: int, params: dict[str, Any]) -> nn.Module:
    members = int(params.get("members", 1))
    if members > 1:  # a deep ensemble: that many networks, their outputs averaged
        single = {k: v for k, v in params.items() if k != "members"}
        return Members([mlp(n_inputs, n_outputs, single) for _ in range(members)])
    depth = int(params.get("depth", 0))
    width = int(params.get("width", 64))
    activation = params.get("activation", "relu")
    if not 0 <= depth <= 8:
        raise invalid_parameter("depth", "mlp", "an integer from 0 to 8", depth)
    if activation not in ACTIVATIONS:
        raise invalid_parameter("activation", "mlp", f"one of {', '.join(ACTIVATIONS)}", activation)
    layers: list[nn.Module] = []
    size = n_inputs
    for _ in range(depth):
        layers.append(nn.Linear(size, width))
        if params.get("batch_norm", False):
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS[activation]())
        if float(params.get("dropout", 0.0)) > 0:
            layers.append(nn.Dropout(float(params["dropout"])))
        size = width
    layers.append(nn.Linear(size, n_outputs))
    return nn.Sequential(*layers)


class Members(nn.Module):
    """Networks trained side by side on the same rows (each from its own initialization and order of
    batches): for classes, the mean of their probabilities (returned as log-probabilities, so that a softmax
    of the output is that mean); for a regression output, the mean of their outputs. An ensemble in one
    module, as TabM (Gorishniy et al., ICLR 2025) makes one, but with independent members (the fold-batched
    engine trains them as extra rows of its stack)."""

    def __init__(self, networks: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(networks)

    def forward(self, x):
        import torch

        outputs = torch.stack([member(x) for member in self.members])
        if outputs.shape[-1] == 1:  # regression: one value per row
            return outputs.mean(dim=0)
        return outputs.float().softmax(dim=-1).mean(dim=0).clamp_min(1e-30).log()


@register_model(
    "image_head",
    description="the head on pooled image features: dropout, then the MLP",
    tasks=("classification",),
)
def image_head(n_inputs: int, n_outputs: int, params: dict[str, Any]) -> nn.Module:
    """The head on pooled image features: dropout on the features, then the MLP (depth 0 = linear)."""
    return nn.Sequential(nn.Dropout(float(params.get("dropout", 0.0))), mlp(n_inputs, n_outputs, params))
