"""vhq crop: box math, timing, scene segments, and the whole command on synthetic downloads."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vhq.dataset.crop import geometry as C
from vhq.dataset.crop import stage as crop_run
from vhq.dataset.crop import status as crop_status
from vhq.dataset.crop.scenes import Segment, keep_segment
from vhq.dataset.manifest import Clip
from vhq.io import files, video
from vhq.testing import download_folder as D
from vhq.testing import synthetic

ROOT = Path(__file__).resolve().parents[4]


def mk(box, ref=(1280, 720), start=0, end=100, fps=25.0) -> Clip:
    return Clip("p#v#000000#000100", "v", "p", "train", start, end, fps, ref[0], ref[1], *box)


# ----------------------------------------------------------------------------------------------
# Box math


def test_box_is_rescaled_per_axis_squared_enlarged_and_centred():
    sq = C.crop_square(mk((500, 200, 700, 500)), 1920, 1080, enlarge=1.2, min_crop=0)
    assert sq.box == (750.0, 300.0, 1050.0, 750.0)  # x * 1.5, y * 1.5
    assert sq.side == 540  # 1.2 * max(300, 450)
    assert (sq.x + sq.side / 2, sq.y + sq.side / 2) == (900.0, 525.0)
    assert sq.shift == (0, 0) and sq.enlarge == 1.2


def test_square_leaving_the_frame_is_shifted_inside():
    sq = C.crop_square(mk((0, 0, 300, 300)), 1280, 720, enlarge=1.5, min_crop=0)
    assert (sq.x, sq.y, sq.side) == (0, 0, 450)
    assert sq.shift == (75, 75)  # centred it would start at -75, -75
    sq = C.crop_square(mk((1000, 420, 1280, 720)), 1280, 720, enlarge=1.2, min_crop=0)
    assert sq.x + sq.side == 1280 and sq.y + sq.side == 720 and sq.shift[0] < 0 and sq.shift[1] < 0


def test_square_shrinks_to_the_frame_when_only_the_margin_does_not_fit():
    sq = C.crop_square(mk((400, 40, 1000, 700)), 1280, 720, enlarge=1.3, min_crop=0)
    assert sq.side == 720 and sq.y == 0 and sq.enlarge == pytest.approx(720 / 660, abs=1e-3)


def test_box_larger_than_the_frame_is_out_of_frame():
    with pytest.raises(C.Rejected) as e:
        C.crop_square(mk((100, 0, 900, 720)), 1280, 720, enlarge=1.0, min_crop=0)  # 800 wide, frame 720 high
    assert e.value.reason == C.OUT_OF_FRAME


def test_box_mostly_outside_the_frame_is_out_of_frame():
    with pytest.raises(C.Rejected) as e:
        C.crop_square(mk((1100, 100, 1500, 500)), 1280, 720, min_crop=0)  # 45 % inside
    assert e.value.reason == C.OUT_OF_FRAME and "45%" in e.value.detail
    C.crop_square(mk((900, 100, 1300, 500)), 1280, 720, min_crop=0)  # 95 % inside: kept


def test_min_crop_is_measured_on_the_square_at_source_resolution():
    clip = mk((600, 300, 800, 500))  # 200 px in 720p → 300 px in 1080p, square 330
    with pytest.raises(C.Rejected) as e:
        C.crop_square(clip, 1920, 1080, enlarge=1.1, min_crop=400)
    assert e.value.reason == C.TOO_SMALL and "330px" in e.value.detail
    assert C.crop_square(clip, 3840, 2160, enlarge=1.1, min_crop=400).side == 660


def test_iou_analytic():
    assert C.iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert C.iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert C.iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)


# ----------------------------------------------------------------------------------------------
# Time


def _row(tmp_path, sections):
    names, spans = [], []
    for i, (a, b) in enumerate(sections):
        name = f"v/v.{i}.mp4"
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
        names.append(name)
        spans.append(f"{a:.3f}-{b:.3f}")
    return {"video_id": "v", "status": "ok", "file": ";".join(names), "sections": ";".join(spans)}


def test_locate_picks_the_section_and_its_offset(tmp_path):
    row = _row(tmp_path, [(0.0, 10.0), (38.04, 52.0)])
    src = C.locate(mk((0, 0, 10, 10), start=1000, end=1250), row, tmp_path)  # 40 s .. 50 s
    assert src.rel == "v/v.1.mp4" and src.offset == 38.04
    t = C.timing(mk((0, 0, 10, 10), start=1000, end=1250), src, 25.0, 350)
    assert t.first == 49 and not t.resample  # (40 - 38.04) * 25
    assert t.file_frame(10) == 59
    t30 = C.timing(mk((0, 0, 10, 10), start=1000, end=1250), src, 30.0, 420)
    assert t30.resample and t30.file_frame(0) == 59 and t30.file_frame(5) == 65  # nearest 30 fps frame to 40.2 s - 38.04 s


def test_locate_reasons(tmp_path):
    clip = mk((0, 0, 10, 10), start=1000, end=1250)
    with pytest.raises(C.Rejected) as e:
        C.locate(clip, None, tmp_path)
    assert e.value.reason == C.NOT_DOWNLOADED
    with pytest.raises(C.Rejected) as e:
        C.locate(clip, {"video_id": "v", "status": "private", "reason": "Private video"}, tmp_path)
    assert e.value.reason == C.NOT_DOWNLOADED and "private" in e.value.detail
    with pytest.raises(C.Rejected) as e:
        C.locate(clip, _row(tmp_path, [(0.0, 10.0), (41.0, 52.0)]), tmp_path)
    assert e.value.reason == C.NOT_IN_DOWNLOAD
    src = C.locate(clip, _row(tmp_path, [(38.0, 52.0)]), tmp_path)
    with pytest.raises(C.Rejected) as e:
        C.timing(clip, src, 25.0, 200)  # the file ended early: 8 s instead of 14 s
    assert e.value.reason == C.BEYOND_VIDEO


def test_keep_segment():
    assert keep_segment(100, ()) == Segment(0, 100, ())
    assert keep_segment(30, (), min_frames=64) == Segment(0, 30, ())  # no cut: kept whatever its length
    assert keep_segment(200, (50, 170), min_frames=64) == Segment(50, 170, (50, 170))
    assert keep_segment(200, (100,), min_frames=64) == Segment(0, 100, (100,))  # equal halves: the earlier
    with pytest.raises(C.Rejected) as e:
        keep_segment(100, (40, 70), min_frames=64)
    assert e.value.reason == "scene-cut" and "40" in e.value.detail


# ----------------------------------------------------------------------------------------------
# The command on synthetic downloads (frame index in the pixels)

ENLARGE = "1.8"  # the crop's border must be background for decode_frame_index
COMMON = ["--size", "128", "--enlarge", ENLARGE, "--min-crop", "100", "--min-frames", "30", "--preset", "ultrafast"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("crop")
    a = D.Video("vidA", D.spec(seed=1))
    b = D.Video("vidB", D.spec(frames=100, seed=2, first_index=50), section_start=50)  # a section from 2 s
    c = D.Video("vidC", D.spec(seed=3, cut_at=100))
    n = D.Video("vidN", D.spec(frames=100, seed=4, face=False))
    D.write_downloads(root / "dl", [a, b, c, n], extra_rows=[{"video_id": "vidGone", "status": "unavailable", "reason": "Video unavailable"}])
    clips = {
        "plain": D.clip(a, "p1", "train", 10, 60),
        "plain2": D.clip(a, "p1", "train", 70, 140),
        "section": D.clip(b, "p2", "train", 60, 130),
        "trim": D.clip(c, "p3", "test", 40, 140),  # cut at 100: keeps 40..100
        "cut": D.clip(c, "p3", "test", 80, 120),  # cut at 100: 20 + 20 frames < 30
        "noface": D.clip(n, "p4", "test", 10, 90, box=synthetic.tube_box(a.spec, 10, 90, ref=D.REF)),
        "offface": D.clip(a, "p5", "train", 10, 60, box=(40, 40, 300, 300)),  # a box where there is no face
        "small": D.clip(a, "p1", "train", 20, 70, box=(600, 300, 680, 380)),  # 40 px at 640x360
        "outside": D.clip(a, "p1", "train", 21, 71, box=(1000, 100, 1500, 500)),
        "gone": Clip("p6#vidGone#000000#000050", "vidGone", "p6", "train", 0, 50, 25.0, 1280, 720, 1, 1, 100, 100),
    }
    m = D.write_manifest(root / "m.csv", list(clips.values()))
    return root, clips, m


def _status(out: Path) -> dict[str, dict]:
    return {r["clip_id"]: r for r in files.read_csv(out / "crop_status.csv")}


def _indices(path: Path) -> list[int]:
    return [synthetic.decode_frame_index(f) for f in video.read_frames(path).numpy()]


@pytest.mark.slow
def test_crop_outputs_reasons_and_frame_accuracy(dataset, cli):
    root, clips, m = dataset
    out = root / "out"
    code, stdout, err = cli("crop", "-m", root / "m.csv", "--videos", root / "dl", "-o", out, *COMMON, "--workers", "2")
    assert code == 0, err
    st = _status(out)
    assert set(st) == {c.clip_id for c in clips.values()}
    expect = {"plain": ("ok", ""), "plain2": ("ok", ""), "section": ("ok", ""), "trim": ("ok", ""), "cut": ("dropped", "scene-cut"),
              "noface": ("dropped", "no-face"), "offface": ("dropped", "no-face"), "small": ("dropped", "too-small"),
              "outside": ("dropped", "out-of-frame"), "gone": ("skipped", "not-downloaded")}
    for name, (status, reason) in expect.items():
        row = st[clips[name].clip_id]
        assert (row["status"], row["reason"]) == (status, reason), (name, row["detail"])
        if status == "dropped":
            assert row["detail"] and not (out / "clips" / f"{clips[name].clip_id}.mp4").exists()
    trim = st[clips["trim"].clip_id]
    assert (trim["cuts"], trim["trimmed_head"], trim["trimmed_tail"], trim["frames"]) == ("60", "0", "40", "60")
    assert (trim["out_start_frame"], trim["out_end_frame"]) == ("40", "100")
    assert float(st[clips["noface"].clip_id]["face_iou"]) == 0.0
    assert st[clips["section"].clip_id]["source_offset"] == "2.000"
    for name in ("plain", "plain2", "section", "trim"):
        row = st[clips[name].clip_id]
        path = out / row["output"]
        info = video.probe(path)
        assert (info.width, info.height, info.fps) == (128, 128, 25.0)
        a = int(row["out_start_frame"])
        assert _indices(path) == list(range(a, int(row["out_end_frame"]))), name  # output frame k = source frame start + k
        assert float(row["face_iou"]) >= 0.15 and row["crf"] == "17" and row["gop"] == "25" and row["scale_flags"] == "lanczos"
    assert "ok 4" in stdout and "not-downloaded 1" in stdout

    # a table as earlier versions wrote it (stamps with a "+00:00" offset) resumes the same way
    rows = files.read_csv(out / "crop_status.csv")
    old = [{**r, "updated": dt.datetime.fromisoformat(r["updated"]).isoformat(timespec="microseconds")} for r in rows]
    files.write_csv(out / "crop_status.csv", old, crop_status.FIELDS)
    st = _status(out)
    assert st[clips["plain"].clip_id]["updated"].endswith("+00:00")

    # a re-run does nothing; changing a parameter redoes the clips it affects
    code, stdout, err = cli("crop", "-m", root / "m.csv", "--videos", root / "dl", "-o", out, *COMMON)
    assert code == 0 and "1 clip(s) to do, 9 done before" in err  # only the clip without a download is looked at again
    assert _status(out)[clips["plain"].clip_id]["updated"] == st[clips["plain"].clip_id]["updated"]


@pytest.mark.slow
def test_png_frames_and_resampled_source(tmp_path, cli):
    v30 = D.Video("vid30", D.spec(frames=120, fps=30.0, seed=5))  # 4 s at 30 fps, manifest at 25 fps
    D.write_downloads(tmp_path / "dl", [v30])
    clip = D.clip(v30, "p1", "train", 13, 73, box=synthetic.tube_box(v30.spec, 16, 88, ref=D.REF))
    D.write_manifest(tmp_path / "m.csv", [clip])
    code, _, err = cli("crop", "-m", tmp_path / "m.csv", "--videos", tmp_path / "dl", "-o", tmp_path / "out", *COMMON, "--format", "png")
    assert code == 0, err
    row = _status(tmp_path / "out")[clip.clip_id]
    assert row["status"] == "ok" and row["resampled"] == "1" and row["format"] == "png", row["detail"]
    folder = tmp_path / "out" / row["output"]
    names = sorted(p.name for p in folder.iterdir())
    assert names[0] == "0000000.png" and len(names) == 60
    got = _indices(folder)
    want = [int((13 + k) / 25 * 30 + 0.5) for k in range(60)]  # the 30 fps frame nearest each 25 fps instant
    assert got == want


@pytest.mark.slow
def test_sigkill_mid_crop_resumes_to_identical_outputs(tmp_path):
    videos = [D.Video(f"vid{i}", D.spec(frames=100, seed=10 + i)) for i in range(3)]
    D.write_downloads(tmp_path / "dl", videos)
    clips = [D.clip(v, f"p{i}", "train", a, a + 40) for i, v in enumerate(videos) for a in (5, 50)]
    D.write_manifest(tmp_path / "m.csv", clips)
    args = ["crop", "-m", str(tmp_path / "m.csv"), "--videos", str(tmp_path / "dl"), *COMMON, "--preset", "medium", "--size", "256"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VHQ_QUIET": "1"}
    run = [sys.executable, "-c", "import sys, cli; cli.main(sys.argv[1:])"]

    subprocess.run(run + args + ["-o", str(tmp_path / "ref")], env=env, cwd=ROOT, check=True, capture_output=True)
    ref = _status(tmp_path / "ref")
    assert all(r["status"] == "ok" for r in ref.values())

    out = tmp_path / "out"
    journal = out / "crop_status.journal"
    killed = 0
    for attempt in range(3):  # killed while ffmpeg writes a clip (after one clip is done, then at once), then run through
        p = subprocess.Popen(run + args + ["-o", str(out)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while attempt < 2 and time.monotonic() < deadline and p.poll() is None:
            ready = attempt == 1 or (journal.exists() and journal.read_text().count("\n") >= 1)
            if ready and list((out / "clips").glob(".*part*")):
                os.killpg(p.pid, signal.SIGKILL)
                killed += 1
                break
            time.sleep(0.005)
        p.wait(timeout=120)
        if attempt < 2:
            assert p.returncode == -signal.SIGKILL
            assert list((out / "clips").glob(".*part*"))  # the temp file of the clip in flight
            rows = crop_status.read(out)  # the killed run's journal: only complete clips are ok
            assert all((out / r["output"]).exists() for r in rows.values() if r["status"] == "ok")
            finished = [f for f in (out / "clips").glob("*.mp4") if not f.name.startswith(".")]
            assert all(video.probe(f).frames == 40 for f in finished)  # a final name is always a complete clip
    assert killed == 2 and p.returncode == 0
    assert not list((out / "clips").glob(".*part*"))
    got = _status(out)
    assert set(got) == set(ref)
    for cid, r in ref.items():
        assert got[cid]["status"] == "ok"
        assert files.sha256_file(out / got[cid]["output"]) == files.sha256_file(tmp_path / "ref" / r["output"]), cid


def test_bad_input_is_one_line(tmp_path, cli):
    D.write_manifest(tmp_path / "m.csv", [mk((1, 1, 100, 100))])
    code, _, err = cli("crop", "-m", tmp_path / "m.csv", "--videos", tmp_path / "nope", "-o", tmp_path / "out")
    assert code == 1 and "error: --videos" in err and "Traceback" not in err
    (tmp_path / "dl").mkdir()
    code, _, err = cli("crop", "-m", tmp_path / "m.csv", "--videos", tmp_path / "dl", "-o", tmp_path / "out")
    assert code == 1 and "no download_status.csv" in err
    code, _, err = cli("crop", "-m", tmp_path / "m.csv", "--videos", tmp_path / "dl", "-o", tmp_path / "out", "--size", "511")
    assert code == 1 and "--size" in err


def test_ffmpeg_command_seeks_on_input_and_pins_the_encoder(tmp_path):
    sq = C.Region(10, 20, 300, 300, (0, 0, 1, 1), 1.1, (0, 0))
    t = C.Timing(4.0, 6.0, 25.0, 25.0, 100, False)
    opts = crop_run.Options(out=tmp_path, videos=tmp_path)
    cmd = crop_run.ffmpeg_command(Path("in.mp4"), t, sq, 50, opts, Path("o.mp4"))
    assert cmd.index("-ss") < cmd.index("-i") and cmd[cmd.index("-ss") + 1] == "3.980000"
    vf = cmd[cmd.index("-vf") + 1]
    assert vf.startswith("crop=300:300:10:20:exact=1,scale=512:512:flags=lanczos")
    for flag, value in (("-frames:v", "50"), ("-crf", "17"), ("-g", "25"), ("-pix_fmt", "yuv420p"), ("-c:v", "libx264")):
        assert cmd[cmd.index(flag) + 1] == value
