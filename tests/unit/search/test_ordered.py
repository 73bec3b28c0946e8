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


class Scripted(Recorder):
    """Proposes the given configurations in turn (marked slow or not), recording what it is told."""

    def __init__(self, slow: list[bool]) -> None:
        super().__init__()
        self.slow, self.proposed = slow, 0

    def suggest(self, trial_id: str) -> dict:
        self.proposed += 1
        return {"k": self.proposed - 1, "slow": self.slow[self.proposed - 1], "heard": len(self.told)}


def test_cheap_trials_go_on_while_a_slow_one_runs_and_it_is_told_when_due() -> None:
    inner = Scripted([True, False, False, False, False])
    limiter = OrderedConcurrency(inner, max_concurrent=1, slow=lambda c: c["slow"], slow_lag=3)
    assert limiter.suggest("t0")["slow"]
    assert limiter.lags == [3]
    assert limiter.suggest("t1")["heard"] == 0  # t0 still runs: with lag 1, t1 would wait for it
    limiter.on_trial_complete("t1", {"objective": 0.1})
    assert limiter.suggest("t2")["heard"] == 1  # told t1 only
    limiter.on_trial_complete("t2", {"objective": 0.2})
    assert limiter.suggest("t3") is None  # t0 is due now (0 + 3 <= 3) and still runs
    limiter.on_trial_complete("t0", {"objective": 0.9})
    assert limiter.suggest("t3")["heard"] == 3
    assert inner.told == ["t1", "t0", "t2"]  # each when due, in trial order among those due
    assert limiter.known == {
        "t0": frozenset(),
        "t1": frozenset(),
        "t2": frozenset({"t1"}),
        "t3": frozenset({"t0", "t1", "t2"}),
    }


def test_with_slow_trials_completion_order_still_does_not_change_what_is_proposed() -> None:
    def run(completion_order: list[str]) -> tuple[list, dict]:
        limiter = OrderedConcurrency(
            Scripted([True, False, True, False, False, False, False]),
            max_concurrent=2,
            slow=lambda c: c["slow"],
            slow_lag=4,
        )
        proposals = [limiter.suggest(t) for t in ["t0", "t1"]]
        for trial in completion_order:
            limiter.on_trial_complete(trial, {"objective": 0.0})
            proposals += [limiter.suggest(f"t{len(limiter.order)}")]
        return [p for p in proposals if p is not None], limiter.known

    assert run(["t1", "t0", "t2", "t3"]) == run(["t0", "t1", "t3", "t2"])


def _limiter_after(n: int) -> OrderedConcurrency:
    limiter = OrderedConcurrency(Recorder(), max_concurrent=1)
    for k in range(n):
        assert limiter.suggest(f"t{k}") is not None
        limiter.on_trial_complete(f"t{k}", {"objective": float(k)})
    return limiter


def test_the_known_trials_of_each_proposal_survive_the_saved_state() -> None:
    import pickle

    limiter = _limiter_after(6)
    assert limiter.known["t4"] == frozenset({"t0", "t1", "t2", "t3"})
    assert "t4" not in limiter.known["t4"] and "t9" not in limiter.known["t4"]
    restored = OrderedConcurrency(Recorder(), max_concurrent=1)
    restored.set_state(pickle.loads(pickle.dumps(limiter.get_state())))
    assert restored.known == limiter.known
    assert restored.suggest("t6") is not None and restored.known["t6"] == frozenset(f"t{k}" for k in range(6))
    assert restored.known["t4"] == frozenset({"t0", "t1", "t2", "t3"})  # later trials do not leak in


def test_a_state_saved_with_a_set_of_told_trials_still_loads() -> None:
    old = _limiter_after(3).get_state()
    old["told"] = set(old["told"])  # as saved before the told order was kept
    old["known"] = {trial: frozenset(known) for trial, known in old["known"].items()}
    restored = OrderedConcurrency(Recorder(), max_concurrent=1)
    restored.set_state(old)
    assert restored.suggest("t3") is not None
    assert restored.known["t3"] == frozenset({"t0", "t1", "t2"})
    assert restored.known["t1"] == frozenset({"t0"})
