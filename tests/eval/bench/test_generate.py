"""`vhq bench generate` (LEO's protocol): start frames from the split, one set per length, scored against the real set."""

from __future__ import annotations

import json

import torch

from lia.lmdm.diffusion import Diffusion, DiffusionConfig
from lia.lmdm.model import Normaliser, save_lmdm
from tests.lia.lmdm.conftest import tiny_unet
from vhq.io import files, video
from vhq.testing.split_folder import make_split


def test_generated_sets_are_written_scored_and_reused(tmp_path):
    from eval.bench import protocols as bench
    from eval.bench.models import LmdmModel
    from eval.distribution import colour_mean_embedder
    from lia import Generator

    torch.manual_seed(0)
    lia = tmp_path / "lia32.pt"  # official layout, 32 px to keep 2 × 16 rendered frames cheap
    torch.save({"gen": Generator(32).state_dict()}, lia)
    data = make_split(tmp_path / "data", persons=("id001", "id002"), frames=20)
    lmdm = save_lmdm(tmp_path / "lmdm.pt", tiny_unet(motion_dim=20), Diffusion(DiffusionConfig(steps=5)), 8,
                     Normaliser(torch.zeros(20), torch.ones(20)), {"sha256": files.sha256_file(lia), "config": {}, "file": lia.name})
    opts = bench.BenchOptions(data=data, out=tmp_path / "gen", metrics="acd,csim", device="cpu")

    def run():
        model = LmdmModel(lia, lmdm, seed=1, batch=16)
        return bench.generate(model, opts, (16,), embedder=colour_mean_embedder, embedder_info={"backbone": "colour_mean"})

    (res,) = run()
    assert res.protocol == "generate 16f" and (res.done, res.reused) == (2, 0)
    clip = sorted(video.list_videos(data / "clips"))[0]
    pred = tmp_path / "gen" / "preds" / "lmdm-lmdm" / "16f" / f"{clip}.mp4"
    assert video.probe(pred).frames == 16 and video.probe(tmp_path / "gen" / "real-16f" / f"{clip}.mp4").frames == 16
    assert torch.equal(video.read_image(tmp_path / "gen" / "sources" / f"{clip}.png"), video.read_frames(data / "clips" / f"{clip}.mp4", 0, 1)[0])
    rows = files.read_csv(tmp_path / "gen" / "leaderboard.csv")
    assert sorted(r["metric"] for r in rows) == ["acd", "csim"] and {r["testset"] for r in rows} == {f"{data.name}/test generate 16f"}
    model = json.loads(rows[0]["details"])["bench"]["model"]
    assert model["lia_sha256"] == files.sha256_file(lia) and model["lmdm_sha256"] == files.sha256_file(lmdm) and model["sampler"] == "ddpm"
    (again,) = run()
    assert (again.done, again.reused) == (0, 2)


def test_bench_generate_runs_the_lmdm_only(cli, tmp_path):
    code, _, err = cli("bench", "generate", "--model", "lia", "--data", tmp_path, "--out", tmp_path / "o")
    assert code == 1 and "runs --model lmdm" in err
