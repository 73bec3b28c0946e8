"""Numbers, intervals, durations and timestamps as short text for tables and captions."""

from __future__ import annotations

import math
import time
from typing import Any

from automl.manifest import Manifest

# What the functions of ui/lib that read a manifest take: the typed one (the pages pass it), or a decoded
# study.json (parsed first: `Manifest.of`).
AnyManifest = Manifest | dict[str, Any]


def is_number(value: Any) -> bool:
    """A real, finite number (bools excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def score(value: Any, digits: int = 4) -> str:
    """A metric value with `digits` significant digits, or '-' when absent."""
    return f"{value:.{digits}g}" if is_number(value) else "-"


def interval(value: Any, low: Any, high: Any, digits: int = 3) -> str:
    """'0.91 (95% CI 0.85 to 0.96)'."""
    if not is_number(value):
        return "-"
    if not (is_number(low) and is_number(high)):
        return score(value, digits)
    return f"{score(value, digits)} (95% CI {score(low, digits)} to {score(high, digits)})"


def duration(seconds: Any) -> str:
    """'45s', '3m 05s', '1h 02m'."""
    if not is_number(seconds) or seconds < 0:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def timestamp(epoch_seconds: Any) -> str:
    """Local date and time, to the minute."""
    if not is_number(epoch_seconds):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch_seconds))


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value (for JSON, optuna and display)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str | bytes) else value


def known(value: Any, missing: str = "?") -> Any:
    """`value`, or `missing` when it is None (a field the manifest does not have)."""
    return missing if value is None else value


def is_image(manifest: Manifest) -> bool:
    """Whether a study (its manifest) is an image study."""
    return manifest.modality == "image"


def examples(manifest: Manifest) -> str:
    """What one example of the study is called in prose: 'images' or 'rows'."""
    return manifest.unit


def metric_name(manifest: Manifest, missing: str = "score") -> str:
    """The name of the study's metric, or `missing` when the manifest has none."""
    return manifest.metric.name if manifest.metric else missing


def greater_is_better(manifest: Manifest) -> bool:
    """Whether the study's metric is better high (the default when the manifest has no metric)."""
    return manifest.metric.greater_is_better if manifest.metric else True
