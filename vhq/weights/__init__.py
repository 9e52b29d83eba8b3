"""The pretrained-weights registry: one entry per network, a verified cache, fetch and import.

``from vhq import weights`` is the public API; ``registry.py`` holds the cache logic and
``entries.py`` the list of networks.
"""

from vhq.weights import entries  # noqa: F401  (importing it registers the entries)
from vhq.weights.registry import (
    RECORDED,
    REGISTRY,
    UNVERIFIED,
    VERIFIED,
    WeightEntry,
    WeightStatus,
    entry,
    fetch,
    import_file,
    missing_message,
    offline,
    packaged_path,
    path,
    provenance,
    register,
    source_urls,
    status,
    verify,
    weights_dir,
)

__all__ = [
    "RECORDED", "REGISTRY", "UNVERIFIED", "VERIFIED", "WeightEntry", "WeightStatus", "entry", "fetch", "import_file",
    "missing_message", "offline", "packaged_path", "path", "provenance", "register", "source_urls", "status", "verify",
    "weights_dir",
]
