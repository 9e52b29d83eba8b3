"""``vhq crop``: cut, face-check and resize the manifest's clips, one status row per clip."""
