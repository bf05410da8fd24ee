"""Ray Tune as a sibling of the KerasTuner tuners: same construction, ``search``, results."""

from __future__ import annotations

from typing import Any

from lib.tuning import oracles
from lib.tuning._settings import TrialSettings
from lib.tuning.tuners import EngineTuner, _oracle_kwargs

SEARCHERS = ("hyperopt", "random")


class RayTuneSearch(EngineTuner):
    """A search whose trials Ray Tune schedules: HyperOpt TPE or random, optionally ASHA.

    KerasTuner hyperparameters are translated into a Ray space (Choice -> ``tune.choice``,
    Int -> ``tune.qrandint`` / ``lograndint``, Float -> ``tune.uniform`` / ``quniform`` /
    ``loguniform``, Boolean -> a choice of False / True, Fixed -> the constant); conditional
    ones are flattened (each gets a value; the ones a build does not reach are ignored). Each
    trial uses one CPU and one TensorFlow thread. By default a local Ray is started for the
    search (``num_cpus`` or ``max_concurrent_trials`` CPUs, its workers at the caller's
    priority) and shut down afterwards; ``ray_address`` joins a running cluster instead::

        # on the head node:  ray start --head --port=6379
        tuner = RayTuneSearch(build, objective="val_accuracy", max_trials=64,
                              max_concurrent_trials=8, ray_address="auto")
        tuner.search(x, y, validation_data=(x_val, y_val), epochs=10)

    Every node needs this package importable (install it there, or pass
    ``runtime_env={"py_modules": [lib]}``). Finished trials are appended to ``trials.jsonl``
    as they complete and a resumed search does not rerun them. ``searcher="random"`` draws
    its configurations from a seeded generator up front, so a resumed run goes on exactly
    where it stopped; ``"hyperopt"`` restarts TPE (seeded from the seed and the number of
    finished trials) without the earlier results (Ray's HyperOpt searcher cannot be given
    points evaluated elsewhere). Trials finish concurrently, so their order is not
    reproducible; each trial's seed comes from the search seed and its values. As with the
    other tuners the best ``keep_models`` trials keep their model for ``get_best_models``
    (each trial saves it in the search directory; on a cluster only trials on nodes that see
    that directory, e.g. a shared file system, can).

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` or a callable ``build(hp)``.
        objective: the objective's name or a ``keras_tuner.Objective``.
        max_trials: trials in total (earlier runs on the directory included).
        searcher: ``"hyperopt"`` (TPE) or ``"random"``.
        asha: True (or a dict of ``ASHAScheduler`` options) stops poor trials early.
        max_concurrent_trials: trials at once (one CPU each).
        ray_address: None starts a local Ray; ``"auto"`` or ``"ray://host:10001"`` joins a
            running cluster.
        num_cpus: CPUs of the local Ray (default ``max_concurrent_trials``).
        runtime_env: Ray runtime environment for the trials (e.g. ``py_modules``).
        searcher_options: keyword arguments of the Ray searcher (e.g.
            ``points_to_evaluate`` for ``"random"``, ``n_initial_points`` for HyperOpt).
        seed, directory, project_name, overwrite, task, max_consecutive_failed_trials,
            executions_per_trial: as for :class:`~lib.tuning.tuners.EngineTuner`.
        keep_models: how many of the best trials keep their model (default 1; none with
            folds).
        pin_cores: pin each trial process to a core of its own (local Ray, Linux).
        budget_seconds: Ray's ``time_budget_s`` (running trials are stopped at the budget).

    Raises:
        TypeError: an option of the process pool (``workers``...) or another unknown option.
        ValueError: an unknown searcher.
    """

    OPTIONS = ("pin_cores", "budget_seconds", "keep_models")

    def _trial_weights(self) -> str | None:
        """None: Ray trials keep their models through the driver's keeper only."""
        return None

    def __init__(
        self, hypermodel: Any = None, objective: Any = None, max_trials: int = 10, *,
        searcher: str = "hyperopt", asha: bool | dict = False, max_concurrent_trials: int = 2,
        ray_address: str | None = None, num_cpus: int | None = None,
        runtime_env: dict | None = None, searcher_options: dict | None = None,
        seed: int | None = None, max_consecutive_failed_trials: int = 3, **kwargs: Any,
    ):
        if searcher not in SEARCHERS:
            raise ValueError(f"searcher must be one of {list(SEARCHERS)}, got {searcher!r}")
        self.searcher = searcher
        self.asha = asha
        self.max_concurrent_trials = int(max_concurrent_trials)
        self.ray_address = ray_address
        self.num_cpus = num_cpus
        self.runtime_env = runtime_env
        oracle = oracles.RecordOracle(**_oracle_kwargs(objective, max_trials, seed, None, True,
                                                        True))
        super().__init__(oracle, hypermodel, seed=seed, max_trials=max_trials,
                         max_consecutive_failed_trials=max_consecutive_failed_trials,
                         oracle_options=dict(searcher_options or {}), **kwargs)

    @property
    def TUNER(self) -> str:  # noqa: N802  (the class attribute of the other tuners)
        return f"ray-{self.searcher}"

    def _replay(self, records: list[dict]) -> None:
        known = {int(t.trial_id) for t in self.oracle.trials.values()}
        for record in records:
            if int(record["trial"]) in known:
                continue
            score = record.get("objective")
            ok = record.get("status") == "COMPLETED" and score is not None and score == score
            self.oracle.record(int(record["trial"]), record["hyperparameters"],
                               float(score) if ok else None, record.get("error"))
        self._next_index = max((int(r["trial"]) for r in records), default=-1) + 1

    def _in_process(self) -> bool:
        return True  # Ray runs the trials; the space is discovered in this process

    def _search(self, plan: dict, *, verbose: int) -> None:
        """A wrong ``ray_address`` is refused before the space is discovered or stored."""
        import sys

        from lib.tuning import _ray

        ray = sys.modules.get("ray")  # not imported here: Ray reads its settings (e.g.
        # RAY_AUTH_MODE) once, when first imported, so the check must not import it early
        initialized = ray is not None and ray.is_initialized()
        if self.ray_address not in (None, "auto", "local") and not initialized:
            _ray._check_reachable(str(self.ray_address))
        super()._search(plan, verbose=verbose)

    def _own_threads(self) -> int | None:
        return None  # leave the caller's TensorFlow thread pools alone

    def _asha(self) -> Any:
        return self.asha

    def _execute(self, pool: Any, plan: dict, space: Any, *, verbose: int) -> None:
        from lib.tuning import _ray

        pool.close()
        if self.max_trials is None and self.execution.budget_seconds is None:
            raise ValueError(
                "RayTuneSearch needs max_trials or budget_seconds to know when to stop"
            )
        settings: TrialSettings = plan["settings"]
        progress = self._progress(space, settings, verbose)
        options = dict(self.oracle_options)
        if self.runtime_env:
            options["runtime_env"] = self.runtime_env
        try:
            _ray.run(
                self.hypermodel, plan["arrays"], plan["splits"], space, settings,
                store=self._store, tuner=self.TUNER, max_trials=self.max_trials,
                budget_seconds=self.execution.budget_seconds, seed=self.seed,
                max_concurrent_trials=self.max_concurrent_trials, asha=self.asha,
                ray_address=self.ray_address, num_cpus=self.num_cpus, options=options,
                verbose=verbose, pin_cores=bool(self.execution.pin_cores), progress=progress,
                keep_models=int(self.execution.keep_models),
            )
        finally:
            progress.close()
            self._records = self._store.load()
            self._replay(self._records)
