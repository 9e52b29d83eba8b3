"""vhq: the VoxCelebHQ toolkit (dataset builder, evaluation metrics, LIA reference model)."""

__version__ = "0.1.0"
