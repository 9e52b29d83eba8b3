"""``vhq train-lmdm``: train an LMDM on `vhq lia motion` codes."""
