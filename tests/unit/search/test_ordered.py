"""OrderedConcurrency: proposals wait only for trial k-c, and the searcher learns results in trial order."""

from __future__ import annotations

from ray.tune.search import Searcher

from automl.search.ordered import OrderedConcurrency


class Recorder(Searcher):
    """A searcher that proposes numbered configs and records what it is told, in order."""

    def __init__(self) -> None:
        super().__init__(metric="objective", mode="max")
        self.told: list[str] = []

    def suggest(self, trial_id: str) -> dict:
        return {"n": len(self.told)}  # depends only on what it has been told

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        self.told.append(trial_id)


def test_trial_k_waits_only_for_trial_k_minus_c() -> None:
    inner = Recorder()
    limiter = OrderedConcurrency(inner, max_concurrent=2)
    assert limiter.suggest("a") == {"n": 0}
    assert limiter.suggest("b") == {"n": 0}
    assert limiter.suggest("c") is None  # "a" still runs
    limiter.on_trial_complete("b", {"objective": 1.0})
    assert limiter.suggest("c") is None  # "b" finishing first does not help: "a" is the one that counts
    limiter.on_trial_complete("a", {"objective": 0.5})
    assert limiter.suggest("c") == {"n": 1}  # told about "a" only
    assert inner.told == ["a"]
    assert limiter.suggest("d") == {"n": 2}  # "b" had finished: told now, in order
    assert inner.told == ["a", "b"]


def test_completion_order_does_not_change_what_is_proposed() -> None:
    def run(completion_order: list[str]) -> list[dict]:
        limiter = OrderedConcurrency(Recorder(), max_concurrent=3)
        proposals = [limiter.suggest(t) for t in ["t0", "t1", "t2"]]
        for trial in completion_order:
            limiter.on_trial_complete(trial, {"objective": 0.0})
        proposals += [limiter.suggest(t) for t in ["t3", "t4", "t5"]]
        return proposals

    assert run(["t0", "t1", "t2"]) == run(["t2", "t1", "t0"]) == run(["t1", "t0", "t2"])


def test_state_round_trip_keeps_the_order() -> None:
    limiter = OrderedConcurrency(Recorder(), max_concurrent=1)
    limiter.suggest("a")
    limiter.on_trial_complete("a", {"objective": 1.0}, error=False)
    restored = OrderedConcurrency(Recorder(), max_concurrent=1)
    restored.set_state(limiter.get_state())
    assert restored.order == ["a"] and restored.finished == {"a": ({"objective": 1.0}, False)}
