"""Defaults of LIA inference, declared once for :mod:`lia.animate` and the ``vhq animate``, ``vhq lia``
and ``vhq train-lia`` options.

Torch-free, so the command line reads them without loading torch.
"""

DEVICE = "auto"  # this rank's GPU when CUDA is available, else the CPU
MODE = "relative"  # motion relative to the first driving frame (the official demo)
BATCH = 8  # frames per forward pass
WALK_RANGE = 3.0  # a direction walk spans [-WALK_RANGE, +WALK_RANGE] around the source's value
WALK_STEPS = 16  # frames per walk (as the official linear_manipulation.py)
