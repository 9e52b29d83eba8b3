"""Throughput of FVD feature extraction: batched clip decoding + resizing vs a naive per-video loop.

Both paths compute the same I3D features for the same clips (stylegan-v protocol: one seeded
random 16-frame clip per video, direct bilinear resize to 224, [-1, 1]); the script checks that
and prints clips/s for each and their ratio, once with the network and once for the input
pipeline alone (decode + resize + value mapping), measured in the same process.

- naive: decode the whole video, cut the clip, resize frame by frame, run the network per clip.
- batched (``eval.video_protocols``): seek and decode only the clip's frames in background
  threads, resize each clip in one call, run the network on batches of clips.

The network is a random-init I3D in the real checkpoint format (throughput does not depend on
the weight values). Usage: ``python benchmarks/video_metrics.py [--videos 12 --frames 100]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def _naive_features(model, clips, protocol):
    from vhq.io import video

    out = []
    for c in clips:
        frames = video.read_frames(c.path)  # the whole video
        clip = frames[c.start : c.start + c.frames * c.stride : c.stride]
        resized = [F.interpolate(f.permute(2, 0, 1)[None].float(), size=(protocol.size, protocol.size), mode="bilinear", align_corners=False) for f in clip]
        x = (torch.cat(resized) / 255.0 * 2.0 - 1.0).permute(1, 0, 2, 3)[None]
        if model is not None:
            with torch.no_grad():
                out.append(model(x))
        else:
            out.append(x)
    return torch.cat(out)


def _batched_inputs(clips, protocol, batch_size, workers):
    from eval.video_protocols import iter_clip_batches

    return torch.cat([x for _, x in iter_clip_batches(clips, protocol, batch_size, workers)])


def _timed(fn):
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--frames", type=int, default=100, help="frames per synthetic video")
    ap.add_argument("--resolution", type=int, default=256, help="synthetic video width = height")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["VHQ_CACHE"] = str(tmp / "cache")
        from eval.backbones.i3d import load_i3d
        from eval.distribution import clip_id  # noqa: F401  (import cost outside the timings)
        from eval.video_protocols import extract_features, get_protocol, plan_clips
        from vhq import weights
        from vhq.io import video
        from vhq.testing import synthetic
        from vhq.testing.random_weights import write_i3d_checkpoint

        root = tmp / "videos"
        root.mkdir()
        for i in range(args.videos):
            spec = synthetic.SyntheticVideo(width=args.resolution, height=args.resolution, frames=args.frames, fps=25.0, seed=i)
            synthetic.write_synthetic(root / f"v{i:03d}.mp4", spec)
        weights.import_file("i3d_pretrained_400", write_i3d_checkpoint(tmp / "i3d.pt"), no_verify=True)
        model = load_i3d()
        protocol = get_protocol("stylegan-v", seed=0)
        clips = plan_clips(video.list_videos(root), protocol, "real")
        n = len(clips)
        print(f"{n} clips of {protocol.frames} frames from {args.videos} videos of {args.frames} frames at "
              f"{args.resolution}x{args.resolution}; resize to {protocol.size}; torch threads {args.threads}")

        # Input pipeline alone.
        naive_x, t_naive_in = _timed(lambda: _naive_features(None, clips, protocol))
        batched_x, t_batched_in = _timed(lambda: _batched_inputs(clips, protocol, args.batch_size, args.workers))
        assert torch.allclose(naive_x, batched_x, atol=1e-5), "the two input pipelines disagree"
        print(f"decode+resize   naive {n / t_naive_in:7.2f} clips/s   batched {n / t_batched_in:7.2f} clips/s   ratio {t_naive_in / t_batched_in:.2f}x")

        # With the network.
        naive_f, t_naive = _timed(lambda: _naive_features(model, clips, protocol))
        batched_f, t_batched = _timed(lambda: extract_features(model, clips, protocol, batch_size=args.batch_size, workers=args.workers, progress_desc="bench"))
        diff = (naive_f.double() - torch.from_numpy(batched_f)).abs().max().item()
        print(f"features (I3D)  naive {n / t_naive:7.2f} clips/s   batched {n / t_batched:7.2f} clips/s   ratio {t_naive / t_batched:.2f}x   max |Δfeature| {diff:.2e}")


if __name__ == "__main__":
    os.environ.setdefault("VHQ_QUIET", "1")
    main()
