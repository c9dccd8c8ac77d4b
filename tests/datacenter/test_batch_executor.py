"""Where a batch's products run: worker processes forked from a process that is alone (the
`datacenter ingest` command), threads otherwise; a dead worker fails what it held, in one
line, and the batch reports the rest."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ingest import samples


def _run(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_lone_process_forks_workers_and_a_threaded_one_uses_threads() -> None:
    got = _run("""
        import json, os, threading, time
        from datacenter.compute import batch_executor
        from datacenter.settings import Settings
        out = {}
        with batch_executor(Settings(), workers=2, processes=True) as ex:
            out["alone"] = [ex.describe, sorted({f.result() for f in ex.as_completed([ex.submit(os.getpid) for _ in range(8)])} - {os.getpid()}) != []]
        threading.Thread(target=time.sleep, args=(2,), daemon=True).start()
        with batch_executor(Settings(), workers=2, processes=True) as ex:
            out["threaded"] = [ex.describe, {f.result() for f in ex.as_completed([ex.submit(os.getpid) for _ in range(4)])} == {os.getpid()}]
        print(json.dumps(out))
    """)
    assert got == {"alone": ["2 local processes", True], "threaded": ["2 local threads", True]}


def test_a_worker_that_dies_fails_its_products_in_one_line_and_the_batch_reports(tmp_path: Path) -> None:
    one = samples.make_geotiff(tmp_path / "in", name="fine")
    got = _run(f"""
        import json, os, signal
        from pathlib import Path
        from datacenter.compute import batch_executor
        from datacenter.settings import Settings
        from catalog import open_catalog
        from ingest import batch
        settings = Settings(home=Path({str(tmp_path / 'home')!r}))
        real = batch._task
        def task(entry, *args):
            if entry.path.name == "boom.tif":
                os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer or a crash in GDAL would
            return real(entry, *args)
        batch._task = task
        entries = batch.expand_inputs([{str(one)!r}], collection="moon", settings=settings)
        entries.append(batch.Entry(Path("boom.tif"), "moon", {{}}))
        with batch_executor(settings, workers=2, processes=True) as ex, open_catalog(settings.resolved_catalog_url) as cat:
            report = batch.run_batch(entries, settings=settings, catalog=cat, executor=ex)
        print(json.dumps({{r.path.rsplit("/", 1)[-1]: [r.status, r.reason] for r in report.results}}))
    """)
    status, reason = got["boom.tif"]
    assert status == "failed" and "worker process died" in reason and "\n" not in reason
    assert set(got) == {"boom.tif", one.name}  # every product has its line, none is lost
