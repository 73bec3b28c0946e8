"""Model families (the `MODELS` registry) used by the trainable and by exported models.

Importing the package registers the built-in families (`tabular`: mlp, image_head).
"""

from automl.models import tabular  # noqa: F401  (registers the built-in families)
from automl.models.registry import MODELS, available_models, build_model, count_parameters, register_model

__all__ = ["MODELS", "available_models", "build_model", "count_parameters", "register_model"]
