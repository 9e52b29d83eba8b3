"""``vhq weights …``: list, fetch, import and verify pretrained networks."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from vhq import weights
from vhq.console import echo, info, stderr
from vhq.errors import VhqError

app = typer.Typer()
weights_app = typer.Typer(no_args_is_help=True, help="Pretrained networks: list, fetch, import, verify.")
app.add_typer(weights_app, name="weights")


@weights_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False) -> None:
    """Every registered network: present in the cache? verified? where from?"""
    rows = []
    for name in sorted(weights.REGISTRY):
        e = weights.entry(name)
        st = weights.status(name)
        how = "packaged" if e.extra.get("packaged") else ("import-only" if e.import_only else "fetch")
        rows.append({
            "name": name, "present": st.present, "state": st.state or "-", "pinned": e.pinned,
            "source": how, "file": str(st.path), "used_by": e.used_by, "licence": e.licence,
        })
    if as_json:
        for r in rows:
            echo(json.dumps(r))
        return
    w = max(len(r["name"]) for r in rows)
    echo(f"{'name':<{w}}  present  state       pinned  source       used by")
    for r in rows:
        echo(f"{r['name']:<{w}}  {'yes' if r['present'] else 'no':<7}  {r['state']:<10}  {'yes' if r['pinned'] else 'no':<6}  {r['source']:<11}  {r['used_by']}")
    info(f"cache: {weights.weights_dir()}")


@weights_app.command()
def fetch(
    names: Annotated[list[str], typer.Argument(help="Registry names (see `vhq weights list`).")],
    timeout: Annotated[float, typer.Option(help="Seconds without data before a download fails.")] = inspect.signature(weights.fetch).parameters["timeout"].default,
) -> None:
    """Download networks into the cache, verify them, and resume interrupted downloads."""
    failed = []
    for name in names:
        last = [0.0]

        def report(done: int, total: int | None, name=name) -> None:
            if done - last[0] >= 50 * (1 << 20) or (total and done == total):
                last[0] = done
                of = f" of {total / 1e6:.1f}" if total else ""
                stderr.print(f"{name}: {done / 1e6:.1f}{of} MB", markup=False)

        try:
            st = weights.fetch(name, timeout=timeout, progress=report)
        except VhqError as e:
            if len(names) == 1:
                raise
            failed.append(name)
            stderr.print(f"error: {name}: {e}", markup=False)
            continue
        echo(f"{name}\t{st.state}\t{st.path}")
    if failed:
        raise VhqError(f"{len(failed)} of {len(names)} fetches failed: {', '.join(failed)}", "re-run the same command to resume")


@weights_app.command("import")
def import_(
    name: Annotated[str, typer.Argument(help="Registry name.")],
    file: Annotated[Path, typer.Argument(help="The file you downloaded.")],
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Accept a file whose hash differs (mirror, conversion); scores made with it are flagged unverified.")] = False,
) -> None:
    """Copy a file you downloaded by hand into the cache (for offline machines)."""
    st = weights.import_file(name, file, no_verify=no_verify)
    echo(f"{name}\t{st.state}\t{st.path}")
    if st.state == weights.UNVERIFIED:
        info(f"{name}: hash differs from the published one; every score computed with it is marked unverified")


@weights_app.command()
def verify(names: Annotated[Optional[list[str]], typer.Argument(help="Names to check (default: every cached one).")] = None) -> None:
    """Re-hash cached files and compare them with their published or recorded hashes."""
    bad = []
    for name in names or sorted(weights.REGISTRY):
        try:
            st = weights.verify(name)
        except VhqError as e:
            bad.append(name)
            stderr.print(f"error: {e}", markup=False)
            continue
        if st.present:
            echo(f"{name}\t{st.state}\t{st.sha256}")
        elif names:
            bad.append(name)
            stderr.print(f"error: {name}: not in the cache", markup=False)
    if bad:
        raise VhqError(f"{len(bad)} weight(s) failed verification: {', '.join(bad)}")
