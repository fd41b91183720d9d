"""Executors of ``sdmbench sweep``: ``local`` (one run after another, in this
process), ``slurm`` (a Slurm job array through submitit) and
``submitit-local`` (submitit's local executor: the same job array as
subprocesses of this machine)."""
import sdmbench

from .local import LocalExecutor
from .submitit_executor import SubmititExecutor


def make_slurm(**options):
    return SubmititExecutor(cluster="slurm", **options)


def make_submitit_local(**options):
    return SubmititExecutor(cluster="local", **options)


@sdmbench.hookimpl
def sdmbench_register_executors(registry):
    registry.add("local", LocalExecutor, default=True, description="one run after another in this process (default)")
    registry.add("slurm", make_slurm, description="a Slurm job array through submitit (--partition, ...)")
    registry.add("submitit-local", make_submitit_local,
                 description="submitit's local executor: the job array as subprocesses of this machine")
