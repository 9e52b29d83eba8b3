"""``vhq demo``: the whole pipeline, offline, on synthetic "YouTube" videos, in a few minutes on a CPU.

1. synthesise a few videos (the astronaut's head over a background that encodes the frame index)
   as HLS ladders — three at 1080p + 720p, one at 720p only — and FOMM-style metadata rows for
   them (person, partition, frame span, tube box in a 1920×1080 frame);
2. serve them on 127.0.0.1 (``vhq.testing.mediaserver``), a stand-in for YouTube's watch pages;
3. run the real commands, each as its own process, exactly as a user types them:
   ``vhq manifest import-fomm`` → ``vhq download`` (the 720p-only video is refused: below 1080p)
   → ``vhq crop`` → ``vhq split`` → ``vhq train-lia`` (tiny: size 128, a few minutes, a smoke run)
   → ``vhq bench reconstruct`` for ``lia``, ``static`` and ``gt`` → ``vhq eval`` (the bench's
   layout scored by the standalone command) → ``vhq leaderboard render``;
4. a smoke leg of LEO's motion diffusion on that LIA: ``vhq lia motion`` (the train clips' codes)
   → ``vhq train-lmdm`` (a tiny U-Net, a few dozen steps) → ``vhq generate`` (one video from a test
   clip's first frame, two chunks) → ``vhq bench generate`` (16-frame videos from every test clip,
   scored with FVD/KVD/ACD when their weights are cached).

Metrics whose weights are not in the cache are skipped and listed with the command that gets
them; offline that leaves L1 and ``akd_dlib68`` (dlib ships its predictor in a wheel). Nothing is
downloaded. Every stage resumes, so a second run only redoes what changed.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval import catalog
from vhq.console import echo
from vhq.errors import VhqError
from vhq.io import files
from vhq.testing import synthetic

FPS = 25.0
REF = (1920, 1080)  # the frame the metadata boxes are measured on
LIA_MODEL = "lia-smoke"


@dataclass(frozen=True)
class DemoVideo:
    video_id: str  # 11 characters, like a YouTube id
    person_id: str
    partition: str
    heights: tuple[int, ...]  # HLS renditions (16:9)
    frames: int
    spans: tuple[tuple[int, int], ...]  # clips: [start, end) frames
    seed: int

    def spec(self, height: int | None = None) -> synthetic.SyntheticVideo:
        h = height or max(self.heights)
        return synthetic.SyntheticVideo(width=int(round(h * 16 / 9 / 2)) * 2, height=h, frames=self.frames, fps=FPS, face_scale=0.6, seed=self.seed)


@dataclass(frozen=True)
class DemoPlan:
    videos: tuple[DemoVideo, ...]
    min_height: int = 1080
    crop_size: int = 128
    min_crop: int = 400
    min_frames: int = 32
    lia_size: int = 128
    train_iters: int = 4  # LIA steps: tens of seconds each on a 2-core CPU
    train_batch: int = 2
    metrics: str = "l1,lpips,akd,mkr,aed,akd_dlib68"
    lmdm_iters: int = 60  # LMDM smoke run: a tiny U-Net, 16-code sequences, 100 diffusion steps
    lmdm_seq_len: int = 16
    lmdm_frames: int = 20  # `vhq generate`: two chunks of 16 codes sharing one

    def digest(self) -> str:
        return files.sha256_strings([json.dumps(asdict(self), sort_keys=True)])[:16]


# Videos are whole seconds long (whole 1 s HLS segments) and end after their last clip: the
# downloaded sections end on a segment boundary. Clips are short because a LIA generator
# animates about one frame per second on a 2-core CPU.
PLAN = DemoPlan(videos=(
    DemoVideo("vhqdemo1080", "id90001", "train", (1080, 720), 100, ((0, 40), (45, 85)), seed=0),
    DemoVideo("vhqdemo1081", "id90002", "train", (1080, 720), 50, ((0, 40),), seed=1),
    DemoVideo("vhqdemo1082", "id90003", "test", (1080, 720), 100, ((0, 40), (45, 85)), seed=2),
    DemoVideo("vhqdemo720p", "id90004", "test", (720,), 50, ((0, 40),), seed=3),
))


# ------------------------------------------------------------------ synthetic site

def tube_box(v: DemoVideo, start: int, end: int) -> tuple[int, int, int, int]:
    """FOMM-style box: the union of the face over the clip, enlarged by 10 %, in the 1920×1080 frame."""
    return synthetic.tube_box(v.spec(REF[1]).with_(width=REF[0], height=REF[1]), start, end, inside=True)


def metadata_rows(plan: DemoPlan) -> list[dict]:
    """Rows in the format of FOMM's ``vox-metadata.csv`` for the demo's videos."""
    rows = []
    for v in plan.videos:
        for start, end in v.spans:
            box = tube_box(v, start, end)
            rows.append({"video_id": v.video_id, "start": start, "end": end, "bbox": "-".join(str(b) for b in box), "fps": int(FPS),
                         "width": REF[0], "height": REF[1], "partition": v.partition, "person_id": v.person_id})
    return rows


def write_site(root: Path, plan: DemoPlan) -> Path:
    """``root/watch/<video_id>`` (an HLS master playlist) + ``root/v/<video_id>/`` renditions; skipped when done."""
    marker = root / "site.json"
    if marker.is_file() and json.loads(marker.read_text()).get("plan") == plan.digest():
        return root
    for v in plan.videos:
        synthetic.write_hls_ladder(root / "v" / v.video_id, v.spec(), heights=v.heights, segment_s=1.0)
        master = (root / "v" / v.video_id / "master.m3u8").read_text()
        lines = [f"../v/{v.video_id}/{ln}" if ln and not ln.startswith("#") else ln for ln in master.splitlines()]
        files.write_text(root / "watch" / v.video_id, "\n".join(lines) + "\n")
    files.write_json(marker, {"plan": plan.digest(), "videos": [v.video_id for v in plan.videos]})
    return root


# ------------------------------------------------------------------ running the commands

@dataclass
class Stage:
    name: str
    seconds: float
    code: int


@dataclass
class DemoRun:
    out: Path
    plan: DemoPlan
    stages: list[Stage] = field(default_factory=list)

    def vhq(self, name: str, *args, ok=(0,)) -> int:
        """Run ``vhq ARGS`` as its own process (what a user types), echoing the command line."""
        argv = [str(a) for a in args]
        echo("")
        echo(f"$ vhq {shlex.join(argv)}")
        sys.stdout.flush()
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "cli", *argv], cwd=self.out, env=_env())
        self.stages.append(Stage(name, time.monotonic() - t0, r.returncode))
        if r.returncode not in ok:
            raise DemoFailed(f"`vhq {argv[0]}` exited with code {r.returncode} (stage {name}); its output is above")
        return r.returncode


class DemoFailed(VhqError):
    pass


def _env() -> dict:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the checkout holding cli.py
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def train_lia_available() -> bool:
    r = subprocess.run([sys.executable, "-m", "cli", "train-lia", "--help"], capture_output=True, text=True, env=_env())
    return r.returncode == 0 and "not built yet" not in r.stdout


def latest_checkpoint(run_dir: Path) -> Path | None:
    ckpts = sorted(run_dir.glob("**/checkpoint-*.pt"), key=lambda p: p.stat().st_mtime)
    return ckpts[-1] if ckpts else None


def finished_run(runs: Path, plan: DemoPlan, data: Path, perceptual: str) -> Path | None:
    """The final checkpoint of an earlier demo run with the same training options, if any."""
    want = {"size": plan.lia_size, "batch": plan.train_batch, "iters": plan.train_iters, "perceptual": perceptual, "data": str(data)}
    for opts_file in sorted(runs.glob("*/training_options.json"), reverse=True):
        try:
            opts = json.loads(opts_file.read_text())
        except ValueError:
            continue
        ckpt = opts_file.parent / f"checkpoint-{plan.train_iters:07d}.pt"
        if all(opts.get(k) == v for k, v in want.items()) and ckpt.is_file():
            return ckpt
    return None


def train_args(plan: DemoPlan, data: Path, runs: Path, perceptual: str) -> list:
    """A smoke run: a few steps at size 128, one tick and one checkpoint at the end."""
    kimg = plan.train_iters * plan.train_batch / 1000
    return ["train-lia", "--data", data, "--out", runs, "--size", plan.lia_size, "--batch", plan.train_batch, "--iters", plan.train_iters,
            "--perceptual", perceptual, "--workers", 1, "--tick-kimg", kimg, "--snap", 1, "--keep", 1, "--samples", 2, "--desc", "smoke"]


def vgg19_present() -> bool:
    from vhq import weights

    return weights.status("vgg19").present


# ------------------------------------------------------------------ the demo

def run(out: str | Path = "demo-out", plan: DemoPlan = PLAN) -> DemoRun:
    from vhq.testing.mediaserver import MediaServer

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    demo = DemoRun(out, plan)
    echo(f"vhq demo: offline, on synthetic media; outputs in {out}")

    t = time.monotonic()
    site = write_site(out / "site", plan)
    demo.stages.append(Stage("synthesise", time.monotonic() - t, 0))
    files.write_csv(out / "vox-metadata.csv", metadata_rows(plan), ("video_id", "start", "end", "bbox", "fps", "width", "height", "partition", "person_id"))
    echo(f"synthesised {len(plan.videos)} videos ({', '.join(f'{v.video_id}: ' + '+'.join(f'{h}p' for h in v.heights) for v in plan.videos)}) "
         f"in {demo.stages[-1].seconds:.0f}s; FOMM-style metadata {out / 'vox-metadata.csv'}")

    demo.vhq("manifest", "manifest", "import-fomm", out / "vox-metadata.csv", "--out", out / "manifest.csv", "--sha256", "")
    with MediaServer(site) as server:
        echo(f"serving {site} at {server.url('watch/')} (a stand-in for YouTube)")
        demo.vhq("download", "download", "--manifest", out / "manifest.csv", "--out", out / "videos", "--url-template", server.url("watch/{video_id}"),
                 "--min-height", plan.min_height, "--sleep", 0, "--sleep-requests", 0, "--workers", 2)
    crops = out / "crops"
    demo.vhq("crop", "crop", "--manifest", out / "manifest.csv", "--videos", out / "videos", "--out", crops, "--size", plan.crop_size,
             "--min-crop", plan.min_crop, "--min-frames", plan.min_frames, "--workers", 2)
    demo.vhq("split", "split", "--crops", crops, "--out", crops)

    bench_out, board = out / "bench", out / "bench" / "leaderboard.csv"
    bench_common = ["--data", crops, "--split", "test", "--out", bench_out, "--metrics", plan.metrics, "--skip-missing-weights"]
    models: list[tuple[str, list]] = []
    runs = out / "runs"
    notes: list[str] = []
    if plan.train_iters and train_lia_available():
        perceptual = "vgg19" if vgg19_present() and plan.lia_size >= 128 else "none"
        t_train = time.monotonic()
        ckpt = finished_run(runs, plan, crops, perceptual)
        reused = ckpt is not None
        if reused:
            echo("")
            echo(f"(vhq train-lia: reusing {ckpt}, trained with the same options by an earlier run)")
        else:
            demo.vhq("train-lia", *train_args(plan, crops, runs, perceptual))
            ckpt = latest_checkpoint(runs)
        if ckpt is None:
            raise DemoFailed(f"`vhq train-lia` wrote no checkpoint under {runs}")
        models.append(("lia", ["--model", "lia", "--ckpt", ckpt, "--name", LIA_MODEL]))
        notes.append(f"{LIA_MODEL}: {plan.train_iters} training steps of {plan.train_batch} images at {plan.lia_size}px"
                     + (" (trained by an earlier run" if reused else f" ({time.monotonic() - t_train:.0f}s on this machine")
                     + (", without the VGG19 perceptual loss: its weights are not in the cache" if perceptual == "none" else "")
                     + "). A smoke run: the model is essentially untrained and may well rank below `static`; "
                     "the recipe trains for 800k steps of 64 images on GPUs.")
    elif plan.train_iters:
        notes.append("lia: skipped — `vhq train-lia` is not available in this build.")
    models += [("static", ["--model", "static"]), ("gt", ["--model", "gt"])]
    for label, margs in models:
        demo.vhq(f"bench {label}", "bench", "reconstruct", *margs, *bench_common)

    if models[0][0] == "lia" and plan.lmdm_iters:
        lmdm_leg(demo, crops, models[0][1][3], notes)

    scored = LIA_MODEL if models[0][0] == "lia" else "static"
    demo.vhq("eval", "eval", "--pred", bench_out / "preds" / scored, "--gt", bench_out / "gt", "--metrics", "l1", "--out", out / "eval",
             "--name", scored)
    demo.vhq("leaderboard render", "leaderboard", "render", board, "--out", out / "report")

    check = check_leaderboard(board, out / "eval" / "summary.csv", scored)
    _summary(demo, notes, check, time.monotonic() - t0)
    if check["problems"]:
        raise DemoFailed("; ".join(check["problems"]))
    return demo


def lmdm_train_args(plan: DemoPlan, motion: Path, runs: Path) -> list:
    """A smoke run: a tiny U-Net on 16-code sequences, 100 diffusion steps, one checkpoint at the end."""
    return ["train-lmdm", "--motion", motion, "--out", runs, "--seq-len", plan.lmdm_seq_len, "--batch", 8, "--iters", plan.lmdm_iters,
            "--tick", max(plan.lmdm_iters // 2, 1), "--snap", 1, "--keep", 1, "--diffusion-steps", 100, "--ema", 0.9,
            "--channels", 32, "--mult", "1,2", "--res-blocks", 1, "--attention", 1, "--groups", 8, "--desc", "smoke"]


def lmdm_leg(demo: DemoRun, crops: Path, lia_ckpt: Path, notes: list[str]) -> None:
    """lia motion → train-lmdm → generate → bench generate: a smoke run of the plumbing, not a model."""
    plan, out = demo.plan, demo.out
    t = time.monotonic()
    motion = out / f"motion-{files.sha256_file(lia_ckpt)[:12]}"  # one folder per LIA checkpoint
    demo.vhq("lia motion", "lia", "motion", "--clips", crops, "--split", "train", "--ckpt", lia_ckpt, "--out", motion, "--batch", 8)
    lmdm_runs = out / "lmdm-runs"
    files.remove(lmdm_runs)  # the LIA above may be new: train on its codes afresh (seconds)
    demo.vhq("train-lmdm", *lmdm_train_args(plan, motion, lmdm_runs))
    lmdm = latest_checkpoint(lmdm_runs)
    if lmdm is None:
        raise DemoFailed(f"`vhq train-lmdm` wrote no checkpoint under {lmdm_runs}")
    first_test = files.read_csv(crops / "test.csv")[0]
    demo.vhq("generate", "generate", "--lia", lia_ckpt, "--lmdm", lmdm, "--start", crops / first_test["path"], "--frames", plan.lmdm_frames,
             "--seed", 0, "--out", out / "generated")
    demo.vhq("bench generate", "bench", "generate", "--model", "lmdm", "--ckpt", lia_ckpt, "--lmdm", lmdm, "--data", crops, "--split", "test",
             "--out", out / "bench-generate", "--lengths", 16, "--name", "lmdm-smoke", "--skip-missing-weights")
    notes.append(f"lmdm-smoke: `vhq lia motion` → {plan.lmdm_iters} `vhq train-lmdm` steps of a tiny U-Net (100 diffusion steps) → "
                 f"`vhq generate` ({plan.lmdm_frames} frames, {out / 'generated'}) → `vhq bench generate` (16-frame videos, "
                 f"{out / 'bench-generate'}) in {time.monotonic() - t:.0f}s. A smoke run of the plumbing on an untrained LIA: "
                 "LEO trains on full datasets on a GPU (docs/lmdm.md).")


PAIRED = tuple(m.column for m in catalog.of_kind("paired"))


def check_leaderboard(board: Path, eval_summary: Path, scored: str) -> dict:
    """The demo's own sanity checks: gt exactly 0 on paired metrics, static worse than gt, eval == bench."""
    rows = files.read_csv(board)
    value = {(r["model"], r["metric"]): r["value"] for r in rows}
    problems = []
    for (model, metric), v in value.items():
        if model == "gt" and metric in PAIRED and v not in ("", "0.0"):
            problems.append(f"gt {metric} is {v}, not 0")
    if not (value.get(("static", "l1")) and float(value[("static", "l1")]) > float(value.get(("gt", "l1")) or 0)):
        problems.append("static is not worse than gt on l1")
    ev = {r["metric"]: r["value"] for r in files.read_csv(eval_summary)} if eval_summary.is_file() else {}
    same = ev.get("l1") == value.get((scored, "l1"))
    if not same:
        problems.append(f"vhq eval gives l1={ev.get('l1')} for {scored}, the bench {value.get((scored, 'l1'))}")
    return {"problems": problems, "eval_matches": same, "rows": rows}


def _skipped(out: Path) -> dict[str, str]:
    skipped = {}
    for run_json in sorted((out / "bench" / "runs").glob("*/run.json")):
        skipped.update(json.loads(run_json.read_text()).get("skipped_metrics", {}))
    return skipped


def _summary(demo: DemoRun, notes: list[str], check: dict, seconds: float) -> None:
    out = demo.out
    echo("")
    echo("=" * 78)
    md = (out / "report" / "leaderboard.md").read_text().split("\n## ", 1)[-1]
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    echo("Leaderboard (bench reconstruct on the demo's test clips; ↓ lower is better):")
    for ln in table:
        echo("  " + ln)
    echo("")
    for n in notes:
        echo(n)
    skipped = _skipped(out)
    if skipped:
        echo("Metrics skipped (weights not in the cache; never faked):")
        for m, how in skipped.items():
            echo(f"  {m:<12} {how}")
    echo(f"`vhq eval` on the bench's layout gives the bench's L1: {check['eval_matches']}; gt is exactly 0 on every paired metric; static is worse than gt"
         if not check["problems"] else "PROBLEMS: " + "; ".join(check["problems"]))
    echo("")
    echo("Outputs:")
    for label, p in [
        ("synthetic site", out / "site"), ("FOMM-style metadata", out / "vox-metadata.csv"), ("manifest", out / "manifest.csv"),
        ("downloads + status", out / "videos" / "download_status.csv"), ("crops + status", out / "crops" / "crop_status.csv"),
        ("split", out / "crops" / "test.csv"), ("split report", out / "crops" / "split_report.md"),
        ("LIA runs", out / "runs"), ("LMDM runs", out / "lmdm-runs"), ("generated", out / "generated"),
        ("bench generate", out / "bench-generate"), ("predictions", out / "bench" / "preds"), ("per-model runs", out / "bench" / "runs"),
        ("leaderboard CSV", out / "bench" / "leaderboard.csv"), ("vhq eval", out / "eval"),
        ("report (Markdown)", out / "report" / "leaderboard.md"), ("report (HTML)", out / "report" / "leaderboard.html"),
        ("plots", out / "report" / "plots"),
    ]:
        if p.exists():
            echo(f"  {label:<20} {p}")
    echo("")
    echo("Stage times: " + ", ".join(f"{s.name} {s.seconds:.0f}s" for s in demo.stages) + f"; total {seconds:.0f}s")
