"""The ``local`` executor: the sweep's runs one after another, in this process.

A run that fails with a usage error (say, a dataset missing on this machine)
is reported and the next one starts; anything else stops the sweep.
"""
from __future__ import annotations

from typing import List

from sdmbench.running.sweep import Job, Outcome, run_job


class LocalExecutor:
    def __init__(self, **options):
        if options:
            raise ValueError(f"the local executor takes no options, got {', '.join(sorted(options))}")

    def run(self, jobs: List[Job], progress=None) -> List[Outcome]:
        task = progress.add_task("sweep", total=len(jobs)) if progress else None
        outcomes = []
        for job in jobs:
            if task is not None:
                progress.update(task, description=f"sweep: {job.label}")
            outcomes.append(run_job(job))
            if task is not None:
                progress.update(task, advance=1)
        return outcomes
