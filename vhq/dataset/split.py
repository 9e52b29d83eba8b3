"""``vhq split``: person-disjoint train/test lists of the cropped clips, and how they compare.

The partition comes from the manifest (``vhq manifest import-fomm`` already makes it
person-disjoint: a person with any test row is a test person); a hand-made manifest that lists a
person in both partitions gets that person moved to test here too, and the report says so. Only
clips whose crop is ``ok`` and whose file exists are listed. The report and ``split.json`` name the
crop's box rule (``vhq crop --box``), so lists cut by FOMM's rules are never mistaken for vhq's.

Published counts of the same clip list, for the report:

- FOMM (video-preprocessing's vox-metadata.csv): 19,522 train / 525 test (the author's correction
  in video-preprocessing#6 of the paper's 12,331 / 444);
- LIA's VoxCelebHQ: 17,512 train / 483 test (17,995 clips, 434 identities).
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from vhq.dataset import manifest as M
from vhq.dataset.crop import status as crop_status
from vhq.dataset.crop.options import RUN_FILE, read_run
from vhq.errors import BadInput
from vhq.io import files

REFERENCES = {
    "FOMM vox-metadata.csv": {"train": 19522, "test": 525},
    "LIA VoxCelebHQ": {"train": 17512, "test": 483},
}
FIELDS = ("clip_id", "path", "person_id", "video_id", "frames", "fps", "manifest_fingerprint")


@dataclass
class SplitResult:
    counts: dict  # partition -> {"clips", "persons", "videos", "frames"}
    box: dict[str, int]  # box rule -> listed clips
    manifest_counts: dict  # partition -> clips in the manifest
    moved: dict[str, int]  # person -> clips moved to test
    not_ok: dict[str, int]  # status or reason -> manifest clips not in the split
    fingerprint: str
    report: str
    paths: dict[str, Path]


def _manifest_path(crops: Path, manifest: Path | None) -> Path:
    if manifest is not None:
        return manifest
    recorded = read_run(crops).get("manifest")
    if recorded and Path(recorded).is_file():
        return Path(recorded)
    raise BadInput(f"{crops}: no manifest recorded in {RUN_FILE}", "pass --manifest (the one given to `vhq crop`)")


def split(crops: Path, out: Path, manifest: Path | None = None) -> SplitResult:
    if not crops.is_dir():
        raise BadInput(f"--crops {crops}: not a folder", "pass the --out folder of `vhq crop`")
    m = M.load(_manifest_path(crops, manifest))
    rows = crop_status.read(crops)
    if not rows:
        raise BadInput(f"--crops {crops}: no crop_status.csv", "run `vhq crop` first and pass its --out folder")
    test_persons = {c.person_id for c in m.clips if c.partition == "test"}
    moved: dict[str, int] = {}
    lists: dict[str, list[dict]] = {"train": [], "test": []}
    not_ok: dict[str, int] = {}
    for c in m.clips:
        part = "test" if c.person_id in test_persons else "train"
        row = rows.get(c.clip_id)
        output = crops / row["output"] if row and row.get("output") else None
        if row is None or row.get("status") != crop_status.OK or output is None or not output.exists():
            why = "not cropped" if row is None else (row.get("reason") or row.get("status") or "?")
            if row is not None and row.get("status") == crop_status.OK:
                why = "output missing"
            not_ok[why] = not_ok.get(why, 0) + 1
            continue
        if part != c.partition:
            moved[c.person_id] = moved.get(c.person_id, 0) + 1
        lists[part].append({
            "clip_id": c.clip_id, "path": Path(os.path.relpath(output, out)).as_posix(), "person_id": c.person_id,
            "video_id": c.video_id, "frames": row.get("frames", ""), "fps": row.get("out_fps", ""), "manifest_fingerprint": m.fingerprint,
        })
    box = dict(sorted(Counter(crop_status.box_rule(rows[r["clip_id"]]) for items in lists.values() for r in items).items()))
    overlap = {r["person_id"] for r in lists["train"]} & {r["person_id"] for r in lists["test"]}
    assert not overlap, overlap  # by construction
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for part, items in lists.items():
        paths[part] = files.write_csv(out / f"{part}.csv", sorted(items, key=lambda r: r["clip_id"]), FIELDS)
    counts = {part: {"clips": len(items), "persons": len({r["person_id"] for r in items}), "videos": len({r["video_id"] for r in items}),
                     "frames": sum(int(r["frames"] or 0) for r in items)} for part, items in lists.items()}
    manifest_counts = {p: sum(1 for c in m.clips if ("test" if c.person_id in test_persons else "train") == p) for p in ("train", "test")}
    report = render_report(counts, manifest_counts, moved, not_ok, m, box)
    paths["report"] = files.write_text(out / "split_report.md", report)
    paths["json"] = files.write_json(out / "split.json", {
        "manifest": str(m.path), "manifest_fingerprint": m.fingerprint, "box": box, "counts": counts, "manifest_counts": manifest_counts,
        "moved_to_test": moved, "not_in_split": not_ok, "references": REFERENCES,
        "train_sha256": files.sha256_file(paths["train"]), "test_sha256": files.sha256_file(paths["test"]),
    })
    return SplitResult(counts, box, manifest_counts, moved, not_ok, m.fingerprint, report, paths)


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%" if b else "n/a"


def render_report(counts: dict, manifest_counts: dict, moved: dict, not_ok: dict, m: M.Manifest, box: dict[str, int]) -> str:
    tr, te = counts["train"], counts["test"]
    rules = ", ".join(f"`{r}` ({n:,} clips)" for r, n in box.items()) if len(box) > 1 else f"`{next(iter(box), 'none')}`"
    lines = [
        "# Split report", "",
        f"Manifest `{m.path}` ({len(m.clips)} clips), fingerprint `{m.fingerprint}`.",
        f"Crop box rule (`vhq crop --box`): {rules}{' — the folder mixes rules' if len(box) > 1 else ''}.",
        "Train and test share no person.", "",
        "| | train clips | test clips | train persons | test persons |",
        "|---|---:|---:|---:|---:|",
        f"| this build | {tr['clips']:,} | {te['clips']:,} | {tr['persons']} | {te['persons']} |",
        f"| manifest | {manifest_counts['train']:,} | {manifest_counts['test']:,} | | |",
    ]
    for name, ref in REFERENCES.items():
        lines.append(f"| {name} | {ref['train']:,} | {ref['test']:,} | | |")
    lines += ["", "| this build vs | train | test |", "|---|---:|---:|"]
    for name, ref in REFERENCES.items():
        lines.append(f"| {name} | {tr['clips'] - ref['train']:+,} ({_pct(tr['clips'], ref['train'])}) | {te['clips'] - ref['test']:+,} ({_pct(te['clips'], ref['test'])}) |")
    lines += ["", f"Manifest test clips available: {te['clips']:,} of {manifest_counts['test']:,} ({_pct(te['clips'], manifest_counts['test'])}).",
              f"Manifest train clips available: {tr['clips']:,} of {manifest_counts['train']:,} ({_pct(tr['clips'], manifest_counts['train'])})."]
    if not_ok:
        lines += ["", "Manifest clips not in the split:", ""] + [f"- {k}: {v:,}" for k, v in sorted(not_ok.items(), key=lambda kv: -kv[1])]
    if moved:
        lines += ["", "Persons listed in both partitions of the manifest, moved to test:", ""] + [f"- {p}: {n} clip(s)" for p, n in sorted(moved.items())]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the one reader of a split list


@dataclass(frozen=True)
class ListedClip:
    clip_id: str
    path: Path
    person_id: str
    frames: int | None = None  # the list's frame count, when it has one


def split_list(data: Path, split: str) -> Path:
    """``<data>/<split>.csv`` or ``<data>/split/<split>.csv`` (the ``--out`` folder of ``vhq split``)."""
    data = Path(data)
    for cand in (data / f"{split}.csv", data / "split" / f"{split}.csv"):
        if cand.is_file():
            return cand
    raise BadInput(f"--data {data}: no {split}.csv (looked in {data} and {data / 'split'})", "pass the --out folder of `vhq split`")


def read_split(data: Path, split: str) -> tuple[Path, list[ListedClip]]:
    """(list file, clips in clip-id order); every listed file must exist. Paths are relative to the list's folder."""
    listing = split_list(data, split)
    with open(listing, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"clip_id", "path"} <= set(reader.fieldnames):
            raise BadInput(f"{listing}: not a `vhq split` list (needs columns clip_id, path)")
        rows = list(reader)
    clips, absent = [], []
    for r in rows:
        p = (listing.parent / r["path"]).resolve()
        if not p.exists():
            absent.append((r["clip_id"], p))
        frames = (r.get("frames") or "").strip()
        clips.append(ListedClip(r["clip_id"], p, r.get("person_id", ""), int(frames) if frames.isdigit() else None))
    if absent:
        more = f" … and {len(absent) - 5} more" if len(absent) > 5 else ""
        ids = ", ".join(clip_id for clip_id, _ in absent[:5])
        raise BadInput(f"{listing}: {len(absent)} listed clip file(s) are missing: {ids}{more} (first: {absent[0][1]})", "re-run `vhq crop` and `vhq split`")
    if not clips:
        raise BadInput(f"{listing}: the {split} list is empty")
    ids = [c.clip_id for c in clips]
    if len(set(ids)) != len(ids):
        raise BadInput(f"{listing}: duplicate clip ids")
    return listing, sorted(clips, key=lambda c: c.clip_id)
