"""One run of every CUDA path on one GPU, checked against the CPU: train-lia (bf16, alone and under
torchrun), eval (paired metrics and FVD) and animate, with frames/s on the GPU beside the CPU.

    python benchmarks/gpu_check.py             # on a CUDA machine: ~5 minutes on one H200
    python benchmarks/gpu_check.py --dry-run   # CPU rehearsal at 64 px (CI): "cuda" becomes "cpu"

Everything runs the real ``vhq`` commands as processes (``python -m cli ...`` in this checkout) on
synthetic talking heads, with random-init networks of the real architectures imported into a
temporary ``$VHQ_CACHE`` (the cost is that of trained weights; the scores mean nothing beyond the
CUDA/CPU agreement). What runs, in order:

1. ``vhq train-lia --amp bf16 --device cuda`` for ``steps`` steps at 256 px, batch 8, then the same
   under ``python -m torch.distributed.run --standalone --nproc_per_node 1``; each checkpoint must load
   with ``torch.load(weights_only=True)``, hold the step count and finite weights, and the logged
   losses must be finite. A few fp32 CPU steps give the CPU training rate.
2. ``vhq eval --device cuda`` and ``--device cpu`` on the same pairs (``--no-cache``, so neither
   reuses the other's ground-truth features): L1, LPIPS, AED (OpenFace), AKD/MKR in one run, FVD
   (I3D) on two unpaired sets in a second.
3. ``vhq animate --device cuda`` and ``--device cpu`` with the trained checkpoint on one driving video.

vhq turns TF32 off wherever it resolves a CUDA device (cuDNN convolutions default to TF32 in
PyTorch, whose ~1e-3 relative rounding would make the comparison test TF32, not the code); CUDA
commands also run with ``NVIDIA_TF32_OVERRIDE=0``, so a library call outside that reach cannot use it.
The tolerances (``TOLERANCES``) then only absorb fp32 differences between cuDNN's and the CPU's
convolution algorithms (summation order, Winograd/FFT transforms: ~1e-6 relative per layer).

Frames/s are over each command's own work loop (its ``... done in T s`` progress line), so process
start and network loading are left out; training uses the ticks after the first (warm-up).
Exit code 0 with a final ``PASS`` line, 1 with ``FAIL`` (each failed check named above it), and 1
with one ``error:`` line when no CUDA device is present and ``--dry-run`` was not given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# |cuda - cpu| <= atol + rtol * |cpu|, with the reason for each bound.
TOLERANCES = {
    "l1": (1e-5, 0.0, "mean |pred - gt| of the same decoded uint8 frames: only the float32 summation order differs"),
    "lpips_alex": (1e-4, 1e-3, "AlexNet in fp32 (TF32 off): cuDNN and CPU conv algorithms differ ~1e-6 relative per layer"),
    "aed_openface": (1e-6, 1e-3, "OpenFace embeddings in fp32, squared distances of ~1e-3: relative bound"),
    "akd_fan2d": (0.5, 0.0, "a landmark is the arg-max of a 64x64 heatmap: a near-tie flips one point by a heatmap cell, the mean moves < 0.5 px"),
    "mkr_face_fan2d": (0.02, 0.0, "a detection score at the threshold may flip one face in ~50 frames"),
    "fvd_i3d": (0.0, 1e-2, "rank-deficient covariance (few clips): square roots of near-zero eigenvalues amplify 1e-6 feature differences"),
    "animate": (0.5, 0.0, "mean |cuda - cpu| of the decoded output in uint8 levels: fp32 generator, same H.264 encoder"),
}


@dataclasses.dataclass(frozen=True)
class Plan:
    size: int  # eval resolution
    train_size: int  # train-lia and animate resolution (LIA's cost barely falls below 64 px: ~20 s a step at 32 px on 2 busy cores)
    steps: int  # train-lia steps on the device under test, alone (rate: the ticks after the first)
    torchrun_steps: int
    batch: int
    cpu_steps: int  # train-lia steps on the CPU (the first is warm-up)
    paired_videos: int
    paired_frames: int
    fvd_clips: int  # per set; 16 frames each (the stylegan-v protocol's clip length)
    animate_frames: int
    akd: bool  # AKD/MKR: FAN runs on a 256 px crop whatever the frame size, ~0.6 s per frame and side on a CPU core
    perceptual: str  # vgg19: the recipe (a random-init 548 MB file; too slow to write for the rehearsal)
    amp: str  # bf16 on the GPU; autocast to bf16 on a CPU without bf16 units takes ~70 s a step at 64 px
    workers: int
    timeout_s: int  # per command


REAL = Plan(size=256, train_size=256, steps=100, torchrun_steps=100, batch=8, cpu_steps=2, paired_videos=4, paired_frames=16, fvd_clips=8, animate_frames=64,
            akd=True, perceptual="vgg19", amp="bf16", workers=4, timeout_s=600)
DRY = Plan(size=64, train_size=32, steps=2, torchrun_steps=1, batch=1, cpu_steps=2, paired_videos=2, paired_frames=3, fvd_clips=2, animate_frames=4,
           akd=False, perceptual="none", amp="none", workers=0, timeout_s=180)
FVD_FRAMES = 16
PAIRED = "l1,lpips,aed"


class CheckFailed(Exception):
    """A command failed or its output broke a promise; the message names which."""


@dataclasses.dataclass
class Rates:
    rows: list[tuple[str, str, float | None, float | None]] = dataclasses.field(default_factory=list)  # (stage, unit, device, cpu)


@dataclasses.dataclass
class Check:
    name: str
    device: float
    cpu: float
    atol: float
    rtol: float

    @property
    def diff(self) -> float:
        return abs(self.device - self.cpu)

    @property
    def bound(self) -> float:
        return self.atol + self.rtol * abs(self.cpu)

    @property
    def ok(self) -> bool:
        return math.isfinite(self.device) and math.isfinite(self.cpu) and self.diff <= self.bound


def compare(name: str, device: float, cpu: float) -> Check:
    atol, rtol, _ = TOLERANCES[name]
    return Check(name, device, cpu, atol, rtol)


# ---------------------------------------------------------------- inputs


def make_inputs(work: Path, plan: Plan) -> dict[str, Path]:
    """Random-init weights in their published formats in $VHQ_CACHE, and synthetic videos."""
    import torch

    from vhq import weights
    from vhq.io import video
    from vhq.testing.random_weights import make_weight_file, write_i3d_checkpoint, write_random_vgg19
    from vhq.testing.synthetic import face_frames, write_clips

    wdir = work / "random-weights"
    wdir.mkdir()
    paired_nets = ["alexnet", "openface"] + (["fan2d", "s3fd"] if plan.akd else [])
    for name in paired_nets:
        weights.import_file(name, make_weight_file(name, wdir), no_verify=True)
    weights.import_file("i3d_pretrained_400", write_i3d_checkpoint(wdir / "i3d_pretrained_400.pt"), no_verify=True)
    if plan.perceptual == "vgg19":
        weights.import_file("vgg19", write_random_vgg19(wdir / "vgg19-dcbb9e9d.pth"), no_verify=True)
    for f in wdir.iterdir():
        f.unlink()  # the cache holds its own copies

    def clip(path: Path, frames: int, seed: int) -> None:
        video.write_video(path, torch.from_numpy(face_frames(frames, size=plan.size, seed=seed, face_scale=0.6)), fps=25)

    for i in range(plan.paired_videos):
        clip(work / "paired" / "gt" / f"v{i}.mp4", plan.paired_frames, seed=i)
        clip(work / "paired" / "pred" / f"v{i}.mp4", plan.paired_frames, seed=100 + i)
    for i in range(plan.fvd_clips):
        clip(work / "fvd" / "real" / f"r{i}.mp4", FVD_FRAMES, seed=200 + i)
        clip(work / "fvd" / "fake" / f"f{i}.mp4", FVD_FRAMES, seed=300 + i)
    write_clips(work / "clips", count=4, frames=16, side=plan.train_size)
    video.write_video(work / "driving.mp4", torch.from_numpy(face_frames(plan.animate_frames, size=plan.train_size, seed=400)), fps=25)
    video.write_image(work / "source.png", torch.from_numpy(face_frames(1, size=plan.train_size, seed=401)[0]))
    return {"clips": work / "clips", "paired": work / "paired", "fvd": work / "fvd", "driving": work / "driving.mp4", "source": work / "source.png"}


# ---------------------------------------------------------------- running vhq


def child_env(cache: Path, device: str) -> dict[str, str]:
    env = dict(os.environ, VHQ_CACHE=str(cache), PYTHONPATH=str(ROOT))
    env.pop("VHQ_QUIET", None)  # the "done in T s" progress lines are the timings
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    if device.startswith("cuda"):
        env["NVIDIA_TF32_OVERRIDE"] = "0"
    return env


def run(args: list, env: dict[str, str], log: Path, timeout_s: int, launcher: list[str] | None = None) -> tuple[str, str]:
    """Run ``vhq ARGS`` (or ``LAUNCHER -m cli ARGS``); return (stdout, stderr); a failure raises with the stderr tail."""
    cmd = [*(launcher or [sys.executable]), "-m", "cli", *map(str, args)]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as e:
        raise CheckFailed(f"{' '.join(cmd[cmd.index('cli') + 1:][:1])}: no answer in {timeout_s} s") from e
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(cmd)}\n# exit {p.returncode} after {time.perf_counter() - t:.1f} s\n--- stdout\n{p.stdout}--- stderr\n{p.stderr}")
    if p.returncode != 0:
        tail = "\n".join(p.stderr.strip().splitlines()[-6:])
        raise CheckFailed(f"`{' '.join(map(str, args[:1]))}` exited {p.returncode} (log: {log}):\n{tail}")
    return p.stdout, p.stderr


DONE_RE = re.compile(r"^(?P<desc>.+?): (?P<done>\d+)(?:/\d+)? done in (?P<s>[0-9.]+)s$", re.MULTILINE)


def loop_seconds(stderr: str, desc: str) -> float:
    """Seconds of the progress loop named ``desc`` (its final ``DESC: N/M done in Ts`` line)."""
    found = [float(m["s"]) for m in DONE_RE.finditer(stderr) if m["desc"] == desc]
    if not found:
        raise CheckFailed(f"no '{desc}: ... done in ...s' progress line in the command's stderr")
    return found[-1]


def summary_values(out: Path) -> dict[str, float]:
    from vhq.io import files

    return {r["metric"]: float(r["value"]) for r in files.read_csv(out / "summary.csv")}


# ---------------------------------------------------------------- stages


def train(plan: Plan, inp: dict[str, Path], work: Path, env: dict[str, str], device: str, *, steps: int, amp: str, name: str,
          tick_steps: int, launcher: list[str] | None = None) -> tuple[float | None, Path]:
    """One train-lia run; returns (images/s over the ticks after the first, checkpoint) after checking what it wrote."""
    import torch

    out = work / "runs" / name
    args = ["train-lia", "--data", inp["clips"], "--out", out, "--size", plan.train_size, "--batch", plan.batch, "--iters", steps,
            "--amp", amp, "--device", device, "--perceptual", plan.perceptual, "--workers", plan.workers, "--samples", 1,
            "--tick-kimg", tick_steps * plan.batch / 1000, "--snap", 1000, "--desc", name]
    stdout, _ = run(args, env, work / "logs" / f"{name}.txt", plan.timeout_s, launcher)
    ckpt = Path((stdout.strip().splitlines() or [""])[-1])
    if not ckpt.is_file():
        raise CheckFailed(f"train-lia ({name}): its last output line {str(ckpt)!r} is not a checkpoint file")
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as e:  # an UnpicklingError names what weights_only refused
        raise CheckFailed(f"{ckpt}: torch.load(weights_only=True) refused it: {e}") from e
    if state.get("format") != "vhq-lia" or state.get("step") != steps:
        raise CheckFailed(f"{ckpt}: format {state.get('format')!r}, step {state.get('step')!r}; expected vhq-lia at step {steps}")
    bad = [k for part in ("gen", "dis") for k, v in state[part].items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckFailed(f"{ckpt}: non-finite weights in {len(bad)} tensors, e.g. {bad[0]}")
    run_dir = ckpt.parent
    log_text = (run_dir / "log.txt").read_text()
    if f"amp {amp}" not in log_text or "1 process(es)" not in log_text:
        raise CheckFailed(f"{run_dir / 'log.txt'}: expected 'amp {amp}' and '1 process(es)' in the run's first line")
    ticks = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    losses = [(t["step"], k, v) for t in ticks for k, v in t.items() if k.startswith("Loss/")]
    bad_losses = [x for x in losses if not math.isfinite(x[2])]
    if not losses or bad_losses:
        raise CheckFailed(f"{run_dir / 'stats.jsonl'}: {'non-finite losses (step, name, value): ' + str(bad_losses[:3]) if losses else 'no losses logged'}")
    timed = ticks[1:]
    images = sum((t["step"] - p["step"]) * plan.batch for p, t in zip(ticks, timed))
    seconds = sum(t["sec_per_tick"] for t in timed)
    return (images / seconds if timed and seconds > 0 else None), ckpt


def eval_paired(plan: Plan, inp: dict[str, Path], work: Path, env: dict[str, str], device: str, metrics: str, name: str) -> tuple[dict[str, float], float]:
    out = work / "eval" / name
    args = ["eval", "--pred", inp["paired"] / "pred", "--gt", inp["paired"] / "gt", "--metrics", metrics, "--no-cache",
            "--device", device, "--out", out, "--name", name]
    _, err = run(args, env, work / "logs" / f"{name}.txt", plan.timeout_s)
    frames = plan.paired_videos * plan.paired_frames
    return summary_values(out), frames / max(loop_seconds(err, "eval"), 1e-9)


def eval_fvd(plan: Plan, inp: dict[str, Path], work: Path, env: dict[str, str], device: str, name: str) -> tuple[dict[str, float], float]:
    out = work / "eval" / name
    args = ["eval", "--pred", inp["fvd"] / "fake", "--gt", inp["fvd"] / "real", "--metrics", "fvd_i3d", "--no-cache", "--device", device,
            "--out", out, "--name", name, "--seed", 0]
    _, err = run(args, env, work / "logs" / f"{name}.txt", plan.timeout_s)
    seconds = loop_seconds(err, "i3d real") + loop_seconds(err, "i3d pred")
    return summary_values(out), 2 * plan.fvd_clips * FVD_FRAMES / max(seconds, 1e-9)


def animate(plan: Plan, inp: dict[str, Path], work: Path, env: dict[str, str], device: str, ckpt: Path, name: str) -> tuple[Path, float]:
    out = work / "animate" / f"{name}.mp4"
    args = ["animate", "--source", inp["source"], "--driving", inp["driving"], "--out", out, "--ckpt", ckpt, "--device", device]
    _, err = run(args, env, work / "logs" / f"animate-{name}.txt", plan.timeout_s)
    return out, plan.animate_frames / max(loop_seconds(err, f"animate {inp['driving'].name}"), 1e-9)


def frame_difference(a: Path, b: Path) -> float:
    """Mean |a - b| over the decoded frames of two videos, in uint8 levels."""
    from vhq.io import video

    fa, fb = video.read_frames(a), video.read_frames(b)
    if fa.shape != fb.shape:
        raise CheckFailed(f"{a} and {b}: frames {tuple(fa.shape)} and {tuple(fb.shape)} differ")
    return (fa.double() - fb.double()).abs().mean().item()


# ---------------------------------------------------------------- the check


def check(plan: Plan, work: Path, device: str, rates: Rates, checks: list[Check]) -> None:
    cache = work / "cache"
    env_dev, env_cpu = child_env(cache, device), child_env(cache, "cpu")
    os.environ["VHQ_CACHE"] = str(cache)
    inp = make_inputs(work, plan)
    dev_rate, ckpt = train(plan, inp, work, env_dev, device, steps=plan.steps, amp=plan.amp, name="train-device", tick_steps=max(plan.steps // 4, 1))
    train(plan, inp, work, env_dev, device, steps=plan.torchrun_steps, amp=plan.amp, name="train-torchrun", tick_steps=plan.torchrun_steps,
          launcher=[sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"])
    if (device, plan.amp) == ("cpu", "none"):
        cpu_rate = dev_rate  # the same command line (the rehearsal): run once
    else:
        cpu_rate, _ = train(plan, inp, work, env_cpu, "cpu", steps=plan.cpu_steps, amp="none", name="train-cpu", tick_steps=1)
    rates.rows.append((f"train-lia {plan.train_size} px b{plan.batch} (amp {plan.amp} on the device, fp32 on cpu)", "img/s", dev_rate, cpu_rate))

    paired = PAIRED + (",akd,mkr" if plan.akd else "")
    groups = [("eval " + paired, paired)]
    for i, (label, metrics) in enumerate(groups):
        dev_vals, dev_fps = eval_paired(plan, inp, work, env_dev, device, metrics, f"paired{i}-device")
        cpu_vals, cpu_fps = eval_paired(plan, inp, work, env_cpu, "cpu", metrics, f"paired{i}-cpu")
        rates.rows.append((f"{label}, {plan.size} px", "frames/s", dev_fps, cpu_fps))
        if set(dev_vals) != set(cpu_vals):
            raise CheckFailed(f"eval --metrics {metrics}: the runs scored {sorted(dev_vals)} ({device}) and {sorted(cpu_vals)} (cpu)")
        checks += [compare(k, dev_vals[k], cpu_vals[k]) for k in cpu_vals]
    dev_vals, dev_fps = eval_fvd(plan, inp, work, env_dev, device, "fvd-device")
    cpu_vals, cpu_fps = eval_fvd(plan, inp, work, env_cpu, "cpu", "fvd-cpu")
    rates.rows.append((f"eval fvd_i3d, {plan.fvd_clips}+{plan.fvd_clips} clips x {FVD_FRAMES}", "frames/s", dev_fps, cpu_fps))
    checks.append(compare("fvd_i3d", dev_vals["fvd_i3d"], cpu_vals["fvd_i3d"]))

    dev_out, dev_fps = animate(plan, inp, work, env_dev, device, ckpt, "device")
    cpu_out, cpu_fps = animate(plan, inp, work, env_cpu, "cpu", ckpt, "cpu")
    rates.rows.append((f"animate {plan.train_size} px, {plan.animate_frames} frames", "frames/s", dev_fps, cpu_fps))
    checks.append(Check("animate", frame_difference(dev_out, cpu_out), 0.0, *TOLERANCES["animate"][:2]))


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def report(rates: Rates, checks: list[Check], device: str, header: str) -> list[str]:
    lines = [header, "", f"{'throughput':<60} {'unit':<9} {device:>10} {'cpu':>10} {'ratio':>8}"]
    for stage, unit, d, c in rates.rows:
        ratio = f"{d / c:.1f}x" if d and c else "-"
        lines.append(f"{stage:<60} {unit:<9} {fmt(d):>10} {fmt(c):>10} {ratio:>8}")
    lines += ["", f"{'agreement':<16} {device:>14} {'cpu':>14} {'|diff|':>10} {'bound':>10}  ok"]
    for c in checks:
        lines.append(f"{c.name:<16} {c.device:>14.7g} {c.cpu:>14.7g} {c.diff:>10.3g} {c.bound:>10.3g}  {'ok' if c.ok else 'FAIL'}")
    return lines


def verdict(rates: Rates, checks: list[Check], device: str, header: str, error: str | None, seconds: float) -> tuple[list[str], int]:
    """The printed report and the exit code: 0 only when every command ran and every check is within its bound."""
    lines = report(rates, checks, device, header)
    failed = [c.name for c in checks if not c.ok]
    if error:
        lines += ["", f"error: {error}"]
    if error or failed:
        return lines + [f"FAIL ({', '.join(failed) or 'a command failed'}) in {seconds:.0f} s"], 1
    if not checks:
        return lines + [f"FAIL (nothing was compared) in {seconds:.0f} s"], 1
    return lines + [f"PASS ({len(checks)} agreement checks, {len(rates.rows)} rates) in {seconds:.0f} s"], 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="the whole check on CPU at 64 px with 'cpu' as the device under test")
    ap.add_argument("--device", default="cuda", help="device under test (default cuda)")
    ap.add_argument("--keep", type=Path, help="work folder to keep (logs, runs, outputs); default: a temporary one, removed")
    a = ap.parse_args(argv)
    import torch

    device = "cpu" if a.dry_run else a.device
    if not a.dry_run and device.startswith("cuda") and not torch.cuda.is_available():
        print(f"error: no CUDA device here (torch {torch.__version__}, cuda.is_available() is False); run on a GPU machine or pass --dry-run", flush=True)
        return 1
    plan = DRY if a.dry_run else REAL
    name = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "cpu"
    header = (f"gpu_check{' --dry-run' if a.dry_run else ''}: device under test {device} ({name}) vs cpu ({torch.get_num_threads()} threads), "
              f"torch {torch.__version__}, {plan.size} px, random-init networks, TF32 off on cuda")
    t0 = time.perf_counter()
    work = a.keep or Path(tempfile.mkdtemp(prefix="vhq-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    rates, checks = Rates(), []
    error = None
    try:
        check(plan, work, device, rates, checks)
    except CheckFailed as e:
        error = str(e)
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    lines, code = verdict(rates, checks, device, header, error, time.perf_counter() - t0)
    print("\n".join(lines), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
