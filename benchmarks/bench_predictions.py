"""Writing and reading back lossless predictions: `vhq bench --format mp4` against `--format png`.

The bench writes every predicted frame losslessly. The baseline is the FOMM/LIA habit of PNG frame
folders; `--format mp4` is H.264 in RGB at CRF 0 (libx264rgb), lossless too. For synthetic talking-
head clips (the astronaut over a plain background, 512²) this prints, per format, the time to
write and to decode the clips again (what `vhq eval` does), the bytes on disk, and ratios against
PNG measured in the same run. Both formats are checked to give back the frames bit for bit.

    python benchmarks/bench_predictions.py [--clips 2 --frames 50 --size 512]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    import torch

    from eval.bench.predict import write_prediction
    from vhq.io import video
    from vhq.testing import synthetic

    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    torch.set_num_threads(1)
    clips = [torch.from_numpy(next(synthetic.SyntheticVideo(width=args.size, height=args.size, frames=args.frames, seed=i).iter_batches(args.frames)))
             for i in range(args.clips)]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("png", "mp4"):
            folder = Path(tmp) / fmt
            t0 = time.perf_counter()
            paths = [write_prediction(folder / (f"c{i}.mp4" if fmt == "mp4" else f"c{i}"), iter(frames.split(16)), f"c{i}", args.frames, 25.0, fmt)
                     for i, frames in enumerate(clips)]
            t_write = time.perf_counter() - t0
            t0 = time.perf_counter()
            back = [video.read_frames(p) for p in paths]
            t_read = time.perf_counter() - t0
            assert all(torch.equal(a, b) for a, b in zip(back, clips)), f"{fmt} is not lossless"
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            results[fmt] = (t_write, t_read, size)
    n = args.clips * args.frames
    base = results["png"]
    print(f"{args.clips} clips x {args.frames} frames at {args.size}x{args.size}, lossless (checked bit for bit)")
    for fmt, label in (("png", "PNG frame folders (baseline)"), ("mp4", "H.264 RGB CRF 0 (libx264rgb)")):
        w, r, s = results[fmt]
        print(f"{label:<32} write {n / w:6.1f} frames/s (x{base[0] / w:.2f})  read {n / r:6.1f} frames/s (x{base[1] / r:.2f})  "
              f"{s / n / 1024:7.1f} KiB/frame (x{base[2] / s:.2f} smaller)")


if __name__ == "__main__":
    main()
