"""Random-init weight files in the real checkpoint formats, imported like a user would (--no-verify)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vhq.testing.random_weights import WEIGHT_FILES, make_weight_file


@pytest.fixture(scope="session")
def weight_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("random-weights")
    return {name: make_weight_file(name, folder) for name in WEIGHT_FILES}


@pytest.fixture(scope="session")
def shared_weights(weight_files, tmp_path_factory) -> Path:
    """A weights cache with every random-init file imported once per session (--no-verify)."""
    from vhq import weights

    cache = tmp_path_factory.mktemp("shared-cache")
    old = os.environ.get("VHQ_CACHE")
    os.environ["VHQ_CACHE"] = str(cache)
    try:
        for name, path in weight_files.items():
            weights.import_file(name, path, no_verify=True)
    finally:
        if old is None:
            os.environ.pop("VHQ_CACHE", None)
        else:
            os.environ["VHQ_CACHE"] = old
    return cache / "weights"


@pytest.fixture
def eval_weights(shared_weights, _isolated_cache) -> Path:
    """This test's $VHQ_CACHE sees the session's imported weights (GT cache stays per test)."""
    (_isolated_cache / "weights").symlink_to(shared_weights, target_is_directory=True)
    return _isolated_cache
