"""The motion reader: how a track is fed (TrackSpec), a reader trained here on tracks made
here (J-like and Z-like paths, held I and pointing hands, mirrored, at 3 to 30 frames a
second), the decoder's motion letters, `signlive motion`, and the shipped reader on the
held-out people's real recordings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from trackkit import held_out_tracks, made_tracks, stroke

from webapp import cli
from webapp.config import DEFAULT_MODELS_DIR
from webapp.model.registry import ModelError, load_model_file, load_motion_file
from webapp.model.track import MIN_HAND_FRAMES, TrackError, TrackSpec, best_window
from webapp.serve.decoder import StreamDecoder
from webapp.train.motion import MOTION_SPLIT, MotionConfig, fit_reader

SPEC = TrackSpec()
SHIPPED = DEFAULT_MODELS_DIR / "motion.keras"

# --- how a track is fed -------------------------------------------------------------------

def test_read_forgets_where_the_hand_is_and_how_big_but_keeps_the_path():
    rng = np.random.default_rng(0)
    track = stroke("Z", 20, rng)
    times = np.arange(20) / 30
    moved = track.copy()
    moved[..., :2] = (moved[..., :2] - 0.5) * 1.5 + [0.6, 0.4]
    np.testing.assert_allclose(SPEC.read(track, times), SPEC.read(moved, times), atol=1e-4)
    assert SPEC.read(track, times).shape == SPEC.shape == (16, 42)
    assert not np.allclose(SPEC.read(track, times), SPEC.read(stroke("I", 20, rng), times))


def test_read_resamples_by_time_so_the_frame_rate_does_not_matter():
    track = stroke("J", 61, np.random.default_rng(1))
    fast = SPEC.read(track, np.arange(61) / 60)
    for step in (2, 4, 6):  # 30, 15 and 10 frames a second of the same stroke
        np.testing.assert_allclose(SPEC.read(track[::step], np.arange(61)[::step] / 60), fast,
                                   atol=0.05)


def test_frames_without_a_hand_are_left_out_and_too_few_read_nothing():
    track = stroke("Z", 20, np.random.default_rng(2))
    times = np.arange(20) / 20
    holed = track.copy()
    holed[5:8] = 0  # the locator lost the hand for three frames
    assert np.abs(SPEC.read(holed, times) - SPEC.read(track, times)).max() < 0.5
    empty = np.zeros_like(track)
    empty[:MIN_HAND_FRAMES - 1] = track[:MIN_HAND_FRAMES - 1]
    assert SPEC.read(empty, times) is None


@pytest.mark.parametrize("track, times, why", [
    (np.zeros((5, 20, 3)), np.arange(5.0), "21, 3"),
    (np.zeros((5, 21, 3)), np.arange(4.0), "4 timestamps for 5 frames"),
    (np.full((5, 21, 3), np.nan), np.arange(5.0), "not finite"),
    (np.ones((5, 21, 3)), np.array([0, 1, 2, 1, 3.0]), "go backwards"),
])
def test_bad_tracks_are_refused_with_a_reason(track, times, why):
    with pytest.raises(TrackError, match=why):
        SPEC.read(track, times)


@pytest.mark.parametrize("changes, why", [
    ({"steps": 2}, "steps"), ({"window_s": 0.0}, "window_s"), ({"threshold": 1.0}, "threshold"),
    ({"letters": ("J",)}, "letters"), ({"features": "other"}, "features"),
])
def test_a_spec_checks_every_bound(changes, why):
    with pytest.raises(TrackError, match=why):
        TrackSpec(**changes)
    assert TrackSpec.from_metadata(SPEC.to_metadata()) == SPEC
    with pytest.raises(TrackError, match="not a motion model"):
        TrackSpec.from_metadata({"input_size": 56})


# --- a reader trained here ------------------------------------------------------------------

@pytest.fixture(scope="module")
def reader():
    """A motion reader trained in seconds on made-up strokes, as train-motion trains."""
    config = MotionConfig(epochs=8, copies=4, transitions=200, seed=0)
    model, _, _, _ = fit_reader(made_tracks(60, 0), None, SPEC, config, progress=lambda _: None)
    return lambda windows: np.asarray(model(windows, training=False))


@pytest.mark.parametrize("fps", [3, 10, 30])
@pytest.mark.parametrize("mirrored", [False, True])
def test_the_reader_reads_j_and_z_and_not_held_hands(reader, fps, mirrored):
    rng = np.random.default_rng(100 + fps)
    right = 0
    for kind, expected in (("J", "J"), ("Z", "Z"), ("I", None), ("D", None)) * 5:
        track = stroke(kind, 31, rng, mirrored)  # one second of drawing
        keep = np.arange(0, 31, max(1, round(30 / fps)))
        letter, _ = best_window(reader, SPEC, track[keep], keep / 30)
        right += letter == expected
    assert right >= 18  # of 20


def test_a_longer_track_is_read_window_by_window(reader):
    """Three seconds: the I held, a J drawn from it, the hand held where the J ended."""
    j = stroke("J", 30, np.random.default_rng(5))
    track = np.concatenate([np.repeat(j[:1], 30, 0), j, np.repeat(j[-1:], 30, 0)])
    letter, confidence = best_window(reader, SPEC, track, np.arange(len(track)) / 30)
    assert letter == "J" and confidence >= SPEC.threshold
    held = np.repeat(j[:1], 60, 0)
    assert best_window(reader, SPEC, held, np.arange(60) / 30)[0] is None


# --- the decoder's motion letters ----------------------------------------------------------

def probs(letter: str) -> np.ndarray:
    from webapp.model.letters import letter_to_class

    p = np.full(24, 0.001)
    p[letter_to_class(letter)] = 1.0
    return p / p.sum()


def test_a_motion_letter_takes_back_its_handshape_and_commits_once():
    decoder = StreamDecoder()
    box = (100, 100, 80, 80)
    steps = [decoder.update(k / 10, probs("I"), box) for k in range(4)]  # I commits at 0.2 s
    assert [s.committed for s in steps if s.committed] == [("I",)]
    j = decoder.update(0.5, probs("I"), box, motion="J")
    assert j.committed == ("J",) and j.retract == 1 and j.reading == "J"
    again = decoder.update(0.6, probs("I"), box, motion="J")  # the same stroke, still seen
    assert again.committed == () and again.retract == 0
    quiet = [decoder.update(0.6 + k / 10, probs("I"), box).committed for k in range(1, 8)]
    assert not any(quiet)  # the hand finishing the stroke writes no I
    assert "".join(letter.letter for letter in decoder.word) == "J"
    later = decoder.update(3.0, probs("A"), box)
    assert later.committed == () and decoder.update(3.3, probs("A"), box).committed == ("A",)


def test_a_letter_held_long_before_the_stroke_stays():
    decoder = StreamDecoder()
    box = (100, 100, 80, 80)
    for k in range(4):
        decoder.update(k / 10, probs("H"), box)
    step = decoder.update(2.0, probs("I"), box, motion="Z")
    assert step.committed == ("Z",) and step.retract == 0
    assert [letter.letter for letter in decoder.word] == ["H", "Z"]


# --- the command and the shipped reader -----------------------------------------------------

def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_signlive_motion_reads_files_of_tracks(tmp_path, capsys):
    rng = np.random.default_rng(7)
    one = tmp_path / "one.npy"
    np.save(one, stroke("I", 30, rng))
    many = tmp_path / "many.npz"
    np.savez(many, tracks=np.stack([stroke("I", 30, rng), stroke("D", 30, rng)]))
    code, out, err = run(capsys, "motion", "--fps", "30", one, many)
    assert code == 0, err
    lines = [line.split("\t") for line in out.splitlines()]
    assert [line[0] for line in lines] == [f"{one}[0]", f"{many}[0]", f"{many}[1]"]
    assert all(line[1] in ("J", "Z", "-") and 0 <= float(line[2]) <= 1 for line in lines)
    code, out, _ = run(capsys, "motion", "--json", one)
    row = json.loads(out)
    assert set(row) == {"path", "index", "letter", "confidence"} and row["index"] == 0
    assert row["letter"] in ("J", "Z", None)


def test_signlive_motion_names_each_bad_file_and_reads_the_rest(tmp_path, capsys):
    good = tmp_path / "good.npy"
    np.save(good, stroke("I", 20, np.random.default_rng(8)))
    cases = {"text.txt": (b"hello", "expected a .npy or .npz"),
             "shape.npy": (None, "expected (N, T, 21, 3)"),
             "key.npz": (None, "no `tracks` array"),
             "broken.npy": (b"\x93NUMPY garbage", "cannot read it")}
    np.save(tmp_path / "shape.npy", np.zeros((4, 20, 2)))
    np.savez(tmp_path / "key.npz", other=np.zeros((20, 21, 3)))
    for name, (data, _) in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    code, out, err = run(capsys, "motion", *[tmp_path / n for n in cases], good)
    assert code == 1 and out.startswith(f"{good}[0]\t")
    for name, (_, why) in cases.items():
        assert f"{tmp_path / name}: " in err and why in err
    assert run(capsys, "motion", "--fps", "0", good)[0] == 2
    assert run(capsys, "motion", "--model", DEFAULT_MODELS_DIR / "default.keras", good)[0] == 2


def test_the_shipped_reader_and_the_letter_models_are_told_apart():
    loaded = load_motion_file(SHIPPED)
    assert loaded.spec == TrackSpec.from_metadata(loaded.metadata)
    assert loaded.metadata["split"] == MOTION_SPLIT.name
    with pytest.raises(ModelError, match="not a letter model"):
        load_model_file(SHIPPED)
    with pytest.raises(ModelError, match="not a motion model"):
        load_motion_file(DEFAULT_MODELS_DIR / "default.keras")


@pytest.fixture(scope="module")
def held_out():
    return held_out_tracks()


def test_the_shipped_reader_reads_the_held_out_peoples_j_and_z(held_out, tmp_path, capsys):
    """Real recordings of people the reader never saw, through `signlive motion`."""
    for letter in ("J", "Z"):
        picked = [t for t, label in zip(held_out.tracks, held_out.labels, strict=True)
                  if label == letter][:10]
        path = tmp_path / f"{letter}.npy"
        np.save(path, np.stack(picked) if len({len(t) for t in picked}) == 1 else picked[0])
        code, out, _ = run(capsys, "motion", "--fps", "20", path)
        found = [line.split("\t")[1] for line in out.splitlines()]
        assert code == 0 and found.count(letter) >= 0.8 * len(found)


def test_a_drifting_hand_slides_and_turns_but_keeps_its_shape_and_its_gaps():
    from webapp.train.motion import drifted

    track = stroke("D", 20, np.random.default_rng(9))
    track[7] = 0  # no hand in one frame
    moved = drifted(track, np.random.default_rng(3), amount=0.5)
    assert not moved[7].any() and moved.shape == track.shape
    assert np.abs(moved[-1, 0, :2] - track[-1, 0, :2]).max() > 1e-3  # it slid
    sizes = [np.linalg.norm(t[:, :2] - t[:1, :2], axis=1).max() for t in (track[0], moved[-1])]
    assert sizes[1] == pytest.approx(sizes[0], rel=1e-4)  # the same hand, only moved


def test_made_up_spelling_shows_each_letter_and_jumps_no_further_than_asked():
    """train.motion.spelled: a second of spelling D, I, D (the negatives a reader learns that a
    hand moving between letters is no Z): each letter's shape is there, the blends are short,
    and the hand lands at most `jump` hand sizes off where the wrists would meet."""
    from webapp.model.track import hand_size
    from webapp.train.motion import spelled

    rng = np.random.default_rng(5)
    letters = [stroke(kind, 20, rng) for kind in ("D", "I", "D")]
    still = spelled(letters, np.random.default_rng(0))
    size = hand_size(letters[0])
    wrist_steps = np.linalg.norm(np.diff(still[:, 0, :2], axis=0), axis=1)
    assert still.dtype == np.float32 and still.shape[1:] == (21, 3)
    assert wrist_steps.max() < 0.2 * size  # the wrists meet: the hand does not jump
    for jump in (0.5, 1.5):
        for seed in range(10):
            moved = spelled(letters, np.random.default_rng(seed), jump=jump)
            steps = np.linalg.norm(np.diff(moved[:, 0, :2], axis=0), axis=1).sum()
            assert steps <= wrist_steps.sum() + 2 * jump * size + 1e-6
    # Each letter's shape: the index fingertip is the hand's farthest point in a D, not in an I.
    spread = np.linalg.norm(still[:, :, :2] - still[:, :1, :2], axis=2)
    reach = spread[:, 8] / spread.max(axis=1)
    assert reach[0] > 0.99 and reach.min() < 0.6 and reach[-1] > 0.99


def test_readers_from_several_seeds_are_averaged_in_one_file(tmp_path):
    """nets.average_readers: one model whose answer is the mean of its readers', saved and
    loaded as a motion reader like any other."""
    from webapp.model import nets
    from webapp.model.registry import Registry

    readers = [nets.build_motion_reader(*SPEC.shape, len(SPEC.answers)) for _ in range(3)]
    model = nets.average_readers(readers)
    windows = np.random.default_rng(0).normal(size=(4, *SPEC.shape)).astype(np.float32)
    each = np.stack([np.asarray(r(windows, training=False)) for r in readers])
    assert np.allclose(np.asarray(model(windows, training=False)), each.mean(axis=0), atol=1e-6)
    Registry(tmp_path).save(model, "three", {**SPEC.to_metadata(), "members": 3})
    loaded = load_motion_file(tmp_path / "three.keras")
    assert np.allclose(np.asarray(loaded.model(windows, training=False)), each.mean(axis=0),
                       atol=1e-6)


def test_a_motion_letter_needs_its_fingertip_to_draw_a_stroke():
    """A pointing hand slid for a double letter (0.6 hand sizes) is no Z, however sure the
    reader is; the same hand drawing a Z is."""
    rng = np.random.default_rng(11)
    times = np.arange(30) / 30
    slid = stroke("D", 30, rng)
    slid[..., 0] += np.linspace(0, 0.6 * 0.12, 30)[:, None]  # the hand is about 0.12 wide
    drawn = stroke("Z", 30, rng)
    windows = np.stack([SPEC.read(slid, times), SPEC.read(drawn, times)])
    sure_z = np.array([[0.01, 0.01, 0.98]] * 2)
    assert SPEC.stroke(windows, "Z")[0] < SPEC.min_stroke <= SPEC.stroke(windows, "Z")[1]
    assert list(SPEC.decide(sure_z, windows)) == [0, 2]
    assert SPEC.answer(sure_z[1], windows[1]) == ("Z", pytest.approx(0.98))
    assert SPEC.answer(sure_z[0], windows[0]) == (None, pytest.approx(0.01))


def test_a_z_must_turn_its_corners():
    """A pointing hand sliding a long way (a double letter, the hand moving on) draws a long
    stroke but turns no corner: no Z. The Z drawn in the test turns twice."""
    rng = np.random.default_rng(12)
    times = np.arange(30) / 30
    slid = stroke("D", 30, rng)
    slid[..., :2] += np.linspace(0, 0.12 * 1.5, 30)[:, None, None] * np.array([1.0, 0.4])
    drawn = stroke("Z", 30, rng)
    windows = np.stack([SPEC.read(slid, times), SPEC.read(drawn, times)])
    turns = SPEC.turning(windows, "Z")
    assert turns[0] < SPEC.min_turns[1] <= turns[1]
    assert SPEC.stroke(windows, "Z")[0] >= SPEC.min_stroke  # long enough, but not a Z
    assert list(SPEC.decide(np.array([[0.01, 0.01, 0.98]] * 2), windows)) == [0, 2]
