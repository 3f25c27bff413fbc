"""Training and inference speed of every estimator's default configuration at real sizes.

For each estimator, side by side in one run: samples per second of one
training epoch (``fit`` with ``max_epochs=1``, skorch's loop and data
handling included) and of one inference pass (``predict_proba``), with the
LIF ``backend='cpu'`` (fused numba kernels) and ``'torch'`` (the per-step
reference), the nearest non-spiking twin, and the arithmetic lower bound
(dense MACs per sample from :mod:`snnsk.analysis.opcount` at a ``torch.mm`` FLOP rate
measured in the same run; see ``bench/speed_common.py``).

* ``SpikingViTClassifier`` (each attention) and ``SpikingMLPClassifier`` on
  MNIST 28×28 (``mnist.npz``; a subset of ``--n-train`` images is timed and
  the epoch time scaled to 10,000 and 60,000 images);
* ``SpikingSSMClassifier`` on FSDD log-mel and sequential MNIST
  (``bench/speed_ssm.py``) and ``SpikeDecoderLM`` on a 1 MB text
  (``bench/speed_lm.py``), run from here when those scripts are present.

The non-spiking twin of the ViT and the MLP is the same module with every
spiking layer replaced by a ReLU and one time step (``timesteps=1``): the
network an ANN user would train. Its training step is what the spiking one
is held to (within ``1.2 · T`` times: the twin runs one step, the spiking
model ``T``). Memory is the activation memory autograd keeps for one training
step at batch 64 (distinct saved storages).

``--quality`` adds the quality goal: a 5-epoch fit of the default ViT on the
first 10,000 MNIST training images, scored on the 10,000 official test images,
beside scikit-learn's ``MLPClassifier((256,))`` on the same split.

Usage::

    python bench/train_speed.py                  # the speed tables and goals (~15 min)
    python bench/train_speed.py --quality        # plus the 10,000-image MNIST fit (~10 min more)
    python bench/train_speed.py --only vit --profile   # top operators of one ViT training step
    python bench/train_speed.py --quick          # synthetic data, a smoke run (no files needed)
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed_common as sc  # noqa: E402

from snnsk import SpikingMLPClassifier, SpikingViTClassifier  # noqa: E402
from snnsk.core.losses import TETLoss  # noqa: E402
from snnsk.core.fused_norm import drive  # noqa: E402
from snnsk.core.memory import compact_saved_spikes, saved_activation_bytes  # noqa: E402
from snnsk.core.neurons import SpikingLayer  # noqa: E402

ATTENTIONS = ("ssa", "sdsa", "qk")
ESTIMATORS = ("vit", "mlp", "ssm", "lm")
#: The issue's goals for the vision transformer on 28×28 MNIST.
VIT_TRAIN_GOAL, VIT_INFER_GOAL, VIT_FIT_SECONDS, VIT_ACCURACY = 150.0, 500.0, 360.0, 0.98
TWIN_FACTOR = 1.2  # the spiking step within 1.2 · T × the twin's
MEMORY_FACTOR = 2.0


# --------------------------------------------------------------- the twin
class Rectifier(nn.Module):
    """The non-spiking stand-in for a spiking layer: ``ReLU(x)`` (of ``norm(layer(x))`` when given, as a LIF takes them), the padding mask applied."""

    def forward(self, x, mask=None, norm=None, layer=None):
        y = torch.relu(drive(x, norm, layer))
        if mask is not None:
            y = y * mask.reshape(*mask.shape, *([1] * (y.dim() - 2))).to(y.dtype)
        return y


def replace_spiking_layers(module: nn.Module) -> nn.Module:
    """Swap every :class:`SpikingLayer` inside ``module`` for a :class:`Rectifier`, in place."""
    for name, child in list(module.named_children()):
        if isinstance(child, SpikingLayer):
            setattr(module, name, Rectifier())
        else:
            replace_spiking_layers(child)
    return module


def twin_module_class(cls):
    """A subclass of the module class ``cls`` whose instances have no spiking layers."""
    def __init__(self, *args, **kwargs):
        cls.__init__(self, *args, **kwargs)
        replace_spiking_layers(self)
    return type(f"NonSpiking{cls.__name__}", (cls,), {"__init__": __init__})


def twin_of(estimator):
    """The estimator's non-spiking twin: same module, ReLUs instead of spiking layers, T = 1."""
    return estimator.set_params(module=twin_module_class(estimator.module), timesteps=1)


# -------------------------------------------------------------------- data
def mnist(args):
    """``(X_train, y_train, X_test, y_test)`` as float32 in [0, 1], shape (n, 28, 28)."""
    if args.quick:
        rng = np.random.default_rng(0)
        X = rng.random((args.n_train + args.n_infer, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, len(X))
        return X[:args.n_train], y[:args.n_train], X[args.n_train:], y[args.n_train:]
    path = sc.data_file(args.data, "mnist.npz")
    if path is None:
        return None
    with np.load(path) as d:
        return (d["X_train"].astype(np.float32) / 255, d["y_train"],
                d["X_test"].astype(np.float32) / 255, d["y_test"])


# ---------------------------------------------------------------- measure
def module_batch(estimator, X, n: int = 64) -> torch.Tensor:
    """The first ``n`` samples of ``X`` as the module takes them (images get their channel axis)."""
    x = torch.as_tensor(X[:n])
    shape = getattr(estimator, "image_shape_", None)
    return x.reshape(len(x), *shape) if shape is not None else x


def training_step_seconds(estimator, X, y, runs: int) -> float:
    """Median seconds of one training step (forward, TET loss, backward, AdamW) at batch 64."""
    step = _training_step(estimator, X, y)
    step()
    return sc.interleaved_medians({"step": step}, runs)["step"]


def _training_step(estimator, X, y):
    module = estimator.module_
    module.train()
    xb, yb = module_batch(estimator, X), torch.as_tensor(y[:64]).long()
    criterion = TETLoss(lamb=1e-3)
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-4)

    def step():
        with compact_saved_spikes():  # as the estimators' training step
            loss = criterion(module(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def activation_bytes(estimator, X, y, compact: bool = False) -> int:
    """Activation memory of one training step at batch 64 (``compact``: spikes kept as int8, as in fit)."""
    module = estimator.module_
    module.train()
    xb, yb = module_batch(estimator, X), torch.as_tensor(y[:64]).long()
    return saved_activation_bytes(lambda: TETLoss(lamb=1e-3)(module(xb), yb), compact=compact)


def first_conv_calls(estimator, X) -> int:
    """How many times the tokenizer's first convolution runs in one forward of a static batch."""
    conv = estimator.module_.patch_split.convs[0]
    calls = []
    handle = conv.register_forward_hook(lambda *_: calls.append(1))
    try:
        with torch.no_grad():
            estimator.module_(module_batch(estimator, X, 8))
    finally:
        handle.remove()
    return len(calls)


def profile_step(estimator, X, y, top: int = 25):
    """Print the top operators (self CPU time) of three training steps."""
    from torch.profiler import ProfilerActivity, profile

    step = _training_step(estimator, X, y)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))


# ----------------------------------------------------------------- sections
def vision_section(args, flops: float) -> list[dict]:
    data = mnist(args)
    if data is None:
        return []
    X_train, y_train, X_test, _ = data
    X, y = X_train[:args.n_train], y_train[:args.n_train]
    X_infer = X_test[:args.n_infer]
    goals, table = [], []
    for attention in args.attention:
        base = dict(attention=attention, random_state=0)
        rows = {"cpu": SpikingViTClassifier(backend="cpu", **base),
                "torch": SpikingViTClassifier(backend="torch", **base),
                "twin": twin_of(SpikingViTClassifier(**base))}
        if args.quick:
            rows = {k: v.set_params(embed_dim=16, depth=1) for k, v in rows.items()}
        result = sc.measure_estimators(rows, X, y, X_infer, args.runs)
        cpu, twin = result["cpu"]["estimator"], result["twin"]["estimator"]
        timesteps = cpu.timesteps
        macs = sc.dense_macs_per_sample(cpu, X_infer[:64])
        bound_train, bound_infer = sc.bound_rates(macs, flops)
        step_cpu = training_step_seconds(cpu, X, y, args.runs)
        step_twin = training_step_seconds(twin, X, y, args.runs)
        # as the estimators train: spikes kept as int8 (the twin has none to keep so)
        memory = {k: activation_bytes(result[k]["estimator"], X, y, compact=True)
                  for k in ("cpu", "twin")}
        memory["float spikes"] = activation_bytes(cpu, X, y, compact=False)
        for name in ("cpu", "torch", "twin"):
            r = result[name]
            table.append({"attention": attention, "row": name, "train img/s": r["train/s"],
                          "infer img/s": r["infer/s"],
                          "10k-image epoch s": 10_000 / r["train/s"],
                          "60k-image epoch s": 60_000 / r["train/s"]})
        table.append({"attention": attention, "row": "arithmetic bound",
                      "train img/s": bound_train, "infer img/s": bound_infer,
                      "10k-image epoch s": 10_000 / bound_train,
                      "60k-image epoch s": 60_000 / bound_train})
        print(f"# {attention}: {macs / 1e6:.1f} M dense MACs per image (T = {timesteps}); "
              f"training step at batch 64: cpu {1e3 * step_cpu:.1f} ms, twin "
              f"{1e3 * step_twin:.1f} ms ({step_cpu / step_twin:.2f}x); activation memory "
              f"cpu {memory['cpu'] / 2**20:.1f} MiB (spikes kept as float: "
              f"{memory['float spikes'] / 2**20:.1f} MiB), twin {memory['twin'] / 2**20:.1f} MiB; "
              f"other processes {result['_load']}")
        goals += [
            sc.goal(f"ViT {attention}: training images/s (cpu)", result["cpu"]["train/s"],
                    VIT_TRAIN_GOAL),
            sc.goal(f"ViT {attention}: inference images/s (cpu)", result["cpu"]["infer/s"],
                    VIT_INFER_GOAL),
            sc.goal(f"ViT {attention}: 10,000 images x 5 epochs (s, from the epoch rate)",
                    5 * 10_000 / result["cpu"]["train/s"], VIT_FIT_SECONDS, at_least=False),
            sc.goal(f"ViT {attention}: training step / twin's", step_cpu / step_twin,
                    TWIN_FACTOR * timesteps, at_least=False, unit="x", fmt="{:.2f}"),
            sc.goal(f"ViT {attention}: activation memory / twin's", memory["cpu"] / memory["twin"],
                    MEMORY_FACTOR, at_least=False, unit="x", fmt="{:.2f}"),
        ]
        if attention == args.attention[0]:
            goals.append(sc.goal("ViT: first convolution runs per static batch",
                                 first_conv_calls(cpu, X_infer), 1, at_least=False, fmt="{:.0f}"))
        if args.profile:
            print(f"\n#### top operators of a ViT {attention} training step (cpu backend)")
            profile_step(cpu, X, y)
    sc.print_table(table, "SpikingViTClassifier on MNIST 28x28 (samples/s, median of "
                          f"{args.runs} interleaved runs, {len(X)} training / {len(X_infer)} "
                          "inference images)")
    return goals


def mlp_section(args, flops: float) -> list[dict]:
    data = mnist(args)
    if data is None:
        return []
    X_train, y_train, X_test, _ = data
    X = X_train[:args.n_train].reshape(args.n_train, -1)
    y = y_train[:args.n_train]
    X_infer = X_test[:args.n_infer].reshape(-1, 28 * 28)
    rows = {"cpu": SpikingMLPClassifier(backend="cpu", random_state=0),
            "torch": SpikingMLPClassifier(backend="torch", random_state=0),
            "twin": twin_of(SpikingMLPClassifier(random_state=0))}
    result = sc.measure_estimators(rows, X, y, X_infer, args.runs)
    cpu, twin = result["cpu"]["estimator"], result["twin"]["estimator"]
    macs = sc.dense_macs_per_sample(cpu, X_infer[:64])
    bound_train, bound_infer = sc.bound_rates(macs, flops)
    step_cpu = training_step_seconds(cpu, X, y, args.runs)
    step_twin = training_step_seconds(twin, X, y, args.runs)
    table = [{"row": name, "train img/s": result[name]["train/s"],
              "infer img/s": result[name]["infer/s"]} for name in ("cpu", "torch", "twin")]
    table.append({"row": "arithmetic bound", "train img/s": bound_train,
                  "infer img/s": bound_infer})
    sc.print_table(table, "SpikingMLPClassifier on MNIST 784 features (samples/s)")
    print(f"# mlp: {macs / 1e6:.2f} M dense MACs per image; training step at batch 64: cpu "
          f"{1e3 * step_cpu:.2f} ms, twin {1e3 * step_twin:.2f} ms; other processes "
          f"{result['_load']}")
    return [sc.goal("MLP: training step / twin's", step_cpu / step_twin,
                    TWIN_FACTOR * cpu.timesteps, at_least=False, unit="x", fmt="{:.2f}")]


def vision_quality(args) -> list[dict]:
    """The 10,000-image, 5-epoch MNIST fit of the default ViT, scored on the test set."""
    from sklearn.neural_network import MLPClassifier

    data = mnist(args)
    if data is None:
        return []
    X_train, y_train, X_test, y_test = data
    n = 256 if args.quick else 10_000
    X, y = X_train[:n], y_train[:n]
    goals, table = [], []
    for attention in args.attention:
        clf = SpikingViTClassifier(attention, max_epochs=1 if args.quick else 5, random_state=0)
        start = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - start
        accuracy = clf.score(X_test, y_test)
        table.append({"model": f"SpikingViT {attention}", "fit s": seconds,
                      "test accuracy": f"{accuracy:.4f}"})
        goals.append(sc.goal(f"ViT {attention}: {n:,}-image 5-epoch fit, seconds", seconds,
                             VIT_FIT_SECONDS, at_least=False, fmt="{:.0f}"))
        goals.append(sc.goal(f"ViT {attention}: MNIST test accuracy", accuracy, VIT_ACCURACY,
                             fmt="{:.4f}"))
    mlp = MLPClassifier((256,), random_state=0, max_iter=20 if args.quick else 200)
    start = time.perf_counter()
    mlp.fit(X.reshape(n, -1), y)
    table.append({"model": "sklearn MLPClassifier((256,))", "fit s": time.perf_counter() - start,
                  "test accuracy": f"{mlp.score(X_test.reshape(len(X_test), -1), y_test):.4f}"})
    sc.print_table(table, f"MNIST: fit on the first {n:,} training images, score on the "
                          f"{len(X_test):,} test images")
    return goals


def external_section(name: str, args) -> list[dict]:
    """Run ``bench/speed_<name>.py``'s ``run`` with the shared options, if the script exists."""
    path = Path(__file__).resolve().parent / f"speed_{name}.py"
    if not path.exists():
        print(f"\n# {path.name} not found: no {name} rows")
        return []
    spec = importlib.util.spec_from_file_location(f"speed_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--runs", str(args.runs)]
    if name == "ssm":
        argv += ["--data", str(args.data)]
    if args.quick:
        argv.append("--quick")
    if args.profile:
        argv.append("--profile")
    return module.run(module.parse_args(argv))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(sc.DEFAULT_DATA),
                        help="folder with mnist.npz, fsdd_logmel.npz (default: %(default)s)")
    parser.add_argument("--only", nargs="+", choices=ESTIMATORS, default=list(ESTIMATORS))
    parser.add_argument("--attention", nargs="+", choices=ATTENTIONS, default=list(ATTENTIONS))
    parser.add_argument("--runs", type=int, default=3, help="interleaved repeats (median)")
    parser.add_argument("--n-train", type=int, default=2048, help="training images timed")
    parser.add_argument("--n-infer", type=int, default=2048, help="inference images timed")
    parser.add_argument("--quality", action="store_true", help="add the 10,000-image MNIST fit")
    parser.add_argument("--profile", action="store_true", help="top operators of a training step")
    parser.add_argument("--quick", action="store_true", help="synthetic data, small sizes")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.n_train, args.n_infer = 1, 192, 128
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(0)
    sc.print_header("train_speed.py", argv)
    flops = sc.matmul_flops()
    print(f"# torch.mm float32 [8192, 256] x [256, 256]: {flops / 1e9:.1f} GFLOP/s "
          "(the rate behind the arithmetic bound)")
    goals = []
    if "vit" in args.only:
        goals += vision_section(args, flops)
    if "mlp" in args.only:
        goals += mlp_section(args, flops)
    if args.quality and "vit" in args.only:
        goals += vision_quality(args)
    for name in ("ssm", "lm"):
        if name in args.only:
            goals += external_section(name, args)
    sc.print_goals(goals)
    return goals


if __name__ == "__main__":
    main()
