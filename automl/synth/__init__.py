"""Synthetic training rows for small tabular datasets: a registry of synthesizers.

Importing this package is cheap: the modules that define synthesizers (and SDV, torch and
imbalanced-learn behind them) are imported on the first lookup of one of their names.
"""

from automl.synth.base import Synthesizer, SynthesizerNotFittedError, XLike
from automl.synth.registry import (
    available_synthesizers,
    create_synthesizer,
    register_synthesizer,
    synthesizer_class,
)

__all__ = [
    "Synthesizer",
    "SynthesizerNotFittedError",
    "XLike",
    "available_synthesizers",
    "create_synthesizer",
    "register_synthesizer",
    "synthesizer_class",
]
