"""The frozen cross-identity pairs: the rule on synthetic manifests, and that it reproduces the shipped file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vhq.dataset import manifest as M
from vhq.dataset import pairs as cross_pairs
from vhq.io import files

REAL_METADATA = Path("/work/shared/data/vox-metadata.csv")
SHIPPED = Path(__file__).resolve().parents[3] / "manifests" / "voxcelebhq_cross_pairs.csv"


def clip(person: str, video: str, start: int, frames: int, partition: str = "test") -> M.Clip:
    return M.Clip(M.clip_key(person, video, start, start + frames), video, person, partition, start, start + frames, 25.0, 1280, 720, 10, 10, 200, 200)


CLIPS = [
    clip("id1", "vidA", 0, 150), clip("id1", "vidA", 300, 80),   # id1: one short clip (cannot drive)
    clip("id2", "vidB", 0, 120), clip("id2", "vidC", 50, 100),   # exactly 100 frames can drive
    clip("id3", "vidD", 0, 99),                                   # too short to drive
    clip("id9", "vidT", 0, 500, "train"),                         # train: never used
]


def test_rule_on_synthetic_rows():
    rows = cross_pairs.draw_pairs(CLIPS)
    test_ids = sorted(c.clip_id for c in CLIPS if c.partition == "test")
    by_id = {c.clip_id: c for c in CLIPS}
    assert [r["source_clip"] for r in rows] == test_ids  # every test clip is a source once, in id order
    assert [r["pair_id"] for r in rows] == ["x0000", "x0001", "x0002", "x0003", "x0004"]
    for r in rows:
        s, d = by_id[r["source_clip"]], by_id[r["driving_clip"]]
        assert s.person_id != d.person_id and d.partition == "test" and d.frames >= 100
        assert (r["source_person"], r["driving_person"]) == (s.person_id, d.person_id)
        # the documented choice: the candidate with the smallest sha256("vhq-cross-v1|S|D")
        cands = [c.clip_id for c in CLIPS if c.partition == "test" and c.person_id != s.person_id and c.frames >= 100]
        digest = {c: hashlib.sha256(f"vhq-cross-v1|{s.clip_id}|{c}".encode()).hexdigest() for c in cands}
        assert r["driving_clip"] == min(cands, key=digest.get)


def test_rule_is_local_and_seeded():
    base = cross_pairs.draw_pairs(CLIPS)
    # row order, extra train clips and an extra non-driving test clip of a new person leave other pairs alone
    more = list(reversed(CLIPS)) + [clip("id8", "vidZ", 0, 500, "train"), clip("id7", "vidY", 0, 50)]
    again = {r["source_clip"]: r["driving_clip"] for r in cross_pairs.draw_pairs(more)}
    assert all(again[r["source_clip"]] == r["driving_clip"] for r in base)
    other = cross_pairs.draw_pairs(CLIPS, seed="another-seed")
    assert [r["source_clip"] for r in other] == [r["source_clip"] for r in base]


def test_rule_refuses_a_source_without_candidates():
    with pytest.raises(Exception, match="no clip of another person"):
        cross_pairs.draw_pairs([clip("id1", "a", 0, 200), clip("id1", "b", 0, 200)])


def test_write_pairs_records_the_manifest(tmp_path):
    man = M.save(CLIPS, tmp_path / "m.csv")
    out, meta = cross_pairs.write_pairs(tmp_path / "m.csv", tmp_path / "pairs.csv")
    assert files.read_csv(out) == cross_pairs.draw_pairs(CLIPS)
    assert meta["manifest_fingerprint"] == man.fingerprint and meta["sha256"] == files.sha256_file(out)


@pytest.mark.skipif(not REAL_METADATA.is_file(), reason="FOMM's vox-metadata.csv is not on this machine")
def test_rule_reproduces_the_shipped_file(tmp_path):
    M.import_fomm(str(REAL_METADATA), tmp_path / "voxceleb.csv")
    out, meta = cross_pairs.write_pairs(tmp_path / "voxceleb.csv", tmp_path / "pairs.csv")
    assert out.read_bytes() == SHIPPED.read_bytes()
    shipped_meta = (SHIPPED.parent / (SHIPPED.name + ".json")).read_text()
    assert f'"sha256": "{meta["sha256"]}"' in shipped_meta and f'"manifest_fingerprint": "{meta["manifest_fingerprint"]}"' in shipped_meta
    assert meta["test_clips"] == 525


def test_shipped_file_is_well_formed():
    rows = files.read_csv(SHIPPED)
    assert len(rows) == 525 and len({r["source_clip"] for r in rows}) == 525
    assert all(r["source_person"] != r["driving_person"] for r in rows)
    assert all(r["source_clip"].split("#")[0] == r["source_person"] for r in rows)
