"""LMDM (LEO, IJCV 2024): a diffusion model over sequences of LIA motion codes, rendered by LIA."""
