"""``vhq download`` end to end against a local stand-in for YouTube (no internet)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vhq.dataset import manifest as M
from vhq.dataset.download import status as dstatus
from vhq.io import video
from vhq.testing import synthetic
from vhq.testing.mediaserver import MediaServer
from vhq.testing.youtube_site import FPS, add_dash, add_hls

ROOT = Path(__file__).resolve().parents[4]
FAST = ["--sleep", "0", "--sleep-requests", "0", "--backoff", "0.1"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("yt")
    add_hls(root, "hlsladder01", heights=(1080, 720), frames=100)
    add_hls(root, "hls720only1", heights=(720,), frames=100)
    add_dash(root, "dashladder1", heights=(1080, 720), frames=100)
    with MediaServer(root) as srv:
        yield srv
        srv.clear_failures()


def clip(vid, start, end, person="p1"):
    return M.Clip(M.clip_key(person, vid, start, end), vid, person, "train", start, end, FPS, 1280, 720, 100, 100, 400, 500)


def write_manifest(path, clips):
    return M.save(clips, path)


def rows(out):
    return dstatus.read(out)


def first_and_count(path):
    frames = video.read_frames(path)
    return synthetic.decode_frame_index(frames[0].numpy()), synthetic.decode_frame_index(frames[-1].numpy()), len(frames)


def args(site, manifest, out, *extra):
    return ["download", "--manifest", manifest, "--out", out, "--url-template", site.url("watch/{video_id}"), *FAST, *extra]


def test_sections_statuses_and_rerun(site, tmp_path, cli):
    clips = [clip("hlsladder01", 10, 30), clip("hlsladder01", 70, 95), clip("dashladder1", 40, 80),
             clip("hls720only1", 10, 50), clip("removed0001", 10, 50)]
    man = write_manifest(tmp_path / "m.csv", clips)
    out = tmp_path / "videos"
    code, stdout, err = cli(*args(site, tmp_path / "m.csv", out, "--pad", "0.4", "--workers", "2"))
    assert code == 0, err
    st = rows(out)
    assert {v: r["status"] for v, r in st.items()} == {
        "hlsladder01": "ok", "dashladder1": "ok", "hls720only1": "below-min-height", "removed0001": "unavailable"}
    assert st["hls720only1"]["height"] == "720" and "below 1080" in st["hls720only1"]["reason"]
    assert "404" in st["removed0001"]["reason"]
    for vid in ("hlsladder01", "dashladder1"):
        r = st[vid]
        assert (r["height"], r["width"], r["fps"]) == ("1080", "1920", "25") and r["yt_dlp_version"]
        secs = dstatus.sections(r, out)
        for s in secs:
            first, last, n = first_and_count(s.file)
            # the recorded start is where the file really starts on the source timeline
            assert first == round(s.start * FPS)
            assert last == first + n - 1 and abs(s.end - (s.start + n / FPS)) < 1e-3
        for c in man.by_video()[vid]:
            assert any(s.contains(c.start_s, c.end_s) for s in secs)
    hls = dstatus.sections(st["hlsladder01"], out)
    # two clips 1.6 s apart with 0.4 s padding: two sections, the first from the video's start
    assert [(s.start, s.end) for s in hls] == [(0.0, 1.6), (2.4, 4.0)]
    assert dstatus.sections(st["dashladder1"], out)[0].start == pytest.approx(1.2)
    assert not (out / ".incomplete").exists()  # staging is cleaned up once every video is settled
    assert "ok 2" in stdout and "unavailable 1" in stdout

    # A re-run skips every final status without asking the server again.
    n = len(site.requests)
    code, stdout, _ = cli(*args(site, tmp_path / "m.csv", out))
    assert code == 0 and "4 skipped" in stdout and len(site.requests) == n
    # A deleted file makes its "ok" row stale: that video is fetched again.
    hls[1].file.unlink()
    code, stdout, _ = cli(*args(site, tmp_path / "m.csv", out, "--pad", "0.4"))
    assert code == 0 and "ok 1" in stdout and hls[1].file.is_file()


def test_rate_limit_pauses_then_retry_succeeds(site, tmp_path, cli):
    write_manifest(tmp_path / "m.csv", [clip("hlsladder01", 10, 30)])
    out = tmp_path / "videos"
    site.fail("/watch/hlsladder01", 429)
    try:
        t0 = time.monotonic()
        code, stdout, err = cli(*args(site, tmp_path / "m.csv", out, "--attempts", "3", "--backoff", "0.2"))
        elapsed = time.monotonic() - t0
    finally:
        site.clear_failures()
    assert code == 1 and "can be retried" in stdout
    r = rows(out)["hlsladder01"]
    assert r["status"] == "rate-limited" and "429" in r["reason"]
    assert "paused all workers 3x" in r["reason"]
    assert elapsed >= 0.2 + 0.4  # two pauses waited out (0.2 s, then doubled), the third reported
    assert "all workers pause" in err
    code, stdout, _ = cli(*args(site, tmp_path / "m.csv", out))
    assert code == 0 and rows(out)["hlsladder01"]["status"] == "ok"


def test_full_min_height_prefer_best_shard_limit(site, tmp_path, cli):
    write_manifest(tmp_path / "m.csv", [clip("hlsladder01", 10, 30), clip("hls720only1", 10, 30)])
    out = tmp_path / "full"
    code, _, err = cli(*args(site, tmp_path / "m.csv", out, "--full", "--min-height", "720"))
    assert code == 0, err
    st = rows(out)
    assert st["hlsladder01"]["height"] == "720"  # smallest stream >= 720
    assert st["hls720only1"]["sections"] == "0.000-4.000"
    [s] = dstatus.sections(st["hls720only1"], out)
    assert first_and_count(s.file) == (0, 99, 100)

    out = tmp_path / "best"
    code, _, _ = cli(*args(site, tmp_path / "m.csv", out, "--min-height", "720", "--prefer-best", "--limit", "1"))
    st = rows(out)
    assert code == 0 and list(st) == ["hls720only1"]  # --limit 1: the first id in order
    code, _, _ = cli(*args(site, tmp_path / "m.csv", out, "--min-height", "720", "--prefer-best"))
    st = rows(out)
    assert code == 0 and st["hlsladder01"]["height"] == "1080"  # the largest stream

    ids = ["removed0001", "removed0002", "removed0003", "removed0004", "removed0005"]
    write_manifest(tmp_path / "gone.csv", [clip(v, 0, 25) for v in ids])
    out = tmp_path / "shards"
    for k in ("1/2", "2/2"):
        assert cli(*args(site, tmp_path / "gone.csv", out, "--shard", k))[0] == 0
    tables = sorted(p.name for p in out.glob("download_status*.csv"))
    assert tables == ["download_status.1-of-2.csv", "download_status.2-of-2.csv"]
    parts = [{r["video_id"] for r in M.files.read_csv(out / t)} for t in tables]
    assert parts[0].isdisjoint(parts[1]) and parts[0] | parts[1] == set(ids)
    assert {r["status"] for r in rows(out).values()} == {"unavailable"}


def test_bad_options_are_one_line_errors(site, tmp_path, cli):
    write_manifest(tmp_path / "m.csv", [clip("hlsladder01", 10, 30)])
    code, _, err = cli("download", "--manifest", tmp_path / "m.csv", "--out", tmp_path / "o", "--url-template", "http://x/")
    assert code == 1 and "no {video_id}" in err
    code, _, err = cli("download", "--manifest", tmp_path / "m.csv", "--out", tmp_path / "o", "--shard", "3/2")
    assert code == 1 and "--shard" in err
    code, _, err = cli("download", "--manifest", tmp_path / "missing.csv", "--out", tmp_path / "o")
    assert code == 1 and "no such manifest" in err


def test_sigkill_mid_download_resumes_to_the_same_files(tmp_path, cli):
    root = tmp_path / "site"
    add_dash(root, "killvideo01", heights=(720,), frames=500, gop=50)
    write_manifest(tmp_path / "m.csv", [clip("killvideo01", 25, 475)])
    out = tmp_path / "videos"
    with MediaServer(root) as srv:
        cmd = [sys.executable, "-c", "from cli import main; main()",
               *[str(a) for a in args(srv, tmp_path / "m.csv", out, "--min-height", "720", "--pad", "0.5")]]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "VHQ_QUIET": "1"}
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        partial = None
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                parts = [p for p in (out / ".incomplete").rglob("*.part") if p.stat().st_size > 0] if (out / ".incomplete").exists() else []
                if parts:
                    partial = parts[0]
                    break
                time.sleep(0.02)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        assert partial is not None, "no partial file appeared before the download ended"
        # ffmpeg (yt-dlp's child) died with the group: the .part file no longer grows
        size = partial.stat().st_size
        time.sleep(0.3)
        assert partial.stat().st_size == size
        assert "killvideo01" not in rows(out) and not (out / "killvideo01").exists()

        code, _, err = cli(*args(srv, tmp_path / "m.csv", out, "--min-height", "720", "--pad", "0.5"))
    assert code == 0, err
    r = rows(out)["killvideo01"]
    assert r["status"] == "ok" and r["height"] == "720"
    [s] = dstatus.sections(r, out)
    assert s.file.name == "killvideo01.000000480-000019500.mp4"  # 0.5 s snaps down to frame 12
    assert first_and_count(s.file) == (12, 487, 476)  # frames 12..487 = 0.5 s .. 19.5 s
    assert sorted(p.name for p in (out / "killvideo01").iterdir()) == [s.file.name]
    assert not list(out.rglob("*.part"))
