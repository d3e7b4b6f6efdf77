"""CodedPrivateML's roles (seed 004, Algorithm 1): the master and the N workers.

Master (rank 0), once:
  1. quantise the dataset, X̄ = phi(Round(2^lx X)) (eq. 4);
  2. split X̄ into K row blocks and Lagrange-encode them with T random masks (eqs. 9-10);
  3. send X̃_i to worker i (rank i + 1).
Every iteration t:
  6. draw r independent stochastic quantisations of w, W̄ = [w̄^1 ... w̄^r] (eqs. 6-8);
  7. Lagrange-encode W̄ with fresh masks, W̃_i = v(alpha_i) (eqs. 11-12), send W̃_i to worker i;
  Worker i (steps 8-11): f(X̃_i, W̃_i) = X̃_i^T s̄(X̃_i, W̃_i) (eqs. 15, 18), sent back;
  12-13. decode the K blocks f(X̄_k, W̄) from the FIRST (2r+1)(K+T-1)+1 results to arrive (eq. 21),
     and sum them (eq. 22);
  14. map to the reals with phi^-1 / 2^l (eqs. 23-24);
  15. w <- w - (eta/m) (X̄^T s̄ - X̄^T y) (eq. 17); X̄^T y is the master's, computed once. With
     ``optimizer="heavy-ball"`` or ``"nesterov"`` the master applies that rule to the same decoded
     gradient instead (:mod:`pyprivml.protocols.optim`), and sends Nesterov's look-ahead point.

Before step 1 the master fixes the plan for the whole run (lx, lw, lc, p and the ball the weights
stay in: :func:`~pyprivml.protocols.fixedpoint.choose_plan`); the workers learn p and the
coefficients from it. Steps 1, 6, 14 and 15 are the task's and live in
:class:`~pyprivml.protocols.regression.RegressionMaster`; this module adds the coding (2-3, 7,
12-13) and the workers. The scales and the proof that no decoded value wraps around mod p are in
:mod:`pyprivml.protocols.fixedpoint`, the polynomial s_hat of eq. (13) in
:mod:`pyprivml.protocols.sigmoid`. Linear regression (Remark 1) is the same protocol with
s_hat(z) = z, which is exact.

Several primes (``primes=``, docs/codedprivateml.md): steps 2-13 run once per prime, each with
its own Lagrange code and its own fresh masks (:func:`encode_shares`); a worker's messages carry
one share per prime, and the master lifts the k decoded residues of each entry to the one integer
they agree on by the Chinese remainder theorem before step 14 (:meth:`_Master.real_gradient`).

Roles talk to a :class:`~pyprivml.comm.Transport` only, so one code runs under ``mpiexec``,
in-process and on the simulated cluster.

>>> from pyprivml.data import load_digits49
>>> ds = load_digits49()
>>> cfg = CodedPrivateMLConfig(n_workers=6, case=1, max_iter=5, seed=1)
>>> cfg.K_T(), cfg.recovery_threshold()
((1, 1), 4)
>>> res = run_codedprivateml(ds.X_train, ds.y_train, cfg, transport="inprocess")
>>> len(res.history), res.history[-1]["loss"] < res.history[0]["loss"]
(6, True)
"""

from __future__ import annotations

import math
import time
from functools import partial

import numpy as np

from ...backends import warm_up as warm_up_kernels
from ...comm import ANY_TAG, Transport, TransportTimeout, launch
from ...field import PrimeField
from ...lagrange import LagrangeCode
from ...linalg import modcombine, modmatmul, modmatvec
from ...quantization import quantize_stochastic
from ...random import SecureRandom
from ...reedsolomon import TooManyErrors, locate_errors
from ..fixedpoint import s_bar
from ..regression import RegressionMaster, RegressionResult, float_references, gram_pays
from ..tags import tags_for
from .config import CodedPrivateMLConfig, parse_fault

__all__ = ["run_codedprivateml", "master_role", "worker_role", "worker_compute", "DegreeOneWorker",
           "plaintext_gradient_field", "encode_shares",
           "CodedPrivateMLResult", "TAGS"]

TAGS = tags_for("codedprivateml")
#: The master's result: the task's result type (weights, history, seconds, bytes, workers used).
CodedPrivateMLResult = RegressionResult


# -- worker ---------------------------------------------------------------------------------------


def worker_compute(Xt, Wt, coefficients, field: PrimeField) -> np.ndarray:
    """f(X̃_i, W̃_i) = X̃_i^T s̄(X̃_i, W̃_i) over F_p (eqs. 15, 18): a polynomial of degree 2r+1."""
    Z = modmatmul(Xt, Wt, field, check=False)  # the r logits per row, X̃_i w̃^j
    s = s_bar(Z, coefficients, field)
    return modmatvec(Xt, s, field, transpose=True, check=False)


class DegreeOneWorker:
    """The same f(X̃_i, W̃_i) for degree r = 1, with X̃_iᵀ1 computed once (issue 13, item 6).

    With r = 1, s̄ = c̄_0 + c̄_1 X̃_i w̃, so X̃_iᵀs̄ = c̄_0 X̃_iᵀ1 + c̄_1 X̃_iᵀ(X̃_i w̃) over F_p: the same
    polynomial of the same degree, so the result is identical bit for bit, in three kernel calls.
    ``gram=True`` also computes X̃_iᵀX̃_i once and answers c̄_0 X̃_iᵀ1 + c̄_1 (X̃_iᵀX̃_i) w̃: an
    iteration then costs O(d²) instead of O(m d / K);
    :func:`~pyprivml.protocols.regression.gram_pays` says when that is cheaper."""

    def __init__(self, Xt, coefficients, field: PrimeField, *, gram: bool = False):
        if len(coefficients) != 2:
            raise ValueError(f"the degree-one form is for degree r = 1 (2 coefficients), got {len(coefficients)}")
        # Field elements below p < 2**32 are exact in uint32: half the memory traffic of int64 per
        # iteration, and the kernels read uint32 operands without converting them on every call.
        self.Xt = np.ascontiguousarray(Xt, dtype=np.uint32)
        self.field = field
        self.gram = (modmatmul(np.ascontiguousarray(self.Xt.T), self.Xt, field, check=False).astype(np.uint32)
                     if gram else None)
        self.column_sums = modmatvec(self.Xt, np.ones(self.Xt.shape[0], dtype=np.int64), field, transpose=True,
                                     check=False)
        self.coefficients = np.asarray(coefficients, dtype=np.int64).reshape(1, 2)

    def __call__(self, Wt) -> np.ndarray:
        w = np.asarray(Wt, dtype=np.int64).reshape(-1)
        if self.gram is not None:
            XtXw = modmatvec(self.gram, w, self.field, check=False)                          # (X̃ᵀX̃) w̃
        else:
            XtXw = modmatvec(self.Xt, modmatvec(self.Xt, w, self.field, check=False), self.field,
                             transpose=True, check=False)                                   # X̃ᵀ(X̃ w̃)
        return modcombine(self.coefficients, np.stack([self.column_sums, XtXw]), self.field, check=False)[0]


def corrupt(f, mode: str, field: PrimeField, *, alpha: int, rng) -> np.ndarray:
    """What an injected Byzantine worker returns instead of f (config.faults, for tests and demos)."""
    p = field.p
    f = np.asarray(f, dtype=np.int64)
    if mode == "random":
        return rng.integers(0, p, f.shape, dtype=np.int64)
    if mode == "offset":
        return (f + 12345) % p
    if mode == "scale":
        return (f * 2) % p
    shift = (1 + alpha + alpha * alpha) % p          # "poly": g(α) = 1 + α + α², the same g for all
    return (f + shift) % p


def worker_role(transport: Transport, config: CodedPrivateMLConfig) -> dict:
    """Worker i = rank i+1: receive X̃_i once, then answer every W̃_i with f(X̃_i, W̃_i) until stopped.

    With several primes (the set-up names them) every payload carries one share per prime along
    its first axis, and f is computed over each prime's field on that prime's share."""
    with transport.in_phase("control"):
        setup, _ = transport.recv(0, TAGS.setup)
    multi = "primes" in setup
    fields = [PrimeField(q) for q in setup["primes"]] if multi else [PrimeField(setup["p"])]
    coefficients = [np.asarray(c, dtype=np.int64) for c in
                    (setup["coefficients"] if multi else [setup["coefficients"]])]
    # Load the kernels (JIT backends, both operand dtypes) before any data moves.
    d = int(setup["columns"])
    warm_up_kernels(fields[0].p)
    worker_compute(np.zeros((1, d), dtype=np.int64), np.zeros((d, len(coefficients[0]) - 1), dtype=np.int64),
                   coefficients[0], fields[0])
    transport.barrier()
    with transport.in_phase("data"):
        Xt, _ = transport.recv(0, TAGS.data)                     # step 3: X̃_i, once (per prime)
    shares = list(Xt) if multi else [Xt]
    delay = float(config.straggle.get(transport.rank, 0.0))
    fault, lies_from = parse_fault(config.faults[transport.rank]) if transport.rank in config.faults else (None, 0)
    fault_rng = np.random.default_rng(transport.rank)
    start = transport.now()
    rows, d = shares[0].shape
    degree = len(coefficients[0]) - 1
    use_gram = gram_pays(rows, d, config.max_iter, degree)                   # never for r > 1
    computes = [DegreeOneWorker(X_, c, F, gram=use_gram) if degree == 1
                else partial(worker_compute, X_, coefficients=c, field=F)
                for X_, c, F in zip(shares, coefficients, fields)]
    setup_seconds = transport.now() - start

    def compute_f(Wt, t):
        """f over every prime's field; one array (one prime) or their stack (several)."""
        out = [fn(W_) for fn, W_ in zip(computes, Wt if multi else [Wt])]
        if fault is not None and t >= lies_from:
            out = [corrupt(f_, fault, F, alpha=int(setup.get("alpha", 0)), rng=fault_rng)
                   for f_, F in zip(out, fields)]
        return np.stack(out) if multi else out[0]

    answered, compute, pending = [], [], []
    t = 0
    while True:
        with transport.in_phase("weights"):
            msg, _ = transport.recv(0, ANY_TAG)                  # step 7: W̃_i, or the stop
        if isinstance(msg, dict):
            break
        if math.isinf(delay):  # a dead worker: receives, never answers
            t += 1
            continue
        start = transport.now()
        f = compute_f(msg, t)                                     # steps 8-11, eqs. (15), (18)
        compute.append(transport.now() - start)
        if delay > 0:
            time.sleep(delay)
        with transport.in_phase("results"):
            pending.append(transport.isend(f, 0, TAGS.result(t)))
        answered.append(t)
        t += 1
    with transport.in_phase("control"):
        transport.send({"rank": transport.rank, "answered": answered, "compute": compute}, 0, TAGS.summary)
    for req in pending:
        req.wait()
    return {"answered": answered, "compute": compute, "gram": use_gram,
            "gram_seconds": setup_seconds}


# -- master ---------------------------------------------------------------------------------------


def encode_shares(codes, residues, *, replicated: bool = False, rngs=None) -> np.ndarray:
    """Several primes: Lagrange-encode ``residues[j]`` with ``codes[j]`` over the j-th prime, each with
    its own fresh uniform masks (eqs. 9-12), and stack the shares per worker.

    Returns ``out`` of shape (N, k, ...): ``out[i]`` is worker i's payload, one share per prime.
    ``rngs`` (one :class:`~pyprivml.random.SecureRandom` per prime, for tests) defaults to a fresh
    OS-keyed generator per prime and call. T-privacy holds for the stack because the masks of
    different primes are independent: any T workers see, in each field, a bijective image of that
    field's uniform masks (Theorem 1), hence jointly a uniform view whatever the data (by the CRT,
    the k independent uniform masks are one uniform mask modulo M = q_1 ... q_k)."""
    rngs = [None] * len(codes) if rngs is None else list(rngs)
    if len(rngs) != len(codes) or len(residues) != len(codes):
        raise ValueError(f"encode_shares: {len(codes)} codes need as many residue arrays and generators, "
                         f"got {len(residues)} and {len(rngs)}")
    method = "encode_replicated" if replicated else "encode"
    return np.stack([getattr(code, method)(res, rng=rng) for code, res, rng in zip(codes, residues, rngs)], axis=1)


class _Master(RegressionMaster):
    """Rank 0: the task's loop (:class:`RegressionMaster`) with Lagrange coding for steps 2-3, 7, 12-13."""

    early_stop = True  # the workers answer until told to stop, so tol can end a run early

    def __init__(self, transport, X, y, config: CodedPrivateMLConfig, *, keep_decoded=False, **kwargs):
        super().__init__(transport, config, X, y, **kwargs)
        self.keep_decoded = keep_decoded
        self.K, self.T = config.K_T()
        self.N = config.n_workers
        self.needed = config.recovery_threshold()
        self.workers = list(range(1, self.N + 1))
        # One Lagrange code per prime (several primes: the CRT of docs/codedprivateml.md); self.code is
        # the first, the only one of a one-prime run.
        self.fields = self.plan.fields
        self.codes = [LagrangeCode(F, self.N, self.K, self.T) for F in self.fields]
        self.code = self.codes[0]
        self.multi = len(self.fields) > 1
        self.crt = self.plan.crt() if self.multi else None
        self.pending = []
        self.byzantine = config.byzantine
        self.faulty: dict = {}                  # rank -> the first iteration its result was wrong
        self.received: list = []                # per iteration, every rank whose result was taken in
        self._combine = SecureRandom() if config.byzantine else None
        if self.X.shape[0] < self.K:
            raise ValueError(f"K = {self.K} blocks need at least K rows, the data has {self.X.shape[0]}")

    def parameters(self) -> dict:
        return self.cfg.public_parameters()

    def announce(self):
        public = {"p": self.F.p, "coefficients": self.plan.field_coefficients().tolist(),
                  "columns": int(self.X.shape[1])}
        if self.multi:
            public.update(primes=list(self.plan.primes),
                          coefficients=[self.plan.field_coefficients(F).tolist() for F in self.fields])
        with self.transport.in_phase("control"):
            for i, rank in enumerate(self.workers):
                # only an injected "poly" fault needs its (public) evaluation point α_i; honest
                # workers receive exactly the protocol's setup
                extra = ({"alpha": int(self.code.alphas[i])}
                         if rank in self.cfg.faults and parse_fault(self.cfg.faults[rank])[0] == "poly" else {})
                self.transport.send({**public, **extra}, rank, TAGS.setup)

    def _per_prime(self, bar):
        """The residues of the signed integers behind ``bar`` (quantised in the largest prime, where
        they fit) modulo every prime: one array per field."""
        if not self.multi:
            return [bar]
        return list(self.crt.residues(self.F.lift(bar)))

    def _encode(self, bar, replicated: bool):
        """Worker i's payload ``out[i]``: its share (one prime) or the stack of its shares (several)."""
        if not self.multi:
            code = self.code
            return code.encode_replicated(bar) if replicated else code.encode(bar)
        return encode_shares(self.codes, self._per_prime(bar), replicated=replicated)

    def distribute(self, Xbar):
        t = self.transport
        with self.timer("encoding"):
            Xt = self._encode(Xbar, replicated=False)               # step 2, eqs. (9)-(10), fresh masks
        with t.in_phase("data"):                                    # step 3
            reqs = [t.isend(Xt[i], rank, TAGS.data) for i, rank in enumerate(self.workers)]
            for r in reqs:
                r.wait()

    def warm_up(self):
        warm_up_kernels(self.F.p)
        d, r = self.X.shape[1], self.plan.r
        W = quantize_stochastic(np.zeros(d), self.cfg.lw, self.F, copies=r, seed=0)
        self._encode(W, replicated=True)
        fake = {i: np.zeros(d, dtype=np.int64) for i in range(self.needed)}
        totals = [code.decode(fake, 2 * r + 1, summed=True) for code in self.codes]
        self.real_gradient(np.stack(totals) if self.multi else totals[0])

    def private_gradient(self, it, Wbar):
        cfg, t = self.cfg, self.transport
        with self.timer("encoding"):
            Wt = self._encode(Wbar, replicated=True)                # step 7, eqs. (11)-(12), fresh masks
        # workers found Byzantine are out of the run: sent no more weights, never waited for
        active = [rank for rank in self.workers if rank not in self.faulty]
        with t.in_phase("weights"):
            for rank in active:
                self.pending.append(t.isend(Wt[rank - 1], rank, TAGS.weights))
        self.while_waiting()                                        # the last update's metrics
        with t.in_phase("results"):
            # needed + 2e results correct the e = A - (found so far) wrong ones still possible; one
            # more, when there is one, detects e + 1
            A = self.byzantine
            left = A - len(self.faulty)
            count = min(self.needed + 2 * left + (1 if A else 0), len(active))
            try:
                got = t.gather_first(active, count, TAGS.result(it), timeout=cfg.timeout)
            except TransportTimeout as exc:
                raise TransportTimeout(
                    f"iteration {it}: the master needs {self.needed} results (the recovery threshold "
                    f"(2r+1)(K+T-1)+1) but workers {exc.missing} did not answer within {cfg.timeout} s ({exc})",
                    missing=exc.missing) from None
        self.pending = [r for r in self.pending if not r.test()]
        self.received.append(list(got))
        if A:
            with self.timer("decoding"):
                got = self._correct(it, got, left)
        self.used.append(list(got))
        with self.timer("decoding"):
            totals = []
            for j, code in enumerate(self.codes):                    # the same workers for every prime
                results = {rank - 1: (f[j] if self.multi else f) for rank, f in got.items()}
                totals.append(code.decode(results, 2 * self.plan.r + 1, summed=True))          # eqs. (21)-(22)
            total = np.stack(totals) if self.multi else totals[0]
        if self.keep_decoded:
            self.decoded.append(self.crt.lift(total) if self.multi else total)
        return total

    def real_gradient(self, total) -> np.ndarray:
        """Step 14, eqs. (23)-(24): X̄^T s̄ / 2^l in the reals. One prime: phi^-1 of the decoded field sum.
        Several primes: the decoded residues ``total`` (one row per prime) lifted to the one integer
        G with |G| <= (M-1)/2 they all agree with (Chinese remainder theorem, :mod:`pyprivml.crt`),
        correctly rounded to float64 exactly as phi^-1 would give it for one prime that large."""
        if not self.multi:
            return super().real_gradient(total)
        return self.crt.lift_float(total, self.plan.exponent)

    def _correct(self, it, got: dict, left: int) -> dict:
        """Reed–Solomon error location on two secret random combinations of the coordinates: a
        wrong result shows in a combination unless its error is orthogonal to the random vector
        (probability 1/p each), so a fault escapes both with probability 1/p². The ranks found are
        named and dropped from the run, and ``needed`` of the others are decoded. With ``left`` = 0
        (every fault of the budget found) the spare result still checks that the rest agree."""
        ranks = list(got)
        xs = [int(self.code.alphas[r - 1]) for r in ranks]
        wrong = set()
        try:
            for j, F in enumerate(self.fields):          # several primes: a fault shows in any of them
                Y = np.stack([np.asarray(got[r][j] if self.multi else got[r], dtype=np.int64) for r in ranks])
                for _ in range(2):
                    c = self._combine.integers(0, F.p, size=Y.shape[1])
                    ys = modmatvec(Y, c, F, check=False)
                    wrong |= {ranks[i] for i in locate_errors(xs, ys.tolist(), k=self.needed, e=left, p=F.p)}
            if len(wrong) > left:                        # each location was within e; together not
                raise TooManyErrors(f"{len(wrong)} results disagree across the combinations, more than {left}")
        except TooManyErrors as exc:
            raise TooManyErrors(f"iteration {it}: more than the {self.byzantine} Byzantine workers the run "
                                f"corrects returned wrong results ({exc}); already identified: "
                                f"{sorted(self.faulty) or 'none'}. No model is produced from wrong results; "
                                f"run with more workers or a larger --byzantine") from None
        for r in sorted(wrong):
            self.faulty.setdefault(r, it)
            self.warnings.append(f"iteration {it}: worker rank {r} returned a wrong result (Byzantine); "
                                 f"it is sent no more weights and no longer waited for")
        good = [r for r in ranks if r not in wrong][:self.needed]
        return {r: got[r] for r in good}

    def finish(self) -> float:
        """Stop the workers, drain late results; the slowest decoded worker's compute per iteration."""
        cfg, t = self.cfg, self.transport
        finite = [v for v in cfg.straggle.values() if math.isfinite(v)]
        wait_for = cfg.timeout + cfg.max_iter * max(finite, default=0.0)
        summaries = {}
        with t.in_phase("control"):
            for rank in self.workers:
                t.send({"stop": True}, rank, TAGS.control)
            for rank in self.workers:
                try:
                    summaries[rank], _ = t.recv(rank, TAGS.summary, timeout=wait_for)
                except TransportTimeout:
                    self.warnings.append(f"worker rank {rank} did not report back within {wait_for:.3g} s")
        with t.in_phase("results"):
            consumed = {(rank, it) for it, ranks in enumerate(self.received) for rank in ranks}
            for rank, s in summaries.items():
                for it in s["answered"]:
                    if (rank, it) not in consumed:
                        t.recv(rank, TAGS.result(it), timeout=wait_for)  # a late (straggler) result
        for r in self.pending:
            r.wait()
        compute = 0.0
        for it, ranks in enumerate(self.used):
            times = [summaries[rank]["compute"][summaries[rank]["answered"].index(it)]
                     for rank in ranks if rank in summaries and it in summaries[rank]["answered"]]
            compute += max(times, default=0.0)
        return compute


def master_role(transport, X, y, config, *, X_test=None, y_test=None, progress=None,
                keep_decoded=False) -> RegressionResult:
    """Rank 0 of Algorithm 1; ``progress`` (a tqdm bar or None) advances after every update."""
    return _Master(transport, X, y, config, X_test=X_test, y_test=y_test, progress=progress,
                   keep_decoded=keep_decoded).run()


def run_codedprivateml(X, y, config: CodedPrivateMLConfig, *, X_test=None, y_test=None, transport="auto",
                       network=None, progress=None, record_payloads=False, keep_decoded=False,
                       return_launch=False, references=False):
    """Run master and workers (MPI ranks, threads, or the simulated cluster with ``network``); the
    master's result (None on worker ranks).

    Under MPI every rank calls this; only rank 0 needs X and y (workers may pass anything).
    ``return_launch=True`` returns the :class:`~pyprivml.comm.LaunchResult` as well (transports
    and their logs, for tests). ``references=True`` adds, after the run and outside its timings,
    the iteration-matched float baseline and the converged float optimum to the result
    (``baseline_history``, ``optimum``: :func:`~pyprivml.protocols.regression.float_references`).
    """

    def role(t):
        if t.rank == 0:
            return master_role(t, X, y, config, X_test=X_test, y_test=y_test, progress=progress,
                               keep_decoded=keep_decoded)
        return worker_role(t, config)

    run = launch(role, config.n_workers + 1, transport, network=network, record_payloads=record_payloads)
    result = run.master
    if references and result is not None:
        result.baseline_history, result.optimum = float_references(
            X, y, config, result.parameters["iterations_run"], lr=result.parameters["lr"], X_test=X_test,
            y_test=y_test)
    return (result, run) if return_launch else result


def plaintext_gradient_field(Xbar, Wbar, config: CodedPrivateMLConfig) -> np.ndarray:
    """X̄^T s̄(X̄, W̄) over F_p computed directly, without coding: what decoding must reproduce.

    ``config`` must have its plan fixed (lx, lw, p given, or ``result.plan``'s values). ``Xbar``
    and ``Wbar`` are elements of the plan's field (of the largest prime, with several primes);
    with several primes the result is computed over every prime and lifted by the CRT to the
    integers G themselves, as ``keep_decoded`` keeps them."""
    plan = config.plan()
    if len(plan.primes) == 1:
        return worker_compute(Xbar, Wbar, plan.field_coefficients(), plan.field)
    crt = plan.crt()
    X_res, W_res = crt.residues(plan.field.lift(Xbar)), crt.residues(plan.field.lift(Wbar))
    return crt.lift(np.stack([worker_compute(X_res[j], W_res[j], plan.field_coefficients(F), F)
                              for j, F in enumerate(plan.fields)]))
