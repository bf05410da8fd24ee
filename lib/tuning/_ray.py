"""Ray Tune backend of :class:`lib.tuning.RayTuneSearch` (HyperOpt TPE or random, ASHA).

See that class's docstring for cluster use. Each finished Ray trial is appended to the same
``trials.jsonl`` as the KerasTuner backend (by a Tune callback in the driver), so the result
frame and resume work the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import psutil  # a dependency of Ray

from lib.tuning import _trial, spaces
from lib.tuning._settings import Executor, SearchPlan
from lib.tuning._store import finish_trial

_HYPERMODELS: dict[str, Any] = {}  # per Ray worker process: unpickled hypermodels by digest


def to_ray_space(space: Any) -> dict[str, Any]:
    """Translates a KerasTuner search space into a Ray Tune ``param_space``.

    Choice -> ``tune.choice``; Int -> ``tune.qrandint`` (linear, with its step) or
    ``tune.lograndint``; Float -> ``tune.uniform`` / ``tune.quniform`` (with a step) /
    ``tune.loguniform`` (log and reverse_log sampling); Boolean -> ``tune.choice([False,
    True])``; Fixed -> its value. Conditional hyperparameters are flattened (all get values).

    Args:
        space: ``keras_tuner.HyperParameters``.

    Returns:
        A dict hp name -> Ray domain or constant.

    Raises:
        TypeError: for a hyperparameter type with no translation.
    """
    from ray import tune

    translated: dict[str, Any] = {}
    for hp in space.space:
        kind = type(hp).__name__
        config = hp.get_config()
        if kind == "Choice":
            translated[hp.name] = tune.choice(list(config["values"]))
        elif kind == "Boolean":
            translated[hp.name] = tune.choice([False, True])
        elif kind == "Fixed":
            translated[hp.name] = config["value"]
        elif kind == "Int":
            low, high, step = config["min_value"], config["max_value"], config["step"] or 1
            if config.get("sampling") in ("log", "reverse_log"):
                translated[hp.name] = tune.lograndint(low, high + 1)
            else:
                translated[hp.name] = tune.qrandint(low, high, step)
        elif kind == "Float":
            low, high, step = config["min_value"], config["max_value"], config["step"]
            if config.get("sampling") in ("log", "reverse_log"):
                translated[hp.name] = tune.loguniform(low, high)
            elif step:
                translated[hp.name] = tune.quniform(low, high, step)
            else:
                translated[hp.name] = tune.uniform(low, high)
        else:
            raise TypeError(
                f"hyperparameter {hp.name!r} of type {kind} has no Ray Tune translation; use "
                "Choice, Int, Float, Boolean or Fixed"
            )
    return translated


def _config_seed(seed: int, values: dict) -> int:
    text = json.dumps(values, sort_keys=True, default=str)
    return spaces.trial_seed(seed, int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _trainable(
    config: dict,
    *,
    hypermodel_blob: bytes,
    arrays: dict,
    splits: Any,
    space_config: dict,
    settings: Any,
    seed: int,
    asha: bool,
    pin_cores: bool = False,
    keep_dir: str | None = None,
) -> None:
    """Ray Tune function trainable: one trial, one TensorFlow thread (one core if pinned).

    With ``keep_dir`` (the search directory, when models are kept) the trained model is saved
    there as ``.ray-<trial id>.keras`` for the driver's :class:`ModelKeeper`, if this node
    sees that directory (a local Ray, or a cluster with a shared file system), and only if it
    beats the threshold the driver last wrote there (the ``keep``-th best objective so far)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _trial.prepare_trial_process(1, pin_cores=pin_cores)  # the actor is reused across trials
    from ray import tune

    digest = hashlib.sha256(hypermodel_blob).hexdigest()
    if digest not in _HYPERMODELS:
        from lib.tuning._process import cloudpickle

        _HYPERMODELS.clear()
        _HYPERMODELS[digest] = cloudpickle.loads(hypermodel_blob)
    hypermodel = _HYPERMODELS[digest]
    values = {k: _plain(v) for k, v in config.items() if not k.startswith("__")}
    objective = settings.objective

    hook = None
    if asha:

        def hook(epoch: int, logs: dict, model: Any, x_val: Any, y_val: Any) -> None:
            if objective in logs:
                value = float(logs[objective])
            else:
                metrics = _trial.score(
                    settings.task,
                    y_val,
                    _trial.predict(model, x_val),
                    labels=settings.labels,
                )
                value = metrics[objective]
            tune.report({"objective": value, "epoch": epoch + 1})

    checkpoint, threshold = None, None
    if keep_dir is not None and splits is None and os.path.isdir(keep_dir):
        checkpoint = ray_model_path(keep_dir, tune.get_context().get_trial_id())
        threshold = read_keep_threshold(keep_dir)
    record = _trial.run_trial(
        hypermodel,
        values,
        arrays,
        splits,
        settings.replace(
            checkpoint_path=checkpoint,
            checkpoint_best=threshold,
            trial_id=str(tune.get_context().get_trial_id()),
        ),
        seed=_config_seed(seed, values),
        space=space_config,
        epoch_hook=hook,
    )
    record["status"] = "COMPLETED"
    tune.report({"objective": record["objective"], "record": json.dumps(record)})


def ray_model_path(directory: str, trial_id: str) -> str:
    """Where a Ray trial saves its model for the driver (renamed there by trial number)."""
    return os.path.join(directory, f".ray-{trial_id}.keras")


KEEP_THRESHOLD = ".keep-threshold.json"
"""File in the search directory with the objective a Ray trial's model must beat to be saved."""


def write_keep_threshold(directory: str, value: float | None) -> None:
    """Writes the threshold atomically (None: every model is saved)."""
    path = os.path.join(directory, KEEP_THRESHOLD)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as handle:
        json.dump({"threshold": value}, handle)
    os.replace(temporary, path)


def read_keep_threshold(directory: str) -> float | None:
    """The threshold :func:`write_keep_threshold` left, or None (none yet, or unreadable)."""
    try:
        with open(os.path.join(directory, KEEP_THRESHOLD)) as handle:
            value = json.load(handle).get("threshold")
    except (OSError, ValueError, AttributeError):
        return None
    return None if value is None else float(value)


def _kill_new_children(before: set[int]) -> None:
    """Kills processes this driver started since ``before`` (what a failed local start left)."""
    children = [c for c in psutil.Process().children(recursive=True) if c.pid not in before]
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(children, timeout=10)


# Ray system settings for a Ray this process starts itself (see init_ray): trial workers at
# the driver's priority, no prestarted idle workers. The caller's environment wins.
LOCAL_RAY_ENVIRONMENT = {"RAY_worker_niceness": "0", "RAY_prestart_worker_first_driver": "0"}


@contextlib.contextmanager
def _environ_defaults(values: dict[str, str]) -> Iterator[None]:
    """Sets the environment variables of ``values`` that are unset, and removes them after."""
    added = [k for k in values if k not in os.environ]
    for key in added:
        os.environ[key] = values[key]
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _local_ray_defaults(local: bool) -> contextlib.AbstractContextManager:
    """Sets :data:`LOCAL_RAY_ENVIRONMENT` (where unset) while a local Ray starts."""
    return _environ_defaults(LOCAL_RAY_ENVIRONMENT if local else {})


class _NoMissingFileWarning(logging.Filter):
    """Drops Tune's "Failed to fetch metrics" warning: the lib writes no per-trial files."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to fetch metrics")


def init_ray(attempts: int = 3, **init: Any) -> None:
    """``ray.init(**init)``, tried up to ``attempts`` times.

    On a loaded machine a local Ray can fail to start because its raylet waits a fixed
    15 s for the dashboard agent (ray-project/ray#65983: "The current node timed out during
    startup"); a second try usually succeeds. A Ray that is already initialised is reused by
    :func:`run`, so a notebook can also call this once and share Ray between searches.
    For a local start (no ``address``) the workers get the driver's ``sys.path`` as
    ``PYTHONPATH`` (merged into ``runtime_env``), so hypermodels defined in a module next to
    the script unpickle in them; processes left by a failed try are killed before the next.

    A local start also changes two Ray defaults meant for shared clusters (unless the caller
    set them in the environment): worker processes keep the driver's priority
    (``RAY_worker_niceness=0``; Ray renices them to 15 to protect its own daemons, so on a
    laptop the trials lose the CPU to every daemon wake-up), and no idle workers are
    prestarted (``RAY_prestart_worker_first_driver=0``; Tune gives its trial actors a
    ``runtime_env``, so they never run on a prestarted worker); bench/README.md has the
    figures. Both are read from the environment by the raylet this call starts (and passed on to its
    workers); the caller's environment is put back afterwards.

    Raises:
        RuntimeError: Ray did not start after ``attempts`` tries (the last error chained).
    """
    import ray

    if init.get("address") and init["address"] not in ("auto", "local"):
        _check_reachable(str(init["address"]))  # (retries kept: a driver's first join can
        # fail its token check on a cluster with token authentication, the next succeeds)
    if not init.get("address"):
        # Local workers get the driver's import path (as multiprocessing's spawn does), so a
        # hypermodel defined in a module next to the script or notebook unpickles there too.
        runtime_env = dict(init.get("runtime_env") or {})
        env_vars = dict(runtime_env.get("env_vars") or {})
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        if env_vars.get("PYTHONPATH"):
            paths.insert(0, env_vars["PYTHONPATH"])
        env_vars["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        runtime_env["env_vars"] = env_vars
        init = dict(init, runtime_env=runtime_env)
    last: Exception | None = None
    for attempt in range(attempts):
        before = {c.pid for c in psutil.Process().children(recursive=True)}
        try:
            with _local_ray_defaults(not init.get("address")):
                ray.init(**init)
            return
        except Exception as error:  # Ray raises bare Exception on a startup time-out
            last = error
            ray.shutdown()
            _kill_new_children(before)
            time.sleep(2.0 * (attempt + 1))
    raise RuntimeError(
        f"Ray did not start after {attempts} tries ({last}); on a loaded machine retry later, "
        "start Ray yourself (`ray start --head`) and pass ray_address='auto', or use a "
        "KerasTuner tuner ('bayesian', 'random')"
    ) from last


def _check_reachable(address: str, timeout: float = 5.0, ray_timeout: float = 20.0) -> None:
    """Refuses, within ``timeout`` seconds, a Ray address nothing listens on (``ray.init``
    itself can wait for minutes, or for ever, on a wrong one).

    Raises:
        ValueError: an address that is not ``host:port``.
        ConnectionError: nothing answers there, with the address in the message.
    """
    import socket

    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(
            f"ray_address {address!r} is not host:port (e.g. '10.0.0.5:6379' or "
            "'ray://10.0.0.5:10001'); pass 'auto' for a cluster started on this machine"
        )
    advice = (
        "start one there (`ray start --head`), fix the address, or drop ray_address to "
        "start Ray on this machine"
    )
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ConnectionError(f"no Ray cluster answers at {address} ({error}); {advice}") from None
    # something listens there: whether it is Ray is asked in a child process with a deadline
    probe = f"import ray; ray.init(address={address!r}, log_to_driver=False); ray.shutdown()"
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=ray_timeout
        )
    except subprocess.TimeoutExpired:
        raise ConnectionError(
            f"{address} accepts connections but no Ray cluster answered there within "
            f"{ray_timeout:g} s; {advice}"
        ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ConnectionError(
            f"could not connect to Ray at {address}: {lines[-1] if lines else 'unknown'}; {advice}"
        )


def _recorder(
    store: Any,
    settings: Any,
    seed: int,
    first_index: int,
    progress: Any,
    keeper: Any = None,
    finished: list | None = None,
) -> Any:
    from ray import tune

    class Recorder(tune.Callback):
        """Appends every finished Ray trial to trials.jsonl (in the driver)."""

        def __init__(self) -> None:
            self.next_index = first_index
            self.started: dict[str, float] = {}
            self.best = None
            self.records = list(finished or [])

        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.started[trial.trial_id] = time.perf_counter()

        def _write(self, trial: Any, status: str, error: str | None = None) -> None:
            result = trial.last_result or {}
            values = {k: _plain(v) for k, v in trial.config.items() if not k.startswith("__")}
            index = trial.config.get("__trial")
            if index is None:
                index = self.next_index
                self.next_index += 1
            wall = time.perf_counter() - self.started.pop(trial.trial_id, time.perf_counter())
            record: dict[str, Any] = {}
            if "record" in result and status == "COMPLETED":
                record.update(json.loads(result["record"]))
                record["overhead_seconds"] = wall - float(record.get("fit_seconds", 0.0))
            else:
                if status == "COMPLETED":
                    status = "EARLY_STOPPED"
                record["objective"] = result.get("objective", float("nan"))
                record["epochs_run"] = result.get("epoch")
                record["seconds"] = wall
                record["overhead_seconds"] = None
                record["error"] = error
            record.update(
                trial=int(index),
                trial_id=trial.trial_id,
                hyperparameters=values,
                seed=_config_seed(seed, values),
                status=status,
                wall_seconds=wall,
            )
            saved = ray_model_path(keeper.directory, trial.trial_id) if keeper else None
            finish_trial(
                record,
                store=store,
                records=self.records,
                keeper=keeper,
                progress=progress,
                saved=saved,
            )
            if keeper is not None:  # what the next trial's model must beat to be saved
                write_keep_threshold(keeper.directory, keeper.threshold(self.records))

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._write(trial, "COMPLETED")

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._write(trial, "FAILED", error=str(getattr(trial, "error_msg", None) or "error"))

    return Recorder()


def _random_configs(
    param_space: dict, options: dict, *, total: int, bounded: bool, finished: int, seed: int
) -> list[dict]:
    """The configurations of a random search, each with its trial index (``__trial``)."""
    given = options.pop("points_to_evaluate", None)
    if given is not None:  # explicit configurations, run in this order
        return [dict(c, __trial=i) for i, c in enumerate(given)][:total]
    rng = np.random.default_rng(seed)
    configs = []
    for index in range(total if bounded else finished + 10**4):
        config = {
            k: _plain(v.sample(random_state=rng)) if hasattr(v, "sample") else v
            for k, v in param_space.items()
        }
        configs.append(dict(config, __trial=index))
    return configs


def _searcher(
    tuner: str,
    param_space: dict,
    options: dict,
    finished: list[dict],
    *,
    total: int,
    remaining: int,
    bounded: bool,
    seed: int,
    direction: str,
    max_concurrent_trials: int,
) -> tuple[Any, int] | None:
    """Ray's search algorithm and sample count for the remaining trials (None: nothing left)."""
    from ray import tune

    if tuner == "ray-random":
        from ray.tune.search.basic_variant import BasicVariantGenerator

        configs = _random_configs(
            param_space, options, total=total, bounded=bounded, finished=len(finished), seed=seed
        )
        done = {r["trial"] for r in finished}
        todo = [c for c in configs if c["__trial"] not in done][:remaining]
        if not todo:
            return None
        # the trial index travels in the config; Ray only accepts preset keys that exist in
        # the space (a range holding every index, so no "invalid pre-set value" warnings)
        param_space["__trial"] = tune.randint(0, 2**31 - 1)
        search_alg = BasicVariantGenerator(
            points_to_evaluate=todo, max_concurrent=max_concurrent_trials, **options
        )
        return search_alg, len(todo)
    from ray.tune.search.hyperopt import HyperOptSearch

    # HyperOptSearch cannot be told about trials evaluated elsewhere: a resumed search
    # runs only the remaining trials, from a searcher seeded with (seed, finished count).
    search_alg = HyperOptSearch(
        metric="objective",
        mode=direction,
        random_state_seed=spaces.trial_seed(seed, len(finished)),
        **options,
    )
    return search_alg, remaining


def _scheduler(asha: bool | dict, direction: str, epochs: int) -> Any:
    if not asha:
        return None
    from ray.tune.schedulers import ASHAScheduler

    options = {"grace_period": 1, "reduction_factor": 2}
    options.update(asha if isinstance(asha, dict) else {})
    # one report per epoch plus the final one
    return ASHAScheduler(metric="objective", mode=direction, max_t=int(epochs) + 1, **options)


def _fit_quietly(tuner_object: Any, verbose: int) -> None:
    """``tuner_object.fit()`` without Tune's per-trial logger files or console table.

    Every finished trial is already in trials.jsonl (the Recorder); Tune's automatic CSV /
    JSON / TensorBoardX loggers would write a second copy of each result and import
    tensorboardX in the driver. They stay off unless the caller set
    TUNE_DISABLE_AUTO_CALLBACK_LOGGERS (e.g. to "0" for TensorBoard) beforehand, and Tune's
    warning that those files are missing is dropped. At verbose=0 Tune's console output
    engine still prints an experiment table outside notebooks: its legacy engine, which
    notebooks get anyway, keeps quiet.
    """
    environment = {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    if not verbose:
        environment["RAY_AIR_NEW_OUTPUT"] = "0"
    analysis_logger = logging.getLogger("ray.tune.analysis.experiment_analysis")
    quiet = _NoMissingFileWarning()
    if "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS" not in os.environ:  # the files are not written
        analysis_logger.addFilter(quiet)
    try:
        with _environ_defaults(environment):
            tuner_object.fit()
    finally:
        analysis_logger.removeFilter(quiet)


def _start_ray(
    runtime_env: Any,
    ray_address: str | None,
    num_cpus: int | None,
    max_concurrent_trials: int,
    verbose: int,
) -> bool:
    """Starts (or joins) Ray unless it runs already; True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    init = {
        "include_dashboard": False,
        "log_to_driver": verbose > 1,
        "configure_logging": verbose > 1,
    }
    if runtime_env:
        init["runtime_env"] = runtime_env
    if ray_address:
        init["address"] = ray_address
    else:
        init["num_cpus"] = num_cpus or max_concurrent_trials
    init_ray(**init)
    return True


def run(
    hypermodel: Any,
    arrays: dict,
    splits: Any,
    space: Any,
    settings: Any,
    *,
    store: Any,
    tuner: str,
    max_trials: int | None,
    budget_seconds: float | None,
    seed: int,
    max_concurrent_trials: int,
    asha: bool | dict,
    ray_address: str | None,
    num_cpus: int | None,
    options: dict,
    verbose: int,
    pin_cores: bool = False,
    progress: Any = None,
    keep_models: int = 0,
) -> None:
    """Runs the remaining trials of a Ray Tune search, appending each to ``store``.

    With ``keep_models`` (and no folds) a trial whose objective beats the ``keep_models``-th
    best so far saves its model in the search directory and the driver keeps the best
    ``keep_models`` (``models/``, ``best_model.keras``) as the per-trial engine does; trials on
    nodes that do not see the directory keep none."""
    import ray
    from ray import tune

    from lib.tuning._process import cloudpickle

    options = dict(options)
    runtime_env = options.pop("runtime_env", None)
    finished = store.load()
    total = max_trials if max_trials is not None else 10**6
    remaining = total - len(finished)
    if remaining <= 0:
        return
    if asha and splits is not None:
        raise ValueError("asha=True needs a validation set, not folds (epochs of folds mix)")
    param_space = to_ray_space(space)
    chosen = _searcher(
        tuner,
        param_space,
        options,
        finished,
        total=total,
        remaining=remaining,
        bounded=max_trials is not None,
        seed=seed,
        direction=settings.direction,
        max_concurrent_trials=max_concurrent_trials,
    )
    if chosen is None:
        return
    search_alg, num_samples = chosen
    keeper = _keeper(store, keep_models, settings, finished) if splits is None else None
    started = _start_ray(runtime_env, ray_address, num_cpus, max_concurrent_trials, verbose)
    try:
        trainable = tune.with_parameters(
            _trainable,
            hypermodel_blob=cloudpickle.dumps(hypermodel),
            arrays=arrays,
            splits=splits,
            space_config=space.get_config(),
            settings=settings,
            seed=seed,
            asha=bool(asha),
            pin_cores=pin_cores,
            keep_dir=None if keeper is None else keeper.directory,
        )
        first_index = max((r["trial"] for r in finished), default=-1) + 1  # of new trials
        tuner_object = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space=param_space,
            tune_config=tune.TuneConfig(
                search_alg=search_alg,
                scheduler=_scheduler(asha, settings.direction, settings.epochs),
                num_samples=num_samples,
                # Tune applies this to a Searcher only (and warns otherwise); the random
                # search's BasicVariantGenerator got max_concurrent itself
                max_concurrent_trials=None if tuner == "ray-random" else max_concurrent_trials,
                reuse_actors=True,
                time_budget_s=budget_seconds,
            ),
            run_config=tune.RunConfig(
                name="ray",
                storage_path=os.path.abspath(os.path.join(store.directory, "ray")),
                verbose=0,
                callbacks=[
                    _recorder(store, settings, seed, first_index, progress, keeper, finished)
                ],
            ),
        )
        _fit_quietly(tuner_object, verbose)
    finally:
        if started:
            ray.shutdown()


def _keeper(store: Any, keep_models: int, settings: Any, finished: list[dict]) -> Any:
    """The driver's model keeper of a search without folds (None with ``keep_models=0``).
    It deletes the temporary model files an interrupted run left, and writes the score a
    trial must beat to save its model, which the trials read."""
    if keep_models <= 0:
        return None
    from lib.tuning._store import ModelKeeper

    keeper = ModelKeeper(os.path.abspath(store.directory), keep_models, settings.direction)
    for name in os.listdir(keeper.directory):  # left by an interrupted run
        if name.startswith(".ray-") and name.endswith(".keras"):
            os.remove(os.path.join(keeper.directory, name))
    write_keep_threshold(keeper.directory, keeper.threshold(finished))
    return keeper


class RayExecutor(Executor):
    """Ray Tune schedules the trials (:func:`run`): HyperOpt TPE or random, optionally ASHA.
    The space is discovered in this process; Ray's own processes run the trials."""

    in_process = True
    sets_threads = False  # the caller's TensorFlow thread pools are left alone

    def __init__(
        self,
        *,
        asha: bool | dict,
        max_concurrent_trials: int,
        ray_address: str | None,
        num_cpus: int | None,
        runtime_env: dict | None,
    ):
        self.asha = asha
        self.single_execution = "asha stops a trial on one fit's epochs" if asha else None
        self.max_concurrent_trials = int(max_concurrent_trials)
        self.concurrent = self.max_concurrent_trials > 1
        self.ray_address = ray_address
        self.num_cpus = num_cpus
        self.runtime_env = runtime_env

    def check(self, tuner: Any, plan: SearchPlan) -> None:
        """Refuses a search without an end and a wrong ``ray_address``, before the space is
        discovered or stored."""
        if tuner.max_trials is None and tuner.engine_options.budget_seconds is None:
            raise ValueError(
                "RayTuneSearch needs max_trials or budget_seconds to know when to stop"
            )
        ray = sys.modules.get("ray")  # not imported here: Ray reads its settings (e.g.
        # RAY_AUTH_MODE) once, when first imported, so the check must not import it early
        initialized = ray is not None and ray.is_initialized()
        if self.ray_address not in (None, "auto", "local") and not initialized:
            _check_reachable(str(self.ray_address))

    def run(self, tuner: Any, plan: SearchPlan, pool: Any, state: Any) -> None:
        pool.close()
        options = dict(tuner.oracle_options)
        if self.runtime_env:
            options["runtime_env"] = self.runtime_env
        engine = tuner.engine_options
        run(
            tuner.hypermodel,
            plan.arrays,
            plan.splits,
            spaces.space_from_config(state.space_config),
            plan.settings,
            store=state.store,
            tuner=tuner.TUNER,
            max_trials=tuner.max_trials,
            budget_seconds=engine.budget_seconds,
            seed=state.seed,
            max_concurrent_trials=self.max_concurrent_trials,
            asha=self.asha,
            ray_address=self.ray_address,
            num_cpus=self.num_cpus,
            options=options,
            verbose=state.progress.verbose,
            pin_cores=bool(engine.pin_cores),
            progress=state.progress,
            keep_models=int(engine.keep_models),
        )
