"""Cost-frugal proposals: cheap configurations first, expensive techniques only when they earn their time.

On a small table a trial without a synthesizer trains in well under a second, while one that fits
TVAE or CTGAN on every fold takes 5-15 s. A searcher that draws its random start-up trials uniformly
sends a third of them to the expensive values, TPE then explores every value it has not seen, and the
study finishes a handful of trials (FLAML's cost-frugal search, Wu et al. 2021, starts from cheap
configurations and pays for expensive ones only when they promise more, for the same reason). Here:

1. **Cheap first.** During the searcher's random start-up trials (the trials before TPE models the
   results), a choice parameter never draws a value whose registry entry is `expensive` (TVAE, CTGAN,
   the image VAE, a fine-tuned backbone): it draws among the cheap values instead. Start points are
   enqueued as given.
2. **One unproven expensive trial at a time.** After the start-up, an expensive value that has not
   *earned* its cost (none of its trials in the top band: within one standard error of the best trial
   so far) runs at most once every `spacing` trials (the start-up length). That slot goes first to the
   expensive values never tried, in the space's order, so every technique is tried and its cost
   measured; then to TPE's own proposal when it is an unproven expensive value. Outside the slot, TPE's
   unproven expensive proposals get a cheap value instead. A value that earned it is proposed as
   freely as TPE likes. So each expensive technique is tried, but not again and again before the
   cheap ones are explored. The slot's trial runs at low cost: a parameter the space marks
   `low_cost: v` (a synthesizer's epochs) takes v there, as FLAML starts from low-cost settings; TPE
   sets it freely in trials of a value that earned its cost.
3. **A third of the budget, unless earned.** An expensive value whose trials have together taken more
   than `share` of the study's budget is no longer proposed while it has not earned it. Its cost is
   the trials' own wall time as measured during the study, shared fits included.

Rules 1 and 2 depend only on trial numbers and earlier trials' scores, so a seeded study proposes the
same configurations on every run; rule 3 depends on time, and never fires under a budget that does
not bind. `FrugalSampler` wraps Optuna's sampler (TPE); `CostLedger` is told every finished trial in
trial order by `OrderedConcurrency`, so every decision depends only on earlier trials.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optuna.distributions import CategoricalDistribution
from optuna.samplers import BaseSampler

BUDGET_SHARE = 1 / 3  # an expensive value may use this much of the budget without earning it


@dataclass
class CostLedger:
    """Per (parameter, expensive value): trial seconds spent and the best objective reached, in trial order."""

    gated: Mapping[str, frozenset[Any]]  # parameter -> its expensive values
    budget_s: float = math.inf
    share: float = BUDGET_SHARE
    seconds: dict[tuple[str, Any], float] = field(default_factory=dict)
    best: dict[tuple[str, Any], float] = field(default_factory=dict)
    top: float = -math.inf  # best objective of any trial
    top_se: float = 0.0  # its standard error over folds

    def record(self, config: dict[str, Any] | None, result: dict[str, Any] | None) -> None:
        """One finished trial (its configuration and last result; None for a trial that failed to start)."""
        if not config or not result:
            return
        objective = _finite(result.get("objective"))
        if objective is not None and objective > self.top:
            # the objective's own spread (a result from before it was reported: the score's)
            std = _finite(result.get("objective_std", result.get("val_score_std"))) or 0.0
            self.top, self.top_se = objective, std / math.sqrt(max(1, int(result.get("n_folds") or 1)))
        spent = _finite(result.get("time_total_s")) or 0.0
        for name, expensive in self.gated.items():
            value = config.get(name)
            if value not in expensive:
                continue
            key = (name, value)
            self.seconds[key] = self.seconds.get(key, 0.0) + spent
            if objective is not None:
                self.best[key] = max(self.best.get(key, -math.inf), objective)

    def uses_expensive(self, config: dict[str, Any]) -> bool:
        """Whether a configuration takes an expensive value (a slow trial: OrderedConcurrency lets the
        other slots go on without waiting for it)."""
        return any(config.get(name) in values for name, values in self.gated.items())

    def earned(self, name: str, value: Any) -> bool:
        """Whether a trial of this value reached the band within one standard error of the best."""
        best = self.best.get((name, value))
        return best is not None and best >= self.top - self.top_se

    def over_budget(self, name: str, value: Any) -> bool:
        """An expensive value that spent more than its share of the budget and has not earned it."""
        spent = self.seconds.get((name, value), 0.0)
        return spent > self.share * self.budget_s and not self.earned(name, value)


class FrugalSampler(BaseSampler):
    """`base` (TPE) under the rules of the module docstring. `spacing` defaults to `cheap_trials`."""

    def __init__(
        self,
        base: BaseSampler,
        ledger: CostLedger,
        cheap_trials: int,
        seed: int = 0,
        spacing: int | None = None,
        low_cost: Mapping[str, Any] | None = None,
    ) -> None:
        self.base, self.ledger, self.cheap_trials, self.seed = base, ledger, cheap_trials, seed
        self.spacing = max(1, cheap_trials if spacing is None else spacing)
        self.low_cost = dict(low_cost or {})  # parameter -> its cheapest value, for unproven trials
        self.last_unproven: int | None = None  # number of the last trial given an unproven expensive value
        self.unproven: set[int] = set()  # numbers of the trials given one (they run at low cost)
        self.tried: set[tuple[str, Any]] = set()  # (parameter, expensive value) proposed so far

    def infer_relative_search_space(self, study, trial):
        return self.base.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        # TPE may sample the parameters it has seen together (multivariate): the rules apply there too.
        params = self.base.sample_relative(study, trial, search_space)
        for name, value in list(params.items()):
            distribution = search_space.get(name)
            if name in self.ledger.gated and isinstance(distribution, CategoricalDistribution):
                params[name] = self._admit(trial.number, name, distribution, value)
        for name in params:
            if name in self.low_cost and trial.number in self.unproven:
                params[name] = self.low_cost[name]
        return params

    def sample_independent(self, study, trial, param_name: str, param_distribution) -> Any:
        value = self.base.sample_independent(study, trial, param_name, param_distribution)
        if param_name in self.low_cost and trial.number in self.unproven:
            return self.low_cost[param_name]
        if param_name not in self.ledger.gated or not isinstance(param_distribution, CategoricalDistribution):
            return value
        return self._admit(trial.number, param_name, param_distribution, value)

    def _admit(self, number: int, name: str, distribution: CategoricalDistribution, value: Any) -> Any:
        """What trial `number` gets for `name` under the rules, given the searcher's `value`."""
        expensive = self.ledger.gated[name]
        cheap = [c for c in distribution.choices if c not in expensive]
        if not cheap:  # nothing cheap to draw instead: the searcher decides
            return value
        if number >= self.cheap_trials:
            usable = [
                c for c in distribution.choices if c in expensive and not self.ledger.over_budget(name, c)
            ]
            if value in usable and self.ledger.earned(name, value):
                return value  # proven: as often as the searcher likes
            if self.last_unproven is None or number - self.last_unproven >= self.spacing:
                untried = [
                    c for c in usable if (name, c) not in self.tried and (name, c) not in self.ledger.seconds
                ]
                pick = untried[0] if untried else value if value in usable else None
                if pick is not None:  # the unproven slot: a technique never tried first, in the space's order
                    self.last_unproven = number
                    self.unproven.add(number)
                    self.tried.add((name, pick))
                    return pick
        if value not in expensive:
            return value
        rng = np.random.default_rng([self.seed, number, sum(map(ord, name))])
        return cheap[int(rng.integers(len(cheap)))]

    def before_trial(self, study, trial) -> None:
        self.base.before_trial(study, trial)

    def after_trial(self, study, trial, state, values) -> None:
        self.base.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base.reseed_rng()


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
