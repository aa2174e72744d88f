"""Shared pytest fixtures: the real data folder, a scratch models folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from webapp import config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """../shared/data (or $SIGNLIVE_DATA): CI always has it, so its absence is a failure."""
    path = config.data_dir()
    if not any((path / f"sign_mnist_test.{ext}").exists() for ext in ("csv.gz", "csv")):
        pytest.fail(f"Sign Language MNIST data not found in {path}; set SIGNLIVE_DATA")
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and other things a person should look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --- the live server: a tiny model, the app, and a real server on a free loopback port --------

TINY_MODELS = ("tiny", "tiny2")


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory) -> Path:
    """A models folder holding two tiny valid models, `tiny` and `tiny2` (for hot swaps)."""
    from modelkit import register

    folder = tmp_path_factory.mktemp("models")
    for seed, name in enumerate(TINY_MODELS):
        register(folder, name, seed)
    return folder


@pytest.fixture(scope="session")
def hand_models_dir(tmp_path_factory, tiny_models_dir) -> Path:
    """`guide` and `hand`: the tiny model twice, `hand` with metadata "crop": "hand" (it reads
    the square around a frame's hand box), `guide` without the key (the guide square)."""
    import json
    import shutil

    folder = tmp_path_factory.mktemp("hand-models")
    metadata = json.loads((tiny_models_dir / "tiny.json").read_text())
    metadata.pop("crop", None)
    for name, extra in (("guide", {}), ("hand", {"crop": "hand"})):
        shutil.copyfile(tiny_models_dir / "tiny.keras", folder / f"{name}.keras")
        (folder / f"{name}.json").write_text(json.dumps({**metadata, **extra, "name": name}))
    return folder


@pytest.fixture(scope="session")
def tiny_config(tiny_models_dir) -> dict:
    """create_app settings serving the tiny model (confidence threshold 0: always a letter)."""
    return {"TESTING": True, "SECRET_KEY": "test", "MODELS_DIR": str(tiny_models_dir),
            "ACTIVE_MODEL": "tiny", "CONFIDENCE_THRESHOLD": 0.0}


@pytest.fixture
def make_app(tmp_path):
    """create_app(config) with its own instance folder; every app made is closed afterwards."""
    from webapp import create_app

    made = []

    def make(test_config: dict):
        app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), **test_config})
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["signlive"].close()


@pytest.fixture
def app(make_app, tiny_config):
    """The app serving the tiny model."""
    return make_app(tiny_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def serve_app():
    """serve_app(app) -> a LiveServer running it; all are stopped at the end of the module."""
    servers = []

    from serverkit import LiveServer

    def start(app) -> LiveServer:
        servers.append(LiveServer(app))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
        server.state.close()


@pytest.fixture(scope="module")
def hand_server(serve_app, hand_models_dir, tmp_path_factory):
    """A real server with hand_models_dir's models, serving `hand`; every answer shows its
    letter (threshold 0), so a test sees what the model read."""
    from webapp import create_app

    return serve_app(create_app({
        "TESTING": True, "SECRET_KEY": "test", "MODELS_DIR": str(hand_models_dir),
        "ACTIVE_MODEL": "hand", "CONFIDENCE_THRESHOLD": 0.0,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance"))}))


@pytest.fixture(scope="module")
def live_server(serve_app, tiny_config, tmp_path_factory):
    """A real server with the tiny model for one test module (frames up to 256 KiB)."""
    from webapp import create_app

    instance = tmp_path_factory.mktemp("instance")
    return serve_app(create_app(dict(tiny_config, INSTANCE_PATH=str(instance),
                                     BATCH_WAIT_MS=20.0, MAX_FRAME_BYTES=256 * 1024)))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, tiny_models_dir) -> Path:
    """`default` and `other` (copies of the tiny test models)."""
    folder = tmp_path_factory.mktemp("models")
    for source, name in (("tiny", "default"), ("tiny2", "other")):
        for suffix in (".keras", ".json"):
            data = (tiny_models_dir / f"{source}{suffix}").read_bytes()
            if suffix == ".json":
                data = data.replace(f'"{source}"'.encode(), f'"{name}"'.encode())
            (folder / f"{name}{suffix}").write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """The models folder make_admin_app serves: one small model, `default`. A module that
    needs other models defines its own `models_dir`."""
    from modelkit import register

    folder = tmp_path_factory.mktemp("models")
    register(folder, "default")
    return folder


@pytest.fixture
def make_admin_app(tmp_path, models_dir):
    """make(**settings): an app with the admin area, serving the requesting module's
    `models_dir` with adminkit.settings(); every app made is closed afterwards."""
    from adminkit import close_app, settings

    from webapp import create_app

    apps = []

    def make(**extra):
        app = create_app(settings(tmp_path, models_dir, **extra))
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_app(app)
