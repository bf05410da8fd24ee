"""The base of the study hypermodels: space overrides, declaration, batch size and callbacks.

A hypermodel names its builder and the space entries passed to it under their own names
(``BUILDER_SPACE``); the base declares them in that order and calls the builder, so a
hypermodel whose space maps one to one onto its builder's arguments writes no ``build``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import keras
import keras_tuner

from lib.models._space import declare, declare_all


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
    """

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



def stacked_form(hypermodel: StudyHyperModel, values: Mapping[str, Any]) -> dict[str, Any]:
    """The stacked form of one configuration of an MLP hypermodel (``lib.tuning.stacked``).

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
