"""``vhq demo``: the offline end-to-end demo on synthetic media."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer()


@app.command("demo")
def demo(
    out: Annotated[str, typer.Option(help="Folder for the demo's outputs.")] = "demo-out",
) -> None:
    """Run the offline end-to-end demo on synthetic media."""
    from vhq.testing.demo import run

    run(out)
