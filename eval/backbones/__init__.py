"""Networks the paired metrics need, loaded from the weights registry (never downloaded here).

Each loader raises ``vhq.errors.MissingWeights`` naming the file and the import command when a
weight is absent, so no metric ever runs on silently random layers. Every backbone exposes
``provenance()`` (the registry records of the weights it uses) and a ``backbone_id`` string that
goes into cache keys and CSV rows.
"""

from eval.backbones.common import combine_provenance

__all__ = ["combine_provenance"]
