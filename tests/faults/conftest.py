"""Fixtures of the fault suite: a runner for `vhq.testing.faults.Fault` cases and a folder no one can write."""

from __future__ import annotations

import pytest

from vhq.testing import faults


@pytest.fixture
def fault(tmp_path, cli, cli_env, _isolated_cache):
    """``fault(case)`` runs one case in an empty folder and returns its stderr."""
    def run(case: faults.Fault) -> str:
        root = tmp_path / "case"
        root.mkdir()
        return faults.check(case, root, lambda argv: cli(*argv), env=cli_env(_isolated_cache))
    return run


