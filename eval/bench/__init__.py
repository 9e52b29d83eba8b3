"""Where a model meets the metrics: ``vhq bench`` runs a model on the benchmark protocols and scores it.

This is the only part of ``eval`` that imports ``lia`` (in ``models.py``).
"""
