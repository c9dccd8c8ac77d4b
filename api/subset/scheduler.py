"""Fair-share scheduling of jobs across partners: least recently served first.

Each partner (job owner) has its own FIFO queue. A free worker thread takes the next job of
the partner that was served least recently (a partner never served goes first) among those
below their limit of concurrent jobs, so one partner's flood of jobs delays another
partner's job by at most the jobs already running, whatever the queue lengths: the
round-robin over users that Harmony's work scheduler applies. Within one partner, jobs run
in submission order.

The scheduler is per process: limits of concurrent jobs hold per API replica (the queue and
daily quotas, counted from the job store, hold across replicas).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass
class _Task:
    job_id: str
    run: Callable[[], None]


class FairScheduler:
    """`workers` threads running submitted callables, fairly across owners."""

    def __init__(self, workers: int, *, name: str = "subset-job",
                 on_start: Callable[[], None] | None = None) -> None:
        if workers < 1:
            raise ValueError(f"a scheduler needs at least one worker, not {workers}")
        self._cond = threading.Condition()
        self._queues: dict[str, deque[_Task]] = {}
        self._limits: dict[str, int] = {}
        self._running: Counter[str] = Counter()
        self._served: dict[str, int] = {}  # owner -> sequence number of its last start
        self._sequence = itertools.count(1)
        self._stopped = False
        self._on_start = on_start
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, owner: str, job_id: str, run: Callable[[], None], *, concurrent: int) -> None:
        """Queue `run` for `owner`, who may have at most `concurrent` jobs running at once."""
        with self._cond:
            if self._stopped:
                raise RuntimeError("the job scheduler is shut down")
            self._queues.setdefault(owner, deque()).append(_Task(job_id, run))
            self._limits[owner] = max(1, concurrent)
            self._cond.notify()

    def queued(self, owner: str) -> int:
        with self._cond:
            return len(self._queues.get(owner, ()))

    def running(self, owner: str) -> int:
        with self._cond:
            return self._running[owner]

    def _next(self) -> tuple[str, _Task] | None:
        eligible = [o for o, q in self._queues.items()
                    if q and self._running[o] < self._limits.get(o, 1)]
        if not eligible:
            return None
        owner = min(eligible, key=lambda o: self._served.get(o, 0))
        task = self._queues[owner].popleft()
        if not self._queues[owner]:
            del self._queues[owner]
        self._served[owner] = next(self._sequence)
        self._running[owner] += 1
        return owner, task

    def _work(self) -> None:
        if self._on_start is not None:
            self._on_start()
        while True:
            with self._cond:
                picked = self._next()
                while picked is None and not self._stopped:
                    self._cond.wait()
                    picked = self._next()
                if picked is None:
                    return
            owner, task = picked
            try:
                task.run()
            except Exception:  # pragma: no cover - the runner catches its own; keep the worker
                logger.exception("job %s raised out of its runner", task.job_id)
            finally:
                with self._cond:
                    self._running[owner] -= 1
                    self._cond.notify_all()

    def shutdown(self) -> list[str]:
        """Stop taking jobs (running ones finish on their own); returns the queued job ids."""
        with self._cond:
            self._stopped = True
            dropped = [t.job_id for q in self._queues.values() for t in q]
            self._queues.clear()
            self._cond.notify_all()
        return dropped
