"""A pause shared by a pool of workers: one rate-limited request stops everyone.

Rate limits are per IP, so a worker that keeps going while another one is told to slow down only
makes the ban longer. ``trip()`` starts (or extends) a pause for the whole pool; the length doubles
with every rate limit in a row, starting from ``base`` seconds, and ``reset()`` after a success
starts over. Workers call ``wait()`` before every request. A worker whose request started before
the current pause began does not double it again: several workers usually hit the same limit at
once, and that is one rate limit, not several.
"""

from __future__ import annotations

import threading
import time


class PauseGate:
    def __init__(self, base: float, max_pause: float = 6 * 3600.0, clock=time.monotonic, sleep=None):
        self.base = max(0.0, float(base))
        self.max_pause = max_pause
        self._clock = clock
        self._cond = threading.Condition()
        self._until = 0.0
        self._pause_started = float("-inf")
        self._streak = 0
        self._aborted = False
        self.pauses: list[float] = []  # every pause length started, in order

    def now(self) -> float:
        return self._clock()

    def trip(self, request_started: float) -> float:
        """Pause the pool after a rate limit; returns the seconds left in the pause."""
        with self._cond:
            now = self._clock()
            if request_started < self._pause_started:
                return max(0.0, self._until - now)
            delay = min(self.base * (2 ** self._streak), self.max_pause)
            self._streak += 1
            self._pause_started = now
            self._until = max(self._until, now + delay)
            self.pauses.append(delay)
            self._cond.notify_all()
            return max(0.0, self._until - now)

    def reset(self) -> None:
        with self._cond:
            self._streak = 0

    def abort(self) -> None:
        """End every pause now and for good: the run is stopping."""
        with self._cond:
            self._aborted = True
            self._cond.notify_all()

    def remaining(self) -> float:
        with self._cond:
            return max(0.0, self._until - self._clock())

    def wait(self) -> float:
        """Block while the pool is paused (until ``abort``); returns the seconds waited."""
        waited = 0.0
        with self._cond:
            while True:
                left = self._until - self._clock()
                if left <= 0 or self._aborted:
                    return waited
                t0 = self._clock()
                self._cond.wait(timeout=left)
                waited += self._clock() - t0
