"""The offline demo: everything it touches is made here, nothing is downloaded.

Current stage (foundation): synthesise a short talking-head video, probe it, stream it in
batches, re-encode it and read the frame indices back, then list the weights registry.
"""

from __future__ import annotations

import time
from pathlib import Path

from . import synthetic, video, weights
from .console import echo, info, progress


def run(out: str | Path = "demo-out") -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()

    spec = synthetic.SyntheticVideo(width=640, height=360, frames=75, fps=25.0)
    src = synthetic.write_synthetic(out / "synthetic.mp4", spec)
    meta = video.probe(src)
    echo(f"synthesised  {src}  {meta.width}x{meta.height}, {meta.frames} frames at {meta.fps:g} fps ({meta.codec})")

    with video.VideoWriter(out / "reencoded.mp4", fps=meta.fps, crf=23, gop=25) as writer:
        for batch in progress(video.iter_frames(src, batch_size=16), total=-(-meta.frames // 16), desc="re-encode"):
            writer.write(batch)
    back = video.probe(out / "reencoded.mp4")
    indices = [synthetic.decode_frame_index(f.numpy()) for b in video.iter_frames(out / "reencoded.mp4", 32) for f in b]
    in_order = indices == list(range(meta.frames))
    echo(f"re-encoded   {out / 'reencoded.mp4'}  {back.frames} frames; frame indices read back in order: {in_order}")

    echo("")
    echo("weights registry (cache: %s):" % weights.weights_dir())
    for name in sorted(weights.REGISTRY):
        st = weights.status(name)
        echo(f"  {name:<20} {'present' if st.present else 'missing':<8} {st.state or ''}")
    info(f"demo finished in {time.monotonic() - t0:.1f}s; outputs in {out.resolve()}")
    if not in_order:
        raise RuntimeError("frame indices did not survive the round trip")
