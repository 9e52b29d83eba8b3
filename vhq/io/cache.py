"""A cache of computed results keyed by content hashes.

Used for ground-truth features (landmarks, embeddings, real-set statistics): the key hashes the
input file's content together with everything that changes the result (backbone, weight hash,
preprocessing), so a changed file or protocol can never hit a stale entry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vhq.io import files

# torch is imported where it is used: the weights registry (and so `vhq --help`) imports cache_root.


def cache_root() -> Path:
    """``$VHQ_CACHE`` or ``${XDG_CACHE_HOME:-~/.cache}/vhq``."""
    root = os.environ.get("VHQ_CACHE")
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "vhq"


_digest_memo: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file, or of every file in a folder (names and contents), memoised by stat."""
    p = Path(path)
    st = p.stat()
    memo_key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if memo_key in _digest_memo:
        return _digest_memo[memo_key]
    if p.is_dir():
        parts = []
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            parts += [f.relative_to(p).as_posix(), files.sha256_file(f)]
        digest = files.sha256_strings(parts)
    else:
        digest = files.sha256_file(p)
    _digest_memo[memo_key] = digest
    return digest


def make_key(**parts: Any) -> str:
    """A hex key from named parts (order-independent, JSON-serialisable values)."""
    return files.sha256_bytes(json.dumps(parts, sort_keys=True, default=str).encode())[:32]


class ContentCache:
    """Tensors/dicts stored under ``<cache_root>/<namespace>/<key[:2]>/<key>.pt``."""

    def __init__(self, namespace: str, root: Path | None = None):
        self.dir = (root or cache_root()) / namespace

    def path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.pt"

    def get(self, key: str, valid: Callable[[Any], bool] | None = None) -> Any | None:
        """The entry under ``key``; ``None`` (recompute it) when absent, unreadable, or rejected by ``valid``."""
        p = self.path(key)
        if not p.exists():
            return None
        import torch

        try:
            value = torch.load(p, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a damaged entry is recomputed, never trusted
            return None
        try:
            return value if valid is None or valid(value) else None
        except Exception:  # noqa: BLE001 - a predicate tripping over a malformed entry rejects it
            return None

    def put(self, key: str, value: Any) -> None:
        import torch

        with files.atomic_path(self.path(key)) as tmp:
            torch.save(value, tmp)
