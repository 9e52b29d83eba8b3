"""``vhq train-lia``: the LIA training loop, its data, losses, run folder, resume and validation."""
