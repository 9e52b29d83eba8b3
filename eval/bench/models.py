"""Model adapters for ``vhq bench``: how a method turns (source image, driving frames) into frames.

Every adapter gets, per clip, the source image (uint8 ``[H, W, 3]``), an iterator over the
driving frames (uint8 ``[B, H, W, 3]`` batches, streamed) and the motion mode (``absolute`` for
same-identity reconstruction, ``relative`` for cross-identity transfer), and yields the predicted
frames in batches. The bench writes them losslessly and checks their count.

- ``lia``: a LIA checkpoint (vhq-lia, official ``vox.pt``-style, or a generator state_dict).
- ``liax``: a LIA-X state_dict (default: the cached ``lia_x`` weights, the released 512-px model).
- ``static``: the source frame repeated (the floor every method must beat).
- ``gt``: the driving frames copied (reconstruction: the ground truth, all paired metrics 0).
- ``cmd``: an external command run once per clip on files (see :class:`CommandModel`).
- ``module:function``: a Python function (see :class:`PythonModel`).

An adapter's :meth:`identity` (JSON-able) names exactly what produced the predictions; it is
recorded with every leaderboard row and decides whether an existing prediction can be reused.
"""

from __future__ import annotations

import importlib
import inspect
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from vhq.errors import BadInput
from vhq.io import files, video

BUILTIN = ("lia", "liax", "static", "gt", "cmd")
PLACEHOLDERS = ("{source}", "{driving}", "{out}")
STDERR_TAIL = 400


def to_uint8(batch, where: str) -> torch.Tensor:
    """A model's output batch → uint8 ``[B, H, W, 3]``: floats are read as [0, 1], clamped and rounded."""
    x = torch.as_tensor(np.asarray(batch)) if not isinstance(batch, torch.Tensor) else batch.detach().cpu()
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[-1] != 3:
        raise BadInput(f"{where}: expected frames shaped [B, H, W, 3], got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.contiguous()
    if not x.is_floating_point():
        raise BadInput(f"{where}: expected uint8 frames or floats in [0, 1], got {x.dtype}")
    if not torch.isfinite(x).all():
        raise BadInput(f"{where}: the model returned NaN or infinite values")
    return (x.float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).contiguous()


class Model:
    """Base adapter. Subclasses implement :meth:`predict` (frames) or override :meth:`run`."""

    kind = "model"
    default_name = "model"

    def identity(self) -> dict:
        return {"kind": self.kind}

    def predict(self, source: torch.Tensor, driving: Iterator[torch.Tensor], mode: str) -> Iterable:
        raise NotImplementedError

    def run(self, key: str, source: torch.Tensor, driving_path: Path, frames: int, mode: str, staging: Path) -> Iterable:
        """Predicted batches for one clip; the default streams the driving video into :meth:`predict`."""
        return self.predict(source, video.iter_frames(driving_path, batch_size=16, count=frames), mode)


class StaticModel(Model):
    """The source frame repeated for every driving frame."""

    kind = default_name = "static"

    def predict(self, source, driving, mode):
        for batch in driving:
            yield source[None].expand(batch.shape[0], -1, -1, -1)


class GroundTruthModel(Model):
    """The driving frames copied: in reconstruction these are the ground truth (paired metrics 0)."""

    kind = default_name = "gt"

    def predict(self, source, driving, mode):
        yield from driving


class LiaModel(Model):
    """A LIA generator from a checkpoint; frames are animated in streamed batches."""

    kind = "lia"

    def __init__(self, ckpt: Path | None, device: str = "cpu", batch: int = 8):
        from lia.checkpoint import load_checkpoint

        if ckpt is None:
            raise BadInput("--model lia needs --ckpt CHECKPOINT", "a vhq-lia checkpoint from `vhq train-lia`, or an official vox.pt")
        ckpt = Path(ckpt)
        loaded = load_checkpoint(ckpt)
        self.generator = loaded.generator().to(device)
        self.batch = batch
        self.default_name = f"lia-{ckpt.stem}"
        self._identity = {
            "kind": "lia", "ckpt": str(ckpt.resolve()), "ckpt_sha256": files.sha256_file(ckpt), "ckpt_format": loaded.kind,
            "config": loaded.config, "step": _plain(loaded.extra.get("step")), "images": _plain(loaded.extra.get("images")),
            "perceptual": _plain(loaded.extra.get("perceptual")),
            # trained without the perceptual loss: not the recipe, a smoke run
            "smoke": loaded.extra.get("perceptual") == "none",
        }

    @property
    def size(self) -> int:
        return self.generator.size

    def identity(self) -> dict:
        return dict(self._identity)

    def predict(self, source, driving, mode):
        from lia.animate import animate

        yield from animate(self.generator, source, driving, mode=mode, batch=self.batch)


class LiaXModel(LiaModel):
    """A LIA-X generator (``--ckpt`` or the cached ``lia_x`` weights); animated as LIA is."""

    kind = "liax"

    def __init__(self, ckpt: Path | None, device: str = "cpu", batch: int = 8):
        from lia.x.checkpoint import load_generator
        from lia.x.defaults import WEIGHTS
        from vhq import console, weights

        provenance = {}
        if ckpt is None:
            ckpt = weights.path(WEIGHTS)
            provenance = weights.provenance(WEIGHTS)
            console.info(f"{WEIGHTS}: {weights.entry(WEIGHTS).licence}")
        ckpt = Path(ckpt)
        self.generator = load_generator(ckpt).to(device)
        self.batch = batch
        self.default_name = "lia-x" if ckpt.stem == "lia-x" else f"lia-x-{ckpt.stem}"
        self._identity = {"kind": "liax", "ckpt": str(ckpt.resolve()), "ckpt_sha256": files.sha256_file(ckpt),
                          "config": self.generator.config, **provenance}


class LmdmModel(Model):
    """LEO's conditional generation: an LMDM samples codes from the start frame's, LIA renders them.

    It takes no driving motion: ``run`` makes ``frames`` frames from the source alone, seeded per
    clip from ``seed`` and the clip's key (:func:`lia.lmdm.generate.video_seed`).
    """

    kind = "lmdm"

    def __init__(self, lia_ckpt: Path | None, lmdm_ckpt: Path | None, device: str = "cpu", batch: int = 8, seed: int = 0,
                 sampler: str = "ddpm", steps: int | None = None):
        from lia.checkpoint import load_checkpoint
        from lia.lmdm.generate import Sampling
        from lia.lmdm.model import load_lmdm

        if lia_ckpt is None or lmdm_ckpt is None:
            raise BadInput("bench generate needs --ckpt LIA and --lmdm LMDM", "the LIA checkpoint renders, the `vhq train-lmdm` checkpoint samples the motion")
        lia_ckpt, lmdm_ckpt = Path(lia_ckpt), Path(lmdm_ckpt)
        loaded = load_checkpoint(lia_ckpt)
        self.generator = loaded.generator().to(device)
        self.lmdm = load_lmdm(lmdm_ckpt)
        if self.lmdm.motion_dim != self.generator.motion_dim:
            raise BadInput(f"{lmdm_ckpt}: models {self.lmdm.motion_dim}-dimensional codes, {lia_ckpt} has {self.generator.motion_dim}")
        self.lmdm.net.to(device)
        self.sampling = Sampling(sampler, steps)
        self.batch, self.seed = batch, seed
        self.default_name = f"lmdm-{lmdm_ckpt.stem}"
        self._identity = {
            "kind": "lmdm", "lia_ckpt": str(lia_ckpt.resolve()), "lia_sha256": files.sha256_file(lia_ckpt), "lia_config": loaded.config,
            "lmdm_ckpt": str(lmdm_ckpt.resolve()), "lmdm_sha256": files.sha256_file(lmdm_ckpt), "lmdm_config": self.lmdm.config(),
            "lmdm_step": _plain(self.lmdm.extra.get("step")), "lmdm_trained_on_lia": self.lmdm.lia.get("sha256"),
            "sampler": self.sampling.label(), "seed": seed,
        }

    def identity(self) -> dict:
        return dict(self._identity)

    def run(self, key, source, driving_path, frames, mode, staging):
        from lia.lmdm.generate import generate, video_seed

        _, batches = generate(self.generator, self.lmdm, source, frames, video_seed(self.seed, key), self.sampling, self.batch)
        return batches


def _plain(v):
    return v if isinstance(v, (bool, int, float, str, type(None))) else repr(v)


class CommandModel(Model):
    """An external program run once per clip, with argument-list quoting (no shell).

    The template is split like a POSIX shell line (``shlex.split``); in every argument
    ``{source}`` becomes a PNG of the source frame, ``{driving}`` the driving video (lossless mp4,
    exactly the frames to animate), ``{out}`` the mp4 path to write (a folder of PNG frames at that
    path is accepted too), ``{mode}`` ``absolute`` or ``relative`` and ``{key}`` the clip or pair
    id. The output must have one frame per driving frame. A non-zero exit, a missing output or a
    wrong frame count stops the run with the clip's id and the tail of the command's stderr.
    """

    kind = "cmd"
    default_name = "cmd"

    def __init__(self, template: str | None, timeout: float | None = None):
        if not template:
            raise BadInput("--model cmd needs --command '... {source} ... {driving} ... {out}'")
        try:
            self.argv = shlex.split(template)
        except ValueError as e:
            raise BadInput(f"--command: cannot split {template!r}: {e}") from None
        missing = [p for p in PLACEHOLDERS if not any(p in a for a in self.argv)]
        if missing:
            raise BadInput(f"--command lacks {', '.join(missing)}: {template!r}", "the command is run once per clip with {source}, {driving} and {out} filled in")
        self.template = template
        self.timeout = timeout

    def identity(self) -> dict:
        return {"kind": "cmd", "command": self.template}

    def command_for(self, **values: str) -> list[str]:
        out = []
        for arg in self.argv:
            for k, v in values.items():
                arg = arg.replace("{" + k + "}", v)
            out.append(arg)
        return out

    def run(self, key, source, driving_path, frames, mode, staging):
        src_png = video.write_image(staging / "source.png", source)
        info = video.probe(driving_path)
        # The command only ever sees copies: the dataset's clips are the ground truth it is scored on.
        drv = staging / ("driving" + driving_path.suffix if info.kind == "video" else "driving.mp4")
        if info.frames != frames or info.kind != "video":
            video.write_video(drv, video.iter_frames(driving_path, batch_size=16, count=frames), info.fps or 25.0, **video.LOSSLESS_MP4)
        else:
            shutil.copyfile(driving_path, drv)
        for given in (src_png, drv):
            given.chmod(0o444)
        before = _fingerprint(driving_path)
        out = staging / "out.mp4"
        argv = self.command_for(source=str(src_png), driving=str(drv), out=str(out), mode=mode, key=key)
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=self.timeout)
        except FileNotFoundError:
            raise BadInput(f"clip {key}: model command not found: {argv[0]!r}", f"command: {shlex.join(argv)}") from None
        except PermissionError:
            raise BadInput(f"clip {key}: model command is not executable: {argv[0]!r}", f"command: {shlex.join(argv)}") from None
        except subprocess.TimeoutExpired:
            raise BadInput(f"clip {key}: model command did not finish within {self.timeout:g}s", f"command: {shlex.join(argv)}") from None
        if _fingerprint(driving_path) != before:
            raise BadInput(f"clip {key}: the ground-truth clip {driving_path} changed while the model command ran", "restore the dataset (re-run vhq crop) and fix the command: it must write only to {out}")
        if r.returncode != 0:
            raise BadInput(f"clip {key}: model command exited with code {r.returncode}: {_tail(r.stderr) or '(no stderr)'}", f"command: {shlex.join(argv)}")
        if not out.exists():
            raise BadInput(f"clip {key}: model command exited 0 but wrote no {out.name} ({{out}}){_tail_suffix(r.stderr)}", f"command: {shlex.join(argv)}")
        return video.iter_frames(out, batch_size=16)


def _fingerprint(path: Path) -> tuple:
    st = path.stat()
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    tail = " | ".join(lines[-4:])
    return tail if len(tail) <= STDERR_TAIL else "…" + tail[-STDERR_TAIL:]


def _tail_suffix(data: bytes) -> str:
    t = _tail(data)
    return f"; stderr: {t}" if t else ""


class PythonModel(Model):
    """A Python entry point ``package.module:function``.

    The function is called once per clip as ``function(source, driving, mode=mode)``:
    ``source`` is a uint8 tensor ``[H, W, 3]``, ``driving`` an iterator of uint8 ``[B, H, W, 3]``
    batches and ``mode`` ``"absolute"`` or ``"relative"``. It returns (or yields) frames:
    uint8 ``[B, H, W, 3]`` batches, or floats in [0, 1] (clamped and rounded), or one
    ``[T, H, W, 3]`` array. Load weights once (module level or ``functools.cache``), not per call.
    """

    kind = "python"

    def __init__(self, target: str):
        module_name, _, attr = target.partition(":")
        if not module_name or not attr:
            raise BadInput(f"--model {target!r}: a Python entry point is written module:function")
        if "" not in sys.path and Path.cwd().as_posix() not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise BadInput(f"--model {target!r}: cannot import {module_name!r}: {e}") from None
        fn = module
        for part in attr.split("."):
            fn = getattr(fn, part, None)
            if fn is None:
                raise BadInput(f"--model {target!r}: {module_name!r} has no attribute {attr!r}")
        if not callable(fn):
            raise BadInput(f"--model {target!r}: {attr!r} is not callable")
        self.fn: Callable = fn
        self.target = target
        self.default_name = attr.split(".")[-1]
        source_file = inspect.getsourcefile(fn) if inspect.isfunction(fn) else None
        self._identity = {"kind": "python", "entry_point": target,
                          "source_sha256": files.sha256_file(Path(source_file)) if source_file and Path(source_file).is_file() else ""}

    def identity(self) -> dict:
        return dict(self._identity)

    def predict(self, source, driving, mode):
        out = self.fn(source, driving, mode=mode)
        if isinstance(out, (torch.Tensor, np.ndarray)):
            yield out
        else:
            yield from out


def make_model(model: str, *, ckpt: Path | None = None, command: str | None = None, device: str = "cpu",
               batch: int = 8, command_timeout: float | None = None) -> Model:
    """The adapter named by ``--model`` (a built-in name or ``module:function``)."""
    if model == "lia":
        return LiaModel(ckpt, device=device, batch=batch)
    if model == "liax":
        return LiaXModel(ckpt, device=device, batch=batch)
    if model == "static":
        return StaticModel()
    if model == "gt":
        return GroundTruthModel()
    if model == "cmd":
        return CommandModel(command, timeout=command_timeout)
    if ":" in model:
        return PythonModel(model)
    raise BadInput(f"--model {model!r}: unknown model", f"choose one of: {', '.join(BUILTIN)}, or a Python entry point module:function")
