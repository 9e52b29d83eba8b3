"""Defaults of LIA-X inference for the command line. Torch-free."""

WEIGHTS = "lia_x"  # registry entry used when --ckpt is not given
WALK_RANGE = 0.5  # direction walks span [-0.5, 0.5] around the source's value (upstream demos: |v| <= 0.5)
