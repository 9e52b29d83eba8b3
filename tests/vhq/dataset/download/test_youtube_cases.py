"""``vhq download`` against a stand-in of today's YouTube: VP9 WebM, AI-upscaled formats, captchas,
skipped formats, dropped connections, flagged IPs, two runs on one shard (no internet)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vhq.dataset import manifest as M
from vhq.dataset.download import status as dstatus
from vhq.dataset.download import ytdlp
from vhq.io import files, video
from vhq.testing import synthetic
from vhq.testing import youtube_site as Y
from vhq.testing.mediaserver import MediaServer

ROOT = Path(__file__).resolve().parents[4]
FAST = ["--sleep", "0", "--sleep-requests", "0", "--backoff", "0.05"]
FRAMES = 50  # 2 s at 25 fps

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("yt")
    Y.add_youtube(root, "vp9webm1080", [Y.write_format(root, "vp9webm1080", "248", 1080, FRAMES, codec="vp9"),
                                        Y.write_format(root, "vp9webm1080", "134", 360, FRAMES)], frames=FRAMES)
    Y.add_youtube(root, "upscaled001", [Y.write_format(root, "upscaled001", "137", 1080, FRAMES, sr=True),
                                        Y.write_format(root, "upscaled001", "134", 360, FRAMES)], frames=FRAMES,
                  debug=[Y.WEB_SABR_DEBUG])
    Y.add_youtube(root, "captcha0001", playability=Y.CAPTCHA, frames=FRAMES)
    Y.add_youtube(root, "sabrskipped", [Y.write_format(root, "sabrskipped", "134", 360, FRAMES)], frames=FRAMES, warnings=[Y.SABR_SKIPPED])
    Y.add_youtube(root, "potskipped1", [Y.write_format(root, "potskipped1", "134", 360, FRAMES)], frames=FRAMES, warnings=[Y.POT_SKIPPED])
    Y.add_youtube(root, "truncated01", [Y.write_format(root, "truncated01", "137", 1080, FRAMES)], frames=FRAMES)
    for i in range(1, 5):
        Y.add_youtube(root, f"botcheck{i:03d}", playability=Y.BOT_CHECK, frames=FRAMES)
    with MediaServer(root) as srv:
        srv.root_path = root
        yield srv


@pytest.fixture(autouse=True)
def standin(monkeypatch):
    monkeypatch.setattr(ytdlp, "EXTRACTORS", [Y.standin_extractor()])


def clip(vid, start, end, person="p1"):
    return M.Clip(M.clip_key(person, vid, start, end), vid, person, "train", start, end, Y.FPS, 1280, 720, 100, 100, 400, 500)


def args(site, manifest, out, *extra):
    return ["download", "--manifest", manifest, "--out", out, "--url-template", site.url("yt/{video_id}"), *FAST, *extra]


def first_and_count(path):
    frames = video.read_frames(path)
    return synthetic.decode_frame_index(frames[0].numpy()), len(frames)


def test_each_youtube_answer_gets_its_status(site, tmp_path, cli, monkeypatch):
    ids = ("vp9webm1080", "upscaled001", "captcha0001", "sabrskipped", "potskipped1")
    M.save([clip(v, 10, 40) for v in ids], tmp_path / "m.csv")
    out = tmp_path / "videos"
    made = []
    monkeypatch.setattr(ytdlp.Session, "__init__", lambda self, *a, _init=ytdlp.Session.__init__, **k: (made.append(1), _init(self, *a, **k))[1])
    code, stdout, err = cli(*args(site, tmp_path / "m.csv", out, "--pad", "0.4", "--extractor-args", "youtube:player_client=mweb,tv"))
    assert code == 1 and "3 video(s) can be retried" in stdout, err
    assert 1 <= len(made) <= 2  # one YoutubeDL per worker (2), not one per video (5)
    st = dstatus.read(out)
    assert {v: r["status"] for v, r in st.items()} == {
        "vp9webm1080": "ok", "upscaled001": "below-min-height", "captcha0001": "bot-check",
        "sabrskipped": "degraded-probe", "potskipped1": "degraded-probe"}

    # VP9 in WebM: cut, re-encoded into mp4, starting on the frame the row says
    r = st["vp9webm1080"]
    assert r["format"].startswith("248 vp9 1920x1080") and (r["height"], r["width"]) == ("1080", "1920")
    [s] = dstatus.sections(r, out)
    assert s.file.suffix == ".mp4" and (s.start, s.end) == (0.0, 2.0)
    assert first_and_count(s.file) == (0, 50)
    assert video.probe(s.file).codec == "h264"
    # provenance: the file's sha256 and size, YouTube's lmt/clen of the format
    assert r["file_sha256"] == files.sha256_file(s.file) and r["file_bytes"] == str(s.file.stat().st_size)
    assert r["lmt"] == "1700000000000000" and int(r["clen"]) > 0
    # what was passed and seen: the options, the player clients, the versions
    assert '"player_client": ["mweb", "tv"]' in r["ytdlp_options"] and r["clients"] == "mweb;tv"
    assert r["versions"].startswith("yt-dlp ") and "yt-dlp-ejs" in r["versions"] and "ffmpeg" in r["versions"]

    up = st["upscaled001"]
    assert "below 1080" in up["reason"] and "137-sr is AI-upscaled" in up["reason"]
    assert (up["max_height"], up["upscaled"]) == ("360", "1")
    assert "captcha" in st["captcha0001"]["reason"]
    assert "SABR" in st["sabrskipped"]["reason"] and "SABR" in st["sabrskipped"]["warnings"]
    assert "PO Token" in st["potskipped1"]["reason"]
    # yt-dlp's routine debug line about its web client (upscaled001) does not make a probe degraded

    # A re-run asks again for the retryable ones only, and --recheck for a final status too.
    n = len(site.requests)
    code, stdout, _ = cli(*args(site, tmp_path / "m.csv", out))
    asked = {p.rsplit("/", 1)[-1] for p, _ in site.requests[n:] if p.startswith("/yt/")}
    assert asked == {"captcha0001", "sabrskipped", "potskipped1"} and "2 skipped" in stdout
    n = len(site.requests)
    code, _, _ = cli(*args(site, tmp_path / "m.csv", out, "--recheck", "below-min-height"))
    asked = {p.rsplit("/", 1)[-1] for p, _ in site.requests[n:] if p.startswith("/yt/")}
    assert "upscaled001" in asked and "vp9webm1080" not in asked


def test_a_section_cut_short_is_never_counted(site, tmp_path, cli):
    M.save([clip("truncated01", 5, 45)], tmp_path / "m.csv")
    out = tmp_path / "videos"
    fmt = site.root_path / "v" / "truncated01" / "137.mp4"
    site.drop_connection_after("v/truncated01/137.mp4", int(fmt.stat().st_size * 0.5), times=10)
    try:
        code, _, _ = cli(*args(site, tmp_path / "m.csv", out, "--pad", "0"))
    finally:
        site._server.truncate_after.clear()
    r = dstatus.read(out)["truncated01"]
    assert code == 1 and r["status"] == "short-section" and "missing" in r["reason"]
    assert not r["file"] and not (out / "truncated01").exists()
    assert not [p for p in out.rglob("*.mp4")]  # the partial file is gone, not kept for a resume
    code, _, _ = cli(*args(site, tmp_path / "m.csv", out, "--pad", "0"))
    r = dstatus.read(out)["truncated01"]
    [s] = dstatus.sections(r, out)
    assert code == 0 and r["status"] == "ok" and (s.start, s.end) == (0.2, 1.8)
    assert first_and_count(s.file) == (5, 40)


def test_bot_checks_in_a_row_end_the_run(site, tmp_path, cli):
    ids = [f"botcheck{i:03d}" for i in range(1, 5)] + ["vp9webm1080"]
    M.save([clip(v, 10, 40) for v in ids], tmp_path / "m.csv")
    out = tmp_path / "videos"
    n = len(site.requests)
    code, stdout, err = cli(*args(site, tmp_path / "m.csv", out, "--workers", "1", "--max-bot-checks", "3", "--min-height", "360"))
    asked = [p for p, _ in site.requests[n:] if p.startswith("/yt/")]
    assert code == 1
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "bot check on 3 videos in a row (botcheck001, botcheck002, botcheck003)" in line
    assert "hint:" in err and "private browser window" in err and "PO-token" in err
    st = dstatus.read(out)
    assert {v: r["status"] for v, r in st.items()} == {f"botcheck{i:03d}": "bot-check" for i in (1, 2, 3)}
    assert "bot-check 3" in stdout  # the summary is printed before the error, and the table is kept
    # no pause (waiting does not lift a bot check) and no second try of the same video
    assert not any("paused" in st[v]["reason"] for v in st)
    assert asked == [f"/yt/botcheck{i:03d}" for i in (1, 2, 3)]
    # once the IP is fine again, a re-run does what is left
    code, stdout, _ = cli(*args(site, tmp_path / "m.csv", out, "--max-bot-checks", "10", "--min-height", "360"))
    st = dstatus.read(out)
    assert st["vp9webm1080"]["status"] == "ok" and st["botcheck004"]["status"] == "bot-check"


def test_export_status_and_skip_known(site, tmp_path, cli):
    M.save([clip(v, 10, 40) for v in ("upscaled001", "captcha0001", "gonevideo01")], tmp_path / "m.csv")
    out = tmp_path / "lab-a"
    cli(*args(site, tmp_path / "m.csv", out))
    code, stdout, _ = cli("download", "export-status", "--videos", out, "--out", tmp_path / "known.csv")
    assert code == 0 and "below-min-height 1, unavailable 1" in stdout
    text = (tmp_path / "known.csv").read_text()
    assert str(tmp_path) not in text and "captcha0001" not in text  # no local paths, no temporary states
    rows = {r["video_id"]: r for r in files.read_csv(tmp_path / "known.csv")}
    assert rows["upscaled001"]["max_height"] == "360" and rows["upscaled001"]["upscaled"] == "1"

    out_b = tmp_path / "lab-b"
    n = len(site.requests)
    code, stdout, _ = cli(*args(site, tmp_path / "m.csv", out_b, "--skip-known", tmp_path / "known.csv"))
    asked = {p.rsplit("/", 1)[-1] for p, _ in site.requests[n:] if p.startswith("/yt/")}
    assert asked == {"captcha0001"} and "2 known from known.csv" in stdout
    st = dstatus.read(out_b)
    assert st["gonevideo01"]["status"] == "unavailable" and "known from known.csv" in st["gonevideo01"]["reason"]
    # a lower --min-height does not take "too small at 1080" from the snapshot
    n = len(site.requests)
    cli(*args(site, tmp_path / "m.csv", tmp_path / "lab-c", "--skip-known", tmp_path / "known.csv", "--min-height", "360"))
    asked = {p.rsplit("/", 1)[-1] for p, _ in site.requests[n:] if p.startswith("/yt/")}
    assert "upscaled001" in asked and "gonevideo01" not in asked


HOLD = """
import sys, time
from pathlib import Path
from vhq.io.lease import Lease
Lease(Path(sys.argv[1]) / "download.1-of-2.lease", "this shard is being downloaded").acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_run_on_a_shard_is_refused_until_the_first_is_gone(site, tmp_path, cli):
    M.save([clip("vp9webm1080", 10, 40)], tmp_path / "m.csv")
    out = tmp_path / "videos"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, _, err = cli(*args(site, tmp_path / "m.csv", out, "--shard", "1/2"))
        [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
        assert code == 1 and f"download.1-of-2.lease: this shard is being downloaded by pid {holder.pid}" in line
        assert not list(out.glob("download_status*"))
        # another shard is free
        assert cli(*args(site, tmp_path / "m.csv", out, "--shard", "2/2"))[0] == 0
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died without releasing: its lease is stale and taken over
    code, _, err = cli(*args(site, tmp_path / "m.csv", out, "--shard", "1/2"))
    assert code == 0, err
    assert not (out / "download.1-of-2.lease").exists()  # released at the end


def test_bad_download_input_is_one_line_before_any_work(site, tmp_path, cli):
    M.save([clip("vp9webm1080", 10, 40)], tmp_path / "m.csv")
    out = tmp_path / "videos"
    cases = [
        (["--pad", "-1"], "--pad -1: must be >= 0"),
        (["--proxy", "socks5://127.0.0.1:9"], "cannot use a SOCKS proxy"),
        (["--ytdlp-opt", "source_address=0.0.0.0"], "the value is not JSON"),
        (["--ytdlp-opt", 'outtmpl="x"'], "vhq sets this option"),
        (["--extractor-args", "player_client=mweb"], "is not IE:KEY=VALUE"),
        (["--recheck", "rate-limited"], "is not a final status"),
    ]
    n = len(site.requests)
    for extra, what in cases:
        code, _, err = cli(*args(site, tmp_path / "m.csv", out, *extra))
        assert code == 1 and what in err and "Traceback" not in err, (extra, err)
    assert len(site.requests) == n and not out.exists()
    # a malformed status table: the file and the line, no traceback
    out.mkdir()
    files.write_csv(out / "download_status.csv", [
        {"video_id": "a", "status": "ok", "file": "a/a.mp4", "sections": "0.000-2.000"},
        {"video_id": "b", "status": "ok", "file": "b/b.mp4", "sections": "zero-2"},
    ], dstatus.FIELDS)
    code, _, err = cli(*args(site, tmp_path / "m.csv", out))
    assert code == 1 and f"{out / 'download_status.csv'} line 3: section 'zero-2'" in err and "Traceback" not in err


def test_sigkill_mid_vp9_section_resumes_to_identical_files(site, tmp_path, cli):
    M.save([clip("vp9webm1080", 0, 50)], tmp_path / "m.csv")
    plugin = tmp_path / "standin.py"
    plugin.write_text("from vhq.dataset.download import ytdlp\nfrom vhq.testing import youtube_site\n"
                      "ytdlp.EXTRACTORS[:] = [youtube_site.standin_extractor()]\nfrom cli import main\nmain()\n")
    reference = tmp_path / "ref"
    assert cli(*args(site, tmp_path / "m.csv", reference, "--pad", "0"))[0] == 0
    out = tmp_path / "videos"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VHQ_QUIET": "1"}
    cmd = [sys.executable, str(plugin), *[str(a) for a in args(site, tmp_path / "m.csv", out, "--pad", "0")]]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not parts:
            parts = list(out.glob(".incomplete/*/*.part"))
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
    assert parts, stderr.decode()[-2000:]  # killed while ffmpeg was writing the section
    assert "vp9webm1080" not in dstatus.read(out) and (out / "download.lease").exists()
    code, _, err = cli(*args(site, tmp_path / "m.csv", out, "--pad", "0"))
    assert code == 0, err
    a, b = dstatus.read(reference)["vp9webm1080"], dstatus.read(out)["vp9webm1080"]
    assert a["file_sha256"] == b["file_sha256"] and a["sections"] == b["sections"]


def test_verbose_shows_yt_dlp_log(site, tmp_path, cli):
    M.save([clip("captcha0001", 10, 40)], tmp_path / "m.csv")
    code, _, err = cli(*args(site, tmp_path / "m.csv", tmp_path / "videos", "--verbose"))
    assert code == 1 and "[yt-dlp w1] [youtube-standin] captcha0001: Downloading web player API JSON" in err
    code, _, err = cli(*args(site, tmp_path / "m.csv", tmp_path / "quiet"))
    assert "[yt-dlp" not in err


def test_a_relative_out_folder_leaves_no_nested_staging_folders(site, tmp_path, cli, monkeypatch):
    M.save([clip("vp9webm1080", 10, 40)], tmp_path / "m.csv")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*args(site, "m.csv", Path("rel") / "videos"))
    assert code == 0, err
    assert dstatus.read(tmp_path / "rel" / "videos")["vp9webm1080"]["status"] == "ok"
    leftovers = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob(".incomplete*")]
    assert leftovers == [], leftovers
