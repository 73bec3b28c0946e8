"""Model families (registry) used by the trainable and by exported models."""

from automl.models.registry import available_models, build_model, count_parameters, register_model

__all__ = ["available_models", "build_model", "count_parameters", "register_model"]
