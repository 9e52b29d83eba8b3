"""Metrics for image-animation models: one catalog row per metric (``eval.catalog``), pure
functions (``eval.functional``), streaming accumulators (``eval.metrics``), backbones loaded from
the weights registry (``eval.backbones``), the ``vhq eval`` runners (``eval.paired``,
``eval.distribution``) and their reports (``eval.report``, ``eval.leaderboard``).
See ``eval/README.md`` for the metric table.
"""
