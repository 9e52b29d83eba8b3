"""``vhq animate`` and ``vhq lia convert|reference|directions``.

Failures the user can fix raise ``vhq.errors`` exceptions naming the file; the root ``cli.main``
turns them into a one-line error and exit code 1.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterator, Optional

import typer

from lia.defaults import BATCH, DEVICE, MODE, WALK_RANGE, WALK_STEPS
from lia.x.defaults import WALK_RANGE as LIAX_WALK_RANGE
from vhq import console
from vhq.errors import BadInput

if TYPE_CHECKING:
    from lia.generator import Generator

# torch and the model code are imported inside the commands, so that `vhq --help` does not load torch.

DEFAULT_WEIGHTS = "lia_vox"

app = typer.Typer()
lia_app = typer.Typer(
    help="LIA (Latent Image Animator): convert checkpoints, render reference images and motion directions.",
    no_args_is_help=True,
)
app.add_typer(lia_app, name="lia")


class Mode(str, Enum):
    relative = "relative"
    absolute = "absolute"


CkptOption = Annotated[
    Optional[Path],
    typer.Option(
        "--ckpt",
        help=f"LIA checkpoint (vhq-lia, official vox.pt/taichi.pt/ted.pt, or a generator state_dict); "
        f"default: the cached '{DEFAULT_WEIGHTS}' weights",
        exists=True,
        dir_okay=False,
    ),
]


class CropMode(str, Enum):
    none = "none"
    auto = "auto"
    liax = "liax"


class ModelKind(str, Enum):
    lia = "lia"
    liax = "liax"


ModelOption = Annotated[
    ModelKind,
    typer.Option("--model", help="lia: a LIA checkpoint (default weights 'lia_vox'); liax: a LIA-X state_dict (default weights 'lia_x', 512 px, CC BY-NC 4.0)"),
]


SourceOption = Annotated[Path, typer.Option("--source", help="source image (PNG/JPEG); a square face crop works best", exists=True, dir_okay=False)]
DeviceOption = Annotated[str, typer.Option("--device", help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...")]
SizeOption = Annotated[
    Optional[int],
    typer.Option("--size", help="model input size; defaults to the checkpoint's and must match it (source and driving frames are resized to it: bicubic, antialiased)"),
]


def resolve_checkpoint(ckpt: Path | None) -> Path:
    """The given checkpoint, or the cached official vox weights."""
    if ckpt is not None:
        return ckpt
    from vhq import weights

    return weights.path(DEFAULT_WEIGHTS)


def load_liax(ckpt: Path | None):
    """A LIA-X generator from ``ckpt`` or the cached 'lia_x' weights; the weights' licence is shown."""
    from lia.x.checkpoint import load_generator
    from lia.x.defaults import WEIGHTS
    from vhq import weights

    if ckpt is not None:
        return load_generator(ckpt)
    path = weights.path(WEIGHTS)
    console.info(f"{WEIGHTS}: {weights.entry(WEIGHTS).licence}")
    return load_generator(path)


def load_model(ckpt: Path | None, device: str, size: int | None = None, model: ModelKind = ModelKind.lia) -> Generator:
    from lia.checkpoint import load_checkpoint
    from vhq import distributed

    path = ckpt if model is ModelKind.liax else resolve_checkpoint(ckpt)
    generator = load_liax(ckpt) if model is ModelKind.liax else load_checkpoint(path).generator()
    if size is not None and size != generator.size:
        raise BadInput(f"--size {size} does not match the size {generator.size} of the checkpoint {path or 'lia_x'}")
    return generator.to(distributed.resolve_device(device))


@app.command("animate")
def animate_command(
    source: SourceOption,
    driving: Annotated[Path, typer.Option("--driving", help="driving video or folder of frames", exists=True)],
    out: Annotated[Path, typer.Option("--out", help="output mp4 (H.264), written atomically", dir_okay=False)],
    ckpt: CkptOption = None,
    mode: Annotated[Mode, typer.Option("--mode", help="relative: motion relative to the first driving frame (official demo); absolute: the driving frames' own motion")] = Mode(MODE),
    size: SizeOption = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="driving frames per forward pass")] = BATCH,
    device: DeviceOption = DEVICE,
    side_by_side_view: Annotated[bool, typer.Option("--side-by-side", help="write source | driving | result panels")] = False,
    crop_mode: Annotated[CropMode, typer.Option("--crop", help="auto: face-crop the source photo and the driving video with the dataset's crop rule (MTCNN); liax: LIA-X's rule (face on the first frame, enlarged 0.25, top 0.5, square of the short side); none: use them as they are")] = CropMode.none,
    model: ModelOption = ModelKind.lia,
) -> None:
    """Animate a source image with the motion of a driving video (the source is encoded once)."""
    import collections
    import math

    import torch

    from lia.animate import animate, frames_to_input, images_to_frames, rebatch, side_by_side
    from vhq.io import files, video

    files.check_writable(out)
    generator = load_model(ckpt, device, size, model)
    src = video.read_image(source)
    info = video.probe(driving)
    drv_square = None
    if crop_mode is CropMode.auto:
        from vhq.dataset.crop import autocrop

        src = autocrop.crop(src, autocrop.face_square([src.numpy()], source))
        drv_square = autocrop.video_square(driving).xyxy
        console.info(f"--crop auto: source {src.shape[1]}x{src.shape[0]} face crop; driving square {drv_square}")
    elif crop_mode is CropMode.liax:
        from lia.x.crop import face_square
        from vhq.dataset.crop.faces import Detector

        detector = Detector()
        x0, y0, x1, y1 = face_square(src.numpy(), detector, str(source))
        src = src[y0:y1, x0:x1]
        first = next(iter(video.iter_frames(driving, batch_size=1, count=1)))[0]
        drv_square = face_square(first.numpy(), detector, str(driving))
        console.info(f"--crop liax: source {src.shape[1]}x{src.shape[0]} face crop; driving square {drv_square}")
    # Driving batches handed to animate() are kept until their results come back (side-by-side panels).
    pending: collections.deque[torch.Tensor] = collections.deque()

    def driving_batches() -> Iterator[torch.Tensor]:
        for chunk in rebatch(video.iter_frames(driving, batch_size=batch), batch):
            if drv_square is not None:
                x0, y0, x1, y1 = drv_square
                chunk = chunk[:, y0:y1, x0:x1]
            pending.append(chunk)
            yield chunk

    def at_model_size(frames: torch.Tensor) -> torch.Tensor:
        return images_to_frames(frames_to_input(frames, generator.size))

    source_panel = at_model_size(src) if side_by_side_view else None
    total = math.ceil(info.frames / batch) if info.frames else None
    results = animate(generator, src, driving_batches(), mode=mode.value, batch=batch)
    with video.VideoWriter(out, fps=info.fps or video.DEFAULT_FOLDER_FPS) as writer:
        for frames in console.progress(results, total=total, desc=f"animate {driving.name}"):
            drv = pending.popleft()
            writer.write(side_by_side(source_panel, at_model_size(drv), frames) if side_by_side_view else frames)
    console.echo(str(out))


@lia_app.command("convert")
def convert_command(
    src: Annotated[Path, typer.Argument(help="official LIA checkpoint (vox.pt, taichi.pt, ted.pt or a training checkpoint)", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Argument(help="vhq-lia checkpoint to write", dir_okay=False)],
    discriminator: Annotated[bool, typer.Option("--dis/--no-dis", help="keep the discriminator when the file has one")] = True,
) -> None:
    """Convert an official LIA checkpoint to the vhq-lia format (weights_only-loadable, plain config)."""
    from lia.checkpoint import load_checkpoint, save_checkpoint
    from vhq.io import files

    files.check_writable(out)
    ckpt = load_checkpoint(src)
    generator = ckpt.generator()  # strict load: validates every key and shape
    disc = ckpt.discriminator() if discriminator else None
    provenance = {"file": src.name, "sha256": files.sha256_file(src), "kind": ckpt.kind, "args": ckpt.extra.get("args")}
    console.echo(str(save_checkpoint(out, generator, disc, source=provenance)))


@lia_app.command("reference")
def reference_command(
    source: SourceOption,
    out: Annotated[Path, typer.Option("--out", help="output image (PNG)", dir_okay=False)],
    ckpt: CkptOption = None,
    device: DeviceOption = DEVICE,
    model: ModelOption = ModelKind.lia,
) -> None:
    """Render the reference image x_r of a source: its appearance latent decoded with no motion."""
    from lia.animate import reference
    from vhq.io import files, video

    files.check_writable(out)
    generator = load_model(ckpt, device, model=model)
    console.echo(str(video.write_image(out, reference(generator, video.read_image(source)))))


def parse_range(text: str | None, default: float) -> tuple[float, float]:
    """``--range``: ``R`` means ``[-R, R]``; ``LO,HI`` is taken as given."""
    if text is None:
        return -default, default
    try:
        parts = [float(v) for v in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) == 1 and parts[0] >= 0:
        return -parts[0], parts[0]
    if len(parts) == 2 and parts[0] < parts[1]:
        return parts[0], parts[1]
    raise BadInput(f"--range {text!r}: expected R >= 0 (walk -R..R) or LO,HI with LO < HI, e.g. --range -1,1")


@lia_app.command("directions")
def directions_command(
    source: SourceOption,
    out: Annotated[Path, typer.Option("--out", help="output folder (replaced atomically)", file_okay=False)],
    ckpt: CkptOption = None,
    walk_range: Annotated[str | None, typer.Option("--range", help=f"R (walk from -R to +R) or LO,HI, added to the source's own alpha_i; default: {WALK_RANGE:g} (lia), {LIAX_WALK_RANGE:g} (liax)")] = None,
    steps: Annotated[int, typer.Option("--steps", min=2, help="frames per walk")] = WALK_STEPS,
    index: Annotated[Optional[list[int]], typer.Option("--index", help="direction to walk (repeatable); default: all")] = None,
    direction: Annotated[list[str] | None, typer.Option("--direction", help="--model liax: a named direction to walk (repeatable): yaw, pitch, roll, mouth, eyes, eyebrows, ...")] = None,
    grid_columns: Annotated[int, typer.Option("--grid-columns", min=2, help="walk positions shown in grid.png")] = 5,
    fps: Annotated[float, typer.Option("--fps", min=1.0, help="frame rate of the clips")] = 8.0,
    batch: Annotated[int, typer.Option("--batch", min=1, help="frames per forward pass")] = BATCH,
    device: DeviceOption = DEVICE,
    model: ModelOption = ModelKind.lia,
) -> None:
    """Walk each motion direction: one clip per direction (direction_NN.mp4) and grid.png (a row per direction).

    Frame j of direction i decodes z + Q (alpha(source) + v_j e_i), with v_j evenly spaced in
    [LO, HI] (RANGE R: [-R, R]); the grid's columns are GRID_COLUMNS evenly spaced positions of the walk.
    """
    import torch

    from lia.animate import walk_direction
    from lia.x.directions import direction_index, name_of
    from vhq.io import files, video

    if direction and model is not ModelKind.liax:
        raise BadInput("--direction names LIA-X directions; use it with --model liax (LIA's directions have no names: use --index)")
    low, high = parse_range(walk_range, LIAX_WALK_RANGE if model is ModelKind.liax else WALK_RANGE)
    named = [direction_index(d) for d in direction or ()]
    files.check_writable(out, folder=True)
    generator = load_model(ckpt, device, model=model)
    if getattr(generator, "dictionary", "orthogonal") == "none":
        raise BadInput(f"{resolve_checkpoint(ckpt)}: this model has no motion dictionary (trained with --dictionary none): no directions to walk")
    indices = list(dict.fromkeys((index or []) + named)) or list(range(generator.motion_dim))
    bad = [i for i in indices if not 0 <= i < generator.motion_dim]
    if bad:
        raise BadInput(f"--index {bad[0]} is out of range: the checkpoint has {generator.motion_dim} directions (0..{generator.motion_dim - 1})")
    src = video.read_image(source)
    values = torch.linspace(low, high, steps)
    columns = torch.linspace(0, steps - 1, min(grid_columns, steps)).round().long()
    rows = []
    with files.atomic_path(out, suffix="") as tmp:
        tmp.mkdir()
        for i in console.progress(indices, desc="directions"):
            frames = walk_direction(generator, src, i, values, batch=batch)
            video.write_video(tmp / f"direction_{i:02d}.mp4", frames, fps=fps)
            rows.append(torch.cat(list(frames[columns]), dim=1))
        video.write_image(tmp / "grid.png", torch.cat(rows, dim=0))
        walk = {"directions": indices, "values": values.tolist(), "grid_values": values[columns].tolist()}
        if model is ModelKind.liax:
            walk["names"] = {str(i): name_of(i) for i in indices if name_of(i)}
        files.write_json(tmp / "walk.json", walk)
    console.echo(str(out))


@lia_app.command("analyze")
def analyze_command(
    ckpt: Annotated[Path, typer.Argument(help="LIA checkpoint (vhq-lia, official, or a generator state_dict)", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", help="output folder: analysis.json and the PNGs (replaced atomically)", file_okay=False)],
    clips: Annotated[Optional[Path], typer.Option("--clips", help="clips to measure the motion magnitudes on: a folder of clips, a split CSV or a `vhq split --out` folder (its test.csv)", exists=True)] = None,
    frames: Annotated[int, typer.Option("--frames", min=0, help="frames read per clip, from the start (0 = all)")] = 32,
    json_output: Annotated[bool, typer.Option("--json", help="print the analysis as JSON")] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, help="frames per forward pass")] = BATCH,
    device: DeviceOption = DEVICE,
) -> None:
    """The learned motion directions: pairwise angles, norms and, with --clips, alpha's mean/std per direction.

    Writes angles.png, norms.png (and alpha.png with --clips) and analysis.json; `vhq lia directions`
    renders what each direction does.
    """
    import json

    from lia import analysis
    from vhq.io import files, video

    files.check_writable(out, folder=True)
    generator = load_model(ckpt, device)
    if generator.dictionary == "none":
        raise BadInput(f"{ckpt}: this model has no motion dictionary (trained with --dictionary none): no directions to analyze")
    result = {"checkpoint": str(ckpt), "config": generator.config, **analysis.analyze_directions(generator), "alpha": None}
    if clips is not None:
        from lia.train.data import find_clips

        found = find_clips(clips, split="test")
        batches = (b for c in found for b in video.iter_frames(c.path, batch_size=batch, count=frames or None))
        result["alpha"] = {"clips": len(found), **analysis.alpha_statistics(generator, batches)}
    with files.atomic_path(out, suffix="") as tmp:
        tmp.mkdir()
        analysis.plot_angles(result["angles_deg"], tmp / "angles.png")
        analysis.plot_norms(result["norms"], tmp / "norms.png")
        if result["alpha"] is not None:
            analysis.plot_alpha(result["alpha"]["mean"], result["alpha"]["std"], result["alpha"]["frames"], tmp / "alpha.png")
        result["pngs"] = sorted(p.name for p in tmp.glob("*.png"))
        files.write_json(tmp / "analysis.json", result)
    if json_output:
        console.echo(json.dumps(result))
        return
    pairs, norms = result["angle_pairs_deg"], result["norms"]
    console.echo(f"{result['directions']} directions ({result['dictionary']} dictionary)")
    console.echo(f"pairwise angles: {pairs['mean']:.2f} ± {pairs['std']:.2f} deg (min {pairs['min']:.2f}, max {pairs['max']:.2f})")
    console.echo(f"norms: min {min(norms):.4f}, max {max(norms):.4f}")
    if result["alpha"] is not None:
        a = result["alpha"]
        console.echo(f"alpha over {a['frames']} frames of {a['clips']} clip(s): |mean| max {max(map(abs, a['mean'])):.4f}, std " + " ".join(f"{s:.3f}" for s in a["std"]))
    console.echo(f"{out} (walk each direction: vhq lia directions --ckpt {ckpt} --source IMAGE --out DIR)")
