"""``vhq leaderboard render``: a leaderboard CSV as Markdown, a self-contained HTML page and plots.

One table per test set (``testset_fingerprint``): a row per model, a column per metric
(metric × protocol × parameters), each column marked ↓ (lower is better) or ↑. A value whose
metric weights are not verified against their published hashes carries a † flag.

95 % intervals are percentile bootstrap intervals over videos: the videos of the per-video CSV
the row's ``details`` names (``per_video``, relative to the leaderboard's folder; a file whose
sha256 no longer matches ``per_video_sha256`` gives no interval, marked ‡) are resampled
with replacement ``resamples`` times (seeded) and the metric is recomputed with the row's own
weighting — video-weighted: the mean of the per-video values; frame-weighted: per-video values
weighted by the frames they were computed on (``frames``, ``<metric>_frames``, or for MKR the
frames with a ground-truth face). Set metrics (FVD, KVD, video FID) have no per-video values;
their spread over trials, when the protocol has trials, is shown as ± std.

The HTML page has no external resources (plots are embedded as data URIs, the sorting script is
inline, no CDN): clicking a column header sorts the rows by it, again to reverse.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eval import catalog
from eval.options import RenderOptions
from eval.report import read_leaderboard
from vhq import __version__
from vhq.errors import BadInput
from vhq.io import files

LEVEL = 0.95


# ------------------------------------------------------------------ bootstrap

def bootstrap_interval(values, weights=None, resamples: int = RenderOptions.resamples, seed: int = RenderOptions.seed, level: float = LEVEL) -> tuple[float, float] | None:
    """Percentile bootstrap interval of a weighted mean, resampling items (videos) with replacement.

    Items with a zero weight still count as drawn (they carry no frames), as in the metric itself.
    Returns None when there are no items with weight.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = np.isfinite(v) & np.isfinite(w)
    v, w = v[keep], w[keep]
    if v.size == 0 or w.sum() <= 0:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(resamples, v.size))
    ws = w[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = (v[idx] * w[idx]).sum(axis=1) / ws
    stats = stats[ws > 0]
    if stats.size == 0:
        return None
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [a, 1.0 - a])
    return float(lo), float(hi)


def per_video_weights(metric: str, weighting: str, table: list[dict]) -> tuple[np.ndarray, np.ndarray] | None:
    """(per-video values, weights) of ``metric`` from a per-video CSV; None if the column is absent."""
    if not table or metric not in table[0]:
        return None
    vals, wts = [], []
    for line, r in enumerate(table, start=2):
        if r.get(metric, "") == "":
            continue
        try:
            vals.append(float(r[metric]))
            wts.append(_frames_behind(metric, r) if weighting == "frame" else 1.0)
        except (TypeError, ValueError):
            raise ValueError(f"line {line}: {metric!r} or its frame count is not a number") from None
    return np.array(vals), np.array(wts)


def _frames_behind(metric: str, r: dict) -> float:
    """The frames one per-video value averages over: ``<metric>_frames`` when written, the GT frames
    with a face for MKR, else every frame."""
    if r.get(f"{metric}_frames", "") != "":
        return float(r[f"{metric}_frames"])
    row = catalog.by_column(metric)
    if row is not None and row.measure == "mkr":
        return float(r["frames"]) - float(r.get(f"{row.backbone.name}_gt_noface") or 0)
    return float(r["frames"])


# ------------------------------------------------------------------ model of the page

@dataclass
class Column:
    metric: str
    protocol: str
    params: str
    higher_is_better: bool
    label: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.metric, self.protocol, self.params)

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


@dataclass
class Cell:
    row: dict
    value: float | None
    interval: tuple[float, float] | None = None
    per_video: np.ndarray | None = None  # values, for the distribution plots
    std: float | None = None
    no_interval: str = ""  # why the row's per-video file gave no interval (gone, or changed since)

    @property
    def unverified(self) -> bool:
        return self.row.get("weight_verified", "") not in ("", "True")


@dataclass
class Table:
    fingerprint: str
    testset: str
    columns: list[Column]
    models: list[str]
    cells: dict[tuple[str, tuple], Cell]
    n_videos: str = ""


@dataclass
class RenderResult:
    tables: list[Table]
    paths: list[Path] = field(default_factory=list)
    markdown_text: str = ""


def _float(s: str) -> float | None:
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _details(row: dict) -> dict:
    try:
        return json.loads(row.get("details") or "{}")
    except json.JSONDecodeError:
        return {}


def _per_video_table(row: dict, board: Path, cache: dict) -> tuple[list[dict] | None, str]:
    """The per-video CSV a row names, or (None, why not) when it is gone or no longer the file the row recorded."""
    d = _details(row)
    rel = d.get("per_video")
    if not rel:
        return None, ""
    p = Path(rel)
    p = p if p.is_absolute() else board.resolve().parent / p
    if p not in cache:
        cache[p] = (files.read_csv(p), files.sha256_file(p)) if p.is_file() else (None, "")
    table, sha = cache[p]
    if table is None:
        return None, f"{rel} is missing"
    if d.get("per_video_sha256") and d["per_video_sha256"] != sha:
        return None, f"{rel} changed since the row was written (sha256 {sha[:12]}, recorded {d['per_video_sha256'][:12]})"
    return table, ""


def build_tables(rows: list[dict], board: Path, resamples: int = RenderOptions.resamples, seed: int = RenderOptions.seed) -> list[Table]:
    by_fp: dict[str, list[dict]] = {}
    for r in rows:
        by_fp.setdefault(r.get("testset_fingerprint", ""), []).append(r)
    cache: dict = {}
    tables = []
    for fp, group in by_fp.items():
        cols: dict[tuple, Column] = {}
        models: list[str] = []
        cells: dict = {}
        for r in group:
            col = Column(r["metric"], r.get("protocol", ""), r.get("params", ""), r.get("higher_is_better", "") == "True")
            cols.setdefault(col.key, col)
            if r["model"] not in models:
                models.append(r["model"])
            cell = Cell(r, _float(r["value"]), std=_float(r.get("value_std", "")))
            table, cell.no_interval = _per_video_table(r, board, cache)
            try:
                pv = per_video_weights(r["metric"], r.get("weighting", ""), table) if table else None
            except ValueError as e:
                raise BadInput(f"{_details(r).get('per_video')}: {e} (the per-video file of model {r['model']!r})",
                               "re-run the evaluation that wrote it") from None
            if pv is not None and pv[0].size:
                cell.per_video = pv[0]
                cell.interval = bootstrap_interval(pv[0], pv[1], resamples=resamples, seed=seed)
            cells[(r["model"], col.key)] = cell
        columns = list(cols.values())
        names = [c.metric for c in columns]
        for c in columns:
            c.label = c.metric if names.count(c.metric) == 1 else f"{c.metric} ({c.protocol}, {_short_params(c.params)})"
        first = columns[0] if columns else None
        if first is not None:
            def order(m, first=first):
                v = cells.get((m, first.key))
                if v is None or v.value is None:
                    return (1, 0.0)
                return (0, -v.value if first.higher_is_better else v.value)
            models.sort(key=order)
        testset = group[0].get("testset", "")
        n_videos = [int(r["n_videos"]) for r in group if (r.get("n_videos") or "").isascii() and r["n_videos"].isdigit()]
        tables.append(Table(fp, testset, columns, models, cells, str(max(n_videos)) if n_videos else ""))
    return tables


def _short_params(params: str) -> str:
    try:
        p = json.loads(params or "{}")
    except json.JSONDecodeError:
        return params
    return ", ".join(f"{k}={v}" for k, v in sorted(p.items()) if k in ("size", "aed_crop", "aed_distance", "frames", "cov", "seed")) or "default"


def markdown_text(text: str) -> str:
    """Literal text inside a Markdown table cell: no column breaks, no line breaks, no markup."""
    text = " ".join(str(text).split())
    for ch in "\\|`*_[]<>#":
        text = text.replace(ch, "\\" + ch)
    return text


def plot_text(text: str) -> str:
    """Literal text for a matplotlib label: a ``$`` would start mathtext."""
    return str(text).replace("$", r"\$")


def fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    if v == 0:
        return "0"
    return f"{v:.4g}"


def cell_text(cell: Cell | None) -> str:
    if cell is None:
        return "—"
    text = fmt(cell.value)
    if cell.interval is not None:
        text += f" [{fmt(cell.interval[0])}, {fmt(cell.interval[1])}]"
    elif cell.std is not None and cell.std > 0:
        text += f" ± {fmt(cell.std)}"
    if cell.unverified:
        text += " †"
    if cell.no_interval:
        text += " ‡"
    return text


def _model_note(table: Table, model: str) -> str:
    for c in table.columns:
        cell = table.cells.get((model, c.key))
        if cell is None:
            continue
        m = _details(cell.row).get("bench", {}).get("model", {})
        bits = [m.get("kind", "")]
        if m.get("ckpt"):
            bits.append(Path(m["ckpt"]).name)
        if m.get("step") not in (None, ""):
            bits.append(f"step {m['step']}")
        if m.get("smoke"):
            bits.append("smoke run")
        if m.get("command"):
            bits.append(m["command"])
        if m.get("entry_point"):
            bits.append(m["entry_point"])
        return ", ".join(b for b in bits if b)
    return ""


# ------------------------------------------------------------------ Markdown

def render_markdown(tables: list[Table], plots: dict, source: Path, resamples: int, seed: int) -> str:
    lines = ["# Leaderboard", "", f"From `{source}`; rendered by vhq {__version__}. ↓ lower is better, ↑ higher is better. "
             f"Brackets: 95 % bootstrap interval over videos ({resamples} resamples, seed {seed}). "
             "† weights not verified against a published hash (their state is in the provenance; `unverified`: a file that does not match it, e.g. random-init weights imported for testing, never a real score).", ""]
    for t in tables:
        lines += [f"## Test set `{t.testset}`", "", f"Fingerprint `{t.fingerprint}`; videos: {t.n_videos or 'n/a'}.", ""]
        head = "| model | " + " | ".join(f"{c.label} {c.arrow}" for c in t.columns) + " |"
        lines += [head, "|---|" + "---:|" * len(t.columns)]
        for m in t.models:
            lines.append(f"| {markdown_text(m)} | " + " | ".join(cell_text(t.cells.get((m, c.key))) for c in t.columns) + " |")
        lines += ["", "Provenance:", ""]
        for m in t.models:
            note = _model_note(t, m)
            if note:
                lines.append(f"- {markdown_text(m)}: {markdown_text(note)}")
        for m in t.models:
            for c in t.columns:
                cell = t.cells.get((m, c.key))
                if cell is not None and cell.no_interval:
                    lines.append(f"- ‡ {markdown_text(m)} {markdown_text(c.label)}: no interval, per-video file {markdown_text(cell.no_interval)}")
        for c in t.columns:
            any_cell = next((t.cells[(m, c.key)] for m in t.models if (m, c.key) in t.cells), None)
            if any_cell is None:
                continue
            r = any_cell.row
            lines.append(f"- `{c.label}`: protocol {r.get('protocol')}, {r.get('weighting')}-weighted, params {r.get('params') or '{}'}, "
                         f"backbone {r.get('backbone') or 'none'}, weights {r.get('weight') or 'none'} ({r.get('weight_state') or 'n/a'})")
        for kind in ("bars", "per_video"):
            for c in t.columns:
                p = plots.get((t.fingerprint, c.key, kind))
                if p is not None:
                    lines.append(f"\n![{c.label} {kind}]({p.as_posix()})")
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------ HTML

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:.35em .6em;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}
th.sortable{cursor:pointer;background:#f3f3f3;user-select:none}
th.sortable:hover{background:#e6e6e6}
th[aria-sort=ascending]::after{content:" ▲"}
th[aria-sort=descending]::after{content:" ▼"}
td .ci{display:block;color:#666;font-size:.85em}
td.unverified{background:#fff6e0}
.flag{color:#b35900;font-weight:bold}
.better{color:#555;font-size:.85em}
code{background:#f5f5f5;padding:0 .2em}
table.prov td{font-size:.85em;text-align:left}
img{max-width:640px;margin:.5em 1em .5em 0;border:1px solid #eee}
"""

SCRIPT = """
document.querySelectorAll('table.board').forEach(function(table){
  table.querySelectorAll('th.sortable').forEach(function(th, idx){
    th.addEventListener('click', function(){
      var col = Array.prototype.indexOf.call(th.parentNode.children, th);
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th.sortable').forEach(function(o){ o.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var numeric = th.dataset.type === 'num';
      rows.sort(function(a, b){
        var x = a.cells[col].dataset.value, y = b.cells[col].dataset.value;
        if (numeric) {
          var ex = (x === undefined || x === ''), ey = (y === undefined || y === '');
          if (ex || ey) { return ex === ey ? 0 : (ex ? 1 : -1); }
          x = parseFloat(x); y = parseFloat(y);
          return asc ? x - y : y - x;
        }
        return asc ? String(x).localeCompare(String(y)) : String(y).localeCompare(String(x));
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
});
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(tables: list[Table], plots: dict, source: Path, resamples: int, seed: int) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', "<title>vhq leaderboard</title>",
           f"<style>{CSS}</style></head><body>", "<h1>Leaderboard</h1>",
           f"<p>From <code>{e(str(source))}</code>; rendered by vhq {e(__version__)}. "
           "<span class=better>↓ lower is better, ↑ higher is better.</span> "
           f"Brackets: 95&nbsp;% bootstrap interval over videos ({resamples} resamples, seed {seed}). "
           "<span class=flag>†</span> weights not verified against a published hash (their state is in the provenance; <i>unverified</i>: a file that does not match it, e.g. random-init weights imported for testing, never a real score). "
           "Click a column header to sort.</p>"]
    for ti, t in enumerate(tables):
        out.append(f"<h2>Test set <code>{e(t.testset)}</code></h2>")
        out.append(f"<p>Fingerprint <code class=fingerprint>{e(t.fingerprint)}</code>; videos: {e(t.n_videos or 'n/a')}.</p>")
        out.append(f'<table class="board" id="board-{ti}"><thead><tr><th class="sortable" data-type="text">model</th>')
        for c in t.columns:
            better = "higher" if c.higher_is_better else "lower"
            out.append(f'<th class="sortable" data-type="num" data-metric="{e(c.metric)}" data-better="{better}" '
                       f'title="{better} is better; protocol {e(c.protocol)}; params {e(c.params)}">{e(c.label)} {c.arrow}</th>')
        out.append("</tr></thead><tbody>")
        for m in t.models:
            out.append(f'<tr data-model="{e(m)}"><td data-value="{e(m)}"><b>{e(m)}</b><span class=ci>{e(_model_note(t, m))}</span></td>')
            for c in t.columns:
                cell = t.cells.get((m, c.key))
                if cell is None:
                    out.append('<td data-value="">—</td>')
                    continue
                val = "" if cell.value is None else repr(cell.value)
                cls = ' class="unverified"' if cell.unverified else ""
                tip = f'weights {cell.row.get("weight") or "none"}: {cell.row.get("weight_state") or "n/a"}'
                inner = e(fmt(cell.value))
                if cell.unverified:
                    inner += ' <span class="flag" title="weights not verified">†</span>'
                if cell.no_interval:
                    inner += f' <span class="flag" title="no interval: per-video file {e(cell.no_interval)}">‡</span>'
                if cell.interval is not None:
                    inner += f'<span class="ci">[{e(fmt(cell.interval[0]))}, {e(fmt(cell.interval[1]))}]</span>'
                elif cell.std is not None and cell.std > 0:
                    inner += f'<span class="ci">± {e(fmt(cell.std))}</span>'
                out.append(f'<td data-value="{val}"{cls} title="{e(tip)}">{inner}</td>')
            out.append("</tr>")
        out.append("</tbody></table>")
        out.append("<details><summary>Provenance</summary><table class=prov><thead><tr>"
                   + "".join(f"<th>{h}</th>" for h in ("model", "metric", "protocol", "weighting", "params", "videos", "frames", "samples",
                                                          "backbone", "weights", "sha256", "state", "per-video", "vhq", "created"))
                   + "</tr></thead><tbody>")
        for m in t.models:
            for c in t.columns:
                cell = t.cells.get((m, c.key))
                if cell is None:
                    continue
                r = cell.row
                sha = "+".join(s[:12] for s in (r.get("weight_sha256") or "").split("+") if s)
                vals = (m, c.metric, r.get("protocol"), r.get("weighting"), r.get("params"), r.get("n_videos"), r.get("n_frames"),
                        r.get("n_samples"), r.get("backbone"), r.get("weight"), sha, r.get("weight_state"),
                        _details(r).get("per_video", ""), r.get("vhq_version"), r.get("created"))
                out.append("<tr>" + "".join(f"<td>{e(str(v or ''))}</td>" for v in vals) + "</tr>")
        out.append("</tbody></table></details>")
        imgs = [plots.get((t.fingerprint, c.key, kind)) for kind in ("bars", "per_video") for c in t.columns]
        imgs = [p for p in imgs if p is not None]
        if imgs:
            out.append("<h3>Plots</h3><div>")
            for p in imgs:
                out.append(f'<img alt="{e(p.stem)}" src="{_data_uri(p if p.is_absolute() else plots["_root"] / p)}">')
            out.append("</div>")
    out.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(out)


# ------------------------------------------------------------------ plots

def _safe(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in s)


def write_plots(tables: list[Table], out: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots: dict = {"_root": out}
    folder = out / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    for t in tables:
        for ci, c in enumerate(t.columns):
            stem = f"{t.fingerprint[:8]}_{ci:02d}_{_safe(c.metric)}"
            models = [m for m in t.models if (m, c.key) in t.cells and t.cells[(m, c.key)].value is not None]
            if not models:
                continue
            cells = [t.cells[(m, c.key)] for m in models]
            vals = np.array([x.value for x in cells])
            lo = np.array([x.value - x.interval[0] if x.interval else (x.std or 0.0) for x in cells])
            hi = np.array([x.interval[1] - x.value if x.interval else (x.std or 0.0) for x in cells])
            fig, ax = plt.subplots(figsize=(max(4.0, 1.0 + 0.9 * len(models)), 3.2), dpi=100)
            colours = ["#d9822b" if x.unverified else "#4472c4" for x in cells]
            ax.bar(range(len(models)), vals, yerr=np.vstack([np.maximum(lo, 0), np.maximum(hi, 0)]), capsize=4, color=colours)
            ax.set_xticks(range(len(models)), [plot_text(m) for m in models], rotation=20, ha="right")
            ax.set_title(plot_text(f"{c.label} ({'higher' if c.higher_is_better else 'lower'} is better)"), fontsize=10)
            ax.set_ylabel(plot_text(c.metric))
            fig.tight_layout()
            path = folder / f"{stem}_bars.png"
            _save(fig, path)
            plt.close(fig)
            plots[(t.fingerprint, c.key, "bars")] = path.relative_to(out)
            dists = [(m, x.per_video) for m, x in zip(models, cells) if x.per_video is not None and x.per_video.size]
            if dists:
                fig, ax = plt.subplots(figsize=(max(4.0, 1.0 + 0.9 * len(dists)), 3.2), dpi=100)
                ax.boxplot([d for _, d in dists], showfliers=False)
                rng = np.random.default_rng(0)
                for i, (_, d) in enumerate(dists, start=1):
                    ax.plot(i + rng.uniform(-0.12, 0.12, d.size), d, ".", alpha=0.5, color="#333")
                ax.set_xticks(range(1, len(dists) + 1), [plot_text(m) for m, _ in dists], rotation=20, ha="right")
                ax.set_title(plot_text(f"{c.label}: per-video values"), fontsize=10)
                fig.tight_layout()
                path = folder / f"{stem}_per_video.png"
                _save(fig, path)
                plt.close(fig)
                plots[(t.fingerprint, c.key, "per_video")] = path.relative_to(out)
    return plots


def _save(fig, path: Path) -> None:
    with files.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})


# ------------------------------------------------------------------ entry point

def render(board: str | Path, out: str | Path, resamples: int = RenderOptions.resamples, seed: int = RenderOptions.seed,
           plots: bool = RenderOptions.plots, skip_bad_rows: bool = RenderOptions.skip_bad_rows) -> RenderResult:
    board, out = Path(board), Path(out)
    if not board.is_file():
        raise BadInput(f"{board}: no such leaderboard file")
    files.check_writable(out, folder=True)
    rows = read_leaderboard(board, skip_bad_rows=skip_bad_rows)
    if not rows:
        raise BadInput(f"{board}: the leaderboard has no rows")
    tables = build_tables(rows, board, resamples=resamples, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    plot_paths = write_plots(tables, out) if plots else {"_root": out}
    md = render_markdown(tables, plot_paths, board, resamples, seed)
    page = render_html(tables, plot_paths, board, resamples, seed)
    res = RenderResult(tables, markdown_text=md)
    res.paths.append(files.write_text(out / "leaderboard.md", md))
    res.paths.append(files.write_text(out / "leaderboard.html", page))
    res.paths += sorted(out / p for k, p in plot_paths.items() if k != "_root")
    return res
