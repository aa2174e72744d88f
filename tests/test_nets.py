"""The three architectures build, give softmax rows over 24 letters, and have the intended shape."""

from __future__ import annotations

import numpy as np
import pytest

from webapp.model import nets
from webapp.model.letters import NUM_CLASSES


def _blocks(model) -> list[str]:
    return [layer.name for layer in model.layers if layer.name.endswith("_add")]


@pytest.mark.parametrize("arch", ["cnn", "resnet"])
def test_small_nets_give_softmax_rows(arch):
    model = nets.build_model(arch)
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    probs = np.asarray(model(x, training=False))
    assert probs.shape == (4, NUM_CLASSES)
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_compact_resnet_is_small_and_residual():
    model = nets.build_model("resnet")
    assert model.input_shape == (None, 28, 28, 1)
    assert len(_blocks(model)) == sum(blocks for _, blocks, _ in nets.COMPACT_STAGES) == 6
    assert model.count_params() < 1_500_000  # ~0.7M: a ~3 MB file
    # CIFAR style: no stem downsampling, two stride-2 stages: 28 -> 14 -> 7.
    assert model.get_layer("stage3_block2_out").output.shape[1:3] == (7, 7)


def test_resnet50_is_the_classic_bottleneck_net():
    model = nets.build_model("resnet50")
    assert len(_blocks(model)) == 16  # [3, 4, 6, 3]
    projections = [layer.name for layer in model.layers if layer.name.endswith("_0_conv")]
    assert projections == [f"stage{s}_block1_0_conv" for s in (1, 2, 3, 4)]
    assert model.get_layer("conv1_conv").kernel_size == (7, 7)
    assert model.get_layer("conv1_conv").strides == (2, 2)
    assert model.get_layer("stage4_block3_3_conv").filters == 2048
    assert 23_400_000 < model.count_params() < 23_800_000  # ResNet-50: ~23.6M with a 24-way head
    probs = np.asarray(model(np.zeros((2, 28, 28, 1), np.float32), training=False))
    assert probs.shape == (2, NUM_CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_other_input_sizes_build():
    model = nets.build_model("resnet", input_size=32)
    assert model.input_shape == (None, 32, 32, 1)


@pytest.mark.parametrize("arch, size", [("vgg", 28), ("", 28), ("resnet", 4), ("cnn", 10_000)])
def test_bad_arguments_are_refused(arch, size):
    with pytest.raises(ValueError):
        nets.build_model(arch, input_size=size)


def test_block_needs_two_or_three_filter_counts():
    import keras

    with pytest.raises(ValueError, match="2 \\(basic\\) or 3 \\(bottleneck\\)"):
        nets.residual_block(keras.Input((8, 8, 4)), (4,))


def test_augmentation_changes_training_inputs_only_and_stays_in_range():
    augment = nets.augmentation(seed=1)
    x = np.random.default_rng(1).random((8, 28, 28, 1), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(augment(x, training=False)), x)
    out = np.asarray(augment(x, training=True))
    assert out.shape == x.shape
    assert not np.allclose(out, x)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not any("flip" in layer.name for layer in augment.layers)
