"""Throughput of `vhq eval` (L1 + LPIPS + AKD + AED) against a per-frame, per-metric loop and against its floor.

- baseline: the pose-evaluation way. Every metric is its own pass that decodes the videos again
  and runs its networks frame by frame on both sides, ground truth included; AKD calls
  face-alignment's own detector and ``get_landmarks_from_image`` on the top face (its S3FD
  decoding and numba heatmap decoder).
- floor: the forward passes of the same networks alone, on frames decoded and converted before the
  clock starts (S3FD on each frame and FAN on one 256-pixel crop per frame, both sides; the
  identity network on both sides; AlexNet on both sides). No decoding, no pre- or post-processing.
- cold / warm: `eval.paired.evaluate` with an empty ground-truth cache, then with the cache the
  cold run filled (the GT side of AKD/AED is skipped).

Random-init networks of the real architectures (the cost does not depend on the weight values).
Each phase runs in its own process (peak RSS is per phase); phases alternate over ``--rounds``
and the best time of each is kept, so a burst of load elsewhere does not land on one phase only.
``first frame`` is the time a fresh process takes to produce its first landmarks (face-alignment
JIT-compiles its heatmap decoder there; vhq's decoder needs no compilation); it is paid before
the timed part of every phase. ``--profile`` prints where a cold run spends its time.

    python benchmarks/paired_metrics.py [--videos 3 --frames 6 --size 128 --threads 1 --rounds 2]
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

PHASES = ("baseline", "floor", "cold", "warm")


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


def _keys(work: Path) -> list[str]:
    return sorted(p.stem for p in (work / "gt").glob("*.mp4"))


def _identity_net(metric: str):
    from eval.backbones.facenet import IdentityEmbedder
    from eval.backbones.openface import OpenFaceEmbedder

    return IdentityEmbedder() if metric == "aed_facenet" else OpenFaceEmbedder()


def baseline(work: Path, metrics: list[str]) -> int:
    """One pass per metric, one frame at a time, both sides analysed every time."""
    from eval.backbones.fan import FanLandmarker
    from eval.backbones.lpips_alex import LpipsAlex
    from eval.functional import lpips_per_frame
    from vhq.io import video

    keys = _keys(work)
    n = 0

    def frames(side, key):
        return video.read_frames(work / side / f"{key}.mp4")

    for key in keys:  # L1
        p, g = frames("pred", key), frames("gt", key)
        for t in range(p.shape[0]):
            (p[t].float() / 255 - g[t].float() / 255).abs().mean().item()
            n += 1
    if "lpips" in metrics:
        net = LpipsAlex.from_registry()
        for key in keys:
            p, g = frames("pred", key), frames("gt", key)
            for t in range(p.shape[0]):
                lpips_per_frame(p[t : t + 1], g[t : t + 1], net)
    if "akd" in metrics:  # extract GT, extract pred, compare (extract.py + cmp_kp.py)
        fa = FanLandmarker().fa
        for key in keys:
            for side in ("gt", "pred"):
                for img in frames(side, key).numpy():
                    boxes = fa.face_detector.detect_from_image(img.copy())
                    if len(boxes):  # the top face only, as vhq scores (random-init S3FD finds dozens)
                        fa.get_landmarks_from_image(img, detected_faces=[boxes[0]])
    aed = [m for m in metrics if m.startswith("aed")]
    if aed:  # embed GT, embed pred, compare
        emb = _identity_net(aed[0])
        for key in keys:
            for side in ("gt", "pred"):
                f = frames(side, key)
                for t in range(f.shape[0]):
                    emb.embed(f[t : t + 1])
    return n


def floor(work: Path, metrics: list[str]) -> tuple[int, float]:
    """The networks' forward passes alone on pre-decoded, pre-converted tensors; returns (frames, seconds)."""
    import torch

    from eval.backbones.fan import FanLandmarker
    from eval.backbones.lpips_alex import LpipsAlex
    from eval.backbones.openface import preprocess
    from vhq.io import video

    sides = [video.read_frames(work / side / f"{key}.mp4") for key in _keys(work) for side in ("pred", "gt")]
    n = sum(f.shape[0] for f in sides[::2])
    calls = []
    if "lpips" in metrics:
        net = LpipsAlex.from_registry()
        x = [f.permute(0, 3, 1, 2).float() / 127.5 - 1 for f in sides]
        calls += [lambda v=v: net.features(v[t : t + 1]) for v in x for t in range(v.shape[0])]
    if "akd" in metrics:
        fa = FanLandmarker().fa
        mean = torch.tensor([104.0, 117.0, 123.0]).view(1, 3, 1, 1)
        s3fd_in = [f[t : t + 1].permute(0, 3, 1, 2).float().flip(-3) - mean for f in sides for t in range(f.shape[0])]
        crop = torch.rand(1, 3, 256, 256)
        calls += [lambda v=v: fa.face_detector.face_detector(v) for v in s3fd_in]
        calls += [lambda: fa.face_alignment_net(crop) for _ in s3fd_in]
    aed = [m for m in metrics if m.startswith("aed")]
    if aed:
        emb = _identity_net(aed[0])
        if aed[0] == "aed_facenet":
            calls += [lambda v=f[t : t + 1]: emb.embed(v) for f in sides for t in range(f.shape[0])]
        else:
            x = [preprocess(f[t : t + 1]) for f in sides for t in range(f.shape[0])]
            calls += [lambda v=v: emb.net(v) for v in x]
    with torch.inference_mode():
        t = time.perf_counter()
        for call in calls:
            call()
        return n, time.perf_counter() - t


def ours(work: Path, metrics: list[str]) -> int:
    from eval import catalog
    from eval.options import EvalOptions
    from eval.paired import evaluate

    opts = EvalOptions(metrics=catalog.parse_metrics(",".join(metrics)), batch_size=16)
    res = evaluate(work / "pred", work / "gt", opts, progress=False)
    return res.pairset.frames


def first_frame(name: str) -> float:
    """A fresh process's first landmarks: face-alignment's own call for the baseline, vhq's otherwise."""
    import numpy as np

    from eval.backbones.fan import FanLandmarker

    img, box = np.zeros((64, 64, 3), np.uint8), np.array([8.0, 8.0, 56.0, 56.0, 1.0])
    fan = FanLandmarker()
    t = time.perf_counter()
    if name == "baseline":
        fan.fa.get_landmarks_from_image(img, detected_faces=[box])
    else:
        fan.landmarks(img, box)
    return time.perf_counter() - t


def phase(name: str, work: Path, threads: int, metrics: list[str], profile: bool) -> None:
    import torch

    torch.set_num_threads(threads)
    first = first_frame(name) if name != "setup" else 0.0
    t = time.perf_counter()
    if name == "setup":
        setup(work, *json.loads(os.environ["BENCH_ARGS"]))
        n = 0
    elif name == "baseline":
        n = baseline(work, metrics)
    elif name == "floor":
        n, dt = floor(work, metrics)
    elif profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        n = prof.runcall(ours, work, metrics)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(15)
    else:
        n = ours(work, metrics)
    if name != "floor":
        dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"phase": name, "frames": n, "seconds": dt, "first_frame": first, "peak_rss_mib": rss}))


def _run(name: str, work: Path, a, env: dict) -> dict:
    cmd = [sys.executable, __file__, "--phase", name, "--work", str(work), "--threads", str(a.threads), "--metrics", a.metrics]
    out = subprocess.run(cmd + (["--profile"] if a.profile and name == "cold" else []), env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(out.stderr)
    if a.profile and name == "cold":
        print(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--metrics", default="l1,lpips,akd,aed")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="print the top functions of a cold run (first round)")
    ap.add_argument("--phase")
    ap.add_argument("--work")
    a = ap.parse_args()
    metrics = a.metrics.split(",")
    if a.phase:
        phase(a.phase, Path(a.work), a.threads, metrics, a.profile)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base_env = dict(os.environ, VHQ_QUIET="1", OMP_NUM_THREADS=str(a.threads), BENCH_ARGS=json.dumps([a.videos, a.frames, a.size]))
        _run("setup", work, a, dict(base_env, VHQ_CACHE=str(work / "cache")))
        best: dict[str, dict] = {}
        for r in range(a.rounds):
            cache = work / f"cache-{r}"  # each round's cold run starts from an empty GT cache
            cache.mkdir()
            (cache / "weights").symlink_to(work / "cache" / "weights", target_is_directory=True)
            env = dict(base_env, VHQ_CACHE=str(cache))
            for name in PHASES:
                res = _run(name, work, a, env)
                if name not in best or res["seconds"] < best[name]["seconds"]:
                    best[name] = res
            a.profile = False
    frames = best["cold"]["frames"]
    print(f"{a.videos} videos x {a.frames} frames at {a.size}px, {a.metrics}, {a.threads} thread(s), best of {a.rounds} round(s), "
          f"random-init networks")
    for name in PHASES:
        r = best[name]
        print(f"  {name:<8} {frames / r['seconds']:7.3f} frames/s  {r['seconds']:7.1f} s  first frame {r['first_frame']:6.2f} s  "
              f"peak RSS {r['peak_rss_mib']:6.0f} MiB")
    b, f = best["baseline"]["seconds"], best["floor"]["seconds"]
    print(f"  ratio vs baseline: cold cache {b / best['cold']['seconds']:.2f}x, warm cache {b / best['warm']['seconds']:.2f}x")
    print(f"  eval wall / floor: cold cache {best['cold']['seconds'] / f:.2f}, baseline {b / f:.2f}")


if __name__ == "__main__":
    main()
