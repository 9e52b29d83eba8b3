"""The ``vhq`` command line: one Typer app, one sub-app or command per area of the toolkit.

Known failures (``vhq.errors.VhqError``) print one ``error:`` line and a ``hint:`` line on stderr
and exit 1; usage errors exit 2; ``VHQ_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from eval.bench_cli import bench_app, leaderboard_app
from eval.commands import eval_command
from lia import train_cli
from lia.commands import animate_command, lia_app
from vhq import __version__, crop_cli
from vhq.dataset_cli import download as download_command
from vhq.dataset_cli import manifest_app
from vhq.errors import VhqError
from vhq.weights_cli import app as weights_app

app = typer.Typer(
    name="vhq",
    help="VoxCelebHQ toolkit: build the dataset, score image-animation models, train and run LIA.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"vhq {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """VoxCelebHQ toolkit."""


app.add_typer(weights_app, name="weights")
app.add_typer(manifest_app, name="manifest")
app.command("download")(download_command)
app.command("crop")(crop_cli.crop)
app.command("split")(crop_cli.split)
app.command("stats")(crop_cli.stats)

app.command("eval")(eval_command)
app.add_typer(bench_app, name="bench")
app.add_typer(leaderboard_app, name="leaderboard")
app.command("animate")(animate_command)
app.add_typer(lia_app, name="lia")


def _lia_eval_metrics(device):
    """Fresh L1 + LPIPS accumulators for `vhq train-lia --eval-every` (LPIPS net loaded once)."""
    from eval.backbones.lpips_alex import LpipsAlex
    from eval.metrics import L1, LPIPS

    net = LpipsAlex.from_registry(device)
    return lambda: {"l1": L1(), "lpips": LPIPS(net)}


app.command("train-lia")(train_cli.make_command(_lia_eval_metrics))

@app.command()
def demo(
    out: Annotated[str, typer.Option(help="Folder for the demo's outputs.")] = "demo-out",
) -> None:
    """Run the offline end-to-end demo on synthetic media."""
    from vhq.demo import run

    run(out)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and turn known failures into one-line errors."""
    try:
        app(args=argv, prog_name="vhq")
    except VhqError as e:
        if os.environ.get("VHQ_DEBUG"):
            raise
        print(f"error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        print("(set VHQ_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
