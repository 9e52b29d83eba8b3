"""OpenFace AED: vhq's network and input equal pose-evaluation's (OpenFacePytorch + extract.py) on the same random weights."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from eval.backbones.openface import OpenFaceEmbedder, OpenFaceNet, preprocess
from vhq import weights
from vhq.errors import BadInput
from vhq.io import files
from vhq.testing.random_weights import manifest, write_openface_checkpoint
from vhq.testing.synthetic import face_frames


def _reference_module():
    path = Path(__file__).with_name("openface_reference.py")
    spec = importlib.util.spec_from_file_location("openface_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def ref():
    return _reference_module()


def _reference_net(ref, state, legacy: bool):
    ref.USE_LEGACY_LRN = legacy
    net = ref.netOpenFace(useCuda=False)
    net.load_state_dict(state, strict=False)  # the 2017 file has no num_batches_tracked counters
    return net.eval()


def extract_py_frame(frame: np.ndarray) -> torch.Tensor:
    """pose-evaluation extract.py ``extract_face_id``, its lines verbatim, with scikit-image 0.14's resize defaults spelled out
    (newer versions default to antialiasing and mode='reflect')."""
    from skimage.transform import resize as skimage_resize

    def resize(image, output_shape):
        return skimage_resize(image, output_shape, order=1, mode="constant", cval=0, clip=True, preserve_range=False, anti_aliasing=False)

    frame = frame[..., ::-1]
    frame = resize(frame, (96, 96))
    frame = np.transpose(frame, (2, 0, 1))
    return torch.Tensor(frame)


def test_manifest_is_the_reference_state_dict_layout(ref):
    layout = {k: list(v.shape) for k, v in ref.netOpenFace(useCuda=False).state_dict().items() if not k.endswith("num_batches_tracked")}
    assert manifest("openface") == layout
    ours = {k: list(v.shape) for k, v in OpenFaceNet().state_dict().items() if not k.endswith("num_batches_tracked")}
    assert list(ours) == list(layout) and ours == layout


@pytest.mark.parametrize("legacy", [True, False])
def test_network_equals_reference_on_the_same_random_weights(ref, tmp_path, legacy):
    state = torch.load(write_openface_checkpoint(tmp_path / "openface.pth", seed=3), weights_only=True)
    theirs = _reference_net(ref, state, legacy)
    ours = OpenFaceNet(legacy_lrn=legacy)
    ours.load_state_dict(state, strict=False)
    ours.eval()
    x = torch.rand(4, 3, 96, 96, generator=torch.Generator().manual_seed(0)) * 3  # large inputs: the LRN term matters
    with torch.no_grad():
        a, b = ours(x), theirs(x)[0]
    assert a.shape == (4, 128)
    assert (a - b).abs().max() <= 1e-5
    assert torch.allclose(a.norm(dim=1), torch.ones(4), atol=1e-5)


def test_legacy_lrn_is_the_port_s_running_sum_not_the_window(ref):
    x = torch.rand(2, 8, 3, 3, generator=torch.Generator().manual_seed(1)) * 100
    from eval.backbones.openface import CrossMapLRN

    legacy = ref.SpatialCrossMapLRN_temp(5, 1e-4, 0.75, 1.0).forward(x.clone())
    assert torch.allclose(CrossMapLRN(legacy=True)(x), legacy, rtol=1e-6, atol=0)
    window = torch.nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0)(x)
    assert torch.allclose(CrossMapLRN(legacy=False)(x), window, rtol=1e-6, atol=0)
    assert torch.equal(legacy[:, :3], window[:, :3]) or torch.allclose(legacy[:, :3], window[:, :3], rtol=1e-6)
    assert not torch.allclose(legacy[:, 3:], window[:, 3:], rtol=1e-3)  # channel 0 stays in the port's sum


@pytest.mark.parametrize("size", [256, 64, 97])  # down, up (border meets the 0 fill and the clip), odd
def test_preprocessing_equals_extract_py(size):
    frames = face_frames(3, size=size, seed=size)
    ours = preprocess(torch.from_numpy(frames))
    theirs = torch.stack([extract_py_frame(f) for f in frames])
    assert ours.dtype == torch.float32 and ours.shape == (3, 3, 96, 96)
    assert (ours - theirs).abs().max() <= 1e-6


def test_clip_to_the_frame_range_when_upscaling():
    frame = np.full((1, 32, 32, 3), 200, np.uint8)  # constant frame: the 0 fill darkens the border, the clip undoes it
    ours = preprocess(torch.from_numpy(frame))
    theirs = extract_py_frame(frame[0])
    assert torch.allclose(ours[0], theirs, atol=1e-7) and torch.allclose(ours, torch.full_like(ours, 200 / 255))


def test_embedder_loads_the_registry_file_strictly_and_equals_reference(ref, tmp_path, _isolated_cache):
    path = write_openface_checkpoint(tmp_path / "openface.pth", seed=5)
    st = weights.import_file("openface", path, no_verify=True)
    assert st.state == weights.UNVERIFIED  # random weights never pass the git-blob pin
    emb = OpenFaceEmbedder()
    frames = face_frames(2, size=128, seed=1)
    ours = emb.embed(torch.from_numpy(frames))
    theirs = _reference_net(ref, torch.load(path, weights_only=True), True)
    with torch.no_grad():
        want = torch.stack([theirs(extract_py_frame(f).unsqueeze(0))[0][0] for f in frames])
    assert (ours - want).abs().max() <= 1e-5
    assert emb.provenance()["weight"] == "openface" and emb.provenance()["weight_state"] == "unverified"


def test_strict_load_names_the_file_and_the_key(tmp_path, _isolated_cache):
    state = torch.load(write_openface_checkpoint(tmp_path / "good.pth"), weights_only=True)
    del state["layer25.bias"]
    bad = tmp_path / "openface.pth"
    torch.save(state, bad)
    weights.import_file("openface", bad, no_verify=True)
    with pytest.raises(BadInput, match=r"openface.pth: does not fit the OpenFace nn4.small2.v1 architecture: 1 missing keys \(e.g. layer25.bias\)"):
        OpenFaceEmbedder()


def test_mtcnn_crop_is_refused(tmp_path, _isolated_cache):
    with pytest.raises(BadInput, match="whole frame"):
        OpenFaceEmbedder(crop="mtcnn")


def test_registry_entry_is_the_published_blob(tmp_path):
    e = weights.entry("openface")
    assert e.git_blob == "8ea57ad9cf6eb702d20353d93dea5558fe3a04d7" and e.urls and not e.import_only
    assert e.urls[0].endswith("/openface.pth") and "thnkim/OpenFacePytorch" in e.urls[0]
    f = tmp_path / "openface.pth"
    f.write_bytes(b"not the weights")
    assert e.matches(f) is False and files.git_blob_sha1(f) != e.git_blob


def test_vhq_eval_aed_is_the_frame_weighted_squared_distance_of_the_reference(cli, eval_weights, weight_files, ref, tmp_path):
    from vhq.io import video

    gt, pred, out = tmp_path / "gt", tmp_path / "pred", tmp_path / "out"
    clips = {"a": (2, 0, 4), "b": (3, 1, 5)}  # key: frames, GT seed, pred seed
    for key, (n, gs, ps) in clips.items():
        video.write_frames(gt / key, torch.from_numpy(face_frames(n, size=64, seed=gs)))
        video.write_frames(pred / key, torch.from_numpy(face_frames(n, size=64, seed=ps)))
    for protocol, metrics in (("lia", "l1,aed_openface"), ("fomm", "aed")):  # the metric by column and by name; frame-weighted in both
        code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--out", out / protocol, "--protocol", protocol, "--metrics", metrics)
        assert code == 0, err
    net = _reference_net(ref, torch.load(weight_files["openface"], weights_only=True), True)
    per_frame = []
    with torch.no_grad():
        for key, (n, gs, ps) in clips.items():
            for fp, fg in zip(face_frames(n, size=64, seed=ps), face_frames(n, size=64, seed=gs)):
                ep = net(extract_py_frame(fp).unsqueeze(0))[0].numpy()
                eg = net(extract_py_frame(fg).unsqueeze(0))[0].numpy()
                per_frame.append(np.sum(np.abs(ep - eg).astype(float) ** 2))  # cmp.py
    want = float(np.mean(per_frame))
    for protocol in ("lia", "fomm"):
        row = {r["metric"]: r for r in files.read_csv(out / protocol / "summary.csv")}["aed_openface"]
        assert abs(float(row["value"]) - want) <= 1e-5 * max(1.0, want)
        assert row["weighting"] == "frame" and row["n_frames"] == "5" and row["weight"] == "openface"


def test_a_cuda_saved_legacy_file_loads_on_cpu(tmp_path, _isolated_cache):
    """openface.pth (2017) holds CUDA storages in the pre-zip format: weights_only=True with map_location cpu reads it."""
    raw = write_openface_checkpoint(tmp_path / "cpu.pth", seed=2).read_bytes()
    assert raw.count(b"ctorch\nFloatStorage") == 1 and raw.count(b"X\x03\x00\x00\x00cpu") == 1  # pickle memoises both
    cuda = raw.replace(b"ctorch\nFloatStorage", b"ctorch.cuda\nFloatStorage").replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
    path = tmp_path / "openface.pth"
    path.write_bytes(cuda)
    weights.import_file("openface", path, no_verify=True)
    emb = OpenFaceEmbedder()
    want = torch.load(tmp_path / "cpu.pth", weights_only=True)
    assert all(torch.equal(emb.net.state_dict()[k], v) for k, v in want.items())
