"""Fault cases: a bad input or a failing machine, and what ``vhq`` must do about it.

A :class:`Fault` names a command line built from files a builder makes in an empty folder, the
exit code it must end with, a pattern its first stderr line must match, and the files that must
come out unchanged or must not exist. :func:`check` runs one case, in this process (fast) or as a
child process (for resource limits and signals), and raises ``AssertionError`` with what differed.
No case may print a traceback.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vhq.io import files

Builder = Callable[[Path], Sequence[str]]


@dataclass(frozen=True)
class Fault:
    id: str
    build: Builder  # makes the inputs under the folder it is given, returns the argv after `vhq`
    code: int  # expected exit code
    first: str  # regular expression the first `error:` line (else the first stderr line) must match (re.search)
    unchanged: tuple[str, ...] = ()  # paths (relative to the folder; $VARS expanded) whose bytes must not change
    absent: tuple[str, ...] = ()  # glob patterns (relative to the folder) that must match nothing afterwards
    process: bool = False  # run as a child process
    file_size_limit: int | None = None  # RLIMIT_FSIZE in bytes for the child process
    after: Callable[[Path], None] | None = field(default=None, compare=False)  # further checks

    def __str__(self) -> str:
        return self.id


def _snapshot(root: Path, paths: Sequence[str]) -> dict[str, str | None]:
    out = {}
    for rel in paths:
        p = root / os.path.expandvars(rel)
        if p.is_dir():
            out[rel] = files.sha256_strings(f"{q.relative_to(p)}:{files.sha256_file(q)}" for q in sorted(p.rglob("*")) if q.is_file())
        else:
            out[rel] = files.sha256_file(p) if p.is_file() else None
    return out


def _run_child(argv: Sequence[str], env: dict[str, str], limit: int | None) -> tuple[int, str, str]:
    def limits() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = subprocess.run([sys.executable, "-c", "import cli; cli.main()", *argv], env=env, capture_output=True, text=True,
                       timeout=300, preexec_fn=limits)
    return r.returncode, r.stdout, r.stderr


def check(case: Fault, root: Path, in_process: Callable[[Sequence[str]], tuple[int, str, str]], env: dict[str, str] | None = None) -> str:
    """Run ``case`` in ``root`` (an empty folder); returns its stderr. ``in_process(argv)`` runs vhq here."""
    argv = [str(a) for a in case.build(root)]
    before = _snapshot(root, case.unchanged)
    if case.process or case.file_size_limit is not None:
        code, _, err = _run_child(argv, {**(env or os.environ), "VHQ_DEBUG": ""}, case.file_size_limit)
    else:
        code, _, err = in_process(argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    first = errors[0] if errors else (lines[0] if lines else "")  # progress lines may come before the error
    problems = []
    if "Traceback" in err:
        problems.append("printed a traceback")
    if code != case.code:
        problems.append(f"exit code {code}, expected {case.code}")
    if not re.search(case.first, first):
        problems.append(f"first stderr line {first!r} does not match {case.first!r}")
    after = _snapshot(root, case.unchanged)
    problems += [f"{rel} changed" for rel in case.unchanged if before[rel] != after[rel]]
    for pattern in case.absent:
        found = glob.glob(os.path.join(root, os.path.expandvars(pattern)), include_hidden=True)
        if found:
            problems.append(f"{pattern} exists: {sorted(found)}")
    if problems:
        raise AssertionError(f"{case.id} (vhq {' '.join(argv)}): " + "; ".join(problems) + f"\n--- stderr ---\n{err[-3000:]}")
    if case.after is not None:
        case.after(root)
    return err


def unwritable_folder() -> Path | None:
    """A folder in which nothing can be created: read-only for a normal user, sysfs for root (whom
    permission bits do not stop); ``None`` when this machine has neither."""
    if os.geteuid() != 0:
        d = Path(tempfile.mkdtemp(prefix="vhq-readonly-"))
        d.chmod(0o555)
        return d
    for cand in (Path("/sys/kernel"), Path("/sys")):
        try:
            fd, name = tempfile.mkstemp(dir=cand)
        except OSError:
            return cand
        os.close(fd)
        os.unlink(name)
    return None


HOLDER = """import sys, time
from vhq.io import lease
with lease.exclusive_writer(sys.argv[1], folder=sys.argv[2] == "folder"):
    print("held", flush=True)
    time.sleep(120)
"""


@contextlib.contextmanager
def another_writer(output: Path, folder: bool, env: dict[str, str]) -> Iterator[int]:
    """A live process holding the lease of ``output`` while inside; yields its pid, then kills it
    without releasing (a lease left by a killed run)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(output), "folder" if folder else "file"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        if holder.stdout.readline().strip() != "held":
            raise AssertionError("the holder process did not take the lease")
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()
