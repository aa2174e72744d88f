"""The tests' one model maker: a tiny real Keras classifier, registered with a spec.

Not a test module (no test_ prefix): tests/ is on sys.path, so tests import it.
"""

from __future__ import annotations

from pathlib import Path

from webapp.model.letters import NUM_CLASSES
from webapp.model.spec import ModelSpec

TINY = ModelSpec(28)  # what the tiny model reads unless a test says otherwise


def tiny_model(seed: int = 0, size: int = 28, outputs: int = NUM_CLASSES,
               activation: str = "softmax"):
    """Input(S, S, 1) -> Conv -> Flatten -> Dense(24, softmax): real Keras, untrained, built
    in well under a second; its last layer is named as every signlive network's (so it fuses).
    Other `outputs` or `activation` make the models the registry must refuse."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 1), name="image")
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    answers = keras.layers.Dense(outputs, activation=activation, name="predictions")(x)
    return keras.Model(inputs, answers)


def register(models_dir: Path, name: str, seed: int = 0, spec: ModelSpec = TINY,
             **metadata) -> None:
    """Register a tiny model as `name` in `models_dir`, fed as `spec`, with the metadata a
    trained model has (accuracy figures, params, dates; `metadata` overrides them)."""
    from webapp.model.registry import Registry

    model = tiny_model(seed, spec.input_size)
    Registry(models_dir).save(model, name, {
        "arch": "tiny", **spec.to_metadata(), "test_accuracy": 0.04,
        "params": model.count_params(), "epochs": 0,
        "trained_at": "2024-01-01T00:00:00+00:00", **metadata})
