"""webapp/model/preprocess.py around a hand box: hand_square geometry, check_box,
preprocess(box=)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from webapp.model.preprocess import (
    HAND_MARGIN,
    FrameError,
    Square,
    check_box,
    guide_square,
    hand_square,
    preprocess,
)

H, W = 480, 640  # a webcam frame


# ---------------------------------------------------------------------------- hand_square


@pytest.mark.parametrize(
    ("box", "margin", "expected"),
    [
        # side = longer side x (1 + 2 margin), centred on the box.
        ([100, 100, 40, 80], 0.25, Square(60, 80, 120)),
        ([300, 200, 100, 50], 0.25, Square(275, 150, 150)),
        ([10, 20, 30, 50], 0.0, Square(0, 20, 50)),  # no margin: the longer side itself
        ([200, 100, 40, 40], 0.5, Square(180, 80, 80)),
        # At a corner, the square is shifted inward, its size kept.
        ([0, 0, 40, 40], 0.25, Square(0, 0, 60)),
        ([600, 440, 40, 40], 0.25, Square(580, 420, 60)),
        ([-30, 450, 50, 60], 0.25, Square(0, 390, 90)),  # partly outside the frame
        # Never larger than the frame's shorter side.
        ([0, 0, 640, 480], 0.25, Square(80, 0, 480)),
        ([0, 0, 10_000, 10_000], 0.25, Square(160, 0, 480)),
        ([5, 5, 0.1, 0.1], 0.25, Square(5, 5, 1)),  # never a zero-sized crop
    ],
)
def test_hand_square(box, margin, expected) -> None:
    assert hand_square(box, H, W, margin) == expected


def test_hand_square_default_margin_and_portrait_frames() -> None:
    assert HAND_MARGIN == 0.25
    assert hand_square([100, 100, 40, 80], H, W) == Square(60, 80, 120)
    # A portrait phone frame: the width is the shorter side.
    assert hand_square([0, 0, 480, 640], 640, 480) == Square(0, 80, 480)
    # Tuples and floats: centre (3, 4.5), round(2.5) = 2 (banker's rounding).
    assert hand_square((1.5, 2.5, 3.0, 4.0), 10, 10, 0.0) == Square(1, 2, 4)


def test_hand_square_stays_inside_and_covers_the_box() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        height, width = int(rng.integers(20, 800)), int(rng.integers(20, 800))
        w, h = rng.uniform(1, width), rng.uniform(1, height)
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        margin = float(rng.choice([0.0, 0.1, 0.25, 0.5]))
        sq = hand_square([x, y, w, h], height, width, margin)
        assert 1 <= sq.side <= min(height, width)
        assert 0 <= sq.x <= width - sq.side and 0 <= sq.y <= height - sq.side
        if max(w, h) * (1 + 2 * margin) <= min(height, width):  # room for the whole box
            assert sq.side >= round(max(w, h))
            assert sq.x <= x + 1 and sq.x + sq.side >= x + w - 1, (x, w, sq)
            assert sq.y <= y + 1 and sq.y + sq.side >= y + h - 1, (y, h, sq)


# ------------------------------------------------------------------------------ check_box


@pytest.mark.parametrize(
    ("box", "reason"),
    [
        ([1, 2, 3], "list of four numbers"),
        ([1, 2, 3, 4, 5], "list of four numbers"),
        ([], "list of four numbers"),
        (None, "list of four numbers"),
        ("1234", "list of four numbers"),
        ({"x": 1, "y": 2, "w": 3, "h": 4}, "list of four numbers"),
        ([True, 0, 10, 10], "must be numbers"),
        ([0, 0, False, 10], "must be numbers"),
        ([0, 0, "10", 10], "must be numbers"),
        ([0, None, 10, 10], "must be numbers"),
        ([math.nan, 0, 10, 10], "finite"),
        ([0, 0, math.inf, 10], "finite"),
        ([0, -math.inf, 10, 10], "finite"),
        ([0, 0, 0, 10], "positive"),
        ([0, 0, 10, 0], "positive"),
        ([50, 50, -10, 20], "positive"),
        ([50, 50, 20, -1e-9], "positive"),
        ([640, 0, 10, 10], "outside the 640x480 frame"),
        ([0, 480, 10, 10], "outside the 640x480 frame"),
        ([-10, 0, 10, 10], "outside the 640x480 frame"),  # ends exactly at the left edge
        ([0, -20, 10, 20], "outside the 640x480 frame"),
        ([1e6, 1e6, 5, 5], "outside the 640x480 frame"),
    ],
)
def test_check_box_rejects(box, reason) -> None:
    with pytest.raises(FrameError) as info:
        check_box(box, H, W)
    assert info.value.code == "bad_box"
    assert reason in info.value.message, info.value.message
    with pytest.raises(FrameError, match=reason) as again:  # and so does the crop itself
        hand_square(box, H, W)
    assert again.value.code == "bad_box"


def test_check_box_accepts_any_overlap() -> None:
    assert check_box([1, 2, 3, 4], H, W) == (1.0, 2.0, 3.0, 4.0)
    assert check_box((639, 479, 10, 10), H, W) == (639.0, 479.0, 10.0, 10.0)  # one pixel in
    assert check_box([-9.5, -9.5, 10, 10], H, W) == (-9.5, -9.5, 10.0, 10.0)
    assert all(isinstance(v, float) for v in check_box([1, 2, 3, 4], H, W))


# ------------------------------------------------------------------------- preprocess(box)


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def test_preprocess_crops_around_the_box() -> None:
    """A dark frame whose hand square (and only it) holds a bright left/right pattern: the
    box crop sees exactly the pattern, the guide square sees none of it."""
    box = [20, 30, 60, 60]
    sq = hand_square(box, H, W)
    assert sq == Square(5, 15, 90)
    frame = np.zeros((H, W), np.uint8)
    frame[sq.y : sq.y + sq.side, sq.x : sq.x + sq.side // 2] = 255
    frame[sq.y : sq.y + sq.side, sq.x + sq.side // 2 : sq.x + sq.side] = 100
    guide = guide_square(H, W)
    assert sq.x + sq.side <= guide.x  # the pattern lies wholly outside the guide square

    for frame_input in (_png(frame), frame, cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)):
        hand = preprocess(frame_input, box=box)
        assert hand.shape == (28, 28, 1) and hand.dtype == np.float32
        np.testing.assert_allclose(hand[:, :14, 0], 1.0)
        np.testing.assert_allclose(hand[:, 14:, 0], 100 / 255, atol=1e-6)
        plain = preprocess(frame_input)
        assert plain.max() == 0.0  # the guide square: only the dark background

    # Exactly the crop-gray-resize of that square, at any input size.
    expected = cv2.resize(frame[15:105, 5:95], (48, 48), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(preprocess(_png(frame), size=48, box=box)[..., 0],
                               expected / 255.0, atol=1e-6)
    # crop_fraction is the guide square's; a box ignores it.
    np.testing.assert_array_equal(preprocess(frame, 0.3, box=box), preprocess(frame, box=box))


def test_preprocess_with_a_box_at_the_corner_and_a_bad_box() -> None:
    frame = np.full((H, W), 40, np.uint8)
    frame[420:, 580:] = 220  # the bottom-right 60x60 corner
    corner = preprocess(frame, box=[600, 440, 40, 40])  # square shifted to (580, 420, 60)
    np.testing.assert_allclose(corner, 220 / 255, atol=1e-6)
    with pytest.raises(FrameError) as info:
        preprocess(frame, box=[700, 0, 10, 10])
    assert info.value.code == "bad_box"
    with pytest.raises(FrameError) as info:
        preprocess(_png(frame), box=[0, 0, math.nan, 10])
    assert info.value.code == "bad_box"
