"""The LPIPS network: torchvision AlexNet trunk + LPIPS v0.1 linear layers, from the registry.

Trunk: ``alexnet`` (torchvision's ``alexnet-owt-7be5be79.pth`` state dict, the file
``lpips.LPIPS(net='alex')`` downloads); linear layers: ``lpips_alex_lin`` (``weights/v0.1/alex.pth``
shipped in the lpips wheel). Both load strictly: a missing or mis-keyed file is an error, never
random layers (the reference loads the linear layers with ``strict=False``).
"""

from __future__ import annotations

import torch
from torch import nn

from eval.backbones.common import combine_provenance, load_strict, read_state_dict
from vhq import weights

# LPIPS v0.1 ScalingLayer: maps [-1,1] input to ImageNet-normalised input.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
# Indices into torchvision's AlexNet.features after which LPIPS taps (relu1 … relu5).
TAPS = (1, 4, 7, 9, 11)
CHANNELS = (64, 192, 384, 256, 256)
WEIGHTS = ["alexnet", "lpips_alex_lin"]


class LpipsAlex(nn.Module):
    backbone_id = "alexnet-lpips-v0.1"

    def __init__(self, trunk_state: dict, lin_state: dict, *, trunk_path=None, lin_path=None):
        super().__init__()
        import torchvision

        alex = torchvision.models.alexnet(weights=None)
        load_strict(alex, trunk_state, trunk_path, "torchvision AlexNet")
        self.trunk = alex.features[: TAPS[-1] + 1]
        lins = []
        for k, c in enumerate(CHANNELS):
            key = f"lin{k}.model.1.weight"
            w = lin_state.get(key)
            if w is None or tuple(w.shape) != (1, c, 1, 1):
                from vhq.errors import BadInput

                raise BadInput(f"{lin_path}: LPIPS linear-layer file lacks {key} of shape (1,{c},1,1)")
            lins.append(w.detach().clone().float())
        self.lin = nn.ParameterList([nn.Parameter(w, requires_grad=False) for w in lins])
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    @classmethod
    def from_registry(cls, device: str | torch.device = "cpu") -> "LpipsAlex":
        trunk_path = weights.path("alexnet")
        lin_path = weights.path("lpips_alex_lin")
        net = cls(read_state_dict(trunk_path, "AlexNet"), read_state_dict(lin_path, "LPIPS linear layers"), trunk_path=trunk_path, lin_path=lin_path)
        return net.to(device)

    @staticmethod
    def provenance() -> dict:
        return combine_provenance(WEIGHTS)

    def train(self, mode: bool = True) -> "LpipsAlex":  # always eval: no dropout, ever
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.shift.device

    @property
    def lin_weights(self) -> list[torch.Tensor]:
        return list(self.lin)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after relu1…relu5 for input in [-1,1] (``[N,3,H,W]``)."""
        h = (x - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.trunk):
            h = layer(h)
            if i in TAPS:
                out.append(h)
        return out
