"""Numbers, intervals, durations and timestamps as short text for tables and captions."""

from __future__ import annotations

import math
import time
from typing import Any


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


def is_image(manifest: dict[str, Any]) -> bool:
    """Whether a study (its manifest) is an image study."""
    return manifest.get("modality") == "image"


def examples(manifest: dict[str, Any]) -> str:
    """What one example of the study is called in prose: 'images' or 'rows'."""
    return "images" if is_image(manifest) else "rows"
