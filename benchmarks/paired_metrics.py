"""Throughput of `vhq eval` (L1 + LPIPS + AKD + AED) against a per-frame, per-metric loop.

The baseline is the pose-evaluation way: every metric is its own pass that decodes the videos
again and calls the same networks (same flags, same thread count) frame by frame on both sides,
ground truth included. `vhq eval` decodes once, shares the frames across metrics, detects once per
frame and, on a warm cache, skips the ground-truth side of AKD/AED. Random-init networks of the
real architectures (the cost is the same as with trained weights). Each phase runs in its own
process so peak memory (max RSS) is per phase; one-time JIT compilation is paid before timing.

    python benchmarks/paired_metrics.py [--videos 3 --frames 6 --size 128 --threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def setup(work: Path, videos: int, frames: int, size: int) -> None:
    import torch

    from vhq import weights
    from vhq.io import video
    from vhq.testing.random_weights import WEIGHT_FILES, make_weight_file
    from vhq.testing.synthetic import face_frames

    wdir = work / "random-weights"
    wdir.mkdir()
    for name in WEIGHT_FILES:
        weights.import_file(name, make_weight_file(name, wdir), no_verify=True)
    for i in range(videos):
        video.write_video(work / "gt" / f"v{i}.mp4", torch.from_numpy(face_frames(frames, size=size, seed=i, face_scale=0.6)), fps=25)
        video.write_video(work / "pred" / f"v{i}.mp4", torch.from_numpy(face_frames(frames, size=size, seed=i + 100, face_scale=0.6)), fps=25)


def baseline(work: Path) -> int:
    """One pass per metric, one frame at a time, both sides analysed every time."""

    from eval.backbones.facenet import IdentityEmbedder
    from eval.backbones.fan import FanLandmarker
    from eval.backbones.lpips_alex import LpipsAlex
    from eval.functional import lpips_per_frame
    from vhq.io import video

    keys = sorted(p.stem for p in (work / "gt").glob("*.mp4"))
    n = 0

    def frames(side, key):
        return video.read_frames(work / side / f"{key}.mp4")

    for key in keys:  # L1
        p, g = frames("pred", key), frames("gt", key)
        for t in range(p.shape[0]):
            (p[t].float() / 255 - g[t].float() / 255).abs().mean().item()
            n += 1
    net = LpipsAlex.from_registry()
    for key in keys:  # LPIPS
        p, g = frames("pred", key), frames("gt", key)
        for t in range(p.shape[0]):
            lpips_per_frame(p[t : t + 1], g[t : t + 1], net)
    fan = FanLandmarker()
    for key in keys:  # AKD: extract GT, extract pred, compare (extract.py + cmp_kp.py)
        for side in ("gt", "pred"):
            for img in frames(side, key).numpy():
                box = fan.detect(img)
                if box is not None:
                    fan.landmarks(img, box)
    emb = IdentityEmbedder()
    for key in keys:  # AED: embed GT, embed pred, compare
        for side in ("gt", "pred"):
            f = frames(side, key)
            for t in range(f.shape[0]):
                emb.embed(f[t : t + 1])
    return n


def ours(work: Path, out: str) -> int:
    from eval import catalog
    from eval.options import EvalOptions
    from eval.paired import evaluate

    opts = EvalOptions(metrics=catalog.parse_metrics("l1,lpips,akd,aed_facenet"), batch_size=16)
    res = evaluate(work / "pred", work / "gt", opts, progress=False)
    return res.pairset.frames


def warm_up() -> None:
    """Pay one-time costs outside the timing: face-alignment's numba kernels compile on first use (~20 s)."""
    import numpy as np

    from eval.backbones.fan import FanLandmarker

    FanLandmarker().landmarks(np.zeros((64, 64, 3), np.uint8), np.array([8.0, 8.0, 56.0, 56.0, 1.0]))


def phase(name: str, work: Path, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    if name != "setup":
        warm_up()
    t = time.perf_counter()
    if name == "setup":
        setup(work, *json.loads(os.environ["BENCH_ARGS"]))
        n = 0
    elif name == "baseline":
        n = baseline(work)
    else:
        n = ours(work, name)
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"phase": name, "frames": n, "seconds": dt, "peak_rss_mib": rss}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--phase")
    ap.add_argument("--work")
    a = ap.parse_args()
    if a.phase:
        phase(a.phase, Path(a.work), a.threads)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = dict(os.environ, VHQ_CACHE=str(work / "cache"), VHQ_QUIET="1", OMP_NUM_THREADS=str(a.threads),
                   BENCH_ARGS=json.dumps([a.videos, a.frames, a.size]))
        res = {}
        for name in ("setup", "baseline", "cold", "warm"):
            out = subprocess.run([sys.executable, __file__, "--phase", name, "--work", str(work), "--threads", str(a.threads)],
                                 env=env, capture_output=True, text=True, check=False)
            if out.returncode:
                sys.exit(out.stderr)
            res[name] = json.loads(out.stdout.strip().splitlines()[-1])
    frames = res["cold"]["frames"]
    print(f"{a.videos} videos x {a.frames} frames at {a.size}px, {a.threads} thread(s), random-init networks")
    for name in ("baseline", "cold", "warm"):
        r = res[name]
        print(f"  {name:<8} {frames / r['seconds']:7.3f} frames/s  {r['seconds']:7.1f} s  peak RSS {r['peak_rss_mib']:7.0f} MiB")
    print(f"  ratio vs baseline: cold cache {res['baseline']['seconds'] / res['cold']['seconds']:.2f}x, warm cache {res['baseline']['seconds'] / res['warm']['seconds']:.2f}x")


if __name__ == "__main__":
    main()
