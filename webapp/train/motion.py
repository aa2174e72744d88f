"""The motion reader's data and training: J and Z against everything else, by person.

The data is ../shared/motion (README there): MediaPipe landmark tracks of J, Z, the static
letters and some word signs by about seven people, in three .npz files. Photos of one person
share a hand and a habit, so the split is by person (MOTION_SPLIT): the held-out people are
never trained on and never used to choose anything; the validation person chooses the epoch.

Every track is read through the model's TrackSpec, as the live server reads a window. In
training each track is shown several times, changed the ways a live window differs from a
clean recording: mirrored (sources differ in whether the camera was mirrored), cut short or
padded with the hand held still (the window holds some of the letters around it), slowed or
hurried, with frames dropped (3 to 30 frames a second), squeezed sideways (cameras' aspect).
Besides the static letters and the word signs, made-up seconds of spelling (the hand going
through two or three static letters, or a double letter's slide, sometimes jumping between
them) are negatives too: a hand moving between letters is no J and no Z.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from webapp import config as app_config
from webapp.files import DataError, file_sha256
from webapp.model.registry import Registry
from webapp.model.track import MOTION_LETTERS, TrackError, TrackSpec, hand_size

RECORDED_FPS = 20.0  # the recordings carry no timestamps; roughly 10-30 (README): take 20


@dataclass(frozen=True)
class MotionSplit:
    """Which people of ../shared/motion a run may see (a changed list is a new version)."""

    name: str
    held_out: frozenset[str]
    validation: frozenset[str]

    def role(self, signer: str) -> str:
        if signer in self.held_out:
            return "held_out"
        return "validation" if signer in self.validation else "train"


# traduttore's `danial` block and a whole source (creepyvampire, one person) are held out;
# traduttore's `alex` (J and Z both) validates; cam, the two unnamed blocks and tresajoby train.
MOTION_SPLIT = MotionSplit("motion-v1", held_out=frozenset({"danial", "creepyvampire"}),
                           validation=frozenset({"alex"}))


@dataclass
class Tracks:
    """Recordings: each a (T, 21, 3) array (T differs by source), with who signed what."""

    tracks: list[np.ndarray]
    labels: np.ndarray  # "A".."Z" or "other:<sign>"
    signers: np.ndarray
    sources: np.ndarray
    sha256: str = ""

    def __len__(self) -> int:
        return len(self.tracks)

    def subset(self, mask: np.ndarray) -> Tracks:
        keep = np.flatnonzero(mask)
        return Tracks([self.tracks[i] for i in keep], self.labels[keep], self.signers[keep],
                      self.sources[keep], self.sha256)


def load_tracks(folder: str | os.PathLike) -> Tracks:
    """Every .npz of `folder` (`tracks`, `label`, `signer` arrays, see its README)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no .npz track files (expected ../shared/motion)")
    tracks: list[np.ndarray] = []
    labels, signers, sources, digests = [], [], [], []
    for path in files:
        try:
            with np.load(path, allow_pickle=False) as data:
                array = np.asarray(data["tracks"], np.float32)
                label = np.asarray(data["label"]).astype(str)
                signer = np.asarray(data["signer"]).astype(str)
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{path}: not a track file ({exc})") from None
        if array.ndim != 4 or array.shape[2:] != (21, 3) or not (
                len(label) == len(signer) == len(array)):
            raise DataError(f"{path}: tracks {array.shape}, {len(label)} labels, "
                            f"{len(signer)} signers do not match (N, T, 21, 3)")
        tracks.extend(array)
        labels.extend(label)
        signers.extend(signer)
        sources.extend([path.stem] * len(array))
        digests.append(f"{path.name}:{file_sha256(path)}")
    return Tracks(tracks, np.array(labels), np.array(signers), np.array(sources),
                  hashlib.sha256("\n".join(digests).encode()).hexdigest())


def targets(labels: Sequence[str], spec: TrackSpec) -> np.ndarray:
    """0 for no motion letter, 1 + the letter's index in spec.letters for J and Z."""
    index = {letter: i + 1 for i, letter in enumerate(spec.letters)}
    return np.array([index.get(str(label), 0) for label in labels], np.int32)


def recording_times(track: np.ndarray, fps: float = RECORDED_FPS) -> np.ndarray:
    return np.arange(len(track), dtype=np.float64) / fps


def drifted(track: np.ndarray, rng: np.random.Generator, amount: float = 0.4) -> np.ndarray:
    """The track with the slow drift of a hand held in the air: the whole hand sliding up to
    `amount` of its size in a straight line, and turning a little, over the recording (a
    held X or L that drifts must not read as a Z)."""
    hand = np.any(track != 0, axis=(1, 2))
    if hand.sum() < 2:
        return track
    size = hand_size(track)
    u = np.linspace(0, 1, len(track))[:, None, None]
    shift = rng.normal(0, 1, 2) * amount * size
    turn = rng.normal(0, 0.1) * u
    wrist = track[hand][:, 0, :2].mean(axis=0)
    xy = track[..., :2] - wrist
    c, s = np.cos(turn), np.sin(turn)
    xy = np.stack([c[..., 0] * xy[..., 0] - s[..., 0] * xy[..., 1],
                   s[..., 0] * xy[..., 0] + c[..., 0] * xy[..., 1]], axis=-1)
    moved = track.copy()
    moved[..., :2] = xy + wrist + shift * u
    return np.where(hand[:, None, None], moved, 0).astype(np.float32)


def varied(track: np.ndarray, rng: np.random.Generator,
           drift: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One live-like variant of a recording: (track, timestamps); with `drift`, half of them
    drift as a held hand does (drifted)."""
    track = track.copy()
    if drift and rng.random() < 0.5:  # up to a double letter's slide (0.6 hand sizes) and more
        track = drifted(track, rng, amount=rng.uniform(0.1, 1.0))
    present = np.flatnonzero(np.any(track != 0, axis=(1, 2)))
    if len(present):
        track = track[present[0]:present[-1] + 1]
    if rng.random() < 0.5:  # mirrored camera
        hand = np.any(track != 0, axis=2, keepdims=True)
        track[..., 0] = np.where(hand[..., 0], 1.0 - track[..., 0], 0.0)
    n = len(track)
    if n > 6 and rng.random() < 0.5:  # the window caught part of it
        cut = rng.integers(0, max(1, n // 7) + 1, size=2)
        track = track[cut[0]:n - cut[1]]
    if rng.random() < 0.5:  # the hand held still before or after
        before, after = rng.integers(0, len(track) // 2 + 1, size=2)
        track = np.concatenate([np.repeat(track[:1], before, 0), track,
                                np.repeat(track[-1:], after, 0)])
    track = track * np.array([rng.uniform(0.85, 1.15), 1.0, 1.0], np.float32)
    track = track + rng.normal(0, 0.002, track.shape).astype(np.float32) * (track != 0)
    fps = RECORDED_FPS * rng.uniform(0.6, 1.6)  # slower or faster signers
    times = np.arange(len(track)) / fps
    keep = rng.random(len(track)) < rng.uniform(0.4, 1.0)  # a slower page drops frames
    keep[[0, -1]] = True
    return track[keep], times[keep]


def spelled(letters: Sequence[np.ndarray], rng: np.random.Generator,
            jump: float = 0.0) -> np.ndarray:
    """A hand spelling `letters` one after another, as a second of fingerspelling at 2-4 letters
    a second shows: part of each held letter, a few frames of blend between them, each next
    letter moved so the wrists meet and then, by up to `jump` hand sizes, somewhere else (the
    arm moving along, or the tracker finding the hand again a little off)."""
    holds = [t[np.any(t != 0, axis=(1, 2))] for t in letters]
    holds = [h for h in holds if len(h) >= 2]
    if not holds:
        return np.concatenate(list(letters))
    size = hand_size(holds[0])
    parts = [holds[0][len(holds[0]) // 2:]]
    for hold in holds[1:]:
        last = parts[-1][-1]
        offset = last[0] - hold[0, 0]
        if jump > 0:
            angle = rng.uniform(0, 2 * np.pi)
            offset[:2] += rng.uniform(0, jump) * size * np.array([np.cos(angle), np.sin(angle)])
        hold = hold + offset * np.array([1.0, 1.0, 0.0], np.float32)
        steps = int(rng.integers(1, 6))
        parts.append(np.stack([last + (hold[0] - last) * (k / (steps + 1))
                               for k in range(1, steps + 1)]))
        parts.append(hold[: int(rng.integers(2, max(3, len(hold) // 2 + 1)))])
    return np.concatenate(parts).astype(np.float32)


def spelled_static(data: Tracks, static: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A made-up second of one person spelling 2 or 3 static letters (spelled): different
    letters, or one letter twice (a double letter's slide); half of them with the hand jumping
    0.3-1.5 hand sizes between letters."""
    first = int(rng.choice(static))
    mine = static[data.signers[static] == data.signers[first]]
    chosen = [first]
    for _ in range(int(rng.integers(1, 3))):
        if rng.random() < 0.2:  # a double letter: another recording of the same letter
            pool = mine[data.labels[mine] == data.labels[chosen[-1]]]
        else:
            pool = mine[data.labels[mine] != data.labels[chosen[-1]]]
        if len(pool):
            chosen.append(int(rng.choice(pool)))
    jump = rng.uniform(0.3, 1.5) if rng.random() < 0.5 else 0.0
    return spelled([data.tracks[i] for i in chosen], rng, jump)


def example_set(data: Tracks, spec: TrackSpec, rng: np.random.Generator, copies: int,
                transitions: int, drift: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Training examples: every track `copies` times varied (`drift`: half of them drifting),
    plus `transitions` made-up seconds of one person spelling static letters (spelled_static)."""
    y_all = targets(data.labels, spec)
    xs, ys = [], []
    for _ in range(copies):
        for track, y in zip(data.tracks, y_all, strict=True):
            read = spec.read(*varied(track, rng, drift))
            if read is not None:
                xs.append(read)
                ys.append(y)
    static = np.flatnonzero([len(label) == 1 and label not in MOTION_LETTERS
                             for label in data.labels])
    for _ in range(transitions if len(static) > 1 else 0):
        read = spec.read(*varied(spelled_static(data, static, rng), rng))
        if read is not None:
            xs.append(read)
            ys.append(0)
    return np.stack(xs), np.array(ys, np.int32)


def read_as_recorded(data: Tracks, spec: TrackSpec,
                     fps: float = RECORDED_FPS) -> tuple[np.ndarray, np.ndarray]:
    """Each recording read once, whole, unchanged: (features, valid mask)."""
    reads = [spec.read(track, recording_times(track, fps)) for track in data.tracks]
    valid = np.array([r is not None for r in reads], bool)
    shape = spec.shape
    if not reads:
        return np.zeros((0, *shape), np.float32), valid
    return np.stack([r if r is not None else np.zeros(shape, np.float32) for r in reads]), valid


@dataclass
class MotionConfig:
    """One motion-reader run (`signlive train-motion`)."""

    data_dir: str | None = None  # default: ../shared/motion
    models_dir: str | None = None
    name: str = "motion"
    epochs: int = 40
    copies: int = 6  # varied showings of each training track
    transitions: int = 3000
    batch_size: int = 128
    learning_rate: float = 2e-3
    seed: int = 0
    # Readers trained alike from seeds seed, seed + 1, ... and averaged (nets.average_readers):
    # one reader's false Zs depend on its seed (docs/RESULTS.md, "J and Z").
    members: int = 3
    weight_power: float = 1.0  # class weights (share)^-power: 1 balanced, 0 none
    drift: bool = True  # half the training tracks drift or slide as a held hand does (drifted)
    steps: int = field(default=TrackSpec.steps)
    window_s: float = field(default=TrackSpec.window_s)
    threshold: float = field(default=TrackSpec.threshold)
    min_stroke: float = field(default=TrackSpec.min_stroke)

    def spec(self) -> TrackSpec:
        return TrackSpec(self.steps, float(self.window_s), float(self.threshold),
                         float(self.min_stroke))

    def validate(self) -> MotionConfig:
        for name, low, high in (("epochs", 1, 500), ("copies", 1, 100), ("members", 1, 10),
                                ("transitions", 0, 1_000_000), ("batch_size", 8, 4096),
                                ("seed", 0, 2**31 - 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
        if not 0 < float(self.learning_rate) <= 1:
            raise ValueError(f"learning_rate must be in (0, 1], got {self.learning_rate!r}")
        if not 0 <= float(self.weight_power) <= 2:
            raise ValueError(f"weight_power must be in [0, 2], got {self.weight_power!r}")
        try:
            self.spec()
        except TrackError as exc:
            raise ValueError(str(exc)) from None
        return self


def per_person(data: Tracks, predicted: np.ndarray, spec: TrackSpec) -> dict:
    """{person: {"J": [found, n], "Z": [...], "static": [false J/Z, n], "other": [...]}}:
    recall of each motion letter, and motion letters read on static letters and word signs."""
    truth = targets(data.labels, spec)
    rows: dict[str, dict] = {}
    for person in sorted(set(data.signers)):
        mine = data.signers == person
        row = {}
        for k, letter in enumerate(spec.letters, start=1):
            sel = mine & (truth == k)
            row[letter] = [int((predicted[sel] == k).sum()), int(sel.sum())]
        for kind, sel in (("static", mine & (truth == 0) & (np.char.str_len(data.labels) == 1)),
                          ("other", mine & (truth == 0) & (np.char.str_len(data.labels) > 1))):
            row[kind] = [int((predicted[sel] > 0).sum()), int(sel.sum())]
        rows[person] = row
    return rows


def fit_reader(train: Tracks, val: Tracks | None, spec: TrackSpec, config: MotionConfig,
               progress: Callable[[str], None] = print):
    """A motion reader trained on `train` (varied, with made-up transitions); with `val`, the
    weights of the epoch that reads it best (_balanced), else the last epoch's. Returns
    (model, history, best epoch)."""
    import keras

    from webapp.model import nets  # deferred: it loads Keras

    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    x, y = example_set(train, spec, rng, config.copies, config.transitions, config.drift)
    counts = np.bincount(y, minlength=len(spec.answers))
    # Rarer classes weigh more, by (share)^-weight_power: 1 balances them fully.
    weights = {k: (len(y) / (len(counts) * max(1, c))) ** config.weight_power
               for k, c in enumerate(counts)}
    shown = ", ".join(f"{answer or 'none'} {count:,}"
                      for answer, count in zip(spec.answers, counts, strict=True))
    progress(f"{len(x):,} training windows ({shown}) from {len(train):,} recordings of "
             f"{len(set(train.signers))} people")
    if val is not None:
        x_val, valid_val = read_as_recorded(val, spec)
        y_val = targets(val.labels, spec)
    model = nets.build_motion_reader(*spec.shape, len(spec.answers))
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    best, best_weights, history = -1.0, None, []
    for epoch in range(1, config.epochs + 1):
        fitted = model.fit(x, y, batch_size=config.batch_size, epochs=1, shuffle=True,
                           class_weight=weights, verbose=0)
        row = {"epoch": epoch, "loss": float(fitted.history["loss"][-1])}
        if val is not None:
            predicted = decisions(model, x_val, valid_val, spec)
            row["val_score"] = _balanced(y_val, predicted, len(spec.letters))
            if row["val_score"] > best:
                best, best_weights = row["val_score"], model.get_weights()
        history.append(row)
        progress(f"epoch {epoch}/{config.epochs}: loss {row['loss']:.4f}"
                 + (f", validation score {row['val_score']:.4f}" if val is not None else ""))
    if best_weights is not None:
        model.set_weights(best_weights)
    best_epoch = (max(history, key=lambda r: r["val_score"])["epoch"] if val is not None
                  else config.epochs)
    return model, history, best_epoch, {a or "none": int(c) for a, c in
                                        zip(spec.answers, counts, strict=True)}


def decisions(model, x: np.ndarray, valid: np.ndarray, spec: TrackSpec) -> np.ndarray:
    """What the reader decides on read windows (TrackSpec.decide), 0 where none was read."""
    return np.where(valid, spec.decide(model.predict(x, verbose=0), x), 0)


def score_people(model, data: Tracks, spec: TrackSpec) -> dict:
    """per_person() of `data`, each recording read whole, as recorded."""
    x, valid = read_as_recorded(data, spec)
    return per_person(data, decisions(model, x, valid, spec), spec)


def train_motion(config: MotionConfig, progress: Callable[[str], None] = print) -> dict:
    """Train on the split's training people, keep the epoch the validation person reads best,
    save with the held-out people's figures (scored once, after choosing). Returns the
    metadata."""
    import keras

    config.validate()
    started = time.perf_counter()
    registry = Registry(app_config.models_dir(config.models_dir))
    registry.path(config.name)  # a bad name fails before any work
    folder = Path(config.data_dir) if config.data_dir else app_config.motion_dir()
    data = load_tracks(folder)
    spec = config.spec()
    roles = np.array([MOTION_SPLIT.role(s) for s in data.signers])
    train, val, held = (data.subset(roles == r) for r in ("train", "validation", "held_out"))
    readers, history, best_epochs = [], [], []
    for k in range(config.members):
        def said(line: str, k: int = k) -> None:
            progress(f"reader {k + 1}/{config.members}: {line}" if config.members > 1 else line)

        reader, rows, best_epoch, windows = fit_reader(
            train, val, spec, replace(config, seed=config.seed + k), said)
        readers.append(reader)
        history.extend({**row, "member": k + 1} for row in rows)
        best_epochs.append(best_epoch)
    if len(readers) == 1:
        model = readers[0]
    else:
        from webapp.model import nets  # deferred: it loads Keras

        model = nets.average_readers(readers)
    x_val, valid_val = read_as_recorded(val, spec)
    predicted = decisions(model, x_val, valid_val, spec)
    metadata = {
        **spec.to_metadata(), "arch": "motion-conv1d", "params": int(model.count_params()),
        "members": config.members, "split": MOTION_SPLIT.name, "data": str(folder),
        "data_sha256": data.sha256, "recorded_fps": RECORDED_FPS, "best_epoch": best_epochs,
        "epochs": config.epochs,
        "validation_score": _balanced(targets(val.labels, spec), predicted, len(spec.letters)),
        "history": history,
        "validation_people": per_person(val, predicted, spec),
        "held_out_people": score_people(model, held, spec),
        "train_windows": windows,
        "training_seconds": round(time.perf_counter() - started, 1),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "keras_version": keras.__version__, "backend": keras.backend.backend(),
        "config": {k: v for k, v in vars(config).items() if k not in ("data_dir", "models_dir")},
    }
    registry.save(model, config.name, metadata)
    return metadata


def _balanced(truth: np.ndarray, predicted: np.ndarray, letters: int) -> float:
    """Mean of each motion letter's recall and of 1 - the motion letters read elsewhere."""
    parts = [float((predicted[truth == k] == k).mean()) for k in range(1, letters + 1)
             if (truth == k).any()]
    rest = truth == 0
    if rest.any():
        parts.append(1.0 - float((predicted[rest] > 0).mean()))
    return float(np.mean(parts)) if parts else 0.0
