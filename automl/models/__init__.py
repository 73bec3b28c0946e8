"""Model families (registry) used by the trainable and by exported models.

Importing the package registers the built-in families (`tabular`: mlp, image_head).
"""

from automl.models import tabular  # noqa: F401  (registers the built-in families)
from automl.models.registry import available_models, build_model, count_parameters, register_model

__all__ = ["available_models", "build_model", "count_parameters", "register_model"]
