"""The base of the study hypermodels: space overrides, declaration, batch size and callbacks,
and the registry of the hypermodels :mod:`lib.models` exports (:data:`HYPERMODELS`).

A hypermodel names its builder and the space entries passed to it under their own names
(``BUILDER_SPACE``); the base declares them in that order and calls the builder, so a
hypermodel whose space maps one to one onto its builder's arguments writes no ``build``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import keras
import keras_tuner
import numpy as np

from lib.models._space import declare, declare_all

#: The hypermodels :mod:`lib.models` exports, ``{class name: class}`` in definition order.
#: A subclass of :class:`StudyHyperModel` adds itself when its ``class`` statement runs, if
#: it is defined in a module of this package and its name does not start with ``_``; a base
#: meant only to be subclassed opts out with ``class TSCHyperModel(..., register=False)``.
HYPERMODELS: dict[str, type[StudyHyperModel]] = {}
_PACKAGE = __name__.rpartition(".")[0]  # "lib.models.hypermodels"


class _ReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` on ``val_loss``, or on ``loss`` when the fit has no validation
    data (a final fit on all training data), instead of warning every epoch."""

    def __init__(self, **kwargs: Any):
        super().__init__(monitor="val_loss", **kwargs)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "val_loss" not in logs and "loss" in logs:
            self.monitor = "loss"
        super().on_epoch_end(epoch, logs)


class StudyHyperModel(keras_tuner.HyperModel):
    """Base of the study hypermodels: space overrides, batch size in ``fit``, callbacks.

    Subclasses set ``DEFAULT_SPACE`` and either ``builder`` + ``BUILDER_SPACE`` (the space
    entries passed to the builder under their own names, in declaration order) with
    :meth:`_builder_arguments` for the arguments that are not hyperparameters, or their own
    ``_build_model(hp)`` (using :meth:`_declare_all`).

    Every study hypermodel also takes ``jit_compile`` (True, False or "auto", the default):
    whether Keras compiles the train and predict steps with XLA. Keras' "auto" turns XLA
    off on a CPU-only machine; True compiles each model once (seconds) and can make its
    epochs faster: ``bench/xla_epoch.py`` measures it per network (figures in
    ``bench/README.md``).

    **Registration.** Defining a subclass in a module of ``lib.models.hypermodels`` registers
    it in :data:`HYPERMODELS` (see :meth:`__init_subclass__`); :mod:`lib.models` exports
    every registered class under its name, and ``tests/test_models_reference.py`` asks each
    one for a golden reference. Its name must end in ``HyperModel``. A base class that is not
    a hypermodel of its own passes ``register=False`` in its ``class`` statement.

    **Stacked form (optional hook).** A hypermodel whose models are dense classifiers that
    :func:`lib.models.build_mlp` builds may define ``stacked_form(self, values) -> dict``:

    * ``values``: one configuration's hyperparameter values (``{name: value}``, as in
      ``hp.values``);
    * it returns the keyword arguments ``build(hp)`` would pass to ``build_mlp`` for those
      values (``input_dim``, ``num_classes``, ``units``, ``activations``, ``dropout``,
      ``feature_indices``, ``optimizer``, ``learning_rate``, ``momentum``, ``loss``; no
      ``seed``) plus the configuration's ``batch_size``. The module function
      :func:`stacked_form` computes it for a hypermodel whose ``build`` goes through a
      method ``_mlp_arguments(hp)`` that declares the space and returns those arguments
      (``MLPHyperModel``, ``FeatureSubsetMLPHyperModel``), so the two cannot drift apart.

    The stacked executor (a :mod:`lib.tuning` tuner built with ``executor="stacked"``) calls
    :func:`lib.tuning.stacked.check_stackable` when ``search()`` starts and
    :func:`lib.tuning.stacked.form_of` for every configuration, which checks the dict and
    trains the configurations several at a time as one stacked model instead of building
    them with ``build``. Without the method the hypermodel is only searched trial by trial:
    ``executor="stacked"`` is refused with a ``TypeError`` naming the class before any
    trial, and the default executor (``"trials"``) never calls it.
    """

    def __init_subclass__(cls, register: bool = True, **kwargs: Any):
        """Registers ``cls`` in :data:`HYPERMODELS` (see the class docstring).

        Args:
            register: False for a base class that is not a hypermodel of its own.
            **kwargs: passed on to ``super().__init_subclass__``.

        Raises:
            TypeError: the name does not end in ``HyperModel``, or another module of the
                package already registered a hypermodel of that name.
        """
        super().__init_subclass__(**kwargs)
        name = cls.__name__
        if not register or name.startswith("_") or not cls.__module__.startswith(f"{_PACKAGE}."):
            return
        if not name.endswith("HyperModel"):
            raise TypeError(
                f"{cls.__module__}.{name}: a registered hypermodel's name ends in "
                "'HyperModel' (lib.models exports it under that name); rename it, or pass "
                "register=False if it is only a base class"
            )
        known = HYPERMODELS.get(name)
        if known is not None and known.__module__ != cls.__module__:
            raise TypeError(
                f"{cls.__module__}.{name}: {known.__module__} already defines a hypermodel "
                f"named {name}; lib.models exports one class per name"
            )
        HYPERMODELS[name] = cls  # (a module reloaded by a notebook replaces its own classes)

    DEFAULT_SPACE: ClassVar[dict[str, Any]] = {}
    # Training- and data-side entries, declared before the model's (when in the space).
    TRAINING_SPACE: ClassVar[tuple[str, ...]] = ("batch_size", "reduce_lr_factor", "resampling")
    # The network builder and the space entries it takes as keyword arguments, in order.
    builder: ClassVar[Callable[..., keras.Model] | None] = None
    BUILDER_SPACE: ClassVar[tuple[str, ...]] = ()
    objective: ClassVar[str] = "val_accuracy"
    data_hyperparameters: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        seed: int | None = None,
        reduce_lr_patience: int = 3,
        name: str | None = None,
        tunable: bool = True,
        jit_compile: bool | str = "auto",
        **space: Any,
    ):
        super().__init__(name=name, tunable=tunable)
        if jit_compile not in (True, False, "auto"):
            raise ValueError(
                f"jit_compile must be True, False or 'auto', got {jit_compile!r}; 'auto' keeps "
                "Keras' choice (XLA off on a CPU-only machine)"
            )
        self.jit_compile = jit_compile
        unknown = sorted(set(space) - set(self.DEFAULT_SPACE))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no hyperparameter(s) {unknown}; "
                f"the space has {sorted(self.DEFAULT_SPACE)}"
            )
        for key, value in space.items():
            if isinstance(value, (list, tuple)) and not value:
                raise ValueError(f"{key} is an empty sequence; give at least one value")
        self.space: dict[str, Any] = {**self.DEFAULT_SPACE, **space}
        self.seed = seed
        self.reduce_lr_patience = reduce_lr_patience

    # Space helpers.
    def _hp(self, hp: keras_tuner.HyperParameters, name: str) -> Any:
        return declare(hp, name, self.space[name])

    def _declare_all(self, hp: keras_tuner.HyperParameters, names: Iterable[str]) -> dict:
        """Declares the space entries ``names`` in order; returns ``{name: value}``."""
        return declare_all(hp, self.space, names)

    def _declare_training(self, hp: keras_tuner.HyperParameters) -> None:
        """Declares the training- and data-side hyperparameters of the space."""
        declared = [name for name in self.TRAINING_SPACE if self.space.get(name) is not None]
        self._declare_all(hp, declared)

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """Declares the whole space on ``hp`` and returns the compiled model."""
        self._declare_training(hp)
        model = self._build_model(hp)
        if self.jit_compile != "auto":
            # Keras resolves "auto" to no XLA on a CPU-only machine; the setter warns and
            # falls back when a layer cannot be compiled.
            model.jit_compile = self.jit_compile
        return model

    def _builder_arguments(self) -> dict[str, Any]:
        """The builder's keyword arguments that are not hyperparameters (shapes ...)."""
        return {}

    def _build_model(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """``builder(**fixed arguments, **BUILDER_SPACE values, seed=seed)``."""
        if type(self).builder is None:  # pragma: no cover
            raise NotImplementedError(f"{type(self).__name__} sets no builder")
        return type(self).builder(
            **self._builder_arguments(),
            **self._declare_all(hp, self.BUILDER_SPACE),
            seed=self.seed,
        )

    def callbacks(self, hp: keras_tuner.HyperParameters) -> list[keras.callbacks.Callback]:
        """Callbacks that carry hyperparameters (``ReduceLROnPlateau(factor=...)``).

        Args:
            hp: the trial's hyperparameters.

        Returns:
            A list of fresh callbacks (empty when the space has no such entry).
        """
        if self.space.get("reduce_lr_factor") is None:
            return []
        factor = self._hp(hp, "reduce_lr_factor")
        return [_ReduceLROnPlateau(factor=factor, patience=self.reduce_lr_patience, verbose=0)]

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args, **kwargs):
        """Fits with the trial's batch size and hyperparameter callbacks.

        Args:
            hp: the trial's hyperparameters.
            model: the model ``build(hp)`` returned.
            *args: passed to ``model.fit`` (``x``, ``y`` ...).
            **kwargs: passed to ``model.fit`` (``epochs``, ``callbacks``,
                ``validation_data``, ``class_weight`` ...). Callbacks of the same
                type as :meth:`callbacks` returns are not added twice.

        Returns:
            The ``keras.callbacks.History`` of ``model.fit``.

        Raises:
            ValueError: if ``batch_size`` is passed while the space tunes it
                (construct with ``batch_size=None`` to control it yourself, e.g.
                for ``tf.data`` input).
        """
        self._declare_training(hp)
        if self.space.get("batch_size") is not None:
            if "batch_size" in kwargs:
                raise ValueError(
                    f"batch_size={kwargs['batch_size']} was passed to fit but "
                    f"{type(self).__name__} tunes batch_size; construct it with "
                    "batch_size=None to set it yourself"
                )
            kwargs["batch_size"] = hp.get("batch_size")
        callbacks = list(kwargs.pop("callbacks", None) or [])
        present = {type(callback) for callback in callbacks}
        callbacks += [c for c in self.callbacks(hp) if type(c) not in present]
        return model.fit(*args, callbacks=callbacks, **kwargs)


def data_sample_shape(x: Any, *, rank: int = 2) -> tuple[int, ...]:
    """The shape of one sample of ``x`` as a model of input rank ``rank`` takes it.

    Args:
        x: the training inputs, ``(samples, time, channels)`` or ``(samples, time)``.
        rank: the model's input rank without the batch axis; a 2-D ``x`` given to a rank-2
            model is one channel (Keras feeds ``(samples, time)`` to a ``(time, 1)`` input).

    Returns:
        The sample shape, e.g. ``(time, channels)``.
    """
    shape = tuple(int(size) for size in np.shape(x)[1:])
    if len(shape) == rank - 1:
        shape = (*shape, 1)
    return shape


def data_class_count(y: Any) -> int | None:
    """The number of classes the training targets hold, or ``None`` when they are not class ids.

    Args:
        y: integer class ids ``0..k-1`` (any shape ``(n,)`` or ``(n, 1)``) or one-hot rows
            ``(n, k)``.

    Returns:
        ``k``: the one-hot width, or the largest id + 1; ``None`` for targets that are not
        numeric class ids (strings, fractions, an empty array), which the tuner's own checks
        report.
    """
    values = np.asarray(y)
    if values.ndim == 2 and values.shape[1] > 1:
        return int(values.shape[1])
    if values.size == 0 or values.dtype.kind not in "biuf":
        return None
    values = values.reshape(-1)
    if values.dtype.kind == "f" and not np.all(np.isfinite(values) & (values == np.round(values))):
        return None
    if values.min() < 0:
        return None
    return int(values.max()) + 1


def _shapes_agree(declared: Sequence[int | None], found: Sequence[int]) -> bool:
    """Same rank and every declared size equal to the data's (``None`` matches any size)."""
    return len(declared) == len(found) and all(
        size is None or int(size) == other for size, other in zip(declared, found, strict=True)
    )


class AdaptsToData:
    """Mixin of the hypermodels that take their input shape and class count from the data.

    The tuners of :mod:`lib.tuning` call :meth:`adapt_to_data` once per ``search()``, before
    the first trial, with the training inputs and targets. A value the user declared
    (``input_shape``, ``num_classes`` given to the constructor) is checked against the data
    and a disagreement is refused before any trial; a value left out (``None``) is taken from
    the data. Until both are known, ``build(hp)`` declares the space and returns a stand-in
    model that raises what is missing when it is run (a tuner builds once when constructed,
    before ``search()`` has the data). The class using the mixin sets ``declared_input_shape`` and
    ``declared_num_classes`` in its constructor and reads ``input_shape`` and
    ``num_classes`` when it builds.
    """

    input_rank: ClassVar[int] = 2
    declared_input_shape: tuple[int | None, ...] | None = None
    declared_num_classes: int | None = None
    input_shape: tuple[int | None, ...] | None = None
    num_classes: int | None = None

    def _declare_data_shape(
        self, input_shape: Sequence[int | None] | None, num_classes: int | None
    ) -> None:
        """Records the declared values (``None``: from the data) and uses them until then."""
        if input_shape is not None:
            input_shape = tuple(None if size is None else int(size) for size in input_shape)
            if len(input_shape) != self.input_rank:
                raise ValueError(
                    f"{type(self).__name__} takes input_shape with {self.input_rank} "
                    f"dimensions (time, channels) without the batch axis, got {input_shape}"
                )
        if num_classes is not None and (isinstance(num_classes, bool) or int(num_classes) < 2):
            raise ValueError(
                f"{type(self).__name__} needs num_classes >= 2 (or None to take it from the "
                f"data), got {num_classes!r}"
            )
        self.declared_input_shape = input_shape
        self.declared_num_classes = None if num_classes is None else int(num_classes)
        self.input_shape = input_shape
        self.num_classes = self.declared_num_classes

    def adapt_to_data(self, x: Any, y: Any) -> None:
        """Takes the missing input shape and class count from the data; refuses disagreements.

        Args:
            x: the training inputs, ``(samples, time, channels)`` or ``(samples, time)``.
            y: the training targets, class ids ``0..k-1`` or one-hot rows.

        Raises:
            ValueError: the declared ``input_shape`` or ``num_classes`` disagrees with the
                data; the message gives both values and what to pass instead.
        """
        name = type(self).__name__
        found = data_sample_shape(x, rank=self.input_rank)
        declared = self.declared_input_shape
        if declared is None:
            self.input_shape = found
        elif not _shapes_agree(declared, found):
            raise ValueError(
                f"{name} was built for input_shape={declared} but the training data's samples "
                f"have shape {found} (x.shape={tuple(np.shape(x))}); pass "
                f"input_shape={found}, or leave input_shape out to take it from the data"
            )
        count = data_class_count(y)
        if count is None:
            return
        if self.declared_num_classes is None:
            self.num_classes = count
        elif self.declared_num_classes != count:
            raise ValueError(
                f"{name} was built for num_classes={self.declared_num_classes} but the "
                f"training targets hold {count} classes (ids 0..{count - 1}); pass "
                f"num_classes={count}, or leave num_classes out to take it from the data "
                "(if classes are missing from the training data, check the split: a model "
                "cannot learn a class it never sees)"
            )

    def _missing_data_shape(self) -> str | None:
        """What the hypermodel cannot build without, said with what to do; None if nothing."""
        missing = [name for name in ("input_shape", "num_classes") if getattr(self, name) is None]
        if not missing:
            return None
        return (
            f"{type(self).__name__} does not know its {' and '.join(missing)} yet: pass "
            f"{' and '.join(f'{m}=' for m in missing)} to the constructor, or search with a "
            "lib.tuning tuner, which takes them from the data (adapt_to_data(x, y))"
        )

    def _data_shape_arguments(self) -> dict[str, Any]:
        """``input_shape`` and ``num_classes`` for the builder; refuses building without them."""
        message = self._missing_data_shape()
        if message:
            raise ValueError(message)
        return {"input_shape": self.input_shape, "num_classes": self.num_classes}

    def _build_model(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """The builder's network, or the stand-in while the input shape or classes are unknown."""
        if self._missing_data_shape():  # a tuner's first build, before search() has the data
            self._declare_all(hp, self.BUILDER_SPACE)
            return self._stand_in_model()
        return super()._build_model(hp)

    def _stand_in_model(self) -> keras.Model:
        """A model for the builds before the data is known, which fails when it is run.

        A tuner builds its hypermodel once when it is constructed, to learn the search space,
        before ``search()`` hands it the data; that build declares the space and gets this
        stand-in, whose ``fit`` / ``predict`` raise the message of
        :meth:`_missing_data_shape`.
        """
        inputs = keras.Input(shape=(None, None), name="series")
        outputs = _NotBuiltYet(self._missing_data_shape() or "")(inputs)
        model = keras.Model(inputs, outputs, name=f"{type(self).__name__}_before_data")
        model.compile(loss="sparse_categorical_crossentropy")
        return model


class _NotBuiltYet(keras.layers.Layer):
    """Raises its message when run (never when a model is assembled around it)."""

    def __init__(self, message: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.message = message

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs.shape[0], 2), dtype=self.compute_dtype)

    def call(self, inputs):
        raise ValueError(self.message)


def stacked_form(hypermodel: StudyHyperModel, values: Mapping[str, Any]) -> dict[str, Any]:
    """The stacked form of one configuration of an MLP hypermodel (``lib.tuning.stacked``): the
    body of the ``stacked_form`` hook (contract in :class:`StudyHyperModel`'s docstring).

    Declares the hypermodel's space on a ``HyperParameters`` holding ``values`` and returns the
    :func:`lib.models.build_mlp` keyword arguments its ``build`` would use (without ``seed``),
    plus ``batch_size``; the mapping from hyperparameters to builder arguments is the one
    ``_mlp_arguments`` declares for ``build``.
    """
    hp = keras_tuner.HyperParameters()
    hp.values = dict(values)
    hypermodel._declare_training(hp)
    form = hypermodel._mlp_arguments(hp)
    form.pop("seed", None)
    form["batch_size"] = hp.values.get("batch_size")
    return form
