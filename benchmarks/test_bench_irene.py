"""Irene (seed 001, issue 10): the DP bootstrapping step, the EASGD server, the thinned exchange.

Run:  .venv/bin/python -m pytest benchmarks/test_bench_irene.py --benchmark-only \
          --benchmark-columns=median,iqr,rounds
Quick mode (what ``make test`` runs, with ``--benchmark-disable``): PYPRIVML_BENCH_QUICK=1.
``PYPRIVML_BENCH_IRENE_DRAWS`` overrides the number of mask draws per dropout rate of the bytes
tables (default 200 on the CNN; the VGG uses a fifth of it, at least one).

torch runs with ONE intra-op thread throughout (``torch.set_num_threads(1)``, set for this module
and restored after it): the 2-core machines are shared, and EASGD's users run as threads. Every
ratio below compares medians taken in the same run; ``conftest.py`` prints them per group
(``baseline median / median``: 0.1x means ten times the baseline's time).

Groups:

* ``irene DP step B={B}``: one noisy-bootstrapping step (E-step + M-step + ``optimizer.step``,
  :func:`bootstrap_step`) on the default CNN (``make_model("cnn", n_classes=200,
  image_shape=(1, 25, 25))``), in train mode under the server's unit masks at dropout 0.5
  (``thinned``), exactly as ``TorchLearner.step`` runs it. Baseline: ``dp=None``. Contenders:
  Algorithm 2 through :class:`DPGradient` as TorchLearner builds it (SecureRandom noise, RDP
  accounting at q = B/N, deferred to the first ``epsilon`` query; the batch streamed through
  vmap in chunks of ``STREAM_CHUNK``, each chunk clipped and summed at once), seeded PCG64
  noise, and other chunk sizes (8, the seed's mini-batch of 25, the whole batch). ``part:`` rows
  time pieces of the private step on their own. Large chunks are slow mostly because the kernel
  zero-fills fresh pages: glibc hands tensors above its mmap threshold back to the OS after every
  step; run with ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=100000000000`` to see the step
  without that (docs/BENCHMARKS.md, "Irene (issue 10)").
* ``irene M-step vs Opacus B={B}``: gradient + ``optimizer.step`` only (no E-step) on the same CNN
  built with dropout 0 in train mode (Opacus records activations only in train mode, and its
  backward hooks see the output *after* ``thinned``'s forward hooks, which gives wrong per-sample
  gradients there, so no dropout and no masks in this group); Opacus's ``GradSampleModule`` +
  ``DPOptimizer`` (per-sample gradients materialised by hooks) and its fast gradient clipping
  with ghost norms. Skipped when opacus is not installed (it is not a requirement).
* ``irene EASGD server, 8 users``: ``easgd_server`` with 8 in-process users whose learners do
  nothing (no-op ``step``) on the CNN's shared vector, ``ModelThinning`` at dropout 0.5 against
  ``NoThinning``; one round = one whole run. ``extra_info`` holds updates per second of server busy
  time (``ServerResult.updates_per_second``) and of wall time, and the bytes per exchange.
* ``irene server work per exchange, {model}``: what the server does for one exchange (draw,
  ``Thinning.entries``, gather x̃[entries], apply x̃[entries] += difference) in one thread, without
  the other threads' GIL contention; on the CNN, and (full mode) on Table II's VGG vector.
* ``irene exchange masks {model}``: one ``draw_unit_masks`` + ``exchange_masks`` + count; the
  test also draws many masks and checks that the exchanged entries match their expectation
  (conv entries always travel, each fully connected entry with the kept fraction of its rows and
  columns). The VGG (Table II, n = 3000) is built on the meta device: no parameter memory.
* ``irene mask count {model}``: ``exchanged_size`` (a bool ``sum`` per tensor) against
  ``np.count_nonzero`` on the same masks.

A table of the bytes per exchange and one of the server's throughput are printed in the terminal
summary (also in each benchmark's ``extra_info``, see ``--benchmark-json``).
"""

from __future__ import annotations

import os
from functools import partial

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Irene benchmarks need torch")

from pyprivml.comm import launch, payload_nbytes  # noqa: E402
from pyprivml.protocols.irene import bootstrap as irene_bootstrap  # noqa: E402
from pyprivml.protocols.irene import easgd, model as irene_model, training  # noqa: E402
from pyprivml.protocols.irene.dpsgd import (  # noqa: E402
    DPGradient, MINI_BATCH, STREAM_CHUNK, per_sample_gradients,
)
from pyprivml.protocols.irene.thinning import ModelThinning, thinned  # noqa: E402

QUICK = os.environ.get("PYPRIVML_BENCH_QUICK", "") not in ("", "0")
BATCHES = (8,) if QUICK else (32, 94)          # 94: the seed's bootstrapping batch (section IV-C)
ROUNDS = 2 if QUICK else 15
N_CLASSES, IMAGE_SHAPE = 200, (1, 25, 25)       # the default CNN of the issue
DATASET_SIZE = 10_000                          # N of the sampling rate q = B / N (accounting only)
ALPHA = training.IreneConfig.alpha             # eq. 2's weight, IreneConfig's default (0.9)
LR, MOMENTUM = training.IreneConfig.lr, training.IreneConfig.momentum
USERS = 8
SERVER_TICKS = 2 if QUICK else 40              # with period 1: USERS * ticks elastic updates a run
SERVER_ROUNDS = 1 if QUICK else 5
DROPOUTS = (0.0, 0.3, 0.5, 0.7)
DRAWS = int(os.environ.get("PYPRIVML_BENCH_IRENE_DRAWS", 5 if QUICK else 200))
MODELS = ("cnn", "vgg")

_TABLES: dict[str, list[str]] = {"bytes": [], "server": []}


class _TablePrinter:
    """Prints the module's tables in the terminal summary (teardown output would be captured)."""

    @staticmethod
    def pytest_terminal_summary(terminalreporter):
        if _TABLES["bytes"]:
            terminalreporter.write_line("\n".join([
                "", "Irene: entries and bytes per exchange (float32; server -> user, the same back), "
                f"mean over the draws (CNN: {DRAWS}, VGG: {_vgg_draws()})",
                "| model | dropout | conv entries (always) | FC entries kept: expected | measured (sd) "
                "| FC kept fraction | bytes / exchange: expected | measured | vs no thinning | draws |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", *_TABLES["bytes"]]))
        if _TABLES["server"]:
            terminalreporter.write_line("\n".join([
                "", f"Irene: EASGD server, {USERS} no-op users in-process, period 1, "
                f"{SERVER_TICKS} ticks (medians over {SERVER_ROUNDS} runs)",
                "| exchange | updates | updates/s of busy time | updates/s of wall time | busy / wall "
                "| mean kept fraction | bytes server->user per exchange |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |", *_TABLES["server"]]))


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch(request):
    """One torch intra-op thread for the module (restored after it); registers the table printer."""
    manager = request.config.pluginmanager
    if manager.get_plugin("irene-bench-tables") is None:
        manager.register(_TablePrinter(), "irene-bench-tables")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _vgg_draws():
    return max(1, DRAWS // 5)


# ---- 1. the DP bootstrapping step ------------------------------------------------------------

def _batch(B, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(B, *IMAGE_SHAPE, generator=g)
    tags = torch.randint(0, N_CLASSES, (B,), generator=g)
    return images, tags


def _dp(seeded=False):
    """Algorithm 2 as TorchLearner builds it (secure noise, RDP accounting at q = B/N)."""
    return DPGradient(dataset_size=DATASET_SIZE, seed=0 if seeded else None)


@pytest.fixture
def thinned_cnn():
    """The default CNN in train mode under one set of server unit masks (dropout 0.5), its SGD
    optimiser and the E-step's generator, as TorchLearner.step uses them."""
    net = irene_model.make_model("cnn", n_classes=N_CLASSES, image_shape=IMAGE_SHAPE)
    net.train()
    thinning = ModelThinning(net)
    units = thinning.draw(0.5, np.random.default_rng(0))
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    with thinned(net, thinning.split(units)):
        yield net, opt, torch.Generator().manual_seed(0)


STEP_VARIANTS = {
    "nonprivate": ("bootstrap_step(dp=None) (baseline)", None),
    "dp": (f"bootstrap_step(dp=DPGradient) as TorchLearner: SecureRandom noise, chunks of {STREAM_CHUNK}", None),
    "dp-seeded": ("  same, seeded PCG64 noise", None),
    "dp-chunk8": ("  same, chunk_size=8", 8),
    "dp-chunk25": ("  same, chunk_size=25 (the seed's mini-batch)", MINI_BATCH),
    "dp-whole": ("  same, the whole batch in one vmap (chunk_size=B)", "B"),
}


@pytest.mark.parametrize("variant", list(STEP_VARIANTS))
@pytest.mark.parametrize("B", BATCHES)
def test_bootstrap_step(benchmark, timed, thinned_cnn, variant, B):
    net, opt, gen = thinned_cnn
    images, tags = _batch(B)
    benchmark.group = f"irene DP step B={B}"
    what, chunk = STEP_VARIANTS[variant]
    dp = None if variant == "nonprivate" else _dp(seeded=variant == "dp-seeded")
    step = partial(irene_bootstrap.bootstrap_step, net, opt, images, tags, ALPHA, dp=dp, generator=gen,
                   chunk_size=B if chunk == "B" else chunk)
    out = timed(benchmark, step, rounds=ROUNDS, warmup=1 if QUICK else 2, baseline=variant == "nonprivate",
                what=what, batch=B)
    assert np.isfinite(out.loss)
    if dp is not None:
        assert dp.steps >= 1 and np.isfinite(dp.epsilon_spent())


PARTS = {
    "part-estep": "part: E-step forward under no_grad (the extra forward of the DP path)",
    "part-psg": "part: per_sample_gradients of the whole batch (torch.func vmap(grad))",
    "part-clipsum": "part: DPGradient.clipped_sum of the whole batch (norms, tensordot per tensor)",
    "part-noise-secure": "part: D normals from SecureRandom (ChaCha20)",
    "part-noise-pcg": "part: D normals from PCG64 (seeded)",
    "part-accounting": "part: accountant.add_gaussian(z, 1, q = B/N), RDP",
}


@pytest.mark.parametrize("part", list(PARTS))
@pytest.mark.parametrize("B", BATCHES)
def test_dp_step_part(benchmark, timed, thinned_cnn, part, B):
    net, _, gen = thinned_cnn
    images, tags = _batch(B)
    benchmark.group = f"irene DP step B={B}"
    loss_fn = partial(irene_bootstrap._loss, a=ALPHA)
    dp = _dp()
    D = sum(p.numel() for p in net.parameters())
    if part == "part-estep":
        def fn():
            with torch.no_grad():
                return net(images)
    elif part == "part-psg":
        fn = partial(per_sample_gradients, net, loss_fn, images, tags, return_loss=True)
    else:
        grads = per_sample_gradients(net, loss_fn, images, tags)
        if part == "part-clipsum":
            fn = partial(dp.clipped_sum, grads)
        elif part == "part-noise-secure":
            fn = partial(dp.mechanism.noise_source.normal, dp.sigma, D)
        elif part == "part-noise-pcg":
            fn = partial(_dp(seeded=True).mechanism.noise_source.normal, dp.sigma, D)
        else:
            fn = partial(dp.accountant.add_gaussian, dp.noise_multiplier, 1, B / DATASET_SIZE)
    timed(benchmark, fn, rounds=ROUNDS, warmup=1, what=PARTS[part], batch=B, parameters=D)


# ---- 1b. against Opacus -----------------------------------------------------------------------

class _Criterion(torch.nn.Module):
    """eq. 2's loss with a ``reduction`` attribute, as Opacus's fast gradient clipping wants it."""

    def __init__(self):
        super().__init__()
        self.reduction = "mean"

    def forward(self, logits, targets):
        return irene_bootstrap._loss(logits, targets, ALPHA, reduction=self.reduction)


def _flat_grad(net):
    return torch.cat([p.grad.reshape(-1) for p in net.parameters()])


OPACUS_VARIANTS = {
    "nonprivate": "forward + backward + step (baseline)",
    "pyprivml": f"DPGradient.backward + step (seeded PCG64, streamed in chunks of {STREAM_CHUNK})",
    "opacus-hooks": "opacus GradSampleModule + DPOptimizer (torch.normal noise)",
    "opacus-ghost": "opacus fast gradient clipping, ghost norms (torch.normal noise)",
}


@pytest.mark.filterwarnings("ignore::UserWarning")        # opacus: "Secure RNG turned off" etc.
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("variant", list(OPACUS_VARIANTS))
@pytest.mark.parametrize("B", BATCHES)
def test_mstep_vs_opacus(benchmark, timed, variant, B):
    benchmark.group = f"irene M-step vs Opacus B={B}"
    net = irene_model.make_model("cnn", n_classes=N_CLASSES, image_shape=IMAGE_SHAPE, dropout=0.0)
    net.train()
    images, tags = _batch(B)
    loss_fn = partial(irene_bootstrap._loss, a=ALPHA)
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    ours = DPGradient(dataset_size=DATASET_SIZE, seed=0)
    info = dict(what=OPACUS_VARIANTS[variant], batch=B, baseline=variant == "nonprivate")

    if variant == "nonprivate":
        def fn():
            opt.zero_grad(set_to_none=True)
            loss_fn(net(images), tags).backward()
            opt.step()
    elif variant == "pyprivml":
        def fn():
            opt.zero_grad(set_to_none=True)
            ours.backward(net, loss_fn, images, tags)
            opt.step()
    else:
        pytest.importorskip("opacus", reason="opacus is optional (not in requirements.txt); "
                            "`pip install --no-deps opacus` to compare")
        from opacus import GradSampleModule
        from opacus.grad_sample import GradSampleModuleFastGradientClipping
        from opacus.optimizers import DPOptimizer, DPOptimizerFastGradientClipping
        from opacus.utils.fast_gradient_clipping_utils import DPLossFastGradientClipping

        reference = ours.privatize(per_sample_gradients(net, loss_fn, images, tags), noise=False)
        reference = torch.cat([g.reshape(-1) for g in reference.values()])
        common = dict(noise_multiplier=0.0, max_grad_norm=ours.clip, expected_batch_size=B)
        if variant == "opacus-hooks":
            module = GradSampleModule(net)
            dpo = DPOptimizer(opt, **common)

            def fn():
                dpo.zero_grad(set_to_none=True)
                loss_fn(module(images), tags).backward()
                dpo.step()

            def clipped_mean():
                dpo.zero_grad(set_to_none=True)
                loss_fn(module(images), tags).backward()
                dpo.pre_step()
        else:
            module = GradSampleModuleFastGradientClipping(net, max_grad_norm=ours.clip, use_ghost_clipping=True,
                                                          loss_reduction="mean")
            dpo = DPOptimizerFastGradientClipping(opt, loss_reduction="mean", **common)
            criterion = DPLossFastGradientClipping(module, dpo, _Criterion(), "mean")

            def fn():
                dpo.zero_grad(set_to_none=True)
                criterion(module(images), tags).backward()
                dpo.step()

            def clipped_mean():
                dpo.zero_grad(set_to_none=True)
                criterion(module(images), tags).backward()
                dpo.pre_step()
        clipped_mean()          # same Algorithm 2 as ours before any noise or step
        torch.testing.assert_close(_flat_grad(net), reference, rtol=1e-4, atol=1e-7)
        dpo.noise_multiplier = ours.noise_multiplier
        import opacus

        info["opacus"] = opacus.__version__
    timed(benchmark, fn, rounds=ROUNDS, warmup=1 if QUICK else 2, **info)
    assert all(torch.isfinite(p).all() for p in net.parameters())


# ---- 2. the parameter server ------------------------------------------------------------------

class _NoOpLearner:
    """A user whose local step does nothing: what remains is Algorithm 1's exchange."""

    def __init__(self, x):
        self.x = np.array(x, dtype=np.float32)

    def shared(self):
        return self.x.copy()

    def load_shared(self, x):
        self.x = np.array(x, dtype=np.float32)

    def step(self, tick, units):
        return 0.0


@pytest.fixture(scope="module")
def cnn():
    return irene_model.make_model("cnn", n_classes=N_CLASSES, image_shape=IMAGE_SHAPE)


def _server_run(net, thin, ticks):
    x0 = training.TorchLearner.flatten(net)
    config = easgd.EASGDConfig(ticks=ticks, period=1, dropout=0.5, seed=0, timeout=120)

    def role(transport):
        thinning = ModelThinning(net) if thin else easgd.NoThinning(x0.size)
        if transport.rank == easgd.SERVER:
            return easgd.easgd_server(transport, x0, config, thinning)
        return easgd.easgd_user(transport, _NoOpLearner(x0), config, thinning)

    run = launch(role, USERS + 1, kind="inprocess")
    return run.results[0], run.transports[0].log, x0.size


@pytest.mark.parametrize("thin", [False, True], ids=["NoThinning", "ModelThinning-0.5"])
def test_easgd_server(benchmark, timed, cnn, thin):
    benchmark.group = f"irene EASGD server, {USERS} users"
    runs = []

    def one_run():
        runs.append(_server_run(cnn, thin, SERVER_TICKS))
        return runs[-1]

    timed(benchmark, one_run, rounds=SERVER_ROUNDS, warmup=0 if QUICK else 1, baseline=not thin,
          users=USERS, ticks=SERVER_TICKS, period=1)
    result, log, size = runs[-1]
    updates = USERS * SERVER_TICKS
    assert sum(result.applied.values()) == updates
    ups = float(np.median([r.updates_per_second for r, _, _ in runs]))
    wall = float(np.median([sum(r.applied.values()) / r.seconds for r, _, _ in runs]))
    busy = float(np.median([r.busy_seconds / r.seconds for r, _, _ in runs]))
    kept = float(np.mean(result.kept_fraction))
    initial = USERS * (4 * size + payload_nbytes({"units": np.zeros(0, dtype=bool)}))
    per_exchange = (log.phases["centre"].bytes_sent - initial) / (result.served - USERS)
    benchmark.extra_info.update(updates=updates, updates_per_busy_second=ups, updates_per_wall_second=wall,
                                busy_over_wall=busy, kept_fraction=kept, bytes_per_exchange=per_exchange,
                                shared_size=size)
    _TABLES["server"].append(f"| {'ModelThinning, dropout 0.5' if thin else 'NoThinning'} | {updates} | "
                             f"{ups:.0f} | {wall:.0f} | {busy:.2f} | {kept:.3f} | {per_exchange:,.0f} |")


def _shared_vector_model(kind):
    if kind == "cnn":
        return irene_model.make_model("cnn", n_classes=N_CLASSES, image_shape=IMAGE_SHAPE)
    with torch.device("meta"):
        return irene_model.make_model("vgg", n_classes=irene_model.TABLE2_CLASSES)


@pytest.mark.parametrize("thin", [False, True], ids=["NoThinning", "ModelThinning-0.5"])
@pytest.mark.parametrize("kind", MODELS)
def test_server_work_per_exchange(benchmark, timed, kind, thin):
    if kind == "vgg" and QUICK:
        pytest.skip("the Table II vector (130 M float32) is for full runs only")
    benchmark.group = f"irene server work per exchange, {kind}"
    net = _shared_vector_model(kind)
    thinning = ModelThinning(net) if thin else easgd.NoThinning(ModelThinning(net).size)
    centre = np.zeros(thinning.size, dtype=np.float32)
    rng = np.random.default_rng(0)

    def exchange():
        units = thinning.draw(0.5, rng)                 # the request
        entries = thinning.entries(units)
        values = centre[entries]                        # x̃ restricted to the kept entries
        centre[entries] += values                       # the elastic difference comes back
        return int(values.size)

    rounds = 3 if kind == "vgg" else ROUNDS * 2
    sent = timed(benchmark, exchange, rounds=rounds, warmup=1, baseline=not thin)
    benchmark.extra_info["entries_sent"] = sent
    del centre


# ---- 3. bytes per exchange --------------------------------------------------------------------

def _expected_kept(n, p):
    """E[kept units] of a group of n under draw_unit_masks: Binomial(n, 1 - p), 0 replaced by 1."""
    return n * (1.0 - p) + p ** n


def _expected_entries(net, p):
    """(conv entries, FC entries, expected exchanged FC entries) of the shared parameters, from
    the architecture alone: each FC weight entry travels iff its row and its column are kept
    (independent groups), each bias entry iff its row is; conv entries always travel."""
    params = net.shared_parameters()
    conv = sum(t.numel() for name, t in params.items() if name.startswith("psi_g.conv."))
    fc = sum(t.numel() for name, t in params.items() if not name.startswith("psi_g.conv."))
    expected, n_in_group = 0.0, None        # ψ_g's first FC layer reads the conv outputs
    for layer in net.psi_g.fc:
        rows = _expected_kept(layer.out_features, p)
        cols = layer.in_features if n_in_group is None else _expected_kept(n_in_group, p)
        expected += rows * cols + rows
        n_in_group = layer.out_features
    phi = net.phi                           # ϕ reads the d features (droppable), writes n classes
    expected += phi.out_features * _expected_kept(phi.in_features, p) + phi.out_features
    return conv, fc, expected


def _count(masks):
    return sum(int(np.count_nonzero(m.numpy())) for m in masks.values())


@pytest.fixture(scope="module")
def models():
    return {kind: _shared_vector_model(kind) for kind in MODELS}


@pytest.mark.parametrize("p", DROPOUTS)
@pytest.mark.parametrize("kind", MODELS)
def test_exchange_bytes(benchmark, timed, models, kind, p):
    net = models[kind]
    benchmark.group = f"irene exchange masks {kind}"
    rng = np.random.default_rng(1)
    conv, fc, expected_fc = _expected_entries(net, p)
    total = conv + fc

    def one_draw():
        return _count(irene_model.exchange_masks(net, irene_model.draw_unit_masks(net, p, rng=rng)))

    counts = [timed(benchmark, one_draw, rounds=3 if kind == "vgg" else ROUNDS, warmup=0, baseline=p == 0.0,
                    dropout=p)]
    if not (QUICK and kind == "vgg"):       # exchanged_size on the VGG takes a second (test_mask_count)
        masks = irene_model.exchange_masks(net, irene_model.draw_unit_masks(net, p, rng=rng))
        counts.append(_count(masks))
        assert irene_model.exchanged_size(masks) == counts[-1]
    counts += [one_draw() for _ in range((_vgg_draws() if kind == "vgg" else DRAWS) - len(counts))]
    draws = len(counts)
    fc_counts = np.asarray(counts, dtype=float) - conv
    mean, sd = float(fc_counts.mean()), float(fc_counts.std(ddof=1)) if draws > 1 else 0.0
    if p == 0.0:
        assert mean == fc == expected_fc
    else:  # the mean of the draws agrees with the expectation: 5 standard errors, measured when
        # there are enough draws, else bounded from the smallest group (a kept count of n units
        # has relative sd sqrt(p / ((1 - p) n)); a weight block multiplies two of them)
        n_min = min(irene_model.fc_units(net).values())
        bound = 2 * expected_fc * np.sqrt(p / ((1 - p) * n_min))
        se = (sd if draws >= 10 else bound) / np.sqrt(draws)
        assert abs(mean - expected_fc) <= 5 * se + 1
    header = payload_nbytes({"units": np.ones(sum(irene_model.fc_units(net).values()), dtype=bool)})
    exp_bytes = 4 * (conv + expected_fc) + header
    got_bytes = 4 * (conv + mean) + header
    full_bytes = 4 * total + payload_nbytes({"units": np.zeros(0, dtype=bool)})
    benchmark.extra_info.update(conv_entries=conv, fc_entries=fc, expected_fc_kept=expected_fc,
                                measured_fc_kept_mean=mean, measured_fc_kept_sd=sd, draws=draws,
                                expected_bytes=exp_bytes, measured_bytes=got_bytes, unthinned_bytes=full_bytes)
    _TABLES["bytes"].append(
        f"| {kind} | {p} | {conv:,} | {expected_fc:,.0f} | {mean:,.0f} ({sd:,.0f}) | {mean / fc:.4f} | "
        f"{exp_bytes / 1e6:,.3f} MB | {got_bytes / 1e6:,.3f} MB | {got_bytes / full_bytes:.4f} | {draws} |")


@pytest.mark.parametrize("how", ["exchanged_size", "np.count_nonzero"])
def test_mask_count(benchmark, timed, models, how):
    kind = "cnn" if QUICK else "vgg"
    net = models[kind]
    benchmark.group = f"irene mask count {kind}"
    masks = irene_model.exchange_masks(net, irene_model.draw_unit_masks(net, 0.5, rng=0))
    fn = partial(irene_model.exchanged_size, masks) if how == "exchanged_size" else partial(_count, masks)
    out = timed(benchmark, fn, rounds=3 if kind == "vgg" else ROUNDS, warmup=0, baseline=how == "exchanged_size")
    assert out == _count(masks)
