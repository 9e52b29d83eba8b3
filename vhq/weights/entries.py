"""Every pretrained network vhq uses, with its source, hash and licence.

Hashes are the published ones (full sha256 where known, the torch-hub file-name prefix otherwise,
or the git blob id where only that is known). Entries without a published hash record the sha256
of their first fetch and report ``pinned: false``. Networks that ship inside an installed wheel
(MTCNN, the LPIPS linear layers, dlib's predictor) are listed for provenance with ``packaged=True``
in ``extra``: they need no fetch.
"""

from __future__ import annotations

from vhq.weights.convert import torchscript_export
from vhq.weights.registry import WeightEntry, register

TORCHVISION = "BSD-3-Clause (torchvision); ImageNet terms apply to the weights"

register(WeightEntry(
    name="alexnet",
    filename="alexnet-owt-7be5be79.pth",
    description="torchvision AlexNet (ImageNet), the LPIPS trunk",
    licence=TORCHVISION,
    urls=("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),
    sha256_prefix="7be5be79",
    size=244408911,
    used_by="lpips",
))
register(WeightEntry(
    name="vgg19",
    filename="vgg19-dcbb9e9d.pth",
    description="torchvision VGG19 (ImageNet), LIA's perceptual loss",
    licence=TORCHVISION,
    urls=("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",),
    sha256_prefix="dcbb9e9d",
    size=574673361,
    used_by="train-lia",
))
register(WeightEntry(
    name="lpips_alex_lin",
    filename="lpips-v0.1-alex.pth",
    description="LPIPS v0.1 linear layers for AlexNet (ship in the lpips wheel)",
    licence="BSD-2-Clause (richzhang/PerceptualSimilarity)",
    sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    size=6009,
    used_by="lpips",
    extra={"packaged": "lpips/weights/v0.1/alex.pth"},
))
register(WeightEntry(
    name="fan2d",
    filename="2DFAN4-11f355bf06.pth.tar",
    description="face-alignment 1.5 2D-FAN-4 68-point landmark network",
    licence="BSD-3-Clause (1adrianb/face-alignment)",
    urls=("https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar",),
    sha256_prefix="11f355bf06",
    used_by="akd, mkr",
))
register(WeightEntry(
    name="s3fd",
    filename="s3fd-619a316812.pth",
    description="face-alignment S3FD face detector",
    licence="BSD-3-Clause (1adrianb/face-alignment)",
    urls=("https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth",),
    sha256_prefix="619a316812",
    used_by="akd, mkr",
))
register(WeightEntry(
    name="facenet_vggface2",
    filename="20180402-114759-vggface2.pt",
    description="facenet-pytorch InceptionResnetV1 trained on VGGFace2 (identity embeddings)",
    licence="MIT (timesler/facenet-pytorch); VGGFace2 terms apply to the weights",
    urls=("https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",),
    used_by="aed_facenet, acd, csim",
))
register(WeightEntry(
    name="mtcnn",
    filename="mtcnn-onet.pt",
    description="facenet-pytorch MTCNN P/R/O-Net face detector (ship in the facenet-pytorch wheel)",
    licence="MIT (timesler/facenet-pytorch)",
    sha256="165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
    size=1559269,
    used_by="crop, aed",
    extra={"packaged": "facenet_pytorch/data/onet.pt"},
))
register(WeightEntry(
    name="dlib68",
    filename="shape_predictor_68_face_landmarks.dat",
    description="dlib 68-point shape predictor (ships in face_recognition_models)",
    licence="dlib: Boost; the iBUG 300-W training data is non-commercial",
    size=99693937,
    used_by="akd_dlib68",
    extra={"packaged": "face_recognition_models/models/shape_predictor_68_face_landmarks.dat"},
))
register(WeightEntry(
    name="i3d_torchscript",
    filename="i3d_torchscript.pt",
    description="StyleGAN-V's TorchScript I3D (Kinetics-400); its tensors are exported on import",
    licence="Apache-2.0 (DeepMind I3D)",
    urls=("https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1",),
    git_blob="93daef59c7ae0e9e8f76225521407e60cbafa6aa",
    used_by="fvd_i3d (stylegan-v)",
    converter=torchscript_export,
))
register(WeightEntry(
    name="i3d_pretrained_400",
    filename="i3d_pretrained_400.pt",
    description="I3D (Kinetics-400) state dict used by VideoGPT/DIGAN/TATS",
    licence="Apache-2.0 (DeepMind I3D)",
    urls=("https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt",),
    git_blob="a867b87ac3a9097d200598b1d48a1b890d8ec744",
    used_by="fvd_i3d, kvd",
))
register(WeightEntry(
    name="resnext101_kinetics",
    filename="resnext-101-kinetics.pth",
    description="3D ResNeXt-101 (Kinetics-400) of 3D-ResNets-PyTorch, G3AN's video-FID backbone",
    licence="MIT (kenshohara/3D-ResNets-PyTorch)",
    import_only=True,
    instructions="download resnext-101-kinetics.pth from the Google Drive folder "
    "https://drive.google.com/drive/folders/1zvl89AgFAApbH0At-gMuZSeQB_LpNP-M",
    used_by="fid_r3dx101",
))
register(WeightEntry(
    name="videomae_v2_g_ssv2",
    filename="vit_g_hybrid_pt_1200e_ssv2_ft.pth",
    description="VideoMAE-v2 ViT-g/14 (UnlabeledHybrid pre-train, SSv2 fine-tune), fp16; cd-fvd's backbone",
    licence="MIT (OpenGVLab/VideoMAEv2 code); the model card says Apache-2.0, the model zoo asks for a request form",
    urls=(
        "https://huggingface.co/OpenGVLab/VideoMAE2/resolve/main/mae-g/vit_g_hybrid_pt_1200e_ssv2_ft.pth",
        "https://huggingface.co/OpenGVLab/InternVideoMAE_models/resolve/main/mae-g/vit_g_hybrid_pt_1200e_ssv2_ft.pth",
        "https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/videomaev2/vit_g_hybrid_pt_1200e_ssv2_ft.pth",
    ),
    sha256="5a210a92f035dff30c53b46157b612e7a1a5d3c99700e1b2d71da5c399ca7e70",
    used_by="fvd_videomae",
    extra={"size_approx": "2.02 GB (1,011,855,918 fp16 parameters; exact byte count not published)"},
))
register(WeightEntry(
    name="openface",
    filename="openface.pth",
    description="OpenFace nn4.small2.v1 (PyTorch port thnkim/OpenFacePytorch), the network of pose-evaluation's AED",
    licence="Apache-2.0 (cmusatyalab/openface, thnkim/OpenFacePytorch)",
    urls=("https://raw.githubusercontent.com/thnkim/OpenFacePytorch/d00221832413e86b5608ca791c956b7949479627/openface.pth",),
    git_blob="8ea57ad9cf6eb702d20353d93dea5558fe3a04d7",  # openface.pth at the commit pose-evaluation pins (unchanged since)
    used_by="aed",
))
for _name, _what in (("vox", "VoxCeleb"), ("taichi", "TaiChi-HD"), ("ted", "TED-talks")):
    register(WeightEntry(
        name=f"lia_{_name}",
        filename=f"lia-{_name}.pt",
        description=f"official LIA checkpoint trained on {_what} (size 256)",
        licence="CC BY-NC 4.0 (wyhsirius/LIA): non-commercial use only",
        import_only=True,
        instructions=f"download {_name}.pt from the Google Drive link in the README of github.com/wyhsirius/LIA",
        used_by="animate, bench",
    ))
register(WeightEntry(
    name="lia_x",
    filename="lia-x.pt",
    description="LIA-X generator (size 512, 40 named motion directions; 910,571,751 fp32 parameters, a ~3.6 GB file)",
    licence="CC BY-NC 4.0 (wyhsirius/LIA-X): non-commercial use only",
    import_only=True,
    instructions="download lia-x.pt from https://huggingface.co/YaohuiW/LIA-X (linked from the README of github.com/wyhsirius/LIA-X)",
    used_by="animate --model liax, bench --model liax",
))
