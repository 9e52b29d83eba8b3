import csv
from pathlib import Path

import pytest

from vhq.dataset import manifest as M
from vhq.errors import BadInput, NetworkError
from vhq.testing.mediaserver import MediaServer
from vhq.testing.sample_manifest import SAMPLE_PATH, write_sample

HEADER = "video_id,start,end,bbox,fps,width,height,partition,person_id"
REAL = Path("/work/shared/data/vox-metadata.csv")


def fomm_file(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


# Rows in FOMM's format with made-up ids: a duplicate row, a person with rows in both partitions
# (one clip listed under both), a box that leaves the 720p frame (FOMM has 866 such rows).
ROWS = [
    "aaaaaaaaaa1,100,200,10-20-300-400,25,1280,720,train,idA",
    "aaaaaaaaaa1,300,420,12-22-310-410,25,1280,720,train,idA",
    "aaaaaaaaaa1,100,200,10-20-300-400,25,1280,720,train,idA",  # exact duplicate
    "bbbbbbbbbb2,0,64,500-0-900-780,25,1280,720,train,idB",
    "bbbbbbbbbb2,64,200,500-0-900-700,25,1280,720,test,idB",
    "bbbbbbbbbb2,0,64,500-0-900-780,25,1280,720,test,idB",  # same clip as the train row above
    "ccccccccccc,50,150,1-2-3-4,25,640,352,train,idC",
]


def test_import_dedups_and_splits_by_person(tmp_path, cli):
    src = fomm_file(tmp_path / "vox-metadata.csv", ROWS)
    out = tmp_path / "m.csv"
    code, stdout, stderr = cli("manifest", "import-fomm", src, "--out", out)
    assert code == 0, stderr
    m = M.load(out)
    ids = [c.clip_id for c in m.clips]
    assert ids == sorted(ids) and len(ids) == 5
    assert "idA#aaaaaaaaaa1#000100#000200" in ids
    parts = {c.person_id: {x.partition for x in m.clips if x.person_id == c.person_id} for c in m.clips}
    assert parts == {"idA": {"train"}, "idB": {"test"}, "idC": {"train"}}
    b = next(c for c in m.clips if c.clip_id == "idB#bbbbbbbbbb2#000000#000064")
    assert (b.left, b.top, b.right, b.bottom, b.ref_width, b.ref_height) == (500, 0, 900, 780, 1280, 720)
    assert b.start_s == 0 and b.end_s == 64 / 25
    meta = M.read_meta(out)
    assert meta["exact_duplicates"] == 1 and meta["merged_duplicates"] == 1
    assert meta["moved_to_test"] == {"idB": 1} and meta["source_verified"] is False
    assert meta["fingerprint"] == m.fingerprint and m.fingerprint in stdout
    assert "5 clips, 3 videos, 3 persons" in stdout
    # Idempotent: a second import writes the same bytes.
    before = out.read_bytes()
    assert cli("manifest", "import-fomm", src, "--out", out)[0] == 0
    assert out.read_bytes() == before


def test_fingerprint_is_the_clip_list():
    a = M.fingerprint(["x", "y", "z"])
    assert a == M.fingerprint(["z", "x", "y"])
    assert a != M.fingerprint(["x", "y"]) and a != M.fingerprint(["x", "y", "z2"])
    assert len(a) == 64


@pytest.mark.parametrize("row, what", [
    ("aaaaaaaaaa1,100,200,10-20-300,25,1280,720,train,idA", "bbox '10-20-300'"),
    ("aaaaaaaaaa1,200,100,10-20-300-400,25,1280,720,train,idA", "not an increasing range"),
    ("aaaaaaaaaa1,1x0,200,10-20-300-400,25,1280,720,train,idA", "start '1x0' is not an integer"),
    ("aaaaaaaaaa1,100,200,10-20-300-400,25,1280,720,val,idA", "partition 'val'"),
    ("aaaaaaaaaa1,100,200,10-20-300-400,25,1280,720,train", "has 8 fields"),
    ("aaaaaaaaaa1,100,200,300-20-10-400,25,1280,720,train,idA", "box 300,20,10,400"),
    ("aaaaaaaaaa1,100,200,10-20-300-400,zero,1280,720,train,idA", "fps 'zero'"),
    ("aaaaaaaaaa1,100,200,10-20-300-400,inf,1280,720,train,idA", "fps 'inf' must be a positive finite number"),
    ("aaaaaaaaaa1,100,200,10-20-300-400,nan,1280,720,train,idA", "fps 'nan' must be a positive finite number"),
])
def test_bad_row_names_its_line_and_writes_nothing(tmp_path, cli, row, what):
    src = fomm_file(tmp_path / "vox.csv", ROWS[:2] + [row] + ROWS[3:])
    out = tmp_path / "m.csv"
    code, _, err = cli("manifest", "import-fomm", src, "--out", out)
    assert code == 1
    assert f"error: {src} line 4: " in err and what in err
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_load_validates_a_vhq_manifest(tmp_path):
    src = fomm_file(tmp_path / "vox.csv", ROWS)
    with pytest.raises(BadInput, match="FOMM's vox-metadata.csv, not a vhq manifest"):
        M.load(src)
    M.import_fomm(str(src), tmp_path / "m.csv")
    lines = (tmp_path / "m.csv").read_text().splitlines()
    (tmp_path / "dup.csv").write_text("\n".join(lines + [lines[2]]) + "\n")
    with pytest.raises(BadInput, match=r"line 7: clip_id .* repeats line 3"):
        M.load(tmp_path / "dup.csv")
    (tmp_path / "bad.csv").write_text("\n".join(lines[:2] + [lines[2].replace(",train,", ",dev,")]) + "\n")
    with pytest.raises(BadInput, match="bad.csv line 3: partition 'dev'"):
        M.load(tmp_path / "bad.csv")
    with pytest.raises(BadInput, match="no such manifest"):
        M.load(tmp_path / "nope.csv")


def test_import_from_url_checks_sha256(tmp_path, cli):
    (tmp_path / "srv").mkdir()
    src = fomm_file(tmp_path / "srv" / "vox.csv", ROWS)
    digest = M.files.sha256_file(src)
    with MediaServer(tmp_path / "srv") as srv:
        m, report = M.import_fomm(srv.url("vox.csv"), tmp_path / "m.csv", sha256=digest)
        assert len(m) == 5 and report.verified
        with pytest.raises(NetworkError, match="does not match"):
            M.import_fomm(srv.url("vox.csv"), tmp_path / "m2.csv", sha256="0" * 64)
        code, _, err = cli("manifest", "import-fomm", srv.url("missing.csv"), "--out", tmp_path / "m3.csv")
        assert code == 1 and "HTTP 404" in err
    assert not (tmp_path / "m2.csv").exists() and not (tmp_path / "m3.csv").exists()


def test_shipped_sample_is_what_the_code_writes(tmp_path, cli):
    m = write_sample(tmp_path / "sample.csv")
    assert (tmp_path / "sample.csv").read_bytes() == SAMPLE_PATH.read_bytes()
    shipped = M.load(SAMPLE_PATH)
    assert shipped.fingerprint == m.fingerprint
    persons = {p: {c.partition for c in shipped.clips if c.person_id == p} for p in {c.person_id for c in shipped.clips}}
    assert all(len(v) == 1 for v in persons.values()) and {"train", "test"} == set().union(*persons.values())
    code, out, _ = cli("manifest", "info", SAMPLE_PATH)
    assert code == 0 and m.fingerprint in out


@pytest.mark.skipif(not REAL.is_file(), reason="FOMM's vox-metadata.csv is not in ../shared/data")
def test_real_fomm_file_counts(tmp_path):
    m, report = M.import_fomm(str(REAL), tmp_path / "voxceleb.csv")
    assert report.rows == 20075 and report.verified and report.sha256 == M.FOMM_SHA256
    assert report.exact_duplicates == 308 and report.merged_duplicates == 3 and not report.conflicting_duplicates
    assert report.moved_to_test == {"id10282": 2, "id10306": 1}
    c = m.counts()
    assert (c["clips"], c["videos"], c["persons"]) == (19764, 3442, 435)
    assert c["train"] == {"clips": 19239, "videos": 3352, "persons": 422}
    assert c["test"] == {"clips": 525, "videos": 90, "persons": 13}
    with open(tmp_path / "voxceleb.csv") as f:
        assert sum(1 for _ in csv.reader(f)) == 19765
