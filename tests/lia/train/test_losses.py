"""LIA training losses: the FOMM pyramid, the VGG19 perceptual loss, GAN losses, R1."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lia.train import losses
from vhq.errors import BadInput, MissingWeights
from vhq.testing.random_weights import write_random_vgg19


def test_pyramid_kernels_match_fomm():
    sizes = {s: losses.AntiAliasInterpolation2d(3, s).weight.shape[-1] for s in (0.5, 0.25, 0.125)}
    assert sizes == {0.5: 5, 0.25: 13, 0.125: 29}
    for s in (0.5, 0.25, 0.125):
        k = losses.AntiAliasInterpolation2d(3, s).weight
        assert torch.allclose(k.sum(dim=(1, 2, 3)), torch.ones(3))
        assert torch.equal(k, k.flip(-1)) and torch.equal(k, k.transpose(-1, -2))


def test_pyramid_levels_shapes_and_values():
    x = torch.rand(2, 3, 128, 128, dtype=torch.float64)
    levels = losses.ImagePyramid().to(torch.float64)(x)
    assert [tuple(t.shape[-2:]) for t in levels] == [(128, 128), (64, 64), (32, 32), (16, 16)]
    assert torch.equal(levels[0], x)
    # Hand-computed level 1/2: a 5-tap Gaussian (σ = 0.5), zero padding 2, every 2nd pixel.
    g = torch.exp(-((torch.arange(5, dtype=torch.float64) - 2) ** 2) / (2 * 0.5**2))
    k = torch.outer(g, g) / torch.outer(g, g).sum()
    ref = F.conv2d(F.pad(x, (2, 2, 2, 2)), k.expand(3, 1, 5, 5), groups=3)[:, :, ::2, ::2]
    assert torch.allclose(levels[1], ref, atol=1e-12)
    # A constant image keeps its value away from the zero-padded border.
    c = torch.full((1, 3, 128, 128), 0.3, dtype=torch.float64)
    assert torch.allclose(losses.ImagePyramid().to(torch.float64)(c)[3][..., 4:-4, 4:-4], torch.full((1, 3, 8, 8), 0.3, dtype=torch.float64))


@pytest.fixture(scope="module")
def random_features():
    torch.manual_seed(1)
    return losses.vgg19_features().double()


def official_vgg_loss(fake, real, features):
    """Straight re-statement of the official VGGLoss (torchvision slices, pyramid, weight 10)."""
    mean = torch.tensor(losses.IMAGENET_MEAN, dtype=fake.dtype).view(1, 3, 1, 1)
    std = torch.tensor(losses.IMAGENET_STD, dtype=fake.dtype).view(1, 3, 1, 1)

    def vgg(x):
        x = ((x.clamp(-1, 1) + 1) / 2 - mean) / std
        outs, h = [], x
        for a, b in losses.VGG_SLICES:
            h = features[a:b](h)
            outs.append(h)
        return outs

    pyramid = losses.ImagePyramid().to(fake.dtype)
    total = 0
    for pf, pr in zip(pyramid(fake), pyramid(real)):
        for xf, yr in zip(vgg(pf), vgg(pr)):
            total = total + 10 * (xf - yr.detach()).abs().mean()
    return total


def test_vgg_loss_matches_restatement_and_is_zero_on_identical_inputs(random_features):
    loss_fn = losses.VGGPerceptualLoss(random_features).double()
    torch.manual_seed(0)
    real = torch.rand(1, 3, 128, 128, dtype=torch.float64) * 2 - 1
    fake = (real + 0.3 * torch.randn_like(real)).requires_grad_(True)
    ours = loss_fn(fake, real)
    ref = official_vgg_loss(fake, real, random_features)
    assert ours.item() > 0
    assert torch.allclose(ours, ref, rtol=1e-10)
    (g_ours,) = torch.autograd.grad(ours, fake)
    (g_ref,) = torch.autograd.grad(ref, fake)
    assert torch.allclose(g_ours, g_ref, rtol=1e-8, atol=1e-14)
    assert loss_fn(real, real).item() == 0.0
    # Full-resolution pixels beyond [-1, 1] get no gradient through the clamp, as in the recipe.
    full_res_only = losses.VGGPerceptualLoss(random_features, scales=(1.0,)).double()
    out = torch.full_like(real, 1.5).requires_grad_(True)
    (g,) = torch.autograd.grad(full_res_only(out, real), out)
    assert torch.count_nonzero(g) == 0
    assert not any(p.requires_grad for p in loss_fn.parameters())
    with pytest.raises(ValueError, match="at least 128"):
        loss_fn(real[..., :64, :64], real[..., :64, :64])


def test_vgg_features_match_torchvision_layout(tmp_path):
    import torchvision

    path = write_random_vgg19(tmp_path / "vgg19-dcbb9e9d.pth")
    features = losses.load_vgg19_features(path)
    reference = torchvision.models.vgg19(weights=None)
    reference.load_state_dict(torch.load(path, weights_only=True))
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(features(x), reference.features[:30](x))
    # A file without the classifier is not torchvision's format.
    sd = torch.load(path, weights_only=True)
    torch.save({k: v for k, v in sd.items() if k.startswith("features.")}, tmp_path / "features-only.pth")
    with pytest.raises(BadInput, match="missing"):
        losses.load_vgg19_features(tmp_path / "features-only.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInput, match="junk.pth"):
        losses.load_vgg19_features(tmp_path / "junk.pth")


def test_vgg_from_registry_missing_names_the_command():
    with pytest.raises(MissingWeights) as e:
        losses.vgg19_from_registry()
    assert "vgg19" in e.value.message and "vhq weights" in e.value.hint


def test_gan_losses_hand_computed():
    zero = torch.zeros(4, 1)
    assert math.isclose(losses.g_nonsaturating(zero).item(), math.log(2), rel_tol=1e-7)
    real, fake = losses.d_logistic(torch.tensor([[2.0]]), torch.tensor([[-3.0]]))
    assert math.isclose(real.item(), math.log1p(math.exp(-2.0)), rel_tol=1e-6)
    assert math.isclose(fake.item(), math.log1p(math.exp(-3.0)), rel_tol=1e-6)


def test_r1_of_a_linear_discriminator_is_its_weight_norm():
    w = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    logits = (x * w).sum(dim=(1, 2, 3))
    assert torch.allclose(losses.r1_penalty(logits, x), w.square().sum())
