"""``vhq download``: the manifest's YouTube videos at ≥ --min-height, resumable, one status row per video."""
