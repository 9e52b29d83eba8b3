"""Throughput of FVD feature extraction: vhq's pipeline vs a naive per-video loop and vs cd-fvd's own loop.

Every path computes the same features for the same clips (stylegan-v protocol for I3D: one
seeded random 16-frame clip per video, direct bilinear resize to 224, [-1, 1]); the script
checks that and prints clips/s for each and their ratio, for the input pipeline alone (decode
+ resize + value mapping) and with the network, measured in the same process. The paths
alternate over ``--rounds`` rounds and the best time of each is kept (a burst of load from
another process then costs both sides alike); the load average is printed beside the figures.

- naive: decode the whole video, cut the clip, resize frame by frame, run the network per clip;
  once with cd-fvd's own I3D module (``cdfvd.third_party.i3d.pytorch_i3d``: conv, BatchNorm,
  ReLU, ``max_pool3d`` as published, loaded from the same file) when cd-fvd is installed, once
  with vhq's I3D.
- vhq (``eval.video_protocols.extract_features``): seek and decode only the clip's frames in
  background threads while the network runs, resize each clip in one call, batches of clips
  whose size is measured on the first clips (``--batch-size N`` fixes it).

The network is a random-init I3D in the real checkpoint format (throughput does not depend on
the weight values). Usage: ``python benchmarks/video_metrics.py [--videos 12 --frames 100 --rounds 2]``.

With cd-fvd installed (``pip install cd-fvd``) it also times ``fvd_videomae``'s features against
cd-fvd's own loop on the same clips and the same weights: its ``preprocess`` in a DataLoader
(batches of 16), ``(video × 255).byte()`` and ``get_videomae_features`` with its own
VideoMAE-v2 network, vs ``eval.video_protocols.extract_features`` with ours. Its torchvision
``VideoClips`` decoder is gone from current torchvision, so both sides decode the clip's frames
with vhq's decoder. A random-init VideoMAE in the real file format (fp16), shrunk by default
(``--videomae-depth 2 --videomae-dim 256``; 40 × 1408 is the real one, about a minute per clip on 2 cores).
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
                out.append(model(x).double())
        else:
            out.append(x)
    return torch.cat(out)


def _batched_inputs(clips, protocol, batch_size, workers):
    from eval.video_protocols import iter_clip_batches

    return torch.cat([x for _, x in iter_clip_batches(clips, protocol, batch_size or 4, workers)])


def _best_of(rounds: int, paths: dict):
    """Each path's result and best time over ``rounds``, the paths alternating within a round."""
    best, results = {}, {}
    for _ in range(rounds):
        for name, fn in paths.items():
            results[name], t = _timed(fn)
            best[name] = min(best.get(name, t), t)
    return results, best


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def _fresh_features(model, clips, protocol, args):
    """``extract_features`` as a new process runs it: the batch size measured again, not remembered."""
    from eval import video_protocols

    video_protocols._CHOSEN_BATCH.clear()
    feats = video_protocols.extract_features(model, clips, protocol, batch_size=args.batch_size, workers=args.workers, progress_desc="bench")
    return torch.from_numpy(feats)


def _chosen_batch() -> str:
    from eval import video_protocols

    return ", ".join(f"{k[1]} on {k[0]}: {v}" for k, v in video_protocols._CHOSEN_BATCH.items()) or "none (too few clips to finish the measurement)"



class _PeerClips:
    """cd-fvd's ``VideoDataset.__getitem__`` on our clip list: its ``preprocess`` of the decoded clip."""

    def __init__(self, clips, resolution):
        self.clips, self.resolution = clips, resolution

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, i):
        from cdfvd.utils.data_utils import preprocess

        from eval.video_protocols import read_clip

        return preprocess(read_clip(self.clips[i]), self.resolution)


def _peer_videomae_features(clips, state, depth, dim, resolution, workers):
    """cd-fvd's ``compute_fake_stats`` loop with its own network and the same weights."""
    from functools import partial

    import torch.utils.data
    from cdfvd import fvd
    from cdfvd.third_party.VideoMAEv2.videomaev2_finetune import VisionTransformer
    from cdfvd.utils.metric_utils import FeatureStats

    model = VisionTransformer(img_size=224, patch_size=14, embed_dim=dim, depth=depth, num_heads=16, mlp_ratio=48 / 11, qkv_bias=True,
                              norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_classes=174, all_frames=16, tubelet_size=2,
                              use_mean_pooling=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    evaluator = object.__new__(fvd.cdfvd)
    evaluator.model, evaluator.feature_fn, evaluator.seed = model.eval(), fvd.get_videomae_features, 42
    evaluator.device, evaluator.model_dtype = "cpu", torch.float32
    evaluator.fake_stats = FeatureStats(capture_mean_cov=True, capture_all=True)
    loader = torch.utils.data.DataLoader(_PeerClips(clips, resolution), batch_size=16, num_workers=workers)
    return torch.from_numpy(evaluator.compute_fake_stats(loader).get_all())


def _videomae_comparison(tmp, clips, args):
    """clips/s of vhq's fvd_videomae features and of cd-fvd's own loop, same clips and weights."""
    try:
        import cdfvd  # noqa: F401
    except ImportError:
        print("videomae        skipped: pip install cd-fvd for the comparison with its own loop")
        return
    from eval.backbones.videomae import load_videomae
    from eval.video_protocols import get_protocol
    from vhq import weights
    from vhq.testing.random_weights import write_videomae_checkpoint

    f = write_videomae_checkpoint(tmp / "vit_g.pth", depth=args.videomae_depth, dim=args.videomae_dim)
    weights.import_file("videomae_v2_g_ssv2", f, no_verify=True)
    state = torch.load(f, weights_only=True)
    protocol = get_protocol("cd-fvd", clip_resolution=args.clip_resolution, seed=0)
    model = load_videomae()
    res, t = _best_of(args.rounds, {
        "cd-fvd": lambda: _peer_videomae_features(clips, state, args.videomae_depth, args.videomae_dim, args.clip_resolution, args.workers),
        "vhq": lambda: _fresh_features(model, clips, protocol, args),
    })
    (theirs, t_theirs), (ours, t_ours) = (res["cd-fvd"], t["cd-fvd"]), (res["vhq"], t["vhq"])
    diff = (theirs.double() - ours).abs().max().item()
    n = len(clips)
    print(f"features (VideoMAE depth {args.videomae_depth} width {args.videomae_dim}, cd-fvd @{args.clip_resolution})  "
          f"cd-fvd {n / t_theirs:7.2f} clips/s   vhq {n / t_ours:7.2f} clips/s   ratio {t_theirs / t_ours:.2f}x   max |Δfeature| {diff:.2e}   ({_load()})")
    print(f"vhq batch size            {args.batch_size or 'measured'}; last chosen: {_chosen_batch()}")


def _timed(fn):
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--frames", type=int, default=100, help="frames per synthetic video")
    ap.add_argument("--resolution", type=int, default=256, help="synthetic video width = height")
    ap.add_argument("--batch-size", type=int, default=None, help="clips per network call (default: measured on the first clips)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best time of each path is kept")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--videomae-depth", type=int, default=2, help="blocks of the random-init VideoMAE (real: 40)")
    ap.add_argument("--videomae-dim", type=int, default=256, help="its width, a multiple of 16 (real: 1408)")
    ap.add_argument("--clip-resolution", type=int, default=256, choices=(128, 256))
    ap.add_argument("--no-i3d", action="store_true", help="only the VideoMAE comparison")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["VHQ_CACHE"] = str(tmp / "cache")
        from eval.backbones.i3d import load_i3d
        from eval.distribution import clip_id  # noqa: F401  (import cost outside the timings)
        from eval.video_protocols import get_protocol, plan_clips
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

        if not args.no_i3d:
            _i3d_comparison(model, clips, protocol, args)
        _videomae_comparison(tmp, plan_clips(video.list_videos(root), get_protocol("cd-fvd", seed=0), "fake"), args)


def _peer_i3d():
    """cd-fvd's own I3D module (the published layers, run as they are), or None without cd-fvd."""
    try:
        from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d
    except ImportError:
        return None
    from vhq import weights

    peer = InceptionI3d(400, in_channels=3)
    peer.load_state_dict(torch.load(weights.path("i3d_pretrained_400"), weights_only=True))
    return peer.eval()


def _i3d_comparison(model, clips, protocol, args):
    """The naive per-video loop (cd-fvd's I3D module and ours) vs vhq's pipeline (I3D, stylegan-v protocol)."""
    n = len(clips)
    # Input pipeline alone.
    res, t = _best_of(args.rounds, {
        "naive": lambda: _naive_features(None, clips, protocol),
        "vhq": lambda: _batched_inputs(clips, protocol, args.batch_size, args.workers),
    })
    assert torch.allclose(res["naive"], res["vhq"], atol=1e-5), "the two input pipelines disagree"
    print(f"decode+resize             naive {n / t['naive']:7.2f} clips/s   vhq {n / t['vhq']:7.2f} clips/s   ratio {t['naive'] / t['vhq']:.2f}x   ({_load()})")

    # With the network.
    paths = {"vhq": lambda: _fresh_features(model, clips, protocol, args),
             "naive": lambda: _naive_features(model, clips, protocol)}
    peer = _peer_i3d()
    if peer is not None:
        paths["naive, cd-fvd I3D"] = lambda: _naive_features(peer, clips, protocol)
    res, t = _best_of(args.rounds, paths)
    for name in [p for p in paths if p != "vhq"]:
        diff = (res[name] - res["vhq"]).abs().max().item()
        label = "features (I3D)" if name == "naive" else "  vs cd-fvd's I3D module"
        print(f"{label:25s} {name.split(',')[0]} {n / t[name]:7.2f} clips/s   vhq {n / t['vhq']:7.2f} clips/s   ratio {t[name] / t['vhq']:.2f}x   "
              f"max |Δfeature| {diff:.2e}   ({_load()})")
    print(f"vhq batch size            {args.batch_size or 'measured'}; last chosen: {_chosen_batch()}")


if __name__ == "__main__":
    os.environ.setdefault("VHQ_QUIET", "1")
    main()
