"""Grid searches on a Dask cluster, one thread (or one GPU) per candidate fit.

scikit-learn's searches parallelise through joblib, so a ``GridSearchCV`` runs
on a Dask cluster inside ``joblib.parallel_backend('dask')`` once a
``distributed.Client`` is connected. :func:`dask_backend` does both and pins
torch in every worker process to ``torch_threads`` threads
(:class:`TorchThreads`), so that workers started with ``--nthreads 1`` run
one single-threaded fit each instead of every fit spreading over all cores.
The results equal those of a local run: every estimator seeds itself from
its ``random_state`` inside ``fit``, wherever that runs.

Needs the ``dask`` extra: ``pip install 'snnsk[dask]'``.
"""

from __future__ import annotations

import contextlib

import joblib
import torch

from ._validation import check_int

try:
    from distributed import Client, WorkerPlugin
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("snnsk.parallel needs dask and distributed: "
                      "pip install 'snnsk[dask]'") from exc

__all__ = ["TorchThreads", "dask_backend", "torch_threads"]


def _check_threads(n) -> int:
    return check_int("torch_threads", n)


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the body with torch (and the fused CPU kernels, which follow it) on ``n`` threads.

    The caller's setting is restored afterwards. Use it to compute in one
    process what a pinned Dask worker computes.

    Parameters
    ----------
    n : int
        Intra-op threads, at least 1.

    Examples
    --------
    >>> import torch
    >>> from snnsk.parallel import torch_threads
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    """
    n = _check_threads(n)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TorchThreads(WorkerPlugin):
    """Dask worker plugin: set torch's thread count in every worker process.

    A ``distributed`` worker runs tasks in a pool of ``--nthreads`` threads,
    but torch sizes its own intra-op pool from the machine's cores or
    ``OMP_NUM_THREADS``. A nanny sets that to 1 by default; a worker started
    without a nanny, or under another configuration, does not, and each fit
    of a search would then spread over every core and fight the others for
    them. Registered on a client, the plugin runs in every current and future
    worker process. Torch's setting is process-wide, so every concurrent fit
    in that worker gets ``n`` threads.

    Parameters
    ----------
    n : int, default=1
        Threads per worker process (the fused CPU LIF kernels follow torch's
        setting).

    Examples
    --------
    >>> from distributed import Client                      # doctest: +SKIP
    >>> client = Client("tcp://scheduler:8786")             # doctest: +SKIP
    >>> client.register_plugin(TorchThreads(1))             # doctest: +SKIP
    """

    name = "snnsk-torch-threads"
    idempotent = False  # registering again with another n must replace the setting

    def __init__(self, n: int = 1):
        self.n = _check_threads(n)

    def setup(self, worker=None):
        """Set torch's thread count (distributed calls this in each worker process)."""
        torch.set_num_threads(self.n)

    def __repr__(self):
        return f"TorchThreads({self.n})"


@contextlib.contextmanager
def dask_backend(scheduler, torch_threads: int = 1, **client_kwargs):
    """Run the joblib-parallel code in the body (a search's ``fit``) on a Dask cluster.

    Parameters
    ----------
    scheduler : str or distributed.Client
        The scheduler's address (``'tcp://host:8786'``; a client is opened
        and closed again) or a connected ``Client`` (left open), which may
        also be a ``LocalCluster``'s.
    torch_threads : int, default=1
        Torch threads in every worker process (see :class:`TorchThreads`).
    **client_kwargs
        Passed to ``distributed.Client`` when ``scheduler`` is an address
        (``timeout='10s'``...).

    Yields
    ------
    distributed.Client

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV     # doctest: +SKIP
    >>> search = GridSearchCV(SpikingSSMClassifier(random_state=0),
    ...                       {"threshold": [0.5, 1.0], "d_state": [16, 64]}, n_jobs=-1)
    >>> with dask_backend("tcp://scheduler:8786"):
    ...     search.fit(X, y)                                 # one fit per worker thread
    """
    plugin = TorchThreads(torch_threads)
    with contextlib.ExitStack() as stack:
        if isinstance(scheduler, Client):
            client = scheduler
        elif isinstance(scheduler, str):
            client = stack.enter_context(Client(scheduler, **client_kwargs))
        else:
            raise TypeError(f"scheduler must be an address such as 'tcp://host:8786' or a "
                            f"distributed.Client, got {type(scheduler).__name__}")
        client.register_plugin(plugin)
        # joblib's dask backend finds the client through get_client(): make this one current
        stack.enter_context(client.as_current())
        stack.enter_context(joblib.parallel_backend("dask"))
        yield client
