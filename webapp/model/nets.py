"""The classifier architectures: `cnn` (baseline), `resnet50` (classic), `resnet` (the default).

Both residual nets are built from ONE block function and a stage table, as
keras.applications.resnet does, so the difference between them is data, not code. All layers are
plain `keras.layers`, so the same code trains on the TensorFlow, JAX or PyTorch backend and the
saved `.keras` files load anywhere with `keras.saving.load_model` (no custom objects).

Inputs are (size, size, 1) floats already scaled to [0, 1] by preprocess.py; outputs are a
softmax over the 24 static letters. Augmentation is not part of these models (see
`augmentation()`): it wraps them only while training, so serving never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
from keras import layers

from webapp.model.handshape import FEATURES, NUM_LANDMARKS
from webapp.model.letters import NUM_CLASSES
from webapp.model.spec import input_size_problem

ARCHS = ("cnn", "resnet", "resnet50")

# A stage: (filters of one block, number of blocks, stride of the stage's first block).
# Two filters make a basic block (3x3, 3x3); three make a bottleneck block (1x1, 3x3, 1x1).
Stage = tuple[tuple[int, ...], int, int]

RESNET50_STAGES: tuple[Stage, ...] = (
    ((64, 64, 256), 3, 1),
    ((128, 128, 512), 4, 2),
    ((256, 256, 1024), 6, 2),
    ((512, 512, 2048), 3, 2),
)

# CIFAR-style: no downsampling stem, 28x28 -> 14x14 -> 7x7, about 0.7M parameters.
COMPACT_STAGES: tuple[Stage, ...] = (
    ((32, 32), 2, 1),
    ((64, 64), 2, 2),
    ((128, 128), 2, 2),
)

_BN_EPSILON = 1.001e-5
# Faster-moving BN statistics than Keras's 0.99: short runs and small slices validate sensibly.
_BN_MOMENTUM = 0.9


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=name)


def residual_block(x, filters: Sequence[int], stride: int = 1, name: str = "block"):
    """One residual block: basic (2 filters) or bottleneck (3 filters), post-activation.

    The shortcut is a 1x1 projection (+BN) when the block changes shape (the "convolutional"
    block that opens a stage), the identity otherwise (the "identity" block).
    """
    if len(filters) == 3:
        kernels = (1, 3, 1)
    elif len(filters) == 2:
        kernels = (3, 3)
    else:
        raise ValueError(f"a block takes 2 (basic) or 3 (bottleneck) filter counts, got {filters}")
    out_channels = filters[-1]
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = layers.Conv2D(out_channels, 1, strides=stride, use_bias=False,
                                 name=f"{name}_0_conv")(x)
        shortcut = _bn(f"{name}_0_bn")(shortcut)
    # The stride sits on the 3x3 conv: the first of a basic block, the middle of a bottleneck
    # (ResNet v1.5; same parameter count as v1, which strides the first 1x1).
    stride_at = 2 if len(filters) == 3 else 1
    y = x
    for i, (width, kernel) in enumerate(zip(filters, kernels, strict=True), start=1):
        y = layers.Conv2D(width, kernel, strides=stride if i == stride_at else 1, padding="same",
                          use_bias=False, name=f"{name}_{i}_conv")(y)
        y = _bn(f"{name}_{i}_bn")(y)
        if i < len(filters):
            y = layers.Activation("relu", name=f"{name}_{i}_relu")(y)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def stack_stages(x, stages: Sequence[Stage]):
    """Stack the stages of a stage table; the first block of each stage projects."""
    for s, (filters, blocks, stride) in enumerate(stages, start=1):
        for b in range(1, blocks + 1):
            x = residual_block(x, filters, stride if b == 1 else 1, name=f"stage{s}_block{b}")
    return x


def _head(x, num_classes: int):
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return layers.Dense(num_classes, activation="softmax", name="predictions")(x)


def _inputs(input_size: int):
    return keras.Input(shape=(input_size, input_size, 1), name="image")


def build_cnn(input_size: int = 28, num_classes: int = NUM_CLASSES) -> keras.Model:
    """The articles' baseline: Conv32-Pool-Conv64-Pool-Conv64, Dense128, Dropout, softmax."""
    inputs = _inputs(input_size)
    x = inputs
    for i, filters in enumerate((32, 64, 64), start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = _bn(f"conv{i}_bn")(x)
        x = layers.Activation("relu", name=f"conv{i}_relu")(x)
        if i < 3:
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="fc")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="cnn")


def build_resnet50(input_size: int = 28, num_classes: int = NUM_CLASSES) -> keras.Model:
    """The classic bottleneck ResNet-50: 7x7/2 stem, 3x3/2 max-pool, stages [3, 4, 6, 3].

    'same' padding lets the 28x28 input through all the strides (28 -> 14 -> 7 -> 7 -> 4 -> 2 -> 1).
    """
    inputs = _inputs(input_size)
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, name="conv1_conv")(inputs)
    x = _bn("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_pool")(x)
    x = stack_stages(x, RESNET50_STAGES)
    return keras.Model(inputs, _head(x, num_classes), name="resnet50")


# From this input side up, the compact ResNet's stem strides by 2, so a 56x56 hand crop costs
# about what a 28x28 one does while its first convolution still sees the finer detail.
STRIDED_STEM_FROM = 48


def build_resnet(input_size: int = 28, num_classes: int = NUM_CLASSES) -> keras.Model:
    """The default: a compact CIFAR-style ResNet for 28x28 (3x3 stem, 3 stages of basic blocks);
    larger inputs get a strided 5x5 stem (see STRIDED_STEM_FROM)."""
    inputs = _inputs(input_size)
    strided = input_size >= STRIDED_STEM_FROM
    x = layers.Conv2D(32, 5 if strided else 3, strides=2 if strided else 1, padding="same",
                      use_bias=False, name="stem_conv")(inputs)
    x = _bn("stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    x = stack_stages(x, COMPACT_STAGES)
    return keras.Model(inputs, _head(x, num_classes), name="resnet")


_BUILDERS: dict[str, Callable[[int, int], keras.Model]] = {
    "cnn": build_cnn,
    "resnet": build_resnet,
    "resnet50": build_resnet50,
}


def build_model(arch: str, input_size: int = 28, num_classes: int = NUM_CLASSES) -> keras.Model:
    """A fresh, uncompiled model of architecture `arch` (one of ARCHS)."""
    if arch not in _BUILDERS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    problem = input_size_problem(input_size)
    if problem:
        raise ValueError(f"input_size {problem}")
    return _BUILDERS[arch](int(input_size), int(num_classes))


HANDSHAPE_HIDDEN = (256, 256)
HANDSHAPE_DROPOUT = 0.3


def build_handshape_branch(hidden: Sequence[int] = HANDSHAPE_HIDDEN,
                           dropout: float = HANDSHAPE_DROPOUT,
                           num_classes: int = NUM_CLASSES) -> keras.Model:
    """Hand-shape features (webapp/model/handshape.py) -> letter logits: a small MLP that reads the
    landmarks in the image plane, once as given and once mirrored, and averages the two.

    Why mirrored: the features mirror a left hand into a right one by MediaPipe's left/right
    call, which is wrong for part of several sources (and a mirror image is the same letter);
    a branch that answers a hand and its mirror image alike does not depend on that call.
    Why the plane: the lite landmark model's depth (z) is rough, and the MLP fitted it. Each
    alone helped a little, the two together most: leave-sources-out, 0.865 of the hands
    against 0.838 (bench/shape_cv.py; docs/RESULTS.md, "Mirror images and the plane").
    Both views are fixed, frozen diagonal layers, so the model stays plain Keras layers.

    No biases anywhere: an all-zero vector (no hand found) gives all-zero logits, so added to
    an image model's logits it changes nothing. The features' leading 1 plays the bias for a
    present hand.
    """
    import numpy as np

    inputs = keras.Input(shape=(FEATURES,), name="handshape")
    plane = np.array([1.0] + [1.0, 1.0, 0.0] * NUM_LANDMARKS, np.float32)  # [present, x, y, z]
    mirror = np.array([1.0] + [-1.0, 1.0, 1.0] * NUM_LANDMARKS, np.float32)
    views = []
    for name, scale in (("handshape_plane", plane), ("handshape_mirrored", plane * mirror)):
        view = layers.Dense(FEATURES, use_bias=False, trainable=False, name=name)
        views.append(view(inputs))
        view.set_weights([np.diag(scale)])
    stack = [(layers.Dense(width, activation="relu", use_bias=False, name=f"handshape_fc{i}"),
              layers.Dropout(dropout, name=f"handshape_dropout{i}"))
             for i, width in enumerate(hidden, start=1)]
    logits = layers.Dense(num_classes, use_bias=False, name="handshape_logits")
    answers = []
    for x in views:  # the same layers read both views
        for dense, drop in stack:
            x = drop(dense(x))
        answers.append(logits(x))
    outputs = layers.Average(name="handshape_average")(answers)
    return keras.Model(inputs, outputs, name="handshape_branch")


MOTION_FILTERS = (64, 64, 96)  # the motion reader's 1-D convolutions, one per stage


def build_motion_reader(steps: int, features: int, num_classes: int,
                        filters: Sequence[int] = MOTION_FILTERS,
                        dropout: float = 0.3) -> keras.Model:
    """The motion reader: a landmark track (steps, features) -> softmax over (no motion
    letter, J, Z). 1-D convolutions over time see a stroke's direction and turn wherever it
    falls in the window; max and mean pooling over time then ask "was it drawn, and for how
    long". Small (about 40k weights): it trains in minutes on 2 CPU cores and costs well under
    a millisecond a window."""
    inputs = keras.Input(shape=(steps, features), name="track")
    x = inputs
    for i, width in enumerate(filters, start=1):
        x = layers.Conv1D(width, 3, padding="same", activation="relu", name=f"motion_conv{i}")(x)
    pooled = layers.Concatenate(name="motion_pool")(
        [layers.GlobalMaxPooling1D()(x), layers.GlobalAveragePooling1D()(x)])
    x = layers.Dropout(dropout, name="motion_dropout")(pooled)
    x = layers.Dense(64, activation="relu", name="motion_fc")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="motion_reader")


def average_readers(readers: Sequence[keras.Model]) -> keras.Model:
    """One motion reader out of several trained alike from different seeds: their
    probabilities averaged. Which ordinary movements one reader takes for a Z depends on its
    seed (docs/RESULTS.md, "J and Z"); the average keeps what they agree on. Each reader is
    renamed `reader_<k>` so the graph's names stay unique."""
    inputs = keras.Input(shape=readers[0].input_shape[1:], name="track")
    outputs = []
    for k, reader in enumerate(readers, start=1):
        reader.name = f"reader_{k}"
        outputs.append(reader(inputs))
    return keras.Model(inputs, layers.Average(name="mean")(outputs), name="motion_readers")


def build_fused(image_model: keras.Model, branch: keras.Model) -> keras.Model:
    """One model with two inputs, {"image", "handshape"}: the image model's letter logits plus
    the hand-shape branch's, then softmax (a product of the two experts' probabilities).

    The image model is taken whole and frozen: its last Dense layer ("predictions") is
    split into the same weights without the softmax, so with no hand (zero features) the
    fused model gives exactly the image model's probabilities.
    """
    head = image_model.get_layer("predictions")
    features = keras.Model(image_model.inputs, head.input, name="image_features")
    features.trainable = False
    image_input = keras.Input(shape=image_model.input_shape[1:], name="image")
    logits = layers.Dense(head.units, trainable=False, name="image_logits")
    image_logits = logits(features(image_input))
    logits.set_weights(head.get_weights())
    shape_input = keras.Input(shape=branch.input_shape[1:], name="handshape")
    summed = layers.Add(name="logits")([image_logits, branch(shape_input)])
    outputs = layers.Activation("softmax", name="predictions")(summed)
    return keras.Model({"image": image_input, "handshape": shape_input}, outputs,
                       name=f"{image_model.name}_handshape")


def image_part(fused: keras.Model) -> keras.Model:
    """The image model inside a fused model (build_fused undone): image -> softmax, its last
    layer the Dense "predictions" again, sharing the fused model's (frozen) weights. Lets a
    fused model's hand-shape branch be retrained without the image model's own file."""
    features = fused.get_layer("image_features")
    logits = fused.get_layer("image_logits")
    head = layers.Dense(logits.units, activation="softmax", name="predictions")
    outputs = head(features.output)
    head.set_weights(logits.get_weights())
    return keras.Model(features.inputs, outputs, name=fused.name.removesuffix("_handshape"))


def reads_handshape(model: keras.Model) -> bool:
    """Whether the model takes hand-shape features besides the image (see build_fused)."""
    return any(tensor.name == "handshape" for tensor in model.inputs)


def image_input_shape(model: keras.Model) -> tuple:
    """(None, S, S, 1) of the model's image input, whether it has one input or two."""
    if not reads_handshape(model):
        return tuple(model.input_shape)
    return next(tuple(t.shape) for t in model.inputs if t.name == "image")


def model_inputs(model: keras.Model, images, handshape=None):
    """What to call `model` with: the images, plus hand-shape features for a fused model
    (`handshape`: (N, FEATURES) floats; None means no hand in any image: zeros)."""
    if not reads_handshape(model):
        return images
    import numpy as np

    if handshape is None:
        handshape = np.zeros((len(images), FEATURES), np.float32)
    return {"image": images, "handshape": handshape}


def augmentation(seed: int | None = None, webcam: bool = False) -> keras.Sequential:
    """On-the-fly augmentation for training only: small shifts, rotations, zoom, light.

    `webcam` (runs with real photos) widens it towards what a webcam does to a hand crop: a
    hand box found a little off (larger shifts and zoom: scale and offset around the box),
    stronger light and contrast changes, blur and sensor noise.
    No flips: a mirrored hand is a different (left-handed) sign and some letters differ mainly by
    orientation. These layers are identity at inference, but they live only in the training
    wrapper (see training.py), so the saved model never carries them.
    """
    shift, zoom, light, contrast = (0.12, 0.2, 0.3, 0.4) if webcam else (0.1, 0.1, 0.15, 0.2)
    steps = [
        layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed),
        layers.RandomRotation(0.04, fill_mode="nearest", seed=seed),  # +-0.04 turn = +-15 deg
        layers.RandomZoom(zoom, fill_mode="nearest", seed=seed),
        layers.RandomBrightness(light, value_range=(0.0, 1.0), seed=seed),
        layers.RandomContrast(contrast, value_range=(0.0, 1.0), seed=seed),
    ]
    if webcam:
        steps += [
            layers.RandomGaussianBlur(factor=0.5, kernel_size=3, sigma=1.0,
                                      value_range=(0.0, 1.0), seed=seed),
            layers.GaussianNoise(0.03, seed=seed),
        ]
    augment = keras.Sequential(steps, name="augment")
    if keras.backend.backend() == "jax":
        # The geometric layers declare supports_jit=False because TensorFlow's kernel for them
        # lacks XLA; on JAX they are plain jax ops and jit well, and without XLA a JAX fit runs
        # op by op (measured ~100x slower on a GPU).
        for layer in augment.layers:
            layer.supports_jit = True
    return augment
