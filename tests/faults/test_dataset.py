"""Fault cases of the dataset stages: outputs checked before work, one writer per shard, a full disk
recorded as a retryable failure that a re-run completes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vhq.io import files
from vhq.testing import download_folder as D
from vhq.testing.faults import Fault, another_writer, unwritable_folder

UNWRITABLE = unwritable_folder()
CROP = ["--size", "64", "--min-crop", "50", "--min-frames", "10", "--preset", "ultrafast", "--workers", "1"]


def downloads(root: Path) -> tuple[Path, Path]:
    """One synthetic download with one clip, and its manifest."""
    v = D.Video("vidA", D.spec(frames=40, seed=1))
    D.write_downloads(root / "dl", [v])
    D.write_manifest(root / "m.csv", [D.clip(v, "p1", "train", 0, 30)])
    return root / "m.csv", root / "dl"


def crop(out_of):
    def build(root: Path):
        m, dl = downloads(root)
        return ["crop", "-m", m, "--videos", dl, "-o", out_of(root), *CROP]
    return build


def a_file(root: Path) -> Path:
    (root / "taken").write_bytes(b"the user's file")
    return root / "taken"


def _recrop_completes(root: Path) -> None:
    r = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "crop", "-m", root / "m.csv", "--videos", root / "dl", "-o", root / "out", *CROP],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = files.read_csv(root / "out" / "crop_status.csv")
    assert [r["status"] for r in rows] == ["ok"], rows
    assert files.sha256_file(root / "out" / rows[0]["output"]) == rows[0]["output_sha256"]


def manifest_with_bom(root: Path):
    m, _ = downloads(root)
    (root / "bom.csv").write_bytes(b"\xef\xbb\xbf" + m.read_bytes())
    return ["manifest", "info", root / "bom.csv"]


def manifest_with_huge_field(root: Path):
    m, _ = downloads(root)
    lines = m.read_text().splitlines()
    head, row = lines[0], lines[1]
    (root / "huge.csv").write_text(head + "\n" + row.replace("p1#", "p" + "x" * (200 << 10) + "#", 1) + "\n")
    return ["manifest", "info", root / "huge.csv"]


def manifest_with_nul(root: Path):
    m, _ = downloads(root)
    (root / "nul.csv").write_bytes(m.read_bytes().replace(b"p1", b"p\x001", 1))
    return ["manifest", "info", root / "nul.csv"]


def fomm_metadata(root: Path) -> Path:
    (root / "vox-metadata.csv").write_text("video_id,start,end,bbox,partition,person_id\nabc,0,100,10-10-200-200,train,id1\n")
    return root / "vox-metadata.csv"


CASES = [
    Fault("manifest-with-a-byte-order-mark", manifest_with_bom, 0, ""),
    Fault("manifest-field-over-128-kib", manifest_with_huge_field, 1, r"^error: .*huge\.csv line 2: "),
    Fault("manifest-with-a-nul-byte", manifest_with_nul, 1, r"^error: .*nul\.csv line 2: clip_id .* not usable as a file name"),
    Fault("import-fomm-out-under-a-file", lambda r: ["manifest", "import-fomm", fomm_metadata(r), "--out", a_file(r) / "m.csv"], 1,
          r"^error: .*taken/m\.csv: .*taken is a file, not a folder", unchanged=("taken", "vox-metadata.csv")),
    Fault("import-fomm-out-is-a-folder", lambda r: ["manifest", "import-fomm", fomm_metadata(r), "--out", r], 1, r"^error: .*is a folder; this output is a file"),
    Fault("crop-out-is-a-file", crop(a_file), 1, r"^error: .*taken: exists and is not a folder", unchanged=("taken",)),
    Fault("crop-out-under-a-file", crop(lambda r: a_file(r) / "crops"), 1, r"^error: .*taken/crops: .*taken is a file, not a folder", unchanged=("taken",)),
    Fault("crop-over-the-file-size-limit", crop(lambda r: r / "out"), 1, r"^error: ", file_size_limit=4096,
          absent=("out/clips/*",), after=_recrop_completes),
]
if UNWRITABLE is not None:
    CASES.append(Fault("import-fomm-out-unwritable", lambda r: ["manifest", "import-fomm", fomm_metadata(r), "--out", UNWRITABLE / "m.csv"], 1,
                       r"^error: .*m\.csv: cannot write in "))
    CASES.append(Fault("crop-out-unwritable", crop(lambda r: UNWRITABLE / "vhq-crops"), 1, r"^error: .*vhq-crops: cannot write in "))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_dataset_fault(case, fault):
    fault(case)


def test_a_second_crop_on_the_same_shard_is_refused_naming_the_first(cli, tmp_path, cli_env, _isolated_cache):
    m, dl = downloads(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with another_writer(out / "crop_status.csv", folder=False, env=cli_env(_isolated_cache)) as pid:
        code, _, err = cli("crop", "-m", m, "--videos", dl, "-o", out, *CROP)
        assert code == 1, err
        assert err.splitlines()[0].startswith(f"error: {out / 'crop_status.csv'}: this status table is being written by pid {pid} on "), err
        assert not (out / "crop_run.json").exists() and not any((out / "clips").iterdir())
    code, _, err = cli("crop", "-m", m, "--videos", dl, "-o", out, *CROP)  # the killed holder's lock is taken over
    assert code == 0, err
