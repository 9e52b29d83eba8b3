"""Frames per second of ``vhq crop`` against the FOMM approach, on the same clips in the same run.

FOMM's ``load_videos.py`` decodes every frame of a video in Python (imageio), slices the box out
of each frame of a clip with numpy and resizes it with scikit-image, then writes the clip. The
baseline here does the same with PyAV decoding (faster than imageio), one pass per video from
its first frame through its last clip, ``skimage.transform.resize`` (anti-aliased, as FOMM) and
the same H.264 encoder settings. ``vhq crop`` is timed twice: the whole stage (scene-cut
detection, MTCNN face check, ffmpeg cut) and the ffmpeg cut alone (``--no-face-check``; scene
detection still runs); the difference of the two is the face check's share of the stage. The
three methods alternate over ``--rounds`` rounds and the best time of each is kept, so a burst of
load on a shared machine does not decide the ratio. ``--cache DIR`` keeps the rendered videos
(rendering 1080p takes minutes) for the next run.

    python benchmarks/crop.py [--height 1080] [--seconds 12] [--videos 2] [--rounds 2] [--cache DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from vhq.dataset import manifest as M
from vhq.dataset.crop import geometry as C
from vhq.dataset.crop import stage as crop_run
from vhq.dataset.download import status as download_status
from vhq.io import video
from vhq.parallel import Shard
from vhq.testing import download_folder as D
from vhq.testing import synthetic


def fomm_baseline(m: M.Manifest, videos: Path, out: Path, size: int) -> int:
    from skimage.transform import resize

    downloads = download_status.read(videos)
    frames_out = 0
    for vid, clips in m.by_video().items():
        src = C.locate(clips[0], downloads[vid], videos)
        info = video.probe(src.path)
        plan = []
        for c in clips:
            sq = C.crop_square(c, info.width, info.height, min_crop=0)
            plan.append((c, sq, [], int(round(c.start_s * info.fps)), int(round(c.end_s * info.fps))))
        last = max(p[4] for p in plan)
        i = 0
        for batch in video.iter_frames(src.path, batch_size=16, count=last):
            for frame in batch.numpy():
                for c, sq, acc, a, b in plan:
                    if a <= i < b:
                        crop = frame[sq.y : sq.y + sq.side, sq.x : sq.x + sq.side]
                        acc.append((resize(crop, (size, size), anti_aliasing=True) * 255).astype(np.uint8))
                i += 1
        for c, _, acc, _, _ in plan:
            video.write_video(out / f"{c.clip_id}.mp4", np.stack(acc), 25.0, crf=17, preset="medium", gop=25)
            frames_out += len(acc)
    return frames_out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--videos", type=int, default=2)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cache", type=Path, help="keep the rendered videos here and reuse them")
    args = ap.parse_args()
    width = args.height * 16 // 9
    n = int(args.seconds * 25)
    tmp = Path(tempfile.mkdtemp(prefix="vhq-bench-crop-"))
    try:
        t = time.perf_counter()
        vids = [D.Video(f"bench{i}", synthetic.SyntheticVideo(width=width, height=args.height, frames=n, fps=25.0, face_scale=0.5, seed=i)) for i in range(args.videos)]
        dl = args.cache / f"{width}x{args.height}-{args.seconds:g}s-{args.videos}" if args.cache else tmp / "dl"
        D.write_downloads(dl, vids)
        # two 3-second clips per video, in the second half (as clips usually are: not at the start)
        clips = [D.clip(v, f"id{i}", "train", a, a + 75) for i, v in enumerate(vids) for a in (n // 2 - 80, n - 80)]
        m = D.write_manifest(tmp / "m.csv", clips)
        print(f"setup: {args.videos} synthetic {width}x{args.height} videos of {args.seconds:g}s, {len(clips)} clips of 75 frames "
              f"-> {args.size}px ({time.perf_counter() - t:.1f}s to render)")

        full, noface = "vhq crop (scene cuts + face check + ffmpeg)", "vhq crop --no-face-check"
        fomm = "FOMM approach (Python decode + numpy crop + skimage resize)"
        best: dict[str, float] = {}
        frames = {}
        for r in range(args.rounds):
            for name, kw in ((full, {}), (noface, {"face_check": False})):
                out = tmp / "out"
                opts = crop_run.Options(out=out, videos=dl, size=args.size, workers=args.workers, **kw)
                t = time.perf_counter()
                s = crop_run.run(m, opts, Shard(), None)
                dt = time.perf_counter() - t
                assert s.counts.get("ok") == len(clips), (s.counts, s.reasons)
                best[name], frames[name] = min(dt, best.get(name, dt)), len(clips) * 75
                shutil.rmtree(out)
            (tmp / "fomm").mkdir()
            t = time.perf_counter()
            frames[fomm] = fomm_baseline(m, dl, tmp / "fomm", args.size)
            best[fomm] = min(time.perf_counter() - t, best.get(fomm, float("inf")))
            shutil.rmtree(tmp / "fomm")

        base_fps = frames[fomm] / best[fomm]
        for name in (full, noface, fomm):
            f, dt = frames[name], best[name]
            print(f"{name:62s} {f:5d} frames {dt:7.2f}s {f / dt:7.1f} frames/s  x{(f / dt) / base_fps:.2f}")
        face = best[full] - best[noface]
        print(f"face check: {face:.2f}s of {best[full]:.2f}s ({100 * face / best[full]:.0f}% of the stage; "
              f"{1000 * face / len(clips):.0f} ms per clip); best of {args.rounds} round(s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
