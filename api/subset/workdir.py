"""Work folders of subsets and jobs, and the sweep that removes what dead processes left.

Subsets and jobs write their output in a folder of their own under the work root
(``DATACENTER_WORK_DIR``, or the system temp folder) before serving or storing it, and
remove it when done. A process killed with ``kill -9`` (or the OOM killer) removes nothing,
so the folders are named for their owner and `sweep_work_folders` removes those whose owner
can no longer finish:

    job-<job id>-<random>     the job is finished, or its runner is gone
                              (`catalog.jobs.runner_is_gone`); a job this job store does
                              not know (another deployment on the same host, perhaps) only
                              once the folder is a day old
    subset-<pid>-<random>     a synchronous subset of process <pid>, once <pid> is dead

The API runs the sweep at start-up (after failing the jobs a dead process left running)
and with the expiry sweep.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Collection
from pathlib import Path

from catalog.jobs import JobNotFound, JobStore, now_utc, runner_is_gone
from datacenter.settings import Settings

logger = logging.getLogger(__name__)

_JOB = re.compile(r"^job-([0-9a-f]{32})-")
_SUBSET = re.compile(r"^subset-(\d+)-")
UNKNOWN_JOB_AGE = 24 * 3600.0  # seconds: a folder of a job this store does not know


def work_root(settings: Settings) -> Path:
    """Where subsets and jobs write before serving or storing: DATACENTER_WORK_DIR, or the
    system temp folder."""
    root = Path(settings.work_dir) if settings.work_dir else Path(tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    return root


def subset_work_prefix() -> str:
    """``subset-<pid>-``: a folder whose process is dead is the sweep's to remove."""
    return f"subset-{os.getpid()}-"


def job_work_prefix(job_id: str) -> str:
    return f"job-{job_id}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _orphaned_job(jobs: JobStore, job_id: str, folder: Path, active: Collection[str]) -> bool:
    if job_id in active:
        return False
    try:
        job = jobs.get(job_id)
    except JobNotFound:
        return time.time() - folder.stat().st_mtime > UNKNOWN_JOB_AGE
    return job.status.finished or runner_is_gone(job.runner, job.heartbeat, now=now_utc())


def sweep_work_folders(root: Path, jobs: JobStore, active: Collection[str] = ()) -> list[Path]:
    """Remove the work folders under `root` that no live process will finish (see the
    module docstring); `active` are the jobs this process runs. Returns what was removed."""
    removed = []
    for folder in root.iterdir() if root.is_dir() else ():
        if not folder.is_dir() or folder.is_symlink():
            continue
        try:
            if (m := _JOB.match(folder.name)) is not None:
                orphan = _orphaned_job(jobs, m[1], folder, active)
            elif (m := _SUBSET.match(folder.name)) is not None:
                orphan = int(m[1]) != os.getpid() and not _pid_alive(int(m[1]))
            else:
                continue
        except FileNotFoundError:  # removed meanwhile by its owner
            continue
        if orphan:
            shutil.rmtree(folder, ignore_errors=True)
            logger.warning("removed the work folder %s that a stopped process left", folder)
            removed.append(folder)
    return removed
