"""The pretrained-weights registry: one entry per network, a verified cache, fetch and import.

Files live in ``<cache>/weights/<file>`` (``$VHQ_CACHE``, default ``${XDG_CACHE_HOME:-~/.cache}/vhq``)
with a sidecar ``<file>.json`` recording how the file got there and whether it matched the
published hash. Downloads go to ``<file>.incomplete`` (resumed with HTTP Range after an
interruption, ``vhq.io.http``), are hashed, and are moved into place with ``os.replace`` only when they verify.
``VHQ_OFFLINE=1`` never touches the network. Scores computed with a weight imported with
``--no-verify`` are flagged through ``provenance()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from vhq.errors import BadInput, MissingWeights, NetworkError
from vhq.io import files, http
from vhq.io.cache import cache_root

# A verification state, from strongest to weakest:
VERIFIED = "verified"  # matches the published hash (full sha256, sha256 prefix or git blob id)
RECORDED = "recorded"  # no published hash: sha256 recorded on first fetch/import (pinned: false)
UNVERIFIED = "unverified"  # imported with --no-verify and not matching the published hash


@dataclass(frozen=True)
class WeightEntry:
    """A pretrained network file.

    ``sha256`` is the full published digest; where only a prefix is published (torch-hub file
    names) ``sha256_prefix`` holds it, and where only a git blob id is known, ``git_blob``.
    ``import_only`` entries have no URL a script can fetch (Google Drive folders, Yandex): the
    user downloads them by hand and runs ``vhq weights import``.
    """

    name: str
    filename: str
    description: str
    licence: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    sha256_prefix: str | None = None
    git_blob: str | None = None
    size: int | None = None
    import_only: bool = False
    instructions: str = ""
    used_by: str = ""
    # A file-format converter from vhq.weights.convert, run once when the file enters the cache.
    converter: Callable[["WeightEntry", Path, Path], bool] | None = field(default=None, compare=False)
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def pinned(self) -> bool:
        return bool(self.sha256 or self.sha256_prefix or self.git_blob)

    @property
    def hash_form(self) -> str:
        if self.sha256:
            return f"sha256 {self.sha256}"
        if self.sha256_prefix:
            return f"sha256 prefix {self.sha256_prefix}"
        if self.git_blob:
            return f"git blob sha1 {self.git_blob}"
        return "none published (sha256 recorded on first fetch)"

    def matches(self, path: Path, sha256: str | None = None) -> bool | None:
        """True/False against the published hash; None when nothing is published."""
        if not self.pinned:
            return None
        sha256 = sha256 or files.sha256_file(path)
        if self.sha256:
            return sha256 == self.sha256
        if self.sha256_prefix:
            return sha256.startswith(self.sha256_prefix)
        return files.git_blob_sha1(path) == self.git_blob


REGISTRY: dict[str, WeightEntry] = {}

def register(entry: WeightEntry) -> WeightEntry:
    REGISTRY[entry.name] = entry
    return entry


def entry(name: str) -> WeightEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise BadInput(f"unknown weight {name!r}", f"known weights: {known}") from None


def weights_dir() -> Path:
    return cache_root() / "weights"


def source_urls(e: WeightEntry) -> list[str]:
    """Where to fetch from: ``$VHQ_WEIGHTS_MIRROR/<file>`` first (a lab's own mirror), then the entry's URLs."""
    mirror = os.environ.get("VHQ_WEIGHTS_MIRROR", "").rstrip("/")
    return ([f"{mirror}/{e.filename}"] if mirror else []) + list(e.urls)


def offline() -> bool:
    return os.environ.get("VHQ_OFFLINE", "") not in ("", "0")


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


@dataclass(frozen=True)
class WeightStatus:
    name: str
    path: Path
    present: bool
    state: str | None  # VERIFIED / RECORDED / UNVERIFIED, None when absent
    sha256: str | None


def packaged_path(e: WeightEntry) -> Path | None:
    """Where an installed wheel keeps this entry's file (``extra["packaged"]``), if it does."""
    rel = e.extra.get("packaged")
    if not rel:
        return None
    import importlib.util

    top, _, rest = rel.partition("/")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / rest
    return p if p.is_file() else None


def status(name: str) -> WeightStatus:
    e = entry(name)
    p = weights_dir() / e.filename
    if not p.exists() and (pkg := packaged_path(e)) is not None:
        sha = files.sha256_file(pkg)
        ok = e.matches(pkg, sha)
        return WeightStatus(name, pkg, True, VERIFIED if ok else (RECORDED if ok is None else UNVERIFIED), sha)
    if not p.exists():
        return WeightStatus(name, p, False, None, None)
    meta = {}
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        meta = json.loads(_sidecar(p).read_text())
    return WeightStatus(name, p, True, meta.get("state"), meta.get("sha256"))


def missing_message(e: WeightEntry) -> tuple[str, str]:
    dest = weights_dir() / e.filename
    where = e.urls[0] if e.urls else "(no public URL)"
    msg = f"weight {e.name!r} ({e.description}) is not in the cache: expected {dest}, {e.hash_form}, from {where}"
    if e.import_only or offline() or not e.urls:
        how = e.instructions or f"download {e.filename} by hand"
        hint = f"{how}; then run: vhq weights import {e.name} /path/to/{e.filename}"
    else:
        hint = f"run: vhq weights fetch {e.name}  (offline machines: vhq weights import {e.name} FILE)"
    return msg, hint


def path(name: str) -> Path:
    """The cached file of ``name``; raises MissingWeights (naming file, hash, URL, command)."""
    e = entry(name)
    st = status(name)
    if not st.present:
        raise MissingWeights(*missing_message(e))
    return st.path


def provenance(name: str) -> dict:
    """What a score computed with this weight must record: name, sha256, verification state."""
    st = status(name)
    return {
        "weight": name,
        "weight_sha256": st.sha256 or "",
        "weight_verified": st.state == VERIFIED,
        "weight_state": st.state or "absent",
    }


def _check_source(e: WeightEntry, src: Path, source: str, no_verify: bool) -> tuple[str, bool | None]:
    sha = files.sha256_file(src)
    ok = e.matches(src, sha)
    if ok is False and not no_verify:
        raise BadInput(
            f"{source}: sha256 {sha} does not match {e.name!r} ({e.hash_form}); nothing was written to the cache",
            f"if this is a mirror or a converted file you trust, re-run with: vhq weights import {e.name} FILE --no-verify",
        )
    return sha, ok


def _finish(e: WeightEntry, src: Path, dest: Path, source: str, no_verify: bool = False, converted_from: tuple[str, bool | None] | None = None, owned: bool = False) -> WeightStatus:
    """Check ``src`` against the entry, then put it in place with its sidecar.

    ``owned``: ``src`` is vhq's own temporary file (a download, a conversion) and is moved; any
    other file is copied, so the user's file is never moved or deleted. For a converted file,
    ``converted_from`` = (sha256, hash match) of the original: the verification state is the
    original's, as the converted bytes have no published hash.
    """
    if converted_from is None:
        sha, ok = _check_source(e, src, source, no_verify)
    else:
        sha, ok = files.sha256_file(src), converted_from[1]
    state = VERIFIED if ok else (RECORDED if ok is None else UNVERIFIED)
    if not owned:
        tmp = files.temp_path_for(dest)
        shutil.copyfile(src, tmp)
        src = tmp
    meta = {"name": e.name, "sha256": sha, "state": state, "pinned": e.pinned, "source": source, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if converted_from is not None:
        meta["source_sha256"] = converted_from[0]
    os.replace(src, dest)
    files.write_json(_sidecar(dest), meta)
    return WeightStatus(e.name, dest, True, state, sha)


def import_file(name: str, file: str | os.PathLike, no_verify: bool = False) -> WeightStatus:
    """Copy a file the user downloaded into the cache after verifying it."""
    e = entry(name)
    src = Path(file)
    if not src.is_file():
        raise BadInput(f"{src}: no such file")
    _refuse_other_entries_file(e, src)
    dest = weights_dir() / e.filename
    with files.locked(dest):
        return _store(e, src, dest, str(src), no_verify)


def _refuse_other_entries_file(e: WeightEntry, src: Path) -> None:
    """Importing another entry's cached file (or a sidecar) would corrupt the cache's bookkeeping."""
    real = src.resolve()
    for other in REGISTRY.values():
        cached = (weights_dir() / other.filename).resolve()
        if real in (cached, _sidecar(cached)) and other.name != e.name:
            raise BadInput(f"{src}: is the cached file of {other.name!r}, not a download of {e.name!r}", f"import the file you downloaded for {e.name!r}")
    if real == _sidecar((weights_dir() / e.filename).resolve()):
        raise BadInput(f"{src}: is the cache's record of {e.name!r}, not a weights file")


def _store(e: WeightEntry, src: Path, dest: Path, source: str, no_verify: bool = False, owned: bool = False) -> WeightStatus:
    """Verify ``src`` and put it (converted to our format where the entry has a converter) in place."""
    if e.converter is not None:
        original = _check_source(e, src, source, no_verify)
        tmp = files.temp_path_for(dest, ".converted")
        try:
            if e.converter(e, src, tmp):
                return _finish(e, tmp, dest, f"{source} (converted)", converted_from=original, owned=True)
        finally:
            files.remove(tmp)
    return _finish(e, src, dest, source, no_verify, owned=owned)


def fetch(name: str, timeout: float = http.TIMEOUT, progress: http.Progress | None = None) -> WeightStatus:
    """Download ``name`` unless it is cached; resumable; verified before it becomes visible."""
    e = entry(name)
    dest = weights_dir() / e.filename
    st = status(name)
    if st.present:
        return st
    urls = source_urls(e)
    if not urls or (e.import_only and not os.environ.get("VHQ_WEIGHTS_MIRROR")):
        raise MissingWeights(*missing_message(e))
    if offline():
        raise MissingWeights(*missing_message(e))
    with files.locked(dest):
        st = status(name)
        if st.present:
            return st
        partial = http.partial_path(dest)
        errors = []
        for url in urls:
            try:
                http.fetch(url, partial, timeout, progress)
            except NetworkError as err:
                errors.append(err.message)
                continue
            try:
                st = _store(e, partial, dest, url, owned=True)
            except BadInput:
                files.remove(partial)
                raise
            files.remove(partial)  # left behind when a converter wrote the cached file
            return st
        raise NetworkError(f"could not download {e.name!r}: " + "; ".join(errors), f"re-run to resume, or: vhq weights import {e.name} FILE")


def verify(name: str) -> WeightStatus:
    """Re-hash a cached file; a file that no longer matches its record is reported, not deleted."""
    e = entry(name)
    st = status(name)
    if not st.present:
        return st
    sha = files.sha256_file(st.path)
    if st.sha256 and sha != st.sha256:
        raise BadInput(f"{st.path}: content changed since it was cached (sha256 {sha}, recorded {st.sha256})", f"re-fetch: rm {st.path}; vhq weights fetch {name}")
    ok = e.matches(st.path, sha)
    if ok is False and st.state != UNVERIFIED:
        raise BadInput(f"{st.path}: does not match {e.hash_form}", f"re-fetch: rm {st.path}; vhq weights fetch {name}")
    return st

