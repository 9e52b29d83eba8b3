"""vhq crop --box: the three crop rules on analytic boxes, and what a run records about them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vhq.dataset.crop import geometry as C
from vhq.dataset.crop import stage as crop_run
from vhq.dataset.manifest import Clip
from vhq.io import files, video
from vhq.testing import download_folder as D


def mk(box, ref=(1280, 720)) -> Clip:
    return Clip("p#v#000000#000100", "v", "p", "train", 0, 100, 25.0, ref[0], ref[1], *box)


def region(r: C.Region) -> tuple[int, int, int, int]:
    return (r.x, r.y, r.width, r.height)


# ---------------------------------------------------------------- fomm-square (crop_vox.py)


def test_fomm_square_is_the_longer_side_around_the_centre():
    # the published box already holds crop_vox's 1.2: by default the square is its longer side
    r = C.crop_region(mk((500, 200, 700, 500)), 1920, 1080, C.FOMM_SQUARE, min_crop=0)  # scaled: (750, 300, 1050, 750)
    assert region(r) == (675, 300, 450, 450)  # centred on (900, 525)
    assert r.box == (750.0, 300.0, 1050.0, 750.0) and r.enlarge == 1.0 and r.shift == (0, 0)
    r = C.crop_region(mk((500, 200, 700, 500)), 1920, 1080, C.FOMM_SQUARE, enlarge=1.2, min_crop=0)
    assert region(r) == (630, 255, 540, 540) and r.enlarge == 1.2  # 1.2 * 450 = 540
    wide = C.crop_vox_square((100, 130, 400, 230), 1280, 720, min_crop=0)  # crop_vox's own increase 0.1 on a tube box
    assert region(wide) == (70, 0, 360, 360)  # 1.2 * 300 around (250, 180): its top edge lands exactly on the frame's


def test_fomm_square_truncates_each_edge_like_crop_vox():
    # w = 103, h = 80: left/right grow by 0.1 * 103 = 10.3, top/bottom by (123.6 - 80) / 2 = 21.8, then int()
    r = C.crop_vox_square((101, 50, 204, 130), 1280, 720, min_crop=0)
    assert region(r) == (90, 28, 124, 123)  # int(90.7), int(28.2), int(214.3) - 90, int(151.8) - 28: not quite square


def test_fomm_square_drops_a_square_past_the_border_and_keeps_one_on_it():
    on_edge = C.crop_vox_square((1170, 300, 1270, 400), 1280, 720, min_crop=0)
    assert on_edge.x + on_edge.width == 1280  # right edge exactly on the frame's: kept, as crop_vox keeps it
    with pytest.raises(C.Rejected) as e:
        C.crop_vox_square((1171, 300, 1271, 400), 1280, 720, min_crop=0)
    assert e.value.reason == C.OUT_OF_FRAME and "right 1px" in e.value.detail
    with pytest.raises(C.Rejected) as e:
        C.crop_vox_square((100, 9, 200, 109), 1280, 720, min_crop=0)  # top at int(-1.0)
    assert e.value.reason == C.OUT_OF_FRAME and "top 1px" in e.value.detail
    # the vhq rule shifts the same square inside the frame instead
    assert C.crop_region(mk((1171, 300, 1271, 400)), 1280, 720, C.VHQ, enlarge=1.2, min_crop=0).shift == (-1, 0)


def test_fomm_square_min_crop_and_enlarge():
    with pytest.raises(C.Rejected) as e:
        C.crop_region(mk((500, 200, 700, 500)), 1920, 1080, C.FOMM_SQUARE, min_crop=451)
    assert e.value.reason == C.TOO_SMALL and e.value.values["crop_side"] == 450
    assert C.crop_region(mk((500, 200, 700, 500)), 1920, 1080, C.FOMM_SQUARE, enlarge=1.4, min_crop=0).side == 630


# ---------------------------------------------------------------- fomm-stretch (load_videos.py)


def test_fomm_stretch_cuts_the_box_as_given():
    r = C.crop_region(mk((500, 200, 700, 500)), 1920, 1080, C.FOMM_STRETCH, min_crop=0)
    assert region(r) == (750, 300, 300, 450) and r.enlarge is None  # 2:3, resized to a square later


def test_fomm_stretch_scales_edges_the_way_load_videos_does():
    # load_videos.py: int(640 / (1280 / 854)) = int(426.99999999999994) = 426, not 640 * 854 // 1280 = 427
    r = C.crop_region(mk((640, 0, 1280, 360)), 854, 480, C.FOMM_STRETCH, min_crop=0)
    assert region(r) == (426, 0, 427, 240)


def test_fomm_stretch_clips_at_the_frame_and_drops_only_an_empty_box():
    r = C.crop_region(mk((1200, 100, 1400, 400)), 1280, 720, C.FOMM_STRETCH, min_crop=0)
    assert region(r) == (1200, 100, 80, 300)  # numpy slicing stops at the frame edge
    with pytest.raises(C.Rejected) as e:
        C.crop_region(mk((1300, 100, 1400, 200)), 1280, 720, C.FOMM_STRETCH, min_crop=0)
    assert e.value.reason == C.OUT_OF_FRAME
    with pytest.raises(C.Rejected) as e:
        C.crop_region(mk((500, 200, 700, 500)), 1920, 1080, C.FOMM_STRETCH, min_crop=301)  # shorter side 300
    assert e.value.reason == C.TOO_SMALL


def test_ffmpeg_cuts_the_region_and_stretches_it_to_the_square(tmp_path):
    opts = crop_run.Options(out=tmp_path, videos=tmp_path, box=C.FOMM_STRETCH, size=128)
    t = C.Timing(0.0, 2.0, 25.0, 25.0, 0, False)
    cmd = crop_run.ffmpeg_command(Path("in.mp4"), t, C.Region(10, 20, 300, 450, (0, 0, 1, 1), None), 50, opts, Path("o.mp4"))
    assert cmd[cmd.index("-vf") + 1].startswith("crop=300:450:10:20:exact=1,scale=128:128:flags=lanczos")


def test_options_per_rule(tmp_path):
    O = crop_run.Options
    assert O(out=tmp_path, videos=tmp_path).params()["enlarge"] == 1.1
    assert O(out=tmp_path, videos=tmp_path, box=C.FOMM_SQUARE).params()["enlarge"] == 1.0
    p = O(out=tmp_path, videos=tmp_path, box=C.FOMM_STRETCH).params()
    assert (p["box"], p["enlarge"], p["min_inside"]) == ("fomm-stretch", "", "")
    for bad in (O(out=tmp_path, videos=tmp_path, box="square"), O(out=tmp_path, videos=tmp_path, box=C.FOMM_STRETCH, enlarge=1.2)):
        with pytest.raises(crop_run.BadInput):
            bad.validate()


def test_vhq_rule_keeps_the_keys_of_folders_cropped_before_box_rules(tmp_path):
    c = Clip("p#v#000000#000100", "v", "p", "train", 0, 100, 25.0, 1280, 720, 1, 2, 300, 400)
    # params_key of this clip with default options as computed before --box existed: such folders resume, not redo
    assert crop_run.params_key(c, None, crop_run.Options(out=tmp_path, videos=tmp_path)) == "8149d2c95b88bb8f"
    assert crop_run.params_key(c, None, crop_run.Options(out=tmp_path, videos=tmp_path, box=C.FOMM_SQUARE, enlarge=1.1)) != "8149d2c95b88bb8f"


def test_png_folder_fingerprint(tmp_path):
    (tmp_path / "c").mkdir()
    files.write_bytes(tmp_path / "c" / "0000001.png", b"bb")
    files.write_bytes(tmp_path / "c" / "0000000.png", b"a")
    sha, size = crop_run.fingerprint_output(tmp_path / "c")
    lines = [f"0000000.png {files.sha256_bytes(b'a')}", f"0000001.png {files.sha256_bytes(b'bb')}"]
    assert (sha, size) == (files.sha256_strings(lines), 3)


# ---------------------------------------------------------------- a run


FAST = ["--size", "64", "--min-crop", "50", "--min-frames", "20", "--preset", "ultrafast", "--no-face-check"]


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    root = tmp_path_factory.mktemp("boxes")
    v = D.Video("vidS", D.spec(frames=60, seed=7))
    D.write_downloads(root / "dl", [v])
    clips = [D.clip(v, "p1", "train", 5, 30, box=(400, 200, 800, 500)),  # at 640x360: (200, 100, 400, 250)
             D.clip(v, "p2", "test", 30, 55, box=(100, 100, 700, 400)),  # (50, 50, 350, 200): 2:1; fomm-square: past the top
             D.clip(v, "p1", "train", 10, 40, box=(1000, 300, 1270, 700))]  # (500, 150, 635, 350); fomm-square: past the right
    D.write_manifest(root / "m.csv", clips)
    return root, clips


def _rows(out: Path) -> dict[str, dict]:
    return {r["clip_id"]: r for r in files.read_csv(out / "crop_status.csv")}


def test_stretch_run_records_rule_region_and_hashes_and_refuses_another_rule(downloads, cli):
    root, clips = downloads
    out = root / "stretch"
    code, _, err = cli("crop", "-m", root / "m.csv", "--videos", root / "dl", "-o", out, "--box", "fomm-stretch", *FAST)
    assert code == 0, err
    rows = _rows(out)
    assert {r["box"] for r in rows.values()} == {"fomm-stretch"} and all(r["status"] == "ok" for r in rows.values())
    wide = rows[clips[1].clip_id]  # (100, 100, 700, 400) at 1280x720 -> 640x360: 300x150 from (50, 50)
    assert (wide["crop_x"], wide["crop_y"], wide["crop_width"], wide["crop_height"], wide["crop_side"]) == ("50", "50", "300", "150", "150")
    for r in rows.values():
        path = out / r["output"]
        assert r["output_sha256"] == files.sha256_file(path) and int(r["output_bytes"]) == path.stat().st_size
        info = video.probe(path)
        assert (info.width, info.height) == (64, 64)  # 2:1 region, square output: the aspect is not kept
    assert json.loads((out / "crop_run.json").read_text())["params"]["box"] == "fomm-stretch"

    table = (out / "crop_status.csv").read_bytes()
    code, _, err = cli("crop", "-m", root / "m.csv", "--videos", root / "dl", "-o", out, *FAST)  # --box vhq by default
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and str(out) in lines[0] and "3 clip(s) with --box fomm-stretch" in lines[0] and "--box vhq" in lines[0]
    assert "Traceback" not in err and (out / "crop_status.csv").read_bytes() == table

    # a table written before crops were hashed: the re-run hashes them and crops nothing
    old = [{**r, "output_sha256": "", "output_bytes": ""} for r in files.read_csv(out / "crop_status.csv")]
    files.write_csv(out / "crop_status.csv", old, crop_run.crop_status.FIELDS)
    code, _, err = cli("crop", "-m", root / "m.csv", "--videos", root / "dl", "-o", out, "--box", "fomm-stretch", *FAST)
    assert code == 0 and "0 clip(s) to do, 3 done before" in err and "sha256 and size of 3 clip(s)" in err
    assert {k: (r["output_sha256"], r["output_bytes"]) for k, r in _rows(out).items()} == {k: (r["output_sha256"], r["output_bytes"]) for k, r in rows.items()}

    code, stdout, err = cli("split", "--crops", out, "-o", out / "split")
    assert code == 0, err
    assert "Crop box rule (`vhq crop --box`): `fomm-stretch`." in stdout
    assert json.loads((out / "split" / "split.json").read_text())["box"] == {"fomm-stretch": 3}


def test_square_run_drops_the_clip_past_the_border(downloads, cli):
    root, clips = downloads
    out = root / "square"
    code, _, err = cli("crop", "-m", root / "m.csv", "--videos", root / "dl", "-o", out, "--box", "fomm-square", *FAST)
    assert code == 0, err
    rows = _rows(out)
    assert {r["box"] for r in rows.values()} == {"fomm-square"}
    ok = rows[clips[0].clip_id]  # 200 around (300, 175)
    assert (ok["status"], ok["crop_x"], ok["crop_y"], ok["crop_width"], ok["crop_height"], ok["enlarge"]) == ("ok", "200", "75", "200", "200", "1.0")
    assert ok["output_sha256"] == files.sha256_file(out / ok["output"])
    for c, edge in ((clips[1], "top 25px"), (clips[2], "right 27px")):  # 300 around (200, 125); 200 around (567.5, 250)
        row = rows[c.clip_id]
        assert (row["status"], row["reason"]) == ("dropped", "out-of-frame") and edge in row["detail"], row["detail"]
        assert not row["output_sha256"]


def test_malformed_download_table_is_one_error_line(tmp_path, cli):
    D.write_manifest(tmp_path / "m.csv", [mk((1, 1, 100, 100))])
    (tmp_path / "dl" / "v").mkdir(parents=True)
    (tmp_path / "dl" / "v" / "v.mp4").write_bytes(b"x")
    status = tmp_path / "dl" / "download_status.csv"
    status.write_text("video_id,status,reason,height,width,fps,format,file,sections,yt_dlp_version,updated\n"
                      "v,ok,,1080,1920,25,x,v/v.mp4,zero-four,x,2026-01-01T00:00:00Z\n")
    code, _, err = cli("crop", "-m", tmp_path / "m.csv", "--videos", tmp_path / "dl", "-o", tmp_path / "out")
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 1 and len(lines) == 1 and str(status) in lines[0] and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_plan_counts_the_box_step(tmp_path, cli):
    clips = [mk((500, 200, 700, 500)), Clip("p#w#000000#000100", "w", "q", "test", 0, 100, 25.0, 1280, 720, 1000, 300, 1270, 700)]
    D.write_manifest(tmp_path / "m.csv", clips)
    code, out, err = cli("crop", "-m", tmp_path / "m.csv", "--plan", "--box", "fomm-square", "--enlarge", "1.2", "--min-crop", "0")
    assert code == 0, err
    assert "1 of 2 clips kept (train 1 clips / 1 persons, test 0 clips / 0 persons); dropped: out-of-frame 1" in out
    code, out, err = cli("crop", "-m", tmp_path / "m.csv", "--plan", "--box", "fomm-stretch", "--min-crop", "0")
    assert "2 of 2 clips kept" in out and "dropped: none" in out
    code, _, err = cli("crop", "-m", tmp_path / "m.csv")
    assert code == 1 and "error: vhq crop needs --videos and --out" in err
