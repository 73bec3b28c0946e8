"""The `mlp` table family: the fold-batched multilayer perceptron (automl/models/tabular.py's `mlp`
network, trained by train/batched.py). Depth 0 is a linear model trained by AdamW, as before the
`linear` family existed; the default space starts the network at depth 1."""

from __future__ import annotations

from typing import Any

from automl.models.families import TableFamily, register_family


@register_family
class MLP(TableFamily):
    name = "mlp"
    description = "a multilayer perceptron, the folds trained as one batched network with early stopping"
    params = (
        "depth",
        "width",
        "activation",
        "batch_norm",
        "dropout",
        "l1",
        "l2",
        "lr",
        "batch_size",
        "members",
    )

    def is_simple(self, config: dict[str, Any]) -> bool:
        return int(config.get("depth", 0)) == 0
