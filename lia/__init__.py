"""LIA (Latent Image Animator, ICLR 2022): a checkpoint-compatible PyTorch re-implementation."""

from .checkpoint import load_checkpoint, save_checkpoint
from .discriminator import Discriminator
from .generator import Generator

__all__ = ["Generator", "Discriminator", "load_checkpoint", "save_checkpoint"]
