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


def test_prefetched_keeps_order_and_runs_ahead():
    import threading

    from vhq.parallel import prefetched

    produced = []
    ahead = threading.Event()

    def items():
        for i in range(6):
            produced.append(i)
            if i == 2:
                ahead.set()
            yield i

    it = prefetched(items(), depth=2)
    assert next(it) == 0
    assert ahead.wait(5)  # items 1 and 2 were produced while the consumer held item 0
    assert list(it) == [1, 2, 3, 4, 5]


def test_prefetched_raises_the_producer_error_at_its_item():
    from vhq.parallel import prefetched

    def items():
        yield 1
        raise ValueError("frame 2 is corrupt")

    got = []
    with pytest.raises(ValueError, match="frame 2 is corrupt"):
        for x in prefetched(items()):
            got.append(x)
    assert got == [1]


def test_prefetched_closes_the_source_when_the_consumer_stops_early():
    from vhq.parallel import prefetched

    closed = []

    def items():
        try:
            for i in range(1000):
                yield i
        finally:
            closed.append(True)

    source = items()  # held here, so only an explicit close (not garbage collection) runs its finally
    it = prefetched(source, depth=2)
    assert next(it) == 0
    it.close()
    assert closed == [True]
