"""Progress of a running study, read from its Ray Tune experiment under `<study>/tune/`.

A running study has only study.json until the search ends, so the live view reads what Tune
writes as it goes: one folder per trial with a `result.json` line per reported epoch, and the
experiment state JSON with each trial's status. Pickled files are never read.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow.fs as pafs

from automl.manifest import Manifest
from automl.store import Store
from ui.lib.formatting import duration

_TRIAL_DIR = re.compile(r"_([0-9a-f]{5,})_(\d+)_")
_FINISHED = {"TERMINATED", "ERROR"}


@dataclass
class TrialProgress:
    """What one trial has reported so far."""

    number: int  # Tune's running number (1, 2, ...)
    trial_id: str
    epochs: int
    val_score: float | None
    objective: float | None
    status: str  # Tune's status when known (RUNNING, TERMINATED, ERROR ...), else "reporting"


@dataclass
class Progress:
    """A running study's progress: trials started and finished, best score, time against the budget."""

    planned: int
    elapsed_s: float
    budget_s: float | None
    trials: list[TrialProgress] = field(default_factory=list)
    greater_is_better: bool = True

    @property
    def started(self) -> int:
        return len(self.trials)

    @property
    def finished(self) -> int:
        return sum(t.status in _FINISHED for t in self.trials)

    @property
    def best_val(self) -> float | None:
        scored = [t for t in self.trials if t.objective is not None]
        return max(scored, key=lambda t: t.objective).val_score if scored else None

    @property
    def fraction(self) -> float:
        """The search stops at the trial count or the budget, whichever comes first."""
        by_trials = self.finished / self.planned if self.planned else 0.0
        by_time = self.elapsed_s / self.budget_s if self.budget_s else 0.0
        return max(0.0, min(1.0, max(by_trials, by_time)))

    def text(self) -> str:
        """'2/30 trials done, 3 running, 45s of 10m budget'."""
        running = self.started - self.finished
        parts = [f"{self.finished}/{self.planned or '?'} trials done"]
        if running:
            parts.append(f"{running} running")
        budget = f" of {duration(self.budget_s)} budget" if self.budget_s else ""
        parts.append(f"{duration(self.elapsed_s)}{budget}")
        return ", ".join(parts)


def _read_text(store: Store, path: str) -> str | None:
    try:
        with store.fs.open_input_stream(path) as handle:
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def _last_result(text: str) -> dict[str, Any]:
    """The last complete JSON line (the file may end in a half-written line)."""
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _tune_statuses(store: Store, tune_dir: str, files: list[pafs.FileInfo]) -> dict[str, str]:
    """trial_id -> status from the newest experiment_state-*.json (plain JSON, written by Tune)."""
    states = sorted(
        f.path for f in files if f.base_name.startswith("experiment_state") and f.path.endswith(".json")
    )
    text = _read_text(store, states[-1]) if states else None
    if not text:
        return {}
    try:
        statuses = {}
        for trial_json, _runtime in json.loads(text).get("trial_data", []):
            trial = json.loads(trial_json)
            statuses[str(trial.get("trial_id"))] = str(trial.get("status"))
        return statuses
    except (json.JSONDecodeError, TypeError, ValueError, AttributeError):
        return {}


def read_progress(
    store: Store, study_id: str, manifest: Manifest | dict[str, Any], now: float | None = None
) -> Progress:
    """Progress of `study_id` from its tune/ folder (empty when Tune has written nothing yet)."""
    manifest = Manifest.of(manifest)
    config = manifest.config
    created = manifest.created_at or time.time()
    progress = Progress(
        planned=int(config.get("trials") or 0),
        elapsed_s=max(0.0, (time.time() if now is None else now) - created),
        budget_s=config.get("budget_s"),
        greater_is_better=manifest.metric.greater_is_better if manifest.metric else True,
    )
    tune_dir = f"{store.root}/{study_id}/tune"
    try:
        files = store.fs.get_file_info(pafs.FileSelector(tune_dir, allow_not_found=True))
    except OSError:
        return progress
    statuses = _tune_statuses(store, tune_dir, files)
    sign = 1.0 if progress.greater_is_better else -1.0
    for info in files:
        match = _TRIAL_DIR.search(info.base_name)
        if info.type != pafs.FileType.Directory or not match:
            continue
        result = _last_result(_read_text(store, f"{info.path}/result.json") or "")
        trial_id = str(result.get("trial_id") or match.group(1))
        val = result.get("val_score")
        status = statuses.get(trial_id)
        if status is None:  # no state file yet: a trial that reached its last epoch is finished
            done = result.get("done_early") or result.get("epoch", 0) >= result.get(
                "max_epochs", float("inf")
            )
            status = "TERMINATED" if done else "reporting"
        progress.trials.append(
            TrialProgress(
                number=int(match.group(2)),
                trial_id=trial_id,
                epochs=int(result.get("epoch") or 0),
                val_score=float(val) if isinstance(val, int | float) else None,
                objective=sign * float(val) if isinstance(val, int | float) else None,
                status=status,
            )
        )
    progress.trials.sort(key=lambda t: t.number)
    return progress
