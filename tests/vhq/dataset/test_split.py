"""vhq split: person-disjoint lists from a crop folder's status table, and the report."""

from __future__ import annotations

from vhq.dataset.manifest import load
from vhq.io import files
from vhq.testing.crop_folder import clip, make_crops


def test_split_is_person_disjoint_and_reports_against_fomm_and_lia(tmp_path, cli):
    clips = [clip("id1", "vA", 0, "train"), clip("id1", "vA", 200, "train"), clip("id2", "vB", 0, "train"),
             clip("id3", "vC", 0, "test"), clip("id3", "vC", 300, "test"), clip("id4", "vD", 0, "test"),
             clip("id4", "vE", 0, "train")]  # id4 has rows in both partitions: it is a test person
    status = {clips[1].clip_id: "scene-cut", clips[4].clip_id: "no-face", clips[5].clip_id: "not-downloaded"}
    crops = make_crops(tmp_path, clips, status)
    (crops / f"clips/{clips[2].clip_id}.mp4").unlink()  # ok in the table, file deleted since
    code, out, err = cli("split", "--crops", crops, "-o", tmp_path / "split")
    assert code == 0, err
    train = files.read_csv(tmp_path / "split" / "train.csv")
    test = files.read_csv(tmp_path / "split" / "test.csv")
    assert [r["clip_id"] for r in train] == [clips[0].clip_id]
    assert sorted(r["clip_id"] for r in test) == sorted([clips[3].clip_id, clips[6].clip_id])
    assert not {r["person_id"] for r in train} & {r["person_id"] for r in test}
    fp = load(tmp_path / "m.csv").fingerprint
    assert {r["manifest_fingerprint"] for r in train + test} == {fp}
    assert (tmp_path / "split" / train[0]["path"]).resolve() == (crops / "clips" / f"{clips[0].clip_id}.mp4").resolve()
    report = (tmp_path / "split" / "split_report.md").read_text()
    assert "| this build | 1 | 2 | 1 | 2 |" in report
    assert "Crop box rule (`vhq crop --box`): `vhq`." in report  # rows from before --box: the vhq rule
    assert "| FOMM vox-metadata.csv | 19,522 | 525 |" in report and "| LIA VoxCelebHQ | 17,512 | 483 |" in report
    assert "| LIA VoxCelebHQ | -17,511 (0.0%) | -481 (0.4%) |" in report
    assert "Manifest test clips available: 2 of 4 (50.0%)." in report  # id4's train row counts as test
    assert "- id4: 1 clip(s)" in report
    for reason in ("scene-cut: 1", "no-face: 1", "not-downloaded: 1", "output missing: 1"):
        assert reason in report
    assert "Manifest test clips available" in out


def test_split_needs_a_crop_folder(tmp_path, cli):
    code, _, err = cli("split", "--crops", tmp_path / "nope", "-o", tmp_path / "s")
    assert code == 1 and "error: --crops" in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli("split", "--crops", tmp_path / "empty", "-o", tmp_path / "s")
    assert code == 1 and "--manifest" in err
