"""The chosen configuration as `automl show` prints it (automl/summary.py `format_choice`): only the settings
that had an effect, read from the space's `when:` conditions, and for a manifest from before `when:` existed
the one legacy case (synth_* settings without a synthesizer)."""

from __future__ import annotations

from typing import Any

from automl.summary import format_choice

SPACE = {  # the synthesizer parameters of search_spaces/tabular.yaml
    "depth": {"type": "int", "low": 0, "high": 4},
    "synth_method": {"type": "choice", "values": ["none", "smote", "ctgan"]},
    "synth_ratio": {
        "type": "uniform",
        "low": 0.0,
        "high": 2.0,
        "default": 0.0,
        "when": {"synth_method": ["smote", "ctgan"]},
    },
    "synth_epochs": {"type": "choice", "values": [50, 150], "when": {"synth_method": ["ctgan"]}},
}
OLD_SPACE = {
    name: {k: v for k, v in spec.items() if k not in ("when", "default")} for name, spec in SPACE.items()
}


def _settings_line(space: dict[str, Any], config: dict[str, Any]) -> str:
    manifest = {
        "study_id": "s",
        "status": "completed",
        "space": {"source": "default", "parameters": space},
        "selection": {"rule": "best_validation", "trial": "t1", "reason": "best", "members": {"t1": 1.0}},
        "best": {"trial": "t1", "config": config},
    }
    return format_choice(manifest)[-1].strip()


def test_settings_whose_when_does_not_hold_are_left_out():
    config = {"depth": 1, "synth_method": "smote", "synth_ratio": 0.5, "synth_epochs": 50}
    assert _settings_line(SPACE, config) == "depth=1, synth_method=smote, synth_ratio=0.5"
    config = {**config, "synth_method": "ctgan"}
    assert _settings_line(SPACE, config) == "depth=1, synth_method=ctgan, synth_ratio=0.5, synth_epochs=50"
    config = {**config, "synth_method": "none", "synth_ratio": 0.0}
    assert _settings_line(SPACE, config) == "depth=1, synth_method=none"


def test_a_manifest_from_before_when_still_hides_synth_settings_without_a_synthesizer():
    config = {"depth": 1, "synth_method": "none", "synth_ratio": 1.3, "synth_epochs": 150}
    assert _settings_line(OLD_SPACE, config) == "depth=1, synth_method=none"
    assert _settings_line({}, config) == "depth=1, synth_method=none"  # no space stored at all
    config = {**config, "synth_method": "ctgan"}  # with a synthesizer, every setting counted
    assert (
        _settings_line(OLD_SPACE, config) == "depth=1, synth_method=ctgan, synth_ratio=1.3, synth_epochs=150"
    )
