import pytest

from vhq.errors import BadInput
from vhq.parallel import Shard, map_unordered, rank_slice


def test_shards_partition_any_list():
    keys = [f"clip{i}" for i in range(500)]
    shards = [Shard.parse(f"{k}/4").select(keys) for k in range(1, 5)]
    assert sorted(sum(shards, [])) == sorted(keys)
    assert all(60 < len(s) < 190 for s in shards)
    # membership depends on the key, not the position
    assert Shard(2, 4).select(list(reversed(keys))) == list(reversed(shards[1]))


@pytest.mark.parametrize("text", ["0/4", "5/4", "a/b", "3", "1/0"])
def test_bad_shard_text(text):
    with pytest.raises(BadInput, match="--shard"):
        Shard.parse(text)


def test_map_unordered_records_exceptions():
    def f(x):
        if x == 3:
            raise ValueError("three")
        return x * 2

    for workers in (1, 3):
        out = dict(map_unordered(f, range(6), workers=workers))
        assert {k: v for k, v in out.items() if k != 3} == {0: 0, 1: 2, 2: 4, 4: 8, 5: 10}
        assert isinstance(out[3], ValueError)


def test_rank_slice_covers_without_padding():
    items = list(range(7))
    assert sorted(rank_slice(items, 0, 3) + rank_slice(items, 1, 3) + rank_slice(items, 2, 3)) == items
