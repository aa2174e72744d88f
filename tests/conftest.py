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
    if not (path / "sign_mnist_test.csv.gz").exists() and not (path / "sign_mnist_test.csv").exists():
        pytest.fail(f"Sign Language MNIST data not found in {path}; set SIGNLIVE_DATA")
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and other things a person should look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
