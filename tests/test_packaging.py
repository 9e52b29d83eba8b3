"""The wheel ships the packages and the shipped manifests, never the tests."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contents(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT), "-w", str(tmp_path)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("vhq-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cli.py" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    for pkg in ("vhq", "eval", "lia", "manifests"):
        for py in (ROOT / pkg).rglob("*.py"):
            assert py.relative_to(ROOT).as_posix() in names, f"{py} missing from the wheel"
    for data in (ROOT / "manifests").glob("*.csv"):
        assert f"manifests/{data.name}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "vhq = cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
