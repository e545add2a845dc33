"""The search: Optuna's samplers and pruners over a tuning job's ranges, its study rebuilt from the trial rows.

- ``Bayesian`` is Optuna's TPE sampler (``constant_liar`` when trials run in
  parallel, so two running trials are not given the same point), ``Random``
  its random sampler, ``Grid`` its grid sampler over the categorical values,
  ``Hyperband`` its random sampler with its Hyperband pruner
  (``MinResource``/``MaxResource`` in steps, reduction factor 3); every
  sampler is seeded with ``RandomSeed``.
- ``Auto`` scaling is logarithmic for a range above 0 spanning at least two
  orders of magnitude, linear otherwise; ``ReverseLogarithmic`` samples
  ``1 - x`` logarithmically (finer near 1), as AWS describes it.
- ``AUTO`` early stopping is AWS's rule, which Optuna does not have (its
  median pruner compares raw values at a step, not running averages):
  :class:`MedianOfRunningAverages`.

Where the study lives: Optuna's RDB storage keeps its own tables and its own
Alembic history (``alembic_version``) — the table crispml's migrations use —
and would bring a second schema to migrate on every home. So the study is an
in-memory Optuna study rebuilt by :func:`rebuild` from ``tuning_trials``,
which the driver writes *before* each step it takes: finished trials are
added with their values and every step they reported; unfinished ones are
asked again with their recorded parameters (``enqueue_trial``), in trial
order, so Optuna's trial numbers equal crispml's. A new driver therefore
continues exactly where a killed one stopped. What this leaves out: a
sampler's random state is not saved. A study rebuilt with trials in it
(a resumed job, or a warm start's parents) seeds its sampler with
``RandomSeed`` and how many trials it holds, not ``RandomSeed`` alone, which
would draw the points of the job's first trials again; so a resumed search
draws different (equally valid, and as reproducible) points from then on
than an uninterrupted one would have.
"""

from __future__ import annotations

import json
import math
import statistics
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from crispml.services.tuning.entities import HyperParameterTuningJobConfig

if TYPE_CHECKING:
    import optuna

    from crispml.services.tuning.store import TuningTrialRow


@dataclass(frozen=True)
class Dimension:
    """One tuned hyperparameter: how Optuna samples it and how its value becomes the training job's string."""

    name: str
    kind: str  # int | float | categorical
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    reverse: bool = False
    choices: tuple[str, ...] = ()

    def distribution(self) -> Any:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "categorical":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        if self.reverse:  # sample r = 1 - x on a log scale: r in (1 - high, 1 - low]
            return FloatDistribution(1.0 - self.high, 1.0 - self.low, log=True)
        return FloatDistribution(self.low, self.high, log=self.log)

    def to_text(self, value: Any) -> str:
        if self.kind == "categorical":
            return str(value)
        if self.kind == "int":
            return str(int(value))
        return repr(float(1.0 - value if self.reverse else value))

    def to_optuna(self, text: str) -> Any:
        if self.kind == "categorical":
            return text
        if self.kind == "int":
            return int(float(text))
        value = float(text)
        return 1.0 - value if self.reverse else value

    def contains(self, text: str) -> bool:
        """Whether a parent's value lies in this range (TransferLearning keeps only those)."""
        if self.kind == "categorical":
            return text in self.choices
        try:
            value = float(text)
        except ValueError:
            return False
        return self.low <= value <= self.high


def dimensions(config: HyperParameterTuningJobConfig) -> list[Dimension]:
    ranges = config.parameter_ranges
    found: list[Dimension] = []
    for kind, items in (("int", ranges.integer_parameter_ranges), ("float", ranges.continuous_parameter_ranges)):
        for r in items:
            low, high = float(r.min_value), float(r.max_value)
            scaling = r.scaling_type
            if scaling == "Auto":
                scaling = "Logarithmic" if low > 0 and high / low >= 100 else "Linear"
            found.append(Dimension(r.name, kind, low, high, log=scaling == "Logarithmic",
                                   reverse=scaling == "ReverseLogarithmic" and low < high))
    for c in ranges.categorical_parameter_ranges:
        found.append(Dimension(c.name, "categorical", choices=tuple(c.values)))
    return found


def grid_size(config: HyperParameterTuningJobConfig) -> int:
    return math.prod(len(c.values) for c in config.parameter_ranges.categorical_parameter_ranges)


def grid_left(study: optuna.Study, config: HyperParameterTuningJobConfig, parents: int) -> int:
    """How many points a Grid job has to try: its grid less the points its warm start's parents tried (the
    study's first ``parents`` trials). Asking for more once the sampler has handed out every point would run
    a point twice: a running trial's point does not count as tried until it has ended."""
    tried = {t.system_attrs.get("grid_id") for t in study.get_trials(deepcopy=False)[:parents]} - {None}
    return grid_size(config) - len(tried)


def direction(config: HyperParameterTuningJobConfig) -> Literal["minimize", "maximize"]:
    assert config.hyper_parameter_tuning_job_objective is not None
    return "minimize" if config.hyper_parameter_tuning_job_objective.type == "Minimize" else "maximize"


class MedianOfRunningAverages:
    """AWS's AUTO early stopping: after each step, a trial is stopped if its objective is worse than the median
    of the running averages, up to the same step, of the earlier trials that reached that step (finished ones,
    at least :attr:`min_trials` of them, so the first trials are never stopped). An Optuna pruner."""

    min_trials = 3

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        from optuna.study import StudyDirection
        from optuna.trial import TrialState

        step = trial.last_step
        if step is None:
            return False
        value = trial.intermediate_values[step]
        averages = []
        for other in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
            if other.number == trial.number or step not in other.intermediate_values:
                continue
            seen = [v for s, v in other.intermediate_values.items() if s <= step]
            averages.append(sum(seen) / len(seen))
        if len(averages) < self.min_trials:
            return False
        median = statistics.median(averages)
        return value > median if study.direction == StudyDirection.MINIMIZE else value < median


def _pruner(config: HyperParameterTuningJobConfig) -> Any:
    import optuna

    if config.strategy == "Hyperband":
        hyperband = config.strategy_config.hyperband_strategy_config if config.strategy_config else None
        low = hyperband.min_resource if hyperband and hyperband.min_resource else 1
        high: int | str = hyperband.max_resource if hyperband and hyperband.max_resource else "auto"
        return optuna.pruners.HyperbandPruner(min_resource=low, max_resource=high, reduction_factor=3)
    if config.early_stopping:
        return type("AutoEarlyStopping", (MedianOfRunningAverages, optuna.pruners.BasePruner), {})()
    return optuna.pruners.NopPruner()


def _sampler(config: HyperParameterTuningJobConfig, seed: int | None) -> Any:
    import optuna

    if config.strategy == "Bayesian":
        parallel = config.resource_limits.max_parallel_training_jobs > 1
        return optuna.samplers.TPESampler(seed=seed, constant_liar=parallel)
    if config.strategy == "Grid":
        space = {c.name: list(c.values) for c in config.parameter_ranges.categorical_parameter_ranges}
        return _grid_sampler()(space, seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def _grid_sampler() -> type:
    """Optuna's grid sampler, less its ``study.stop()`` once the grid is done — which works only inside
    ``study.optimize`` (the driver asks and tells, and knows the grid's size) — and giving each new trial the
    first point not tried nor being tried. Optuna's gives trial *n* point *n* while *n* is within the grid,
    which is the same in a study of its own trials but not in a warm-started one, whose first trials are the
    parents': the child's trial after them would be given a point a parent had tried."""
    import optuna

    class GridSampler(optuna.samplers.GridSampler):
        def before_trial(self, study: Any, trial: Any) -> None:
            if "grid_id" in trial.system_attrs or "fixed_params" in trial.system_attrs:
                return  # a trial rebuilt with its point
            left = self._get_unvisited_grid_ids(study)
            chosen = min(left) if left else int(self._rng.rng.choice(len(self._all_grids)))
            study._storage.set_trial_system_attr(trial._trial_id, "search_space", self._search_space)
            study._storage.set_trial_system_attr(trial._trial_id, "grid_id", chosen)

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None
    return GridSampler


@dataclass(frozen=True)
class Seen:
    """A finished trial of a parent tuning job (warm start), as the study takes it."""

    params: dict[str, str]
    value: float
    steps: list[float]


def new_study(job: str, config: HyperParameterTuningJobConfig, holding: int = 0) -> optuna.Study:
    """An empty study of the job's sampler and pruner; ``holding``: how many trials it will be given back."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(study_name=f"crispml-tuning-{job}", direction=direction(config),
                               sampler=_sampler(config, resumed_seed(config.random_seed, holding)),
                               pruner=_pruner(config))


def resumed_seed(seed: int | None, holding: int) -> int | None:
    """The sampler's seed for a study rebuilt with ``holding`` trials: ``RandomSeed`` itself for a new one;
    otherwise one drawn from both, since the seed alone would replay the draws that gave its first trials."""
    if seed is None or holding == 0:
        return seed
    return zlib.crc32(f"{seed}:{holding}".encode())


def rebuild(job: str, config: HyperParameterTuningJobConfig, rows: Iterable[TuningTrialRow],
            parents: Iterable[Seen] = ()) -> tuple[optuna.Study, dict[str, optuna.Trial], int]:
    """The study as the rows say it is: parents' trials, then this job's finished trials (values and steps),
    and its unfinished trials asked again with their parameters; those trials by training job name, and how
    many parents' trials come first (a trial's Optuna number less that is its number in the tuning job)."""
    import optuna
    from optuna.trial import TrialState

    rows, parents = list(rows), list(parents)
    study = new_study(job, config, holding=len(rows) + len(parents))
    dims = dimensions(config)
    distributions = {d.name: d.distribution() for d in dims}
    for seen in parents:
        if not all(d.name in seen.params and d.contains(seen.params[d.name]) for d in dims):
            continue  # a parent's point outside this job's ranges (TransferLearning) cannot seed its sampler
        study.add_trial(optuna.trial.create_trial(
            params={d.name: d.to_optuna(seen.params[d.name]) for d in dims}, distributions=distributions,
            value=seen.value, intermediate_values=dict(enumerate(seen.steps)),
            system_attrs=_grid_attrs(study, config, seen.params)))
    running: dict[str, optuna.Trial] = {}
    offset = len(study.trials)
    for row in sorted(rows, key=lambda r: r.number):
        params = json.loads(row.params)
        values = {d.name: d.to_optuna(params[d.name]) for d in dims}
        steps = dict(enumerate(json.loads(row.steps)))
        if row.status in ("Completed", "Stopped", "Failed") and row.ended_at is not None:
            if row.objective is None:
                state, value = TrialState.FAIL, None
            else:
                state = TrialState.PRUNED if row.early_stopped else TrialState.COMPLETE
                value = None if row.early_stopped else row.objective
            study.add_trial(optuna.trial.create_trial(
                params=values, distributions=distributions, value=value, state=state,
                intermediate_values=steps, system_attrs=_grid_attrs(study, config, params)))
            continue
        study.enqueue_trial(values, skip_if_exists=False)
        trial = study.ask(distributions)
        for key, attr in _grid_attrs(study, config, params).items():  # an enqueued trial gets no grid id of its own
            study._storage.set_trial_system_attr(trial._trial_id, key, attr)
        for step, value in steps.items():
            trial.report(value, step)
        running[row.name] = trial
    return study, running, offset


def _grid_attrs(study: optuna.Study, config: HyperParameterTuningJobConfig, params: dict[str, str]) -> dict[str, Any]:
    """The grid sampler finds the points left by the ``grid_id`` of the trials it made: a rebuilt trial gets its own."""
    if config.strategy != "Grid":
        return {}
    sampler = study.sampler
    grids = getattr(sampler, "_all_grids", None)
    names = getattr(sampler, "_param_names", None)
    if grids is None or names is None:
        return {}
    point = tuple(params.get(n) for n in names)
    for index, grid in enumerate(grids):
        if tuple(str(v) for v in grid) == point:
            return {"search_space": getattr(sampler, "_search_space", {}), "grid_id": index}
    return {}


def ask(study: optuna.Study, config: HyperParameterTuningJobConfig) -> tuple[optuna.Trial, dict[str, str]]:
    """A new trial and its hyperparameters as the training job gets them."""
    dims = dimensions(config)
    trial = study.ask({d.name: d.distribution() for d in dims})
    return trial, {d.name: d.to_text(trial.params[d.name]) for d in dims}


def grid_exhausted(study: optuna.Study) -> bool:
    sampler = study.sampler
    check = getattr(sampler, "is_exhausted", None)
    return bool(check(study)) if check is not None else False
