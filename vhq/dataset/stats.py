"""``vhq stats``: what a crop folder holds (clips, identities, hours, resolutions, durations), a plot
and a dataset card.

Written next to the clips: ``stats.json``, ``stats.md`` (tables), ``stats.png`` (histograms) and ``DATASET_CARD.md``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from vhq import __version__
from vhq.dataset.crop import status as crop_status
from vhq.dataset.crop.options import read_run
from vhq.errors import BadInput
from vhq.io import files

SIDE_BINS = (0, 400, 500, 600, 700, 800, 1000, 1500, 10**9)
DURATION_BINS = (0.0, 2.56, 5.0, 10.0, 20.0, 41.0, 1e9)


@dataclass
class Stats:
    data: dict
    table: str
    paths: dict[str, Path]


def _bin_label(lo, hi, unit: str) -> str:
    if hi >= 1e8:
        return f">= {lo:g}{unit}"
    return f"{lo:g}-{hi:g}{unit}"


def histogram(values: list[float], edges: tuple, unit: str) -> dict[str, int]:
    out = {_bin_label(a, b, unit): 0 for a, b in zip(edges, edges[1:])}
    for v in values:
        for a, b in zip(edges, edges[1:]):
            if a <= v < b:
                out[_bin_label(a, b, unit)] += 1
                break
    return out


def collect(crops: Path) -> dict:
    rows = crop_status.read(crops)
    if not rows:
        raise BadInput(f"{crops}: no crop_status.csv", "pass the --out folder of `vhq crop`")
    ok = [r for r in rows.values() if r.get("status") == crop_status.OK and r.get("output") and (crops / r["output"]).exists()]
    dropped = Counter(r.get("reason") or r.get("status") for r in rows.values() if r.get("status") != crop_status.OK)

    def seconds(r):
        return int(r["frames"]) / float(r["out_fps"] or 25)

    parts = {}
    for part in ("all", "train", "test"):
        sub = ok if part == "all" else [r for r in ok if r.get("partition") == part]
        parts[part] = {"clips": len(sub), "identities": len({r["person_id"] for r in sub}), "videos": len({r["video_id"] for r in sub}),
                       "frames": sum(int(r["frames"]) for r in sub), "hours": round(sum(seconds(r) for r in sub) / 3600, 3)}
    run = read_run(crops)
    return {
        "folder": str(crops), "vhq_version": __version__, "manifest": run.get("manifest", ""),
        "manifest_fingerprint": run.get("manifest_fingerprint", ""), "params": run.get("params", {}),
        "box": dict(sorted(Counter(crop_status.box_rule(r) for r in ok).items())),
        "counts": parts,
        "output_size": sorted({r.get("size") for r in ok}), "formats": sorted({r.get("format") for r in ok}),
        "source_heights": dict(sorted(Counter(int(r["source_height"]) for r in ok).items())),
        "crop_side_px": histogram([int(r["crop_side"]) for r in ok], SIDE_BINS, "px"),
        "duration_s": histogram([seconds(r) for r in ok], DURATION_BINS, "s"),
        "duration_summary": _summary([seconds(r) for r in ok]),
        "crop_side_summary": _summary([int(r["crop_side"]) for r in ok]),
        "not_ok": dict(sorted(dropped.items(), key=lambda kv: -kv[1])),
    }


def _rules(box: dict[str, int]) -> str:
    """The ``vhq crop --box`` rule(s) of the clips, e.g. ``fomm-square`` or ``vhq (3 clips), fomm-stretch (2 clips)``."""
    if len(box) == 1:
        return f"`{next(iter(box))}`"
    return ", ".join(f"`{r}` ({n:,} clips)" for r, n in box.items()) or "none"


def _summary(values: list[float]) -> dict:
    if not values:
        return {}
    v = sorted(values)
    return {"min": round(v[0], 2), "median": round(v[len(v) // 2], 2), "max": round(v[-1], 2)}


def render_table(d: dict) -> str:
    c = d["counts"]
    head = f"Folder `{d['folder']}`; manifest fingerprint `{d['manifest_fingerprint'] or 'unknown'}`; box rule {_rules(d['box'])}."
    lines = ["# Dataset statistics", "", head, "",
             "| | clips | identities | videos | frames | hours |", "|---|---:|---:|---:|---:|---:|"]
    for part in ("all", "train", "test"):
        p = c[part]
        lines.append(f"| {part} | {p['clips']:,} | {p['identities']} | {p['videos']} | {p['frames']:,} | {p['hours']:.3f} |")
    lines += ["", "Source resolution (height of the downloaded video):", "", "| height | clips |", "|---:|---:|"]
    lines += [f"| {h}p | {n:,} |" for h, n in d["source_heights"].items()]
    lines += ["", f"Crop side at the source resolution (summary {d['crop_side_summary']}):", "", "| side | clips |", "|---|---:|"]
    lines += [f"| {k} | {n:,} |" for k, n in d["crop_side_px"].items()]
    lines += ["", f"Clip duration (summary {d['duration_summary']}):", "", "| duration | clips |", "|---|---:|"]
    lines += [f"| {k} | {n:,} |" for k, n in d["duration_s"].items()]
    if d["not_ok"]:
        lines += ["", "Clips not in the dataset, by reason:", "", "| reason | clips |", "|---|---:|"]
        lines += [f"| {k} | {n:,} |" for k, n in d["not_ok"].items()]
    return "\n".join(lines) + "\n"


def plot(d: dict, dest: Path) -> Path:
    """Histograms as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, (title, hist) in zip(axes, (
        ("source height (p)", {str(k): v for k, v in d["source_heights"].items()}),
        ("crop side at source (px)", d["crop_side_px"]),
        ("clip duration (s)", d["duration_s"]),
    )):
        ax.bar(list(hist), list(hist.values()), color="#4477aa")
        ax.set_title(title)
        ax.set_ylabel("clips")
        ax.tick_params(axis="x", labelrotation=30)
    c = d["counts"]["all"]
    fig.suptitle(f"{c['clips']:,} clips, {c['identities']} identities, {c['hours']:.2f} h")
    fig.tight_layout()
    with files.atomic_path(dest) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return dest


CARD = """# VoxCelebHQ (built with vhq {version})

{clips:,} face clips of {identities} identities, {hours:.2f} hours, {size} px, from the manifest with
fingerprint `{fingerprint}` (train {train:,} clips / {train_ids} identities, test {test:,} clips /
{test_ids} identities; train and test share no identity).

## Sources
- Clip list and boxes: the VoxCeleb1-based `vox-metadata.csv` of FOMM's video-preprocessing
  (AliaksandrSiarohin/video-preprocessing), imported by `vhq manifest import-fomm`. That
  repository has no licence file; vhq does not ship the file, it fetches it.
- Identities and speech segments: VoxCeleb1 (Nagrani, Chung, Zisserman, Interspeech 2017). The
  VoxCeleb annotations are published by the Visual Geometry Group, University of Oxford; check
  their terms on the VoxCeleb website before use.
- Video: YouTube, re-downloaded by `vhq download` at >= 1080p where available, cropped by
  `vhq crop --box {box}` (face crops resized to squares, shot cuts removed, faces verified with MTCNN).

## Licences and terms
- The videos belong to their uploaders. This dataset is built by each user from YouTube under
  YouTube's Terms of Service; vhq distributes code and a clip list, not video. Use the clips
  for non-commercial research only unless you have the rights holders' permission.
- The VoxCeleb annotations' licence applies to the clip list and identity labels.
- The toolkit (vhq) is MIT licensed; that does not extend to the data.

## Removal requests
People who appear in the clips, or the videos' owners, can ask for a clip to be removed: open an
issue on the vhq repository naming the clip id(s) (`<person>#<video>#<start>#<end>`) and the
clip is removed from the shipped manifests. Videos deleted or made private on YouTube drop out
of every later build automatically (`vhq download` records them as unavailable).

## Composition
See `stats.md` for the tables and `stats.png` for the histograms. Clips not in the dataset, by
reason: {not_ok}.

## Build parameters
```
{params}
```
"""


def card(d: dict) -> str:
    c = d["counts"]
    return CARD.format(
        version=d["vhq_version"], clips=c["all"]["clips"], identities=c["all"]["identities"], hours=c["all"]["hours"],
        size=",".join(str(s) for s in d["output_size"]) or "?", fingerprint=d["manifest_fingerprint"] or "unknown",
        train=c["train"]["clips"], train_ids=c["train"]["identities"], test=c["test"]["clips"], test_ids=c["test"]["identities"],
        not_ok=", ".join(f"{k} {v:,}" for k, v in d["not_ok"].items()) or "none",
        params=json.dumps(d["params"], indent=2, sort_keys=True), box=_rules(d["box"]).replace("`", ""),
    )


def stats(crops: Path, out: Path | None = None) -> Stats:
    if not crops.is_dir():
        raise BadInput(f"{crops}: not a folder", "pass the --out folder of `vhq crop`")
    out = out or crops
    d = collect(crops)
    table = render_table(d)
    paths = {"json": files.write_json(out / "stats.json", d), "table": files.write_text(out / "stats.md", table),
             "card": files.write_text(out / "DATASET_CARD.md", card(d))}
    paths["plot"] = plot(d, out / "stats.png")
    return Stats(d, table, paths)
