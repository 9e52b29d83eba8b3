"""Discriminator: minibatch standard deviation and batch handling (parity is in test_lia_parity)."""

from __future__ import annotations

import pytest
import torch

from lia import Discriminator
from lia.discriminator import minibatch_stddev


def test_minibatch_stddev_groups_strided_samples():
    torch.manual_seed(0)
    x = torch.randn(8, 5, 4, 4, dtype=torch.float64)
    out = minibatch_stddev(x, group_size=4)
    assert out.shape == (8, 6, 4, 4)
    torch.testing.assert_close(out[:, :5], x)
    # group size 4 on a batch of 8: samples {0, 2, 4, 6} and {1, 3, 5, 7} form the two groups
    for first in (0, 1):
        members = x[first::2]
        expected = torch.sqrt(members.var(0, unbiased=False) + 1e-8).mean()
        stat = out[first::2, 5]
        torch.testing.assert_close(stat, torch.full_like(stat, expected.item()))


def test_batch_of_one_gets_sqrt_eps():
    out = minibatch_stddev(torch.randn(1, 3, 4, 4))
    torch.testing.assert_close(out[:, 3], torch.full((1, 4, 4), 1e-4))


def test_batch_not_divisible_by_the_group_is_refused():
    with pytest.raises(ValueError, match="not divisible"):
        minibatch_stddev(torch.randn(6, 3, 4, 4))


def test_discriminator_logits_shape():
    torch.manual_seed(0)
    d = Discriminator(32)
    assert d(torch.randn(4, 3, 32, 32)).shape == (4, 1)
