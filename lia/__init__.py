"""LIA (Latent Image Animator, ICLR 2022): a checkpoint-compatible PyTorch re-implementation."""

from lia.checkpoint import load_checkpoint, save_checkpoint
from lia.discriminator import Discriminator
from lia.generator import Generator

__all__ = ["Generator", "Discriminator", "load_checkpoint", "save_checkpoint"]
