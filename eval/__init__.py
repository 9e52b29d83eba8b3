"""Metrics for image-animation models: pure functions (``eval.functional``), streaming
accumulators (``eval.metrics``), backbones loaded from the weights registry (``eval.backbones``)
and the ``vhq eval`` runner (``eval.paired``, ``eval.pairing``, ``eval.report``).
See ``eval/README.md`` for the metric table.
"""
