import json
import os
import threading
import time
from pathlib import Path

import pytest

from vhq.dataset.download import plan as P
from vhq.dataset.download import stage as D
from vhq.dataset.download import status as E
from vhq.dataset.download.backoff import PauseGate
from vhq.dataset.manifest import Clip, Manifest
from vhq.io import files
from vhq.parallel import Shard

# Messages as yt-dlp prints them (DownloadError text), with the status each must get.
MESSAGES = [
    ("ERROR: [youtube] abcdefghijk: Video unavailable. This video has been removed by the uploader", "unavailable"),
    ("ERROR: [youtube] abcdefghijk: Video unavailable. This video is no longer available because the YouTube account associated with this video has been terminated.", "unavailable"),
    ("ERROR: [generic] x: Unable to download webpage: HTTP Error 404: Not Found (caused by <HTTPError 404: Not Found>)", "unavailable"),
    ("ERROR: [youtube] abcdefghijk: Private video. Sign in if you've been granted access to this video", "private"),
    ("ERROR: [youtube] abcdefghijk: Sign in to confirm your age. This video may be inappropriate for some users.", "age-restricted"),
    ("ERROR: [youtube] abcdefghijk: Sign in to confirm you’re not a bot. Use --cookies-from-browser or --cookies for the authentication.", "bot-check"),
    ("ERROR: [youtube] abcdefghijk: Sign in to confirm you're not a bot", "bot-check"),
    ("ERROR: [youtube] abcdefghijk: This content isn't available, try again later.", "rate-limited"),
    ("ERROR: [youtube] abcdefghijk: This content isn't available, try again later. Your account has been rate-limited by YouTube for up to an hour.", "rate-limited"),
    ("ERROR: [generic] x: Unable to download webpage: HTTP Error 429: Too Many Requests", "rate-limited"),
    ("ERROR: [youtube] abcdefghijk: Join this channel to get access to members-only content like this video", "members-only"),
    ("ERROR: [youtube] abcdefghijk: The uploader has not made this video available in your country", "geo-blocked"),
    ("ERROR: unable to download video data: HTTP Error 403: Forbidden", "forbidden"),
    ("ERROR: [youtube] abcdefghijk: Requested format is not available. Use --list-formats for a list of available formats", "no-formats"),
    ("WARNING: [youtube] abcdefghijk: Only images are available for download. use --list-formats to see them", "js-runtime"),
    ("ERROR: [youtube] abcdefghijk: n challenge solving failed", "js-runtime"),
    ("ERROR: unable to download video data: <urlopen error [Errno 111] Connection refused>", "network"),
    ("ERROR: [download] Got error: The read operation timed out", "network"),
    ("ERROR: Did not get any data blocks", "network"),
    ("ERROR: something nobody has seen before", "unexpected"),
]


@pytest.mark.parametrize("message, status", MESSAGES)
def test_error_table(message, status):
    assert E.classify(message) == status


def test_final_and_retryable_statuses_partition():
    assert set(E.FINAL).isdisjoint(E.RETRYABLE)
    assert {s for s, _ in E.ERROR_TABLE} <= set(E.FINAL) | set(E.RETRYABLE)
    assert {"ok", "below-min-height", "unavailable", "private", "age-restricted"} <= set(E.FINAL)
    assert {"rate-limited", "bot-check", "network", "unexpected"} <= set(E.RETRYABLE)
    assert set(E.PAUSING) <= set(E.RETRYABLE)


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_pause_doubles_and_resets():
    clock = FakeClock()
    gate = PauseGate(10.0, clock=clock)
    assert gate.trip(clock()) == 10.0
    clock.t += 10
    assert gate.trip(clock()) == 20.0
    clock.t += 20
    assert gate.trip(clock()) == 40.0
    gate.reset()
    clock.t += 40
    assert gate.trip(clock()) == 10.0
    assert gate.pauses == [10.0, 20.0, 40.0, 10.0]


def test_requests_started_before_a_pause_do_not_double_it():
    clock = FakeClock()
    gate = PauseGate(10.0, clock=clock)
    a_started = b_started = clock()
    clock.t += 1
    assert gate.trip(a_started) == 10.0
    clock.t += 1
    assert gate.trip(b_started) == 9.0  # the same rate limit seen by a second worker
    assert gate.pauses == [10.0]
    clock.t += 9
    assert gate.trip(clock()) == 20.0  # a request after the pause hit it again


def test_pause_blocks_every_worker():
    gate = PauseGate(0.3)
    gate.trip(gate.now())
    waited = []

    def worker():
        t0 = time.monotonic()
        gate.wait()
        waited.append(time.monotonic() - t0)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(waited) == 3 and all(0.2 < w < 2.0 for w in waited)
    t0 = time.monotonic()
    gate.wait()
    assert time.monotonic() - t0 < 0.05


def fmt(fid, h, acodec="none", vcodec="avc1.640028", fps=25, tbr=1000):
    return {"format_id": fid, "height": h, "width": h and h * 16 // 9, "vcodec": vcodec, "acodec": acodec, "fps": fps, "tbr": tbr}


def test_choose_format():
    info = {"formats": [
        fmt("sb0", None, vcodec="none"), fmt("a", None, vcodec="none", acodec="opus"),
        fmt("18", 360, acodec="mp4a"), fmt("137", 1080), fmt("248", 1080, vcodec="vp9"),
        fmt("271", 1440, vcodec="vp9"), fmt("313", 2160, vcodec="vp9"), fmt("22", 1080, acodec="mp4a"),
    ]}
    chosen, best = P.choose_format(info, 1080)
    assert chosen["format_id"] == "137" and best["format_id"] == "313"  # smallest >=1080, video-only, H.264
    assert P.choose_format(info, 1080, prefer_best=True)[0]["format_id"] == "313"
    assert P.choose_format(info, 1200)[0]["format_id"] == "271"
    chosen, best = P.choose_format({"formats": [fmt("136", 720), fmt("18", 360, acodec="mp4a")]}, 1080)
    assert chosen is None and best["format_id"] == "136"
    assert P.choose_format({"formats": [fmt("a", None, vcodec="none")]}, 1080) == (None, None)


def clip(start, end, vid="v"):
    return Clip(f"p#{vid}#{start}#{end}", vid, "p", "train", start, end, 25.0, 1280, 720, 0, 0, 10, 10)


def test_plan_sections_pads_merges_snaps_and_clamps():
    clips = [clip(100, 200), clip(150, 260), clip(400, 450), clip(10, 20)]
    # ±1 s: [0 (clamped), 1.8], [3, 11.4] (two overlapping clips), [15, 19]
    assert P.plan_sections(clips, 1.0, 25.0, None) == [(0.0, 1.8), (3.0, 11.4), (15.0, 19.0)]
    # starts snap down to a frame of a 30 fps source; ends clamp to the duration
    out = P.plan_sections([clip(101, 200)], 0.5, 30.0, 7.5)
    assert out == [(round(106 / 30, 6), 7.5)]  # 4.04 s - 0.5 s = 3.54 s = frame 106.2 at 30 fps
    assert P.plan_sections([clip(1000, 1100)], 1.0, 25.0, 10.0) == []


def test_a_table_written_by_an_earlier_version_resumes(tmp_path):
    # each stamp format earlier versions wrote; a shard table has a newer row for v3
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "v1.000000000-000004000.mp4").write_bytes(b"x")
    files.write_csv(tmp_path / "download_status.csv", [
        {"video_id": "v1", "status": "ok", "file": "v1/v1.000000000-000004000.mp4", "sections": "0.000-4.000", "updated": "2026-01-01T00:00:00.000000Z"},
        {"video_id": "v2", "status": "unavailable", "updated": "2026-01-01T00:00:00"},
        {"video_id": "v3", "status": "private", "updated": "2026-01-01T00:00:00.000000+00:00"},
    ], E.FIELDS)
    files.write_csv(tmp_path / "download_status.1-of-2.csv", [{"video_id": "v3", "status": "rate-limited", "updated": "2026-01-02T00:00:00Z"}], E.FIELDS)
    manifest = Manifest(None, [clip(0, 50, vid) for vid in ("v1", "v2", "v3", "v4")])
    todo, skipped = D.select(manifest, E.read(tmp_path), Shard(), None, (), tmp_path)
    assert todo == ["v3", "v4"] and skipped == 2


# ---------------------------------------------------------------- the YouTube of 2026

@pytest.mark.parametrize("message, status", [
    ("ERROR: [youtube] abcdefghijk: Video unavailable. YouTube is requiring a captcha challenge before playback", "bot-check"),
    ("ERROR: [youtube] abcdefghijk: All player responses are invalid. Your IP is likely being blocked by Youtube", "bot-check"),
])
def test_captcha_and_blocked_ip_are_bot_checks_not_gone(message, status):
    assert E.classify(message) == status and E.is_retryable(status)


def test_upscaled_formats_never_qualify():
    sr = {**fmt("137-sr", 1080), "format_note": "1080p, AI-upscaled"}
    note_only = {**fmt("399", 1080, vcodec="av01"), "format_note": "1080p, AI-upscaled"}
    info = {"formats": [fmt("134", 360), sr, note_only]}
    chosen, best = P.choose_format(info, 1080)
    assert chosen is None and best["format_id"] == "134"
    assert [f["format_id"] for f in P.video_formats(info, upscaled=True)] == ["137-sr", "399"]
    assert P.choose_format(info, 360)[0]["format_id"] == "134"


def test_only_format_18_is_a_degraded_probe():
    assert P.only_format_18({"formats": [fmt("18", 360, acodec="mp4a"), fmt("a", None, vcodec="none")]})
    assert not P.only_format_18({"formats": [fmt("18", 360, acodec="mp4a"), fmt("134", 360)]})


@pytest.mark.parametrize("span, duration, end, short", [
    ((2.0, 6.0), 60.0, 6.0, False),
    ((2.0, 6.0), 60.0, 5.96, False),   # within a frame and a half
    ((2.0, 6.0), 60.0, 5.2, True),     # a dropped connection
    ((50.0, 60.0), 60.0, 59.6, False), # the last second: YouTube's duration is rounded
    ((50.0, 60.0), 60.0, 58.0, True),
    ((50.0, 70.0), 60.0, 60.0, False), # the span was clamped to the video
    (None, 60.0, 59.7, False),
    (None, 60.0, 40.0, True),
    (None, None, 1.0, False),
])
def test_short_section(span, duration, end, short):
    assert (D.short_by(span, duration, span[0] if span else 0.0, end, 25.0) > 0) == short


def test_yt_dlp_options(monkeypatch, tmp_path):
    from vhq.dataset.download import ytdlp
    from vhq.dataset.download.options import Options
    from vhq.errors import BadInput

    assert ytdlp.parse_extractor_args(["youtube:player_client=mweb,tv;po_token=mweb.gvs+X", "youtubetab:skip=webpage"]) == {
        "youtube": {"player_client": ["mweb", "tv"], "po_token": ["mweb.gvs+X"]}, "youtubetab": {"skip": ["webpage"]}}
    assert ytdlp.parse_ytdlp_opts(['source_address="0.0.0.0"', "sleep_interval=2"]) == {"source_address": "0.0.0.0", "sleep_interval": 2}
    with pytest.raises(BadInput, match="vhq sets this option"):
        ytdlp.parse_ytdlp_opts(['format="best"'])
    opts = Options(out=tmp_path, ytdlp_opts=('source_address="0.0.0.0"',))
    p = ytdlp.base_params(opts, ytdlp.Log())
    assert p["source_address"] == "0.0.0.0"
    assert p["js_runtimes"] == {"deno": {"path": ytdlp.deno_path()}}
    # without the deno wheel the key is left out: yt-dlp then finds deno/node on PATH itself
    monkeypatch.setattr(ytdlp, "deno_path", lambda: None)
    assert "js_runtimes" not in ytdlp.base_params(opts, ytdlp.Log())


def test_cache_is_under_vhq_cache(monkeypatch, tmp_path):
    from vhq.dataset.download import ytdlp
    from vhq.dataset.download.options import Options

    monkeypatch.setenv("VHQ_CACHE", str(tmp_path / "cache"))
    assert ytdlp.base_params(Options(out=tmp_path), ytdlp.Log())["cachedir"] == str(tmp_path / "cache" / "yt-dlp")


def test_each_worker_has_its_own_cookie_file(tmp_path):
    from vhq.dataset.download.options import Options

    src = tmp_path / "cookies.txt"
    src.write_text("# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t0\tPREF\tf6=40000000\n")
    dl = D.Downloader(Options(out=tmp_path, cookies=str(src), workers=2), PauseGate(0))
    sessions = []
    threads = [threading.Thread(target=lambda: sessions.append(dl.session())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    paths = {s.ydl.params["cookiefile"] for s in sessions}
    assert len(paths) == 2 and str(src) not in paths and all(Path(p).read_text() == src.read_text() for p in paths)
    before = src.read_text()
    dl.close()  # yt-dlp writes each jar back on close: into the copies, never the user's file
    assert src.read_text() == before and not any(os.path.exists(p) for p in paths)


def test_a_malformed_status_table_names_file_and_line(tmp_path):
    from vhq.errors import BadInput

    rows = [{"video_id": "a", "status": "ok", "file": "a/a.mp4", "sections": "0.000-4.000"}]
    for bad, what in [
        ({"video_id": "b", "status": "done"}, "line 3: status 'done' is not a download status"),
        ({"video_id": "b", "status": "ok", "file": "b/1.mp4;b/2.mp4", "sections": "0-1"}, "line 3: lists 2 files but 1 sections"),
        ({"video_id": "b", "status": "ok", "file": "b/1.mp4", "sections": "4-1"}, "line 3: section '4-1'"),
    ]:
        files.write_csv(tmp_path / "download_status.csv", rows + [bad], E.FIELDS)
        with pytest.raises(BadInput, match=f"download_status.csv {what}"):
            E.read(tmp_path)
    (tmp_path / "download_status.csv").write_text("video_id,status\na,ok,extra\n")
    with pytest.raises(BadInput, match="line 2: has 3 fields"):
        E.read(tmp_path)


def test_lease_of_another_host_goes_stale_when_not_refreshed(tmp_path):
    from vhq.errors import Busy
    from vhq.io.lease import Lease

    path = tmp_path / "download.lease"
    files.write_json(path, {"host": "node-17", "pid": 4242, "start": "2026-12-01T00:00:00Z"})
    with pytest.raises(Busy, match="pid 4242 on node-17 since 2026-12-01T00:00:00Z"):
        Lease(path, stale_after=600).acquire()
    old = time.time() - 601
    os.utime(path, (old, old))
    lease = Lease(path, stale_after=600).acquire()
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lease.release()
    assert not path.exists()
