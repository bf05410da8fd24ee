"""Trains configurations K at a time as one :class:`StackedMLP` and reports one record each."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from lib.tuning.stacked._form import StackedForm, check_stackable, form_of
from lib.tuning.stacked._metrics import confusion_matrices, confusion_metrics

# Bytes of validation logits and activations one evaluation chunk may hold, all models together.
_CHUNK_BYTES = 64 * 2**20
# A stack is rebuilt without its stopped models once at most this share is still training.
_COMPACT_SHARE = 0.5


def _check_arrays(arrays: dict) -> dict[str, np.ndarray]:
    """The four arrays, checked: 2-D float rows, 1-D integer labels of matching lengths."""
    missing = [k for k in ("x_train", "y_train", "x_val", "y_val") if k not in arrays]
    if missing:
        raise ValueError(
            f"arrays lacks {missing}; the stacked executor needs x_train, y_train, x_val and "
            "y_val (a validation split, not folds)"
        )
    out = {}
    for part in ("train", "val"):
        x, y = np.asarray(arrays[f"x_{part}"]), np.asarray(arrays[f"y_{part}"])
        if x.ndim != 2:
            raise ValueError(
                f"x_{part} has shape {x.shape}; the stacked executor trains dense models on "
                "(rows, features) arrays: flatten or select features first"
            )
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"y_{part} has shape {y.shape} and dtype {y.dtype}; expected 1-D integer class "
                "ids (use argmax on one-hot labels)"
            )
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"x_{part} has {len(x)} rows and y_{part} {len(y)}; pass the same, non-zero "
                "number of rows"
            )
        out[f"x_{part}"], out[f"y_{part}"] = x, y
    return out


def _objective_key(objective: str) -> str:
    """The metric name inside :func:`confusion_metrics` (or ``"loss"``)."""
    known = (
        "val_loss",
        "val_accuracy",
        "val_macro_precision",
        "val_macro_recall",
        "val_macro_f1",
        "val_weighted_f1",
    )
    if objective in known or objective.startswith("val_recall_"):
        return objective[len("val_") :]
    raise ValueError(
        f"objective {objective!r} is not computed by the stacked executor; use one of "
        f"{list(known)} or val_recall_<class>"
    )


def model_bytes(form: StackedForm, *, width: int, depth: int, rows_val: int, itemsize: int) -> int:
    """Estimated memory one model takes in a stack of the given padded ``width`` and ``depth``.

    Counts the weights with their masks, gradients, optimizer slots and best copy (about ten
    copies), the activations of one training batch kept for the backward pass, and the two
    int8 validation predictions (current and best) per validation row.
    """
    params = form.input_dim * width + (depth - 1) * width * width + width * form.num_classes
    params += depth * width + form.num_classes
    activations = form.batch_size * (depth * width + form.num_classes) * 12
    return int(itemsize * (10 * params + activations) + 2 * rows_val)


def plan_stacks(
    forms: Sequence[StackedForm],
    *,
    rows_val: int,
    max_models: int | None,
    memory_budget_mb: float,
    itemsize: int = 4,
) -> list[list[int]]:
    """Groups configurations into stacks: same batch size, K at a time.

    Within a batch size, configurations are ordered by (depth, widest layer) so each stack
    pads as little as possible; K is the largest count whose :func:`model_bytes` estimate at
    the stack's padded size fits ``memory_budget_mb``, capped by ``max_models``.

    Returns:
        Lists of positions into ``forms``, one list per stack.
    """
    groups: dict[int, list[int]] = {}
    for position, form in enumerate(forms):
        groups.setdefault(form.batch_size, []).append(position)
    stacks = []
    budget = float(memory_budget_mb) * 2**20
    for positions in groups.values():
        positions = sorted(positions, key=lambda p: (forms[p].depth, max(forms[p].units)))
        while positions:
            count = 0
            width = depth = 1
            while count < len(positions):
                form = forms[positions[count]]
                width, depth = max(width, max(form.units)), max(depth, form.depth)
                need = (count + 1) * model_bytes(
                    form, width=width, depth=depth, rows_val=rows_val, itemsize=itemsize
                )
                if count and (need > budget or (max_models and count >= max_models)):
                    break
                count += 1
            stacks.append(positions[:count])
            positions = positions[count:]
    return stacks


class StackedTrainer:
    """The compiled training epoch and chunked evaluation of one :class:`StackedMLP`.

    Args:
        model: the stack.
        optimizer: its :class:`PerModelOptimizer`.
        batch_size: rows per mini-batch (the last batch of an epoch may be smaller).

    Attributes:
        train_epoch: ``train_epoch(x, y, order, active)``: one pass over the rows ``order``
            (int32 indices into ``x``/``y``) in consecutive batches, updating the models whose
            ``active`` flag is on; returns each model's mean training loss (weighted by batch
            size, as Keras reports it).
    """

    def __init__(self, model: Any, optimizer: Any, batch_size: int):
        self.model, self.optimizer = model, optimizer
        variables = model.variables_by_model()
        dtype = variables[0].dtype

        @tf.function
        def train_epoch(x, y, order, active):
            rows = tf.size(order)
            steps = (rows + batch_size - 1) // batch_size
            total = tf.zeros([len(model.forms)], dtype=dtype)
            for step in tf.range(steps):
                index = order[step * batch_size : tf.minimum((step + 1) * batch_size, rows)]
                x_batch, y_batch = tf.gather(x, index), tf.gather(y, index)
                with tf.GradientTape() as tape:
                    logits = model.logits(x_batch, training=True)
                    losses = tf.reduce_mean(model.per_model_loss(logits, y_batch), axis=1)
                    loss = tf.reduce_sum(losses)  # disjoint parameters: each model's own gradient
                gradients = [  # zero for a layer no model of the stack has any more
                    tf.zeros(v.shape, dtype) if g is None else g
                    for g, v in zip(tape.gradient(loss, variables), variables, strict=True)
                ]
                optimizer.apply(gradients, variables, active)
                total += losses * tf.cast(tf.size(index), dtype)
            return total / tf.cast(rows, dtype)

        @tf.function(reduce_retracing=True)
        def evaluate(x, y):
            logits = model.logits(x, training=False)
            losses = model.per_model_loss(logits, y)
            return tf.argmax(logits, axis=-1, output_type=tf.int32), tf.reduce_sum(losses, axis=1)

        self.train_epoch, self.evaluate_chunk = train_epoch, evaluate
        self.label_dtype = np.int8 if model.num_classes <= 127 else np.int32

    def evaluate(self, x: Any, y: Any, rows: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        """Predicted classes ``(models, rows)`` (int8 up to 127 classes) and mean loss per
        model, in row chunks."""
        predictions, loss = [], 0.0
        for start in range(0, rows, chunk):
            labels, losses = self.evaluate_chunk(x[start : start + chunk], y[start : start + chunk])
            predictions.append(labels.numpy().astype(self.label_dtype))
            loss = loss + losses.numpy()
        return np.concatenate(predictions, axis=1), loss / rows


def _better(value: np.ndarray, best: np.ndarray, direction: str) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return value < best if direction == "min" else value > best


class _Stack:
    """One stack's training: per-model best epoch, early stopping and compaction."""

    def __init__(self, forms: list[StackedForm], seeds: list[int], data: dict, settings: dict):
        from lib.tuning.stacked._network import PerModelOptimizer, StackedMLP

        self.forms, self.settings = forms, settings
        self.model = StackedMLP(forms, dropout_seed=settings["dropout_seed"])
        self.depth = self.model.depth
        dtype = self.model.weight_dtype
        self.x_train = tf.constant(data["x_train"], dtype=dtype)
        self.y_train = tf.constant(data["y_train"], dtype=tf.int32)
        self.x_val = tf.constant(data["x_val"], dtype=dtype)
        self.y_val = tf.constant(data["y_val"], dtype=tf.int32)
        self.y_val_numpy = data["y_val"].astype(np.int64)
        count = len(forms)
        self.model.set_initial_weights(seeds)
        self.optimizer = PerModelOptimizer(self.model.variables_by_model(), forms)
        self.trainer = StackedTrainer(self.model, self.optimizer, forms[0].batch_size)
        self.index = np.arange(count)  # stack position -> configuration position
        self.active = np.ones(count, dtype=bool)
        self.best = np.full(count, math.inf if settings["direction"] == "min" else -math.inf)
        self.best_epoch = np.full(count, -1)
        self.epochs_run = np.zeros(count, dtype=int)
        self.wait = np.zeros(count, dtype=int)
        self.best_weights = [np.asarray(w).copy() for w in self.model.variables_by_model()]
        self.last_weights = [w.copy() for w in self.best_weights]
        self.best_predictions = np.zeros(
            (count, len(data["y_val"])), dtype=self.trainer.label_dtype
        )
        epochs = settings["epochs"]
        self.history = {k: np.full((count, epochs), np.nan) for k in ("loss", "val_loss", "obj")}

    def _chunk(self) -> int:
        """Validation rows per evaluation call: activations and logits of all models within
        ``_CHUNK_BYTES``."""
        model = self.model
        floats = len(self.index) * (model.depth * model.width * 2 + model.num_classes * 4)
        per_row = floats * np.dtype(model.weight_dtype).itemsize
        return max(64, min(int(self.x_val.shape[0]), _CHUNK_BYTES // max(1, per_row)))

    def run_epoch(self, epoch: int) -> None:
        """Trains every active model one epoch on the shared batches and scores it."""
        settings = self.settings
        rows = int(self.x_train.shape[0])
        order = np.random.default_rng([settings["seed"], epoch]).permutation(rows)
        active = tf.constant(self.active[self.index])
        loss = self.trainer.train_epoch(
            self.x_train, self.y_train, tf.constant(order, dtype=tf.int32), active
        ).numpy()
        predictions, val_loss = self.trainer.evaluate(
            self.x_val, self.y_val, int(self.x_val.shape[0]), self._chunk()
        )
        key = settings["objective_key"]
        if key == "loss":
            value = val_loss
        else:
            confusion = confusion_matrices(self.y_val_numpy, predictions, self.model.num_classes)
            value = confusion_metrics(confusion, settings["labels"])[key]
        # a model whose validation loss is NaN / infinite has diverged: its outputs are not
        # scored (argmax of NaN would count as class 0)
        value = np.where(np.isfinite(val_loss), value, np.nan)
        self._update(epoch, loss, val_loss, value, predictions)

    def _update(self, epoch, loss, val_loss, value, predictions) -> None:
        """Records the epoch per model; keeps best epochs; stops the models out of patience."""
        where = self.index
        running = self.active[where]
        for name, series in (("loss", loss), ("val_loss", val_loss), ("obj", value)):
            self.history[name][where[running], epoch] = series[running]
        self.epochs_run[where[running]] = epoch + 1
        finite = np.isfinite(value)
        improved = (
            running
            & finite
            & (
                _better(value, self.best[where], self.settings["direction"])
                | (self.best_epoch[where] < 0)
            )
        )
        current = [np.asarray(w) for w in self.model.variables_by_model()]
        for store, now in zip(self.best_weights, current, strict=True):
            store[where[improved]] = now[improved]
        for store, now in zip(self.last_weights, current, strict=True):
            store[where[running]] = now[running]
        self.best[where[improved]] = value[improved]
        self.best_epoch[where[improved]] = epoch
        self.best_predictions[where[improved]] = predictions[improved]
        self.wait[where[running]] = np.where(improved[running], 0, self.wait[where[running]] + 1)
        patience = self.settings["early_stopping"]
        if patience:
            self.active[where[running & (self.wait[where] >= int(patience))]] = False

    def compact(self) -> None:
        """Rebuilds the stack without its stopped models once few enough are left."""
        from lib.tuning.stacked._network import PerModelOptimizer, StackedMLP

        keep = np.flatnonzero(self.active[self.index])
        if len(keep) == len(self.index) or len(keep) > _COMPACT_SHARE * len(self.index):
            return
        weights = [np.asarray(w)[keep] for w in self.model.variables_by_model()]
        state = self.optimizer.state()
        self.index = self.index[keep]
        forms = [self.forms[i] for i in self.index]
        self.model = StackedMLP(
            forms,
            dropout_seed=self.settings["dropout_seed"] + int(self.epochs_run.max()),
            width=self.model.width,
            depth=self.model.depth,
        )
        for variable, value in zip(self.model.variables_by_model(), weights, strict=True):
            variable.assign(value)
        self.optimizer = PerModelOptimizer(self.model.variables_by_model(), forms)
        self.optimizer.load_state(state, keep)
        self.trainer = StackedTrainer(self.model, self.optimizer, forms[0].batch_size)

    def finish(self) -> None:
        """Models that never scored a finite objective keep their last epoch's weights."""
        never = np.flatnonzero(self.best_epoch < 0)
        self.diverged = self.best_epoch < 0  # recorded FAILED, never scored
        for store, last in zip(self.best_weights, self.last_weights, strict=True):
            store[never] = last[never]
        self.best_epoch[never] = self.epochs_run[never] - 1


def _records(
    stack: _Stack, members: list[tuple[int, dict]], settings: dict, timing: tuple, stack_id: int
) -> list[dict]:
    """One record per configuration, with the keys of the per-trial engine's records."""
    from lib.tuning.spaces import trial_seed

    fit_seconds, seconds = timing
    count = len(members)
    confusion = confusion_matrices(
        stack.y_val_numpy, stack.best_predictions, stack.model.num_classes
    )
    metrics = confusion_metrics(confusion, settings["labels"])
    objective = settings["objective"]
    records = []
    for k, (number, values) in enumerate(members):
        best, run = int(stack.best_epoch[k]), int(stack.epochs_run[k])
        scores = {f"val_{name}": float(v[k]) for name, v in metrics.items() if np.isfinite(v[k])}
        if objective == "val_loss":
            scores["val_loss"] = float(stack.history["val_loss"][k, best])
        history = {
            "loss": stack.history["loss"][k, :run].tolist(),
            "val_loss": stack.history["val_loss"][k, :run].tolist(),
            objective: stack.history["obj"][k, :run].tolist(),
        }
        if stack.diverged[k]:
            records.append(
                {
                    "trial": int(number),
                    "hyperparameters": dict(values),
                    "seed": trial_seed(settings["seed"], int(number)),
                    "status": "FAILED",
                    "objective": math.nan,
                    "epochs_run": run,
                    "executor": "stacked",
                    "error": "FailedTrialError: the validation loss was NaN or infinite at every "
                    "epoch (training diverged: too high a learning rate, or inputs too "
                    "large for float32); the configuration failed, not scored",
                    "fit_seconds": fit_seconds / count,
                    "seconds": seconds / count,
                    "stack": int(stack_id),
                }
            )
            continue
        records.append(
            {
                "trial": int(number),
                "hyperparameters": dict(values),
                "seed": trial_seed(settings["seed"], int(number)),
                "status": "COMPLETED",
                "objective": scores.get(objective, math.nan),
                **scores,
                "best_epoch": best + 1,
                "epochs_run": run,
                "fit_seconds": fit_seconds / count,
                "seconds": seconds / count,
                "history": history,
                "executor": "stacked",
                "stack": int(stack_id),
            }
        )
    return records


def _extractor(hypermodel: Any, stack: _Stack, members: list[tuple[int, dict]]) -> Callable:
    """``extract(trial_number)``: the configuration as ``hypermodel.build(hp)`` builds it, with
    its best-epoch weights from the stack."""
    from lib.tuning.spaces import build, make_hyperparameters

    positions = {int(number): k for k, (number, _) in enumerate(members)}
    from lib.tuning.stacked._network import slice_model_weights

    weights = stack.best_weights

    def extract(trial_number: int) -> Any:
        if int(trial_number) not in positions:
            raise KeyError(
                f"trial {trial_number} is not in this stack; it holds {sorted(positions)}"
            )
        k = positions[int(trial_number)]
        model = build(hypermodel, make_hyperparameters(members[k][1]))
        form = stack.forms[k]
        model.set_weights(slice_model_weights(form, [w[k] for w in weights], depth=stack.depth))
        # a built optimizer (fresh slots) saves and loads without Keras' variable-count warning
        model.optimizer.build(model.trainable_variables)
        return model

    return extract


def _settings(
    objective: str, epochs: int, seed: int, early_stopping: int | None, labels: Any
) -> dict:
    """What every stack of a ``run_stacked`` call trains and scores with."""
    from lib.evaluation import metric_direction

    return {
        "objective": objective,
        "objective_key": _objective_key(objective),
        "direction": metric_direction(objective),
        "epochs": int(epochs),
        "seed": int(seed),
        "early_stopping": early_stopping,
        "labels": labels,
    }


def run_stacked(
    hypermodel: Any,
    trials: list[tuple[int, dict]],
    arrays: dict,
    *,
    objective: str,
    epochs: int,
    batch_size: int,
    early_stopping: int | None,
    seed: int,
    max_models: int | None = None,
    memory_budget_mb: float = 1024.0,
    on_stack_done: Callable[[list[dict], Callable[[int], Any]], None],
    verbose: int = 0,
    labels: Sequence[int] | None = None,
) -> None:
    """Trains configurations of a stackable hypermodel K at a time, as one model per stack.

    Configurations with the same batch size share a stack (ordered by depth and width so a
    stack pads little). Every model of a stack sees the same mini-batches, in an order drawn
    from ``seed`` and the epoch, so a configuration trains the same way whichever stack it
    lands in (dropout masks excepted: they are drawn per stack). Model ``i`` of trial number
    ``n`` is initialised from ``lib.tuning.spaces.trial_seed(seed, n)`` (Glorot-uniform at its
    true layer sizes, zero biases). After each epoch each model is scored on the validation
    rows (predicted in chunks); its best epoch and weights are kept, and with
    ``early_stopping`` a model that has not improved for that many epochs stops updating; the
    stack is rebuilt without its stopped models once at most half of them still train.

    Args:
        hypermodel: a hypermodel with a ``stacked_form(values)`` method (see
            :func:`lib.tuning.stacked.form_of`).
        trials: ``(trial number, hyperparameter values)`` to train, in order.
        arrays: ``x_train``, ``y_train``, ``x_val``, ``y_val`` (2-D rows, 1-D integer labels).
        objective: ``val_loss``, ``val_accuracy``, ``val_macro_precision``,
            ``val_macro_recall``, ``val_macro_f1``, ``val_weighted_f1`` or ``val_recall_<c>``.
        epochs: maximum number of epochs.
        batch_size: used for configurations whose values hold no ``batch_size``.
        early_stopping: patience in epochs on the objective, per model; None trains every
            model for ``epochs``.
        seed: seed of the search (initial weights, batch order, dropout).
        max_models: the most models in one stack; None lets ``memory_budget_mb`` decide.
        memory_budget_mb: memory a stack may use by :func:`model_bytes`' estimate; K is the
            largest count that fits (at least one model).
        on_stack_done: called once per finished stack with its records (one per
            configuration, the per-trial engine's keys plus ``executor="stacked"`` and
            ``stack``) and ``extract(trial_number)``, which returns an ordinary compiled
            ``keras.Model`` built by ``hypermodel.build(hp)`` holding that configuration's
            best-epoch weights. ``extract`` is valid only during the call.
        verbose: 1 prints one line per stack.
        labels: the classes the metrics score; default per model, the classes in its true
            or predicted labels (as :func:`lib.evaluation.classification_metrics`).

    Raises:
        TypeError: if the hypermodel has no stacked form.
        ValueError: for arrays of the wrong shape, an objective the executor does not
            compute, configurations it cannot stack, or epochs / max_models below 1.
    """
    check_stackable(hypermodel)
    if int(epochs) < 1 or (max_models is not None and int(max_models) < 1):
        raise ValueError(
            f"epochs and max_models must be at least 1, got epochs={epochs}, "
            f"max_models={max_models}; use max_models=None to size stacks by memory"
        )
    data = _check_arrays(arrays)
    settings = _settings(objective, epochs, seed, early_stopping, labels)
    forms = [form_of(hypermodel, values, batch_size=batch_size) for _, values in trials]
    _check_data_fits(forms, data)
    itemsize = np.dtype(keras.config.dtype_policy().variable_dtype).itemsize
    plan = plan_stacks(
        forms,
        rows_val=len(data["y_val"]),
        max_models=max_models,
        memory_budget_mb=memory_budget_mb,
        itemsize=itemsize,
    )
    for stack_id, positions in enumerate(plan):
        start = time.perf_counter()
        members = [(int(trials[p][0]), dict(trials[p][1])) for p in positions]
        stack = _train_stack([forms[p] for p in positions], members, data, settings)
        fit_seconds = time.perf_counter() - start
        records = _records(stack, members, settings, (fit_seconds, fit_seconds), stack_id)
        if verbose:
            print(
                f"stack {stack_id + 1}/{len(plan)}: {len(members)} models, batch "
                f"{forms[positions[0]].batch_size}, {int(stack.epochs_run.max())} epochs, "
                f"{fit_seconds:.1f}s",
                flush=True,
            )
        on_stack_done(records, _extractor(hypermodel, stack, members))
        del stack
        keras.backend.clear_session()


def _train_stack(
    forms: list[StackedForm], members: list[tuple[int, dict]], data: dict, settings: dict
) -> _Stack:
    """Trains one stack for up to ``settings["epochs"]`` epochs (until every model stopped)."""
    from lib.tuning.spaces import trial_seed

    seed = settings["seed"]
    settings = dict(settings, dropout_seed=trial_seed(seed, members[0][0]))
    stack = _Stack(forms, [trial_seed(seed, number) for number, _ in members], data, settings)
    for epoch in range(settings["epochs"]):
        stack.run_epoch(epoch)
        if not stack.active.any():
            break
        stack.compact()
    stack.finish()
    return stack


def _check_data_fits(forms: list[StackedForm], data: dict) -> None:
    """Every form's input width and class count match the arrays."""
    columns = data["x_train"].shape[1]
    widths = sorted({f.input_dim for f in forms})
    if widths != [columns] or data["x_val"].shape[1] != columns:
        raise ValueError(
            f"the configurations take {widths} input columns but x_train has {columns} and "
            f"x_val {data['x_val'].shape[1]}; pass all feature columns"
        )
    classes = max(f.num_classes for f in forms)
    found = max(int(data["y_train"].max()), int(data["y_val"].max()))
    if min(int(data["y_train"].min()), int(data["y_val"].min())) < 0 or found >= classes:
        raise ValueError(
            f"labels must be class ids in 0..{classes - 1}, found values up to {found}; encode "
            "the classes as 0..num_classes-1"
        )
