"""Identity embeddings with facenet-pytorch's InceptionResnetV1 (VGGFace2), reusable by AED, ACD and csim.

Weights: registry entry ``facenet_vggface2`` (``20180402-114759-vggface2.pt``, the file
``InceptionResnetV1(pretrained='vggface2')`` downloads), loaded strictly into the architecture
with its 8631-way logits layer (unused: ``classify=False`` returns the 512-d L2-normalised
embedding). Eval mode always (the last layer is BatchNorm1d).

Two crops (``crop=``):
- ``"frame"`` (default, pose-evaluation-like: its OpenFace AED feeds the whole frame): the whole
  frame resized to 160×160, bilinear, ``align_corners=False``, no antialiasing (as the
  scikit-image 0.14 resize pose-evaluation pinned), then facenet's fixed standardisation
  (x − 127.5) / 128. Every frame gets an embedding.
- ``"mtcnn"``: facenet-pytorch's MTCNN (shipped weights; image_size 160, margin 0,
  select_largest) crop of the largest face, standardised the same way; frames where MTCNN finds
  no face get no embedding (NaN) and are counted.
"""

from __future__ import annotations

import numpy as np
import torch

from eval.backbones.common import combine_provenance, load_strict, read_state_dict
from vhq import weights

CROPS = ("frame", "mtcnn")
SIZE = 160
NUM_CLASSES = 8631


class IdentityEmbedder:
    name = "facenet"

    def __init__(self, crop: str = "frame", device: str | torch.device = "cpu"):
        from facenet_pytorch import InceptionResnetV1

        if crop not in CROPS:
            from vhq.errors import BadInput

            raise BadInput(f"unknown identity crop {crop!r}", f"choose one of: {', '.join(CROPS)}")
        path = weights.path("facenet_vggface2")
        net = InceptionResnetV1(classify=False, num_classes=NUM_CLASSES)
        load_strict(net, read_state_dict(path, "InceptionResnetV1"), path, "InceptionResnetV1 (VGGFace2)")
        self.net = net.eval().to(device)
        self.device = torch.device(device)
        self.crop = crop
        self.mtcnn = None
        if crop == "mtcnn":
            from facenet_pytorch import MTCNN

            self.mtcnn = MTCNN(image_size=SIZE, margin=0, select_largest=True, post_process=True, device=self.device)
        self.backbone_id = f"facenet-InceptionResnetV1-vggface2:crop={crop}:{SIZE}"

    def weight_names(self) -> list[str]:
        return ["facenet_vggface2"] + (["mtcnn"] if self.crop == "mtcnn" else [])

    def provenance(self) -> dict:
        return combine_provenance(self.weight_names())

    def preprocess(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 ``[T,H,W,3]`` → standardised ``[T,3,160,160]`` crops and a found mask ``[T]``."""
        if self.crop == "frame":
            x = frames.permute(0, 3, 1, 2).float()
            x = torch.nn.functional.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=False)
            return (x - 127.5) / 128.0, torch.ones(frames.shape[0], dtype=torch.bool)
        crops = self.mtcnn([np.ascontiguousarray(f) for f in frames.cpu().numpy()])
        found = torch.tensor([c is not None for c in crops], dtype=torch.bool)
        out = torch.zeros(frames.shape[0], 3, SIZE, SIZE)
        for i, c in enumerate(crops):
            if c is not None:
                out[i] = c
        return out, found

    @torch.no_grad()
    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        """512-d unit embeddings ``[T,512]`` (float32); rows of frames with no face are NaN."""
        x, found = self.preprocess(frames)
        emb = torch.full((frames.shape[0], 512), float("nan"))
        if found.any():
            emb[found] = self.net(x[found].to(self.device)).float().cpu()
        return emb
