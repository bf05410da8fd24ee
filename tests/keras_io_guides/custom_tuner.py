"""KerasTuner's "Writing your own Tuner to support a custom training loop" guide, tuner code,
run on lib.tuning.

Source: keras-team/keras-io, guides/keras_tuner/custom_tuner.py (Apache License 2.0,
Copyright the keras-io authors; https://github.com/keras-team/keras-io).

This file follows the guide's end-to-end example, re-written for this test (not a verbatim
copy). What differs from the guide:
- the guide subclasses ``keras_tuner.Tuner`` with ``oracle=kt.oracles.
  BayesianOptimizationOracle(objective=..., max_trials=2)``: here ``lib.tuning.Tuner``, the
  oracle as in the guide;
- ``keras_tuner`` stays for Objective and the oracle; ``keras`` 3 (TensorFlow backend) for
  ``tf.keras``; ``reset_state()`` for Keras 2's ``reset_states()``; ``pool_size=2`` given to
  the pooling layers (Keras 3's ``AveragePooling2D`` requires it; 2 is Keras 2's default);
- ``run_trial`` returns ``{"loss": ...}`` and saves the weights at
  ``self._get_checkpoint_fname(trial.trial_id)``: in keras_tuner 1.4.8 ``on_epoch_end`` is a
  no-op, so the guide as written fails with keras_tuner's own tuner too (FatalTypeError: the
  return value of run_trial is None), and get_best_models finds no checkpoint;
- MNIST is replaced by 64 generated uint8 images of its shape (28x28x1) with labels 0-9;
  the guide's loop (2 epochs) and max_trials=2 are kept;
- the result is reported as one ``GUIDE_RESULT`` json line.
"""

from lib.tuning import Tuner  # noqa: I001  (lib before keras: TensorFlow loads quietly)

import json

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf


def build_model(hp):
    inputs = keras.Input(shape=(28, 28, 1))
    x = inputs
    for i in range(hp.Int("conv_layers", 1, 3, default=3)):
        x = keras.layers.Conv2D(
            filters=hp.Int("filters_" + str(i), 4, 32, step=4, default=8),
            kernel_size=hp.Int("kernel_size_" + str(i), 3, 5),
            activation="relu",
            padding="same",
        )(x)
        if hp.Choice("pooling" + str(i), ["max", "avg"]) == "max":
            x = keras.layers.MaxPooling2D(pool_size=2)(x)
        else:
            x = keras.layers.AveragePooling2D(pool_size=2)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    if hp.Choice("global_pooling", ["max", "avg"]) == "max":
        x = keras.layers.GlobalMaxPooling2D()(x)
    else:
        x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        hp.Choice("optimizer", ["adam", "sgd"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class MyTuner(Tuner):
    def run_trial(self, trial, train_ds):
        hp = trial.hyperparameters
        # hyperparameters defined in run_trial: defaults first, then tuned by the oracle
        train_ds = train_ds.batch(hp.Int("batch_size", 32, 128, step=32, default=64))
        model = self.hypermodel.build(trial.hyperparameters)
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        optimizer = keras.optimizers.Adam(lr)
        epoch_loss_metric = keras.metrics.Mean()
        loss_fn = keras.losses.SparseCategoricalCrossentropy()

        def run_train_step(data):
            images = tf.cast(data[0], "float32") / 255.0
            labels = data[1]
            with tf.GradientTape() as tape:
                loss = loss_fn(labels, model(images))
                if model.losses:
                    loss += tf.math.add_n(model.losses)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
            epoch_loss_metric.update_state(loss)
            return loss

        for epoch in range(2):  # the tuner's hooks around its own training loop
            print(f"Epoch: {epoch}")
            self.on_epoch_begin(trial, model, epoch, logs={})
            for batch, data in enumerate(train_ds):
                self.on_batch_begin(trial, model, batch, logs={})
                batch_loss = float(run_train_step(data))
                self.on_batch_end(trial, model, batch, logs={"loss": batch_loss})
            epoch_loss = float(epoch_loss_metric.result())
            self.on_epoch_end(trial, model, epoch, logs={"loss": epoch_loss})
            epoch_loss_metric.reset_state()
        # keras_tuner 1.4's on_epoch_end neither reports nor saves (the guide predates it):
        # report by returning the metrics, save where get_best_models loads from
        model.save_weights(self._get_checkpoint_fname(trial.trial_id))
        return {"loss": epoch_loss}


if __name__ == "__main__":
    tuner = MyTuner(
        oracle=kt.oracles.BayesianOptimizationOracle(
            objective=kt.Objective("loss", "min"), max_trials=2
        ),
        hypermodel=build_model,
        directory="results",
        project_name="mnist_custom_training",
    )
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (64, 28, 28, 1)).astype("uint8")
    y_train = rng.integers(0, 10, 64).astype(np.int64)
    mnist_train = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    tuner.search(train_ds=mnist_train)
    best_hps = tuner.get_best_hyperparameters()[0]
    print(best_hps.values)
    best_model = tuner.get_best_models()[0]
    trials = list(tuner.oracle.trials.values())
    print(
        "GUIDE_RESULT "
        + json.dumps(
            {
                "trials": len(trials),
                "statuses": sorted({str(t.status) for t in trials}),
                "keys": sorted(best_hps.values),
                "losses": [t.score for t in trials],
                "predict_shape": list(best_model.predict(x_train[:2] / 255.0, verbose=0).shape),
            }
        )
    )
