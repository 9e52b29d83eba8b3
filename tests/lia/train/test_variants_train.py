"""`vhq train-lia` with the paper's variants on CPU at 64 px: learning, recorded options, loadable checkpoints, TensorBoard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lia import Generator, load_checkpoint, save_checkpoint
from vhq.io import files
from vhq.testing.synthetic import write_clips

COMMON = ["--size", "64", "--batch", "1", "--samples", "1", "--perceptual", "none", "--workers", "0", "--tick-kimg", "0.001"]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("split")
    (clip,) = write_clips(root / "clips", count=1, frames=6, side=64)
    files.write_csv(root / "train.csv", [{"clip_id": clip.stem, "path": f"clips/{clip.name}", "frames": "6"}], ["clip_id", "path", "frames"])
    return root


@pytest.fixture(scope="module")
def plain_random64(tmp_path_factory):
    """A plain (no source-warp) 64 px generator with a 5-direction random basis, as a vhq-lia file."""
    torch.manual_seed(7)
    return save_checkpoint(tmp_path_factory.mktemp("init") / "plain64.pt", Generator(64, motion_dim=5, dictionary="random"))


def tb_tags(run: Path) -> tuple[set[str], set[str]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    return set(tags["scalars"]), set(tags["images"])


# The orthogonal dictionary trains in test_loop.py; the source-warp run starts from a plain model.
@pytest.mark.slow
@pytest.mark.parametrize(
    "args, config",
    [
        (["--dictionary", "none"], {"dictionary": "none", "motion_dim": 512}),
        (["--dictionary", "random", "--motion-dim", "5", "--source-warp", "--init-from", "PLAIN"], {"dictionary": "random", "motion_dim": 5, "source_warp": True}),
    ],
    ids=["none", "random_source_warp"],
)
def test_variant_trains_and_its_checkpoint_loads(cli, split, plain_random64, tmp_path, args, config):
    args = [plain_random64 if a == "PLAIN" else a for a in args]
    out = tmp_path / "runs"
    code, stdout, err = cli("train-lia", "--data", split, "--out", out, *COMMON, "--iters", 3, *args)
    assert code == 0, err
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2, 3]
    assert stats[-1]["Loss/G/l1"] < stats[0]["Loss/G/l1"], [s["Loss/G/l1"] for s in stats]
    options = json.loads((run / "training_options.json").read_text())
    assert {k: options[k] for k in config} == config
    ckpt = load_checkpoint(stdout.strip())
    assert ckpt.kind == "vhq-lia" and {k: ckpt.config[k] for k in config} == config
    assert {k: ckpt.extra["options"][k] for k in config} == config
    g = ckpt.generator()  # strict load of the variant
    assert {k: getattr(g, k) for k in config} == config
    scalars, images = tb_tags(run)
    assert {"Loss/G/l1", "Loss/D/total", "Progress/lr_G", "Progress/lr_D", "sec_per_kimg"} <= scalars
    assert images == {"Samples/source_driving_reconstruction"}


def test_source_warp_refuses_an_init_file_of_another_shape(cli, split, tmp_path):
    torch.manual_seed(8)
    torch.save({"gen": Generator(64, motion_dim=10).state_dict()}, tmp_path / "m10.pt")
    code, _, err = cli("train-lia", "--data", split, "--out", tmp_path / "runs", *COMMON, "--iters", 1, "--source-warp", "--init-from", tmp_path / "m10.pt")
    assert code == 1 and "error:" in err and "m10.pt" in err and "does not match" in err
