"""Splitting work across machines (``--shard K/N``) and across local workers."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

from vhq.errors import BadInput

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``: ``--shard 2/4`` is the second of four machines.

    Items are assigned by a hash of their key, not their position, so a shard keeps its items
    when the list grows or is re-ordered, and the N shards partition any list exactly.
    """

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> "Shard":
        if text is None or text == "":
            return cls()
        try:
            k, n = (int(p) for p in text.split("/"))
        except ValueError:
            raise BadInput(f"--shard {text!r} is not of the form K/N", "e.g. --shard 1/4 … --shard 4/4") from None
        if n < 1 or not 1 <= k <= n:
            raise BadInput(f"--shard {text!r}: K must be between 1 and N", "e.g. --shard 1/4 … --shard 4/4")
        return cls(k, n)

    def owns(self, key: str) -> bool:
        if self.count == 1:
            return True
        h = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big")
        return h % self.count == self.index - 1

    def select(self, items: Iterable[T], key: Callable[[T], str] = str) -> list[T]:
        return [it for it in items if self.owns(key(it))]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def rank_slice(items: Sequence[T], rank: int, world_size: int) -> list[T]:
    """Rank-strided slice (items rank, rank+W, …): every item on exactly one rank, no padding."""
    return list(items[rank::world_size])


def map_unordered(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int = 1,
    processes: bool = False,
) -> Iterator[tuple[T, R | BaseException]]:
    """Yield ``(item, fn(item))`` as work completes; an exception is yielded, not raised.

    ``workers <= 1`` runs in this thread (simple tracebacks, deterministic order). Threads suit
    I/O-bound work (downloads, subprocesses); ``processes=True`` suits CPU-bound Python.
    """
    items = list(items)
    if workers <= 1:
        for it in items:
            try:
                yield it, fn(it)
            except Exception as e:  # noqa: BLE001 - recorded per item by the caller
                yield it, e
        return
    pool_cls = cf.ProcessPoolExecutor if processes else cf.ThreadPoolExecutor
    with pool_cls(max_workers=workers) as pool:
        futures = {pool.submit(fn, it): it for it in items}
        try:
            for fut in cf.as_completed(futures):
                it = futures[fut]
                try:
                    yield it, fut.result()
                except Exception as e:  # noqa: BLE001
                    yield it, e
        finally:
            for fut in futures:
                fut.cancel()


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items`` in order, produced up to ``depth`` ahead by a background thread.

    Lets decoding (which releases the GIL) overlap with the network that consumes the items. An
    exception in the producer is raised here, at the item where it happened; closing the
    iterator early stops the producer.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    done = object()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    source = iter(items)

    def produce() -> None:
        try:
            for it in source:
                if not put((True, it)):
                    return
            put((True, done))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            put((False, e))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator's own clean-up (open files) runs now, not at garbage collection

    worker = threading.Thread(target=produce, name="vhq-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            ok, it = q.get()
            if not ok:
                raise it
            if it is done:
                return
            yield it
    finally:
        stop.set()
        worker.join()
