"""The ``vhq`` command line: the root app mounts each area's ``app`` and maps errors.

Known failures (``vhq.errors.VhqError``) print one ``error:`` line and a ``hint:`` line on stderr
and exit 1; usage errors (``UsageError`` and the parser's own) exit 2; ``VHQ_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Annotated, Optional

import typer

from eval import cli as eval_cli
from eval.bench import cli as bench_cli
from lia import cli as lia_cli
from lia.lmdm import cli as lmdm_cli
from lia.train import cli as train_cli
from vhq import __version__
from vhq.dataset import cli as dataset_cli
from vhq.errors import VhqError
from vhq.testing import cli as demo_cli
from vhq.weights import cli as weights_cli

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


# In data-flow order: build the dataset, get weights, score, run models, train, demo.
for area in (dataset_cli, weights_cli, eval_cli, bench_cli, lia_cli, train_cli, lmdm_cli, demo_cli):
    app.add_typer(area.app)
lia_cli.lia_app.command("motion")(lmdm_cli.motion_command)


# Failures of the machine rather than of vhq: reported in one line like a VhqError.
ENVIRONMENT_ERRNOS = {
    errno.EACCES: None, errno.EPERM: None, errno.EROFS: None, errno.EEXIST: None, errno.EISDIR: None,
    errno.ENOTDIR: None, errno.ENAMETOOLONG: None, errno.ENOENT: None,
    errno.ENOSPC: "free some space and re-run: finished items are kept",
    errno.EDQUOT: "free some space and re-run: finished items are kept",
    errno.EFBIG: "a file-size limit (ulimit -f) was hit; raise it and re-run: finished items are kept",
}


def _environment_error(e: BaseException) -> VhqError | None:
    if isinstance(e, OSError) and e.errno in ENVIRONMENT_ERRNOS:
        where = f"{e.filename}: " if e.filename else ""
        return VhqError(f"{where}{e.strerror or e}", ENVIRONMENT_ERRNOS[e.errno])
    return None


def _report(e: VhqError) -> None:
    print(f"error: {e.message}", file=sys.stderr)
    if e.hint:
        print(f"hint: {e.hint}", file=sys.stderr)
    print("(set VHQ_DEBUG=1 for the traceback)", file=sys.stderr)
    sys.exit(e.exit_code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and turn known failures into one-line errors."""
    try:
        app(args=argv, prog_name="vhq")
    except VhqError as e:
        if os.environ.get("VHQ_DEBUG"):
            raise
        _report(e)
    except OSError as e:
        mapped = _environment_error(e)
        if mapped is None or os.environ.get("VHQ_DEBUG"):
            raise
        _report(mapped)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
