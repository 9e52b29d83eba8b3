"""3D ResNeXt-101 (Hara et al., Kinetics-400), the video-FID backbone of G3AN / ImaGINator / LIA.

Our own definition of the 2018 3D-ResNets-PyTorch ``resnext.resnet101(sample_duration=16)``:
layers [3, 4, 23, 3], cardinality 32, bottleneck expansion 2, shortcut B, ``sample_size=112``,
400 classes. Its ``state_dict()`` equals ``checkpoint["state_dict"]`` of
``resnext-101-kinetics.pth`` minus the DataParallel ``module.`` prefix (the file has no
``num_batches_tracked`` counters; loading tolerates their absence).

The feature is the ``avgpool`` output after ``layer4`` (AvgPool3d (1,4,4), stride 1 at
16×112×112), flattened to 2048-d; ``fc`` is loaded but never applied. When the pooled map is
not 1×1×1 (inputs other than 16×112×112) it is averaged to one vector, as G3AN's evaluation code
does; for maps smaller than the pool kernel (plumbing tests only) the whole map is averaged.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from eval.backbones.common import load_strict, read_state_dict
from vhq import weights
from vhq.errors import BadInput

FEATURE_DIM = 2048
SAMPLE_SIZE = 112
SAMPLE_DURATION = 16
# Hara's ActivityNet mean (0–255 RGB), the normalisation the checkpoint was trained with.
ACTIVITYNET_MEAN = (114.7748, 107.7354, 99.4750)


class Bottleneck(nn.Module):
    expansion = 2

    def __init__(self, inplanes: int, planes: int, cardinality: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        mid = cardinality * (planes // 32)
        self.conv1 = nn.Conv3d(inplanes, mid, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, kernel_size=3, stride=stride, padding=1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * self.expansion)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNeXt3D(nn.Module):
    """3D ResNeXt returning 2048-d ``avgpool`` features; input ``[B, 3, 16, 112, 112]``."""

    def __init__(
        self,
        layers=(3, 4, 23, 3),
        cardinality: int = 32,
        num_classes: int = 400,
        sample_size: int = SAMPLE_SIZE,
        sample_duration: int = SAMPLE_DURATION,
    ):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv3d(3, 64, kernel_size=7, stride=(1, 2, 2), padding=(3, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(128, layers[0], cardinality, 1)
        self.layer2 = self._make_layer(256, layers[1], cardinality, 2)
        self.layer3 = self._make_layer(512, layers[2], cardinality, 2)
        self.layer4 = self._make_layer(1024, layers[3], cardinality, 2)
        self.pool_kernel = (math.ceil(sample_duration / 16), math.ceil(sample_size / 32), math.ceil(sample_size / 32))
        self.fc = nn.Linear(cardinality * 32 * Bottleneck.expansion, num_classes)
        self.train(False)

    def _make_layer(self, planes: int, blocks: int, cardinality: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, planes * Bottleneck.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm3d(planes * Bottleneck.expansion),
            )
        layers = [Bottleneck(self.inplanes, planes, cardinality, stride, downsample)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes, cardinality) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def train(self, mode: bool = True):
        return super().train(False)  # a frozen feature extractor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != 3:
            raise BadInput(f"ResNeXt input must be [B, 3, T, H, W], got {tuple(x.shape)}")
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        if all(s >= k for s, k in zip(x.shape[2:], self.pool_kernel)):
            x = F.avg_pool3d(x, self.pool_kernel, stride=1)
        if x.shape[2:] != (1, 1, 1):
            x = F.adaptive_avg_pool3d(x, 1)
        return x.flatten(1)


def resnext101(**kwargs) -> ResNeXt3D:
    return ResNeXt3D(layers=(3, 4, 23, 3), **kwargs)


def load_resnext101(weight: str = "resnext101_kinetics", device: torch.device | str = "cpu") -> ResNeXt3D:
    """ResNeXt-101 with the Kinetics checkpoint from the registry (``state_dict`` key, ``module.`` prefixes)."""
    path = weights.path(weight)
    model = resnext101()
    load_strict(model, read_state_dict(path, "3D ResNeXt-101"), path, "3D ResNeXt-101")
    return model.eval().to(device)
