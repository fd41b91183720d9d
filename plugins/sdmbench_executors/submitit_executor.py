"""Executors through submitit: the sweep as one job array.

``cluster="slurm"`` submits to Slurm; ``cluster="local"`` is submitit's local
executor (subprocesses of this machine, the same code path otherwise).
Options (from ``[executor]`` in the sweep file or ``--partition`` etc.):

- ``partition``, ``timeout_min``, ``gpus_per_node``, ``cpus_per_task``,
  ``mem_gb``, ``nodes``, ``tasks_per_node``, ``array_parallelism``: the job
  array's resources. With ``tasks_per_node > 1`` (or ``nodes > 1``) each run
  is distributed: every task becomes a rank (submitit's
  ``TorchDistributedEnvironment`` sets torchrun's variables), as under
  ``torchrun``.
- ``folder``: where submitit keeps logs and pickles (default
  ``<results>/.submitit``).
- ``wait``: wait for the array and report each run (default true); false
  prints the job ids and returns.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Dict, List

from sdmbench.errors import UsageError
from sdmbench.running.sweep import Job, Outcome, run_job

#: sdmbench option -> submitit AutoExecutor parameter
PARAMETERS = {"partition": "slurm_partition", "timeout_min": "timeout_min", "gpus_per_node": "gpus_per_node",
              "cpus_per_task": "cpus_per_task", "mem_gb": "mem_gb", "nodes": "nodes",
              "tasks_per_node": "tasks_per_node", "array_parallelism": "slurm_array_parallelism"}


class SubmititExecutor:
    def __init__(self, cluster: str, folder: str | None = None, wait: bool = True, **options: Any):
        unknown = set(options) - set(PARAMETERS)
        if unknown:
            raise ValueError(f"unknown executor option '{sorted(unknown)[0]}'; known: folder, wait, "
                             + ", ".join(sorted(PARAMETERS)))
        self.cluster, self.folder, self.wait = cluster, folder, bool(wait)
        self.parameters: Dict[str, Any] = {PARAMETERS[k]: v for k, v in options.items()}
        self.parameters.setdefault("timeout_min", 60)
        self.job_ids: List[str] = []

    def run(self, jobs: List[Job], progress=None) -> List[Outcome]:
        import submitit

        folder = Path(self.folder or Path(jobs[0].config["results_dir"]) / ".submitit") / "%j"
        params = dict(self.parameters)
        if self.cluster != "slurm":
            params = {k: v for k, v in params.items() if not k.startswith("slurm_")}
        try:
            executor = submitit.AutoExecutor(folder=folder, cluster=self.cluster)
            executor.update_parameters(name="sdmbench-sweep", **params)
            array = executor.map_array(run_job, jobs)
        except (RuntimeError, ValueError, OSError, subprocess.CalledProcessError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"submitit ({self.cluster}) could not submit the sweep: {message}; on a machine "
                             "without Slurm use --executor local or submitit-local") from None
        self.job_ids = [j.job_id for j in array]
        if not self.wait:
            return [Outcome(job.label, True, error=f"submitted as job {j.job_id}") for job, j in zip(jobs, array)]
        task = progress.add_task(f"sweep ({self.cluster})", total=len(jobs)) if progress else None
        outcomes = []
        for job, handle in zip(jobs, array):
            try:
                outcomes.append(handle.result())
            except Exception as exc:  # a job that crashed on its node: report it, keep the others
                outcomes.append(Outcome(job.label, False, error=f"job {handle.job_id}: "
                                        f"{str(exc).strip().splitlines()[-1][:300]}"))
            if task is not None:
                progress.update(task, advance=1)
        return outcomes
