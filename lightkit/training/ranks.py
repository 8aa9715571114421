"""What lightkit checks about the processes of a distributed run: before they start, and when one dies.

* :func:`check_cpu_processes`, before the trainer starts any process: ``--trainer.devices 7`` on
  CPU starts 7 processes, which on a 2-core machine share 2 cores and run slower than 2 would.
  It warns, or refuses (a :class:`~lightkit.errors.UsageError`) when asked to.
* :func:`shared_run_name`, before the run directory is chosen: ranks started separately
  (torchrun, SLURM's ``srun``, ``MASTER_ADDR``/``WORLD_SIZE`` by hand) cannot agree on a
  time-stamped name, so without ``--run.name`` the name comes from the job's identity, which every
  rank sees alike: ``SLURM_JOB_ID`` (and ``SLURM_STEP_ID``), or torchrun's ``TORCHELASTIC_RUN_ID``
  (``--rdzv_id``, or the id ``--standalone`` draws). Where there is none, it refuses rather than
  let each rank pick its own directory. Nothing is put into the environment.
* :class:`RankWatch`, a callback: every rank learns where the others run (host and process id)
  once the process group is up. When a collective fails because a peer went away (gloo's
  "Connection closed by peer", NCCL's "remote process exited"), the surviving ranks' error names
  the rank that died (``rank 1 (pid 4242 on node-a) died; rank 0 stops too``), instead of the
  backend's message about a socket.

Lightning's own launcher (``--trainer.strategy ddp`` started from one command) already kills the
other ranks when one exits; torchrun's agent does the same on its node. Without :class:`RankWatch`
the survivors' last words are still only the socket error.
"""

from __future__ import annotations

import os
import re
import socket
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from lightkit.errors import LightkitError, UsageError
from lightkit.runs.record import pid_alive

__all__ = [
    "RankWatch",
    "check_cpu_processes",
    "check_num_nodes",
    "cpu_cores",
    "cpu_processes",
    "global_rank",
    "separate_ranks",
    "shared_run_name",
    "single_process",
]

#: seconds a failed rank waits for a peer on its host to be gone before it names the ranks elsewhere
_EXIT_WAIT_S = 3.0
#: how a collective says that a peer went away (gloo, NCCL, the TCP store)
_PEER_GONE = re.compile(
    r"connection (closed|reset) by peer|broken pipe|remote process exited|socket timeout|"
    r"connection refused|NCCL communicator was aborted|recvValue failed|got 0 bytes|"
    r"connection was likely closed",
    re.IGNORECASE,
)


def cpu_cores() -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max" and int(period) > 0:
            cores = min(cores, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _runs_on_cpu(accelerator: Any) -> bool:
    name = accelerator if isinstance(accelerator, str) else type(accelerator).__name__
    name = str(name or "auto").lower()
    if name.startswith("cpu"):
        return True
    if name != "auto":
        return False
    import torch

    return not torch.cuda.is_available() and not torch.backends.mps.is_available()


def cpu_processes(trainer_config: dict[str, Any]) -> int | None:
    """How many CPU processes ``trainer_config`` starts on this machine, or ``None`` if it is not a CPU run.

    Args:
        trainer_config: The ``trainer`` section as keyword arguments of ``Trainer`` (``devices``,
            ``accelerator``).
    """
    if not _runs_on_cpu(trainer_config.get("accelerator", "auto")):
        return None
    devices = trainer_config.get("devices", "auto")
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str):
        devices = devices.strip()
        if devices == "auto":
            return 1
        try:
            return len([d for d in devices.split(",") if d]) if "," in devices else int(devices)
        except ValueError:
            return None  # Lightning will say what is wrong with it
    return devices if isinstance(devices, int) and devices > 0 else None


def single_process(trainer_config: dict[str, Any]) -> bool:
    """Whether ``trainer_config`` runs in one process: one device, one node, no launcher's ranks.

    ``devices="auto"`` on a machine with GPUs counts as several (it may be).
    """
    if separate_ranks() or trainer_config.get("num_nodes", 1) not in (1, None):
        return False
    devices = trainer_config.get("devices", "auto")
    return (
        devices in (1, "1")
        or (isinstance(devices, (list, tuple)) and len(devices) == 1)
        or (cpu_processes(trainer_config) == 1)
    )


def check_cpu_processes(trainer_config: dict[str, Any], refuse: bool = False) -> str | None:
    """Warn (or refuse) when a CPU run would start more processes than this machine has cores.

    Call it before the ``Trainer`` is built: by then Lightning has not started any process.

    Args:
        trainer_config: The ``trainer`` section as keyword arguments of ``Trainer``.
        refuse: Raise instead of warning.

    Returns:
        The warning given, or ``None`` when the processes fit.

    Raises:
        UsageError: ``refuse`` is set and the processes exceed the cores.
    """
    processes, cores = cpu_processes(trainer_config), cpu_cores()
    if processes is None or processes <= cores:
        return None
    message = (
        f"--trainer.devices {processes} starts {processes} CPU processes on a machine with {cores} "
        f"core{'s' if cores > 1 else ''}: they take turns on the cores, and the run is slower than "
        f"with --trainer.devices {cores}"
    )
    if refuse:
        raise UsageError(
            message, f"use --trainer.devices {cores} or fewer; each process then gets a share of the cores."
        )
    warnings.warn(message, UserWarning, stacklevel=2)
    return message


def check_num_nodes(trainer_config: dict[str, Any], environ: Mapping[str, str] | None = None) -> None:
    """Refuse ``num_nodes > 1`` in a process that nothing tells where the other nodes are.

    Such a process would wait in ``init_process_group`` for nodes that never come, for as long as
    the backend's timeout (30 minutes for gloo). It happens when a run trained on several nodes is
    resumed or evaluated on one machine: ``num_nodes`` comes back with the run's config. The other
    nodes are found through ``MASTER_PORT`` (with ``MASTER_ADDR`` and ``NODE_RANK``, by hand or by
    a launcher), or a cluster Lightning detects (torchrun, SLURM, LSF, MPI), or a cluster
    environment in ``plugins``.

    Raises:
        UsageError: ``num_nodes`` is above 1 and none of these is there.
    """
    from lightning.fabric.plugins.environments import (
        ClusterEnvironment,
        LSFEnvironment,
        MPIEnvironment,
        SLURMEnvironment,
        TorchElasticEnvironment,
    )

    nodes = trainer_config.get("num_nodes", 1)
    if not isinstance(nodes, int) or nodes <= 1:
        return
    env = os.environ if environ is None else environ
    plugins = trainer_config.get("plugins") or []
    plugins = plugins if isinstance(plugins, (list, tuple)) else [plugins]
    if "MASTER_PORT" in env or any(isinstance(p, ClusterEnvironment) for p in plugins):
        return
    clusters = (TorchElasticEnvironment, SLURMEnvironment, LSFEnvironment, MPIEnvironment)
    if environ is None and any(cluster.detect() for cluster in clusters):  # they read os.environ
        return
    raise UsageError(
        f"--trainer.num_nodes is {nodes} (from the config or the checkpoint's run), but this process was "
        "started alone: nothing says where the other nodes are (no MASTER_PORT, torchrun, SLURM or LSF), "
        "and it would wait for them until the backend's timeout",
        "start every node as docs/distributed.md shows, or pass --trainer.num_nodes 1 to run on this "
        "machine only.",
    )


def _count(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def separate_ranks(environ: Mapping[str, str] | None = None) -> int:
    """How many processes were started separately for this run (torchrun, srun, by hand); 0 if none.

    Lightning's own launcher (``--trainer.strategy ddp`` from one command) does not count: it
    starts its ranks from rank 0, and rank 0 passes its run directory on.
    """
    env = os.environ if environ is None else environ
    if _count(env.get("SLURM_NTASKS")) > 1 and env.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        return _count(env.get("SLURM_NTASKS"))
    if "MASTER_ADDR" in env and _count(env.get("WORLD_SIZE")) > 1:
        return _count(env.get("WORLD_SIZE"))
    return 0


def global_rank(devices: int = 1, environ: Mapping[str, str] | None = None) -> int:
    """This process's global rank as the environment gives it, before any process group exists.

    ``RANK`` (torchrun), else ``SLURM_PROCID`` (``srun``), else ``NODE_RANK * devices + LOCAL_RANK``
    (Lightning's own variables); 0 for a single process. Only global rank 0 should create, lock
    and write the run directory.
    """
    env = os.environ if environ is None else environ
    if "RANK" in env:
        return _count(env["RANK"])
    if separate_ranks(env) and "SLURM_PROCID" in env:
        return _count(env["SLURM_PROCID"])
    return _count(env.get("NODE_RANK")) * max(1, devices) + _count(env.get("LOCAL_RANK"))


def shared_run_name(model: str, data: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The run name every separately started rank derives alike, or ``None`` for a single process.

    ``<model>-<data>-slurm<job>[.<step>]`` under SLURM, ``<model>-<data>-<torchelastic run id>``
    under torchrun.

    Raises:
        UsageError: The ranks were started separately and share no job identity to name the run by.
    """
    env = os.environ if environ is None else environ
    processes = separate_ranks(env)
    if not processes:
        return None
    job = env.get("SLURM_JOB_ID")
    if job and _count(env.get("SLURM_NTASKS")) > 1:
        step = env.get("SLURM_STEP_ID")
        tag = f"slurm{job}" + (f".{step}" if step and step != "0" else "")
    elif env.get("TORCHELASTIC_RUN_ID", "none") != "none":
        tag = env["TORCHELASTIC_RUN_ID"]
    else:
        raise UsageError(
            f"the {processes} processes of this run were started separately "
            f"(WORLD_SIZE={env.get('WORLD_SIZE')}, MASTER_ADDR={env.get('MASTER_ADDR')}) and cannot agree on "
            "a time-stamped run name",
            "pass the same --run.name to every process (with torchrun, --rdzv_id <id> names the run too).",
        )
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", tag).strip("-.") or "run"
    return f"{model}-{data}-{safe}"


class RankWatch(pl.Callback):
    """Names the rank that died when a collective fails because a peer went away.

    At setup, every rank gathers ``(global rank, host, process id)`` of all ranks. When the run
    then fails with a peer-gone error, the ranks on this host whose process no longer exists are
    named; a rank on another host is named by its host (its process cannot be checked from here).
    """

    def __init__(self) -> None:
        self.peers: list[tuple[int, str, int]] = []

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Learn where every rank runs (one small all-gather, once per run)."""
        import torch.distributed as dist

        if trainer.world_size < 2 or not (dist.is_available() and dist.is_initialized()):
            return
        gathered: list[Any] = [None] * trainer.world_size
        dist.all_gather_object(gathered, (trainer.global_rank, socket.gethostname(), os.getpid()))
        self.peers = sorted(gathered)

    def dead_ranks(self, me: int, remote: bool = True) -> list[str]:
        """The ranks known to be dead, each as ``rank N (pid P on HOST)``.

        With ``remote``, when no rank on this host is dead, the ranks on other hosts (whose
        processes cannot be checked from here) as ``rank N on HOST``.
        """
        host = socket.gethostname()
        local = [(r, h, p) for r, h, p in self.peers if r != me and h == host]
        dead = [f"rank {r} (pid {p} on {h})" for r, h, p in local if not pid_alive(p)]
        if dead or not remote:
            return dead
        return [f"rank {r} on {h}" for r, h, p in self.peers if r != me and h != host]

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """Rewrite a peer-gone error to name the rank that died (as Lightning augments its own messages).

        A distributed error (``torch.distributed.DistError``: gloo, NCCL, the TCP store) while a
        rank on this host is gone names that rank; a peer-gone message with no local rank gone
        names the ranks on other hosts. The exception is changed, not replaced, so that
        Lightning's teardown (and its launcher's killing of the other processes) still runs.
        """
        import torch.distributed as dist

        if not self.peers or isinstance(exception, LightkitError):
            return
        gone = _PEER_GONE.search(str(exception))
        distributed = isinstance(exception, getattr(dist, "DistError", ()))
        if gone is None and not distributed:
            return
        me = trainer.global_rank
        deadline = time.monotonic() + _EXIT_WAIT_S  # a peer's sockets close a moment before it is gone
        dead = self.dead_ranks(me, remote=False)
        while not dead and time.monotonic() < deadline:
            time.sleep(0.1)
            dead = self.dead_ranks(me, remote=False)
        if not dead and gone is not None:
            dead = self.dead_ranks(me, remote=True)
        if not dead:
            return
        which = ", ".join(dead)
        verb = "died" if "pid" in which else "stopped answering"
        why = gone.group(0).lower() if gone is not None else type(exception).__name__
        exception.args = (f"{which} {verb}; rank {me} stops too ({why})",)
