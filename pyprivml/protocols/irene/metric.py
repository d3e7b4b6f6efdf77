"""Irene's user-specific metrics (seed 001, §III-B): LMNN, MT-LMNN across users, the triplet loss of eq. 8.

Three pieces, all on Mahalanobis metrics M ⪰ 0 with d_M(a, b) = (a − b)ᵀ M (a − b) = ‖L(a − b)‖², M = LᵀL:

* :func:`lmnn`: one user's large margin nearest neighbour metric (eq. 5, Weinberger & Saul) with the
  trade-off μ of their paper,

      ε(M) = (1 − μ) Σ_{i, j ⇝ i} d_M(x_i, x_j) + μ Σ_{i, j ⇝ i, l: y_l ≠ y_i} [1 + d_M(x_i, x_j) − d_M(x_i, x_l)]₊,

  (j ⇝ i: j is one of the k target neighbours of i, its k nearest Euclidean neighbours of the same
  class), minimised by projected subgradient descent onto the PSD cone (eigenvalue clipping) with an
  adaptive step (× 1.2 after a decrease; a step that would increase ε is refused and the step halved,
  so the recorded objective never increases), taken by default in feature-standardised coordinates
  (same ε, same cone, better-conditioned steps). The impostor triplets are kept in a working set,
  recomputed every few iterations and always a superset of the active ones: it holds every triplet
  within ``buffer`` of the margin, and a *safety radius* r (no excluded triplet can become active while
  ‖M − M_c‖₂ < r, since |aᵀΔa| ≤ ‖Δ‖₂‖a‖²) forces a recomputation before one could, so every
  objective value and subgradient is exact. :func:`knn_accuracy` scores a metric.
* MT-LMNN (eq. 7, Parameswaran & Weinberger 2010): user k's metric is M_k = W₀ + W_k, with W₀ shared
  and W_k private, minimising γ₀‖W₀ − I‖²_F + Σ_k (γ‖W_k‖²_F + ε_k(W₀ + W_k)). It is solved *across
  users* by dual decomposition in its consensus form (ADMM, Boyd et al. 2011, §7.1; the paper cites
  Samar, Boyd & Gorinevsky [23]): each user keeps its own copy W₀⁽ᵏ⁾ and its private W_k, the
  coordinator keeps the consensus Z and the scaled dual prices U_k of the constraints W₀⁽ᵏ⁾ = Z.
  One round:

      user k:       (W₀⁽ᵏ⁾, W_k) ← a few proximal projected (sub)gradient steps, warm-started, on
                    ε_k(W₀⁽ᵏ⁾ + W_k) + γ‖W_k‖² + (ρ/2)‖W₀⁽ᵏ⁾ − V_k‖²          (V_k = Z − U_k, received)
      coordinator:  Z ← Π_PSD((2γ₀ I + ρ Σ_k (W₀⁽ᵏ⁾ + U_k)) / (2γ₀ + Kρ)),  U_k ← U_k + W₀⁽ᵏ⁾ − Z,
                    V_k ← Z − U_k sent back; during the first rounds ρ is balanced between the
                    primal and dual residuals (U rescaled with it), then fixed.

  The hinge of ε_k is smoothed in the local steps with a δ that shrinks over the rounds (monotone
  subgradient steps stall at its kinks, which leaves the copies of W₀ apart); every objective that is
  reported, and :func:`mtlmnn_objective`, use the exact hinge. The users' metrics are M_k = Z + W_k,
  the commonality metric (for fine-tuning ψ, eq. 8) is Z.

  Only d × d matrices about W₀ cross (W₀⁽ᵏ⁾ up, V_k and the final Z down) plus small control dicts;
  never W_k, data, labels or faceprints. :func:`mtlmnn_local_step` and :func:`mtlmnn_consensus_step`
  are the transport-free steps, :func:`mtlmnn` runs them in one process, and
  :func:`mtlmnn_coordinator` / :func:`mtlmnn_user` are the same steps as roles over a transport
  (``send(obj, dest, tag)``, ``recv(source, tag, timeout=...)``, tags :data:`TAGS`).
* :func:`triplet_loss` (torch): eq. 8 with the commonality metric, mean over triplets of
  [margin − ‖L(a − n)‖² + ‖L(a − p)‖²]₊ (the printed eq. 8 repeats ℓ_n; anchor–positive is meant),
  L a factor of W₀ (:func:`metric_factor`); :func:`mine_triplets` draws the triplets.

>>> rng = np.random.default_rng(0)
>>> y = np.repeat([0, 1], 20)
>>> X = np.c_[y + 0.2 * rng.normal(size=40), 3 * rng.normal(size=40)]   # column 1 is noise
>>> res = lmnn(X, y, k=3)
>>> bool(res.M[0, 0] > res.M[1, 1]), res.objective_history[-1] < res.objective_history[0]
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..tags import tags_for

__all__ = [
    "TAGS", "LMNNResult", "lmnn", "lmnn_objective", "knn_accuracy", "project_psd", "metric_factor", "embed",
    "target_neighbours", "MTLMNNConfig", "MTLMNNUserState", "MTLMNNCoordinatorState", "MTLMNNUserResult",
    "MTLMNNResult", "mtlmnn_user_init", "mtlmnn_local_step", "mtlmnn_coordinator_init", "mtlmnn_consensus_step",
    "mtlmnn_user_finish", "mtlmnn", "mtlmnn_objective", "mtlmnn_centralized", "mtlmnn_coordinator",
    "mtlmnn_user", "triplet_loss", "mine_triplets",
]

#: Message tags of the MT-LMNN roles (block 460..479).
TAGS = {name: getattr(tags_for("irene"), f"metric_{name}") for name in ("hello", "control", "target", "w0", "final")}

_GROW, _SHRINK = 1.2, 0.5


# -- validation --------------------------------------------------------------------------------------

def _check_int(name, value, low=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def _check_real(name, value, low=None, high=None, *, low_open=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be <= {high}, got {v}")
    return v


def _check_data(X, y, k, who="LMNN"):
    """X as a finite float (n, d) array, y as class indices 0..c−1; every class needs k + 1 points."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"{who}: X must be a 2-D array (n_samples >= 2, n_features >= 1), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{who}: X contains NaN or infinite values")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"{who}: y must be a 1-D array with one label per row of X "
                         f"({len(X)}), got shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{who}: y contains NaN or infinite labels")
    k = _check_int("k", k, 1)
    classes, yi = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"{who}: needs at least two classes (impostors are points of another class), "
                         f"got {len(classes)}")
    counts = np.bincount(yi)
    small = int(np.argmin(counts))
    if k >= counts[small]:
        raise ValueError(f"{who}: k = {k} target neighbours need every class to have at least k + 1 = {k + 1} "
                         f"points, but class {classes[small]!r} has {counts[small]} (k >= class size)")
    return X, yi.astype(np.intp), k


def _check_psd(name, M, d):
    M = np.asarray(M, dtype=np.float64)
    if M.shape != (d, d):
        raise ValueError(f"{name} must be a ({d}, {d}) matrix, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError(f"{name} contains NaN or infinite values")
    scale = max(1.0, float(np.abs(M).max()))
    if not np.allclose(M, M.T, rtol=0.0, atol=1e-10 * scale):
        raise ValueError(f"{name} must be symmetric (a Mahalanobis metric)")
    lo = float(np.linalg.eigvalsh((M + M.T) / 2)[0])
    if lo < -1e-10 * scale:
        raise ValueError(f"{name} must be positive semidefinite, but its smallest eigenvalue is {lo:.3g}")
    return (M + M.T) / 2


# -- linear algebra ----------------------------------------------------------------------------------

def project_psd(A):
    """The nearest (Frobenius) PSD matrix to the symmetric part of A: clip negative eigenvalues to 0."""
    A = np.asarray(A, dtype=np.float64)
    lam, V = np.linalg.eigh((A + A.T) / 2)
    np.maximum(lam, 0.0, out=lam)
    M = (V * lam) @ V.T
    return (M + M.T) / 2


def metric_factor(M, dim=None):
    """L with LᵀL = M (rows ordered by decreasing eigenvalue); ``dim`` keeps the top rows (V₀ ∈ R^{m×d})."""
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"metric_factor: M must be a square matrix, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError("metric_factor: M contains NaN or infinite values")
    lam, V = np.linalg.eigh((M + M.T) / 2)
    lam, V = lam[::-1], V[:, ::-1]
    L = np.sqrt(np.maximum(lam, 0.0))[:, None] * V.T
    if dim is not None:
        dim = _check_int("dim", dim, 1)
        if dim > M.shape[0]:
            raise ValueError(f"metric_factor: dim = {dim} exceeds the dimension {M.shape[0]} of M")
        L = L[:dim]
    return L


def embed(features, L, *, normalize_input=True, normalize_output=False):
    """Faceprints φ(ψ) = L ψ̂ (ψ̂ = ψ/‖ψ‖₂ when ``normalize_input``, as in §III-B), optionally on the sphere."""
    F = np.asarray(features, dtype=np.float64)
    L = np.asarray(L, dtype=np.float64)
    if F.ndim != 2 or L.ndim != 2 or L.shape[1] != F.shape[1]:
        raise ValueError(f"embed: need features (n, d) and L (m, d), got {F.shape} and {L.shape}")
    if normalize_input:
        F = F / np.maximum(np.linalg.norm(F, axis=1, keepdims=True), 1e-12)
    E = F @ L.T
    if normalize_output:
        E = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    return E


def _sqdist(A, B=None):
    B = A if B is None else B
    D = np.einsum("ij,ij->i", A, A)[:, None] + np.einsum("ij,ij->i", B, B)[None, :] - 2.0 * (A @ B.T)
    np.maximum(D, 0.0, out=D)
    return D


def target_neighbours(X, y, k):
    """(n, k) indices: each point's k nearest Euclidean neighbours of its own class (ties by index)."""
    X, yi, k = _check_data(X, y, k)
    return _targets(X, yi, k)


def _targets(X, yi, k):
    n = len(X)
    T = np.empty((n, k), dtype=np.intp)
    for c in range(int(yi.max()) + 1):
        idx = np.flatnonzero(yi == c)
        D = _sqdist(X[idx])
        np.fill_diagonal(D, np.inf)
        T[idx] = idx[np.argsort(D, axis=1, kind="stable")[:, :k]]
    return T


# -- one user's LMNN terms with an exact active set ----------------------------------------------------

class _LMNNTerms:
    """ε(M) and a subgradient for one user's data, with the impostor working set of the module docstring.

    ``targets`` (default: Euclidean in X) lets a preconditioned solver keep the original target neighbours."""

    def __init__(self, X, yi, k, mu, *, targets=None, buffer=1.0, chunk=1_000_000):
        self.X, self.yi, self.k, self.mu = X, yi, k, mu
        n = self.n = len(X)
        self.targets = _targets(X, yi, k) if targets is None else np.asarray(targets, dtype=np.intp)
        self.rows = np.repeat(np.arange(n), k)
        self.cols = self.targets.ravel()
        self.E = _sqdist(X)
        self.E_t = self.E[self.rows, self.cols].reshape(n, k)
        # additive mask: 0 where l is of another class than i (a triplet), −inf where it is not
        self.penalty = np.where(yi[:, None] != yi[None, :], 0.0, -np.inf)
        self.buffer = buffer
        self.block = max(1, chunk // max(1, k * n))
        self.pull_counts = np.bincount(self.rows * n + self.cols, minlength=n * n).astype(np.float64)
        self.ws = None          # (I, J, L) of the working set
        self.center = None
        self.radius = 0.0
        self.refreshes = 0

    def distances(self, M):
        G = (self.X @ M) @ self.X.T
        g = np.diag(G).copy()
        D = g[:, None] + g[None, :] - 2.0 * G
        np.maximum(D, 0.0, out=D)
        return D

    def refresh(self, M, D=None):
        """Recompute the working set at M: all triplets with hinge > −buffer, and the safety radius
        ρ = min over the excluded triplets of −h / (‖a‖² + ‖b‖²) (a = x_i − x_j, b = x_i − x_l)."""
        D = self.distances(M) if D is None else D
        n, k = self.n, self.k
        Dt = D[self.rows, self.cols].reshape(n, k)
        Is, Js, Ls = [], [], []
        radius = np.inf
        for s in range(0, n, self.block):
            e = min(n, s + self.block)
            H = (1.0 + Dt[s:e, :, None]) - (D[s:e, None, :] - self.penalty[s:e, None, :])   # (b, k, n)
            keep = H > -self.buffer
            i, jj, l = np.nonzero(keep)
            Is.append(i + s)
            Js.append(self.targets[i + s, jj])
            Ls.append(l)
            H[keep] = -np.inf                                            # only the excluded triplets remain
            H /= self.E_t[s:e, :, None] + self.E[s:e, None, :] + 1e-300
            radius = min(radius, -float(H.max()))
        self.ws = (np.concatenate(Is), np.concatenate(Js), np.concatenate(Ls))
        self.center = np.array(M, dtype=np.float64, copy=True)
        self.radius = radius
        self.refreshes += 1
        return D

    def _inside(self, M):
        if self.ws is None:
            return False
        if self.radius == np.inf:
            return True
        delta = M - self.center
        bound = float(np.linalg.norm(delta))                             # ‖Δ‖₂ <= ‖Δ‖_F: the cheap test first
        if bound < self.radius:
            return True
        return float(np.abs(np.linalg.eigvalsh((delta + delta.T) / 2)).max()) < self.radius

    def evaluate(self, M, *, want_triplets=False, smooth=0.0):
        """(value, subgradient, number of active triplets, ε(M)[, active triplets (m, 3), their hinges]).

        With ``smooth`` = δ > 0 the hinge [h]₊ is replaced by its quadratic smoothing (h²/2δ on [0, δ],
        h − δ/2 beyond; it lies within δ/2 below [h]₊) in the value and the gradient; ε(M) stays exact."""
        D = self.distances(M)
        if not self._inside(M):
            self.refresh(M, D)
        I, J, L = self.ws
        h = 1.0 + D[I, J] - D[I, L]
        act = h > 0
        n, mu = self.n, self.mu
        pull = float(D[self.rows, self.cols].sum())
        ha = h[act]
        exact = (1.0 - mu) * pull + mu * float(ha.sum())
        Ia, Ja, La = I[act], J[act], L[act]
        if smooth > 0:
            w = np.minimum(ha / smooth, 1.0)
            f = (1.0 - mu) * pull + mu * float(np.sum(np.where(ha < smooth, ha * ha / (2.0 * smooth),
                                                                 ha - smooth / 2.0)))
        else:
            w, f = None, exact
        A = (1.0 - mu) * self.pull_counts
        if len(Ia):
            A = A + mu * (np.bincount(Ia * n + Ja, weights=w, minlength=n * n)
                          - np.bincount(Ia * n + La, weights=w, minlength=n * n))
        A = A.reshape(n, n)
        S = -(A + A.T)
        S[np.diag_indices(n)] += A.sum(axis=0) + A.sum(axis=1)
        G = self.X.T @ (S @ self.X)
        G = (G + G.T) / 2
        out = (f, G, int(act.sum()), exact)
        if want_triplets:
            out += (np.stack([Ia, Ja, La], axis=1), ha)
        return out


def _preconditioner(X, kind):
    """A symmetric A with x̃ = A x: None (identity), "diagonal" (1/std per feature), "whiten" (Σ^{-1/2})."""
    d = X.shape[1]
    if kind is None or kind == "none":
        return None
    if kind == "diagonal":
        sd = X.std(axis=0)
        sd[sd <= 1e-12 * max(float(sd.max()), 1e-300)] = 1.0
        return np.diag(1.0 / sd)
    if kind == "whiten":
        lam, U = np.linalg.eigh(np.cov(X, rowvar=False).reshape(d, d))
        lam = np.maximum(lam, 1e-6 * max(float(lam.max()), 1e-300))
        return (U / np.sqrt(lam)) @ U.T
    raise ValueError(f"precondition must be None, 'diagonal' or 'whiten', got {kind!r}")


# -- LMNN ----------------------------------------------------------------------------------------------

@dataclass
class LMNNResult:
    """A learnt metric: ``M`` (d × d, PSD), ``L`` (LᵀL = M), the objective after every accepted step,
    ``n_active`` impostor triplets with a positive hinge at M (listed in ``active_triplets`` as rows
    (i, j, l) with ``slacks`` ξ = 1 + d(i, j) − d(i, l)), the target neighbours, iterations run."""

    M: np.ndarray
    L: np.ndarray
    objective_history: list
    n_active: int
    active_triplets: np.ndarray = field(repr=False, default=None)
    slacks: np.ndarray = field(repr=False, default=None)
    targets: np.ndarray = field(repr=False, default=None)
    n_iter: int = 0
    converged: bool = False
    n_refreshes: int = 0

    @property
    def objective(self) -> float:
        return self.objective_history[-1]


def _initial_metric(init, d, seed):
    if isinstance(init, str):
        if init == "identity":
            return np.eye(d)
        if init == "random":
            A = np.random.default_rng(seed).normal(size=(d, d)) / math.sqrt(d)
            return A @ A.T + np.eye(d) * 1e-3
        raise ValueError(f"init must be 'identity', 'random' or a PSD (d, d) matrix, got {init!r}")
    return _check_psd("init", init, d)


def lmnn(X, y, *, k=3, mu=0.5, max_iter=1000, tol=1e-6, init="identity", seed=0, step=0.1,
         refresh_every=10, buffer=1.0, patience=10, precondition="diagonal") -> LMNNResult:
    """Large margin nearest neighbour metric of one user (eq. 5, with the trade-off μ of Weinberger & Saul).

    Projected subgradient descent from ``init`` ("identity", "random" drawn from ``seed``, or a PSD
    matrix); the first step moves M by ``step`` · ‖M₀‖_F, later ones grow × 1.2 after a decrease and
    are halved (the step refused) after an increase. Stops when the relative decrease of ε stayed below
    ``tol`` for ``patience`` accepted steps, when the step vanishes, or after ``max_iter`` steps. The
    working set of impostor triplets is recomputed every ``refresh_every`` accepted steps (and whenever
    the safety radius is left), holding every triplet within ``buffer`` of being active.

    ``precondition`` runs the same method in rescaled coordinates x̃ = A x, N = A⁻¹ M A⁻¹ (ε and the PSD
    cone are unchanged, target neighbours stay Euclidean in x): "diagonal" scales each feature by its
    standard deviation, "whiten" by Σ^{-1/2}, None works on M directly. It only changes the geometry
    of the steps; badly scaled features otherwise make the subgradient steps zig-zag.
    """
    X, yi, k = _check_data(X, y, k)
    mu = _check_real("mu", mu, 0.0, 1.0)
    max_iter = _check_int("max_iter", max_iter, 1)
    tol = _check_real("tol", tol, 0.0)
    step = _check_real("step", step, 0.0, low_open=True)
    refresh_every = _check_int("refresh_every", refresh_every, 1)
    buffer = _check_real("buffer", buffer, 0.0)
    patience = _check_int("patience", patience, 1)
    d = X.shape[1]
    M0 = _initial_metric(init, d, seed)
    A = _preconditioner(X, precondition)
    targets = _targets(X, yi, k)
    if A is None:
        Xs, N = X, M0
    else:
        B = np.linalg.inv(A)
        Xs, N = X @ A, B @ M0 @ B
        N = (N + N.T) / 2
    terms = _LMNNTerms(Xs, yi, k, mu, targets=targets, buffer=buffer)
    f, G, _, _ = terms.evaluate(N)
    history = [f]
    gnorm = float(np.linalg.norm(G))
    eta = step * max(float(np.linalg.norm(N)), 1e-12) / gnorm if gnorm > 0 else 0.0
    eta_min = eta * 1e-12
    small, converged, it, since = 0, gnorm == 0.0, 0, 0
    while not converged and it < max_iter:
        it += 1
        N_new = project_psd(N - eta * G)
        f_new, G_new, _, _ = terms.evaluate(N_new)
        if f_new <= f:
            decrease = (f - f_new) / max(abs(f), 1e-300)
            N, f, G = N_new, f_new, G_new
            history.append(f)
            eta *= _GROW
            small = small + 1 if decrease < tol else 0
            converged = small >= patience
            since += 1
            if since >= refresh_every:
                terms.refresh(N)
                since = 0
        else:
            eta *= _SHRINK
            converged = eta < eta_min
    M = N if A is None else A @ N @ A
    M = (M + M.T) / 2
    _, _, n_active, f, trip, slack = terms.evaluate(N, want_triplets=True)
    history[-1] = f
    return LMNNResult(M=M, L=metric_factor(M), objective_history=history, n_active=n_active,
                      active_triplets=trip, slacks=slack, targets=targets, n_iter=it,
                      converged=converged, n_refreshes=terms.refreshes)


def lmnn_objective(X, y, M, *, k=3, mu=0.5, targets=None) -> float:
    """ε(M) by brute force over every triplet (a reference for tests; O(n²k) memory)."""
    X, yi, k = _check_data(X, y, k)
    M = _check_psd("M", M, X.shape[1])
    T = _targets(X, yi, k) if targets is None else np.asarray(targets)
    diffs = X[:, None, :] - X[None, :, :]
    D = np.einsum("ija,ab,ijb->ij", diffs, M, diffs)
    Dt = np.take_along_axis(D, T, axis=1)
    H = 1.0 + Dt[:, :, None] - D[:, None, :]
    H = np.where((yi[:, None] != yi[None, :])[:, None, :], np.maximum(H, 0.0), 0.0)
    return float((1.0 - mu) * Dt.sum() + mu * H.sum())


def knn_accuracy(X_train, y_train, X_test, y_test, M, k=3) -> float:
    """Accuracy of k-NN under d_M (majority vote; a tie goes to the tied class with the nearest neighbour)."""
    Xtr = np.asarray(X_train, dtype=np.float64)
    Xte = np.asarray(X_test, dtype=np.float64)
    if Xtr.ndim != 2 or Xte.ndim != 2 or Xtr.shape[1] != Xte.shape[1] or len(Xtr) == 0 or len(Xte) == 0:
        raise ValueError(f"knn_accuracy: X_train and X_test must be non-empty 2-D arrays with the same number "
                         f"of columns, got {Xtr.shape} and {Xte.shape}")
    if not (np.all(np.isfinite(Xtr)) and np.all(np.isfinite(Xte))):
        raise ValueError("knn_accuracy: the data contain NaN or infinite values")
    ytr, yte = np.asarray(y_train), np.asarray(y_test)
    if ytr.shape != (len(Xtr),) or yte.shape != (len(Xte),):
        raise ValueError(f"knn_accuracy: need one label per row, got y_train {ytr.shape} for {len(Xtr)} rows "
                         f"and y_test {yte.shape} for {len(Xte)} rows")
    k = _check_int("k", k, 1)
    if k > len(Xtr):
        raise ValueError(f"knn_accuracy: k = {k} exceeds the {len(Xtr)} training points")
    L = metric_factor(_check_psd("M", M, Xtr.shape[1]))
    classes, yi = np.unique(ytr, return_inverse=True)
    D = _sqdist(Xte @ L.T, Xtr @ L.T)
    nn = np.argsort(D, axis=1, kind="stable")[:, :k]
    lab = yi[nn]                                                        # (m, k), nearest first
    rows = np.arange(len(Xte))
    counts = np.zeros((len(Xte), len(classes)))
    np.add.at(counts, (rows[:, None], lab), 1.0)
    first = np.full((len(Xte), len(classes)), float(k))
    for r in range(k - 1, -1, -1):                                      # ends holding each class's nearest rank
        first[rows, lab[:, r]] = r
    score = counts * (k + 1) - first                                    # votes first, then the nearer class
    pred = classes[np.argmax(score, axis=1)]
    return float(np.mean(pred == yte))


# -- MT-LMNN: configuration and the transport-free steps ------------------------------------------------

@dataclass(frozen=True)
class MTLMNNConfig:
    """MT-LMNN settings shared by the coordinator and every user.

    ``k``, ``mu``: LMNN per user; ``gamma0``: weight of ‖W₀ − I‖²; ``gamma``: weight of ‖W_k‖²;
    ``rho``: initial ADMM penalty; ``adaptive_rho``: during the first ``rho_rounds`` rounds ρ doubles
    when the primal residual exceeds ``rho_balance[0]`` × the dual one and halves when the dual one
    exceeds ``rho_balance[1]`` × the primal one (the default leans towards consensus), then stays fixed
    (so the iteration converges); ``relax``: over-relaxation α ∈ (0, 2]; ``rounds``: most exchanges;
    ``local_steps``: proximal (sub)gradient steps per user per round; ``tol``: relative primal and
    dual residuals at which the coordinator stops (after ``min_rounds``); ``step``: a user's first step
    moves its metric by this fraction of ‖I‖; ``smooth``, ``smooth_decay``, ``smooth_min``: the hinge
    smoothing δ_t = max(smooth_min, smooth · smooth_decayᵗ) of round t's local steps (``smooth`` = 0:
    the exact hinge and plain subgradient steps, which stall at its kinks and leave the copies of W₀
    several per cent apart); ``buffer``: the working set's margin; ``timeout``: seconds per receive.
    """

    k: int = 3
    mu: float = 0.5
    gamma0: float = 1.0
    gamma: float = 1.0
    rho: float = 1.0
    adaptive_rho: bool = True
    relax: float = 1.0
    rho_rounds: int = 50
    rho_balance: tuple = (1.0, 100.0)
    rounds: int = 500
    local_steps: int = 5
    tol: float = 1e-3
    min_rounds: int = 5
    step: float = 0.1
    smooth: float = 0.5
    smooth_decay: float = 0.97
    smooth_min: float = 0.02
    buffer: float = 1.0
    timeout: float = 120.0

    def __post_init__(self):
        _check_int("k", self.k, 1)
        _check_real("mu", self.mu, 0.0, 1.0)
        _check_real("gamma0", self.gamma0, 0.0, low_open=True)
        _check_real("gamma", self.gamma, 0.0, low_open=True)
        _check_real("rho", self.rho, 0.0, low_open=True)
        _check_real("relax", self.relax, 0.0, 2.0, low_open=True)
        _check_int("rho_rounds", self.rho_rounds, 0)
        if len(self.rho_balance) != 2 or min(_check_real("rho_balance", b, 0.0, low_open=True)
                                             for b in self.rho_balance) <= 0:
            raise ValueError(f"rho_balance must be two positive factors, got {self.rho_balance!r}")
        _check_int("rounds", self.rounds, 1)
        _check_int("local_steps", self.local_steps, 1)
        _check_real("tol", self.tol, 0.0)
        _check_int("min_rounds", self.min_rounds, 1)
        _check_real("step", self.step, 0.0, low_open=True)
        _check_real("smooth", self.smooth, 0.0)
        _check_real("smooth_decay", self.smooth_decay, 0.0, 1.0, low_open=True)
        _check_real("smooth_min", self.smooth_min, 0.0)
        _check_real("buffer", self.buffer, 0.0)
        _check_real("timeout", self.timeout, 0.0, low_open=True)


@dataclass
class MTLMNNUserState:
    """What one user holds: its data's LMNN terms, its copy W₀⁽ᵏ⁾, its private W_k, its step size, ρ."""

    terms: _LMNNTerms = field(repr=False)
    W0: np.ndarray
    W: np.ndarray
    eta: float
    rho: float
    history: list = field(default_factory=list)   # ε_k(W₀⁽ᵏ⁾ + W_k) + γ‖W_k‖² after each round
    rounds: int = 0


@dataclass
class MTLMNNCoordinatorState:
    """The coordinator's consensus Z, the scaled dual prices U_k per user, ρ and the residual history."""

    Z: np.ndarray
    U: dict
    rho: float
    round: int = 0
    primal: list = field(default_factory=list)
    dual: list = field(default_factory=list)
    rhos: list = field(default_factory=list)
    converged: bool = False


@dataclass
class MTLMNNUserResult:
    """User k's outcome: M = W0 + W (its metric), the commonality W0 (the consensus), its private W,
    L (LᵀL = M), its last local copy W0_local, and its local objective per round."""

    M: np.ndarray
    W0: np.ndarray
    W: np.ndarray
    L: np.ndarray
    W0_local: np.ndarray
    objective_history: list
    rounds: int


@dataclass
class MTLMNNResult:
    """The coordinator's outcome: the commonality metric W0 (for fine-tuning ψ), its factor L0, rounds,
    residuals per round, ρ per round, whether the residuals met ``tol``; ``users`` where all ran here."""

    W0: np.ndarray
    L0: np.ndarray
    rounds: int
    primal_residuals: list
    dual_residuals: list
    rhos: list
    converged: bool
    users: list | None = None


def _smoothing(config, t):
    """δ of round t: ``smooth`` · ``smooth_decay``ᵗ, never below ``smooth_min`` (0 turns smoothing off)."""
    if config.smooth == 0:
        return 0.0
    return max(config.smooth_min, config.smooth * config.smooth_decay ** t)


def _user_objective(terms, W0, W, V, gamma, rho, delta):
    f, G, _, exact = terms.evaluate(W0 + W, smooth=delta)
    reg = gamma * float(np.sum(W * W))
    F = f + reg + 0.5 * rho * float(np.sum((W0 - V) ** 2))
    return F, exact + reg, G


def mtlmnn_user_init(X, y, config: MTLMNNConfig) -> MTLMNNUserState:
    """A user's starting state: W₀⁽ᵏ⁾ = I, W_k = 0 and its data's LMNN terms (target neighbours by Euclid)."""
    X, yi, k = _check_data(X, y, config.k, who="MT-LMNN user")
    d = X.shape[1]
    terms = _LMNNTerms(X, yi, k, config.mu, buffer=config.buffer)
    W0, W = np.eye(d), np.zeros((d, d))
    _, G, _, _ = terms.evaluate(W0 + W)
    gnorm = float(np.linalg.norm(G))
    eta = config.step * math.sqrt(d) / gnorm if gnorm > 0 else config.step
    return MTLMNNUserState(terms=terms, W0=W0, W=W, eta=eta, rho=config.rho)


def mtlmnn_local_step(state: MTLMNNUserState, V, config: MTLMNNConfig, *, rho=None):
    """One round at a user: ``local_steps`` proximal projected (sub)gradient steps on the augmented local
    objective ε_k(W₀ + W_k) + γ‖W_k‖² + (ρ/2)‖W₀ − V‖²: the step on ε_k, then the exact proximal map of
    the quadratic terms and the projection onto the PSD cone; a step that would increase the objective
    is refused and halves the step size, an accepted one grows it × 1.2. The hinge of ε_k is smoothed by
    δ_t (see :class:`MTLMNNConfig`), which makes a refused step rare: at the kinks of the exact hinge a
    subgradient need not be a descent direction and monotone steps stall. Returns the new state and the
    copy W₀⁽ᵏ⁾ to send (the only thing that leaves the user)."""
    d = state.W0.shape[0]
    V = np.asarray(V, dtype=np.float64)
    if V.shape != (d, d) or not np.all(np.isfinite(V)):
        raise ValueError(f"MT-LMNN user: the coordinator's target must be a finite ({d}, {d}) matrix, "
                         f"got shape {V.shape}")
    rho = state.rho if rho is None else _check_real("rho", rho, 0.0, low_open=True)
    gamma, terms = config.gamma, state.terms
    W0, W, eta = state.W0, state.W, state.eta
    delta = _smoothing(config, state.rounds)
    F, obj, G = _user_objective(terms, W0, W, V, gamma, rho, delta)
    for _ in range(config.local_steps):
        # proximal subgradient: the quadratic terms and the PSD cone are handled exactly
        W0n = project_psd((W0 - eta * G + (eta * rho) * V) / (1.0 + eta * rho))
        Wn = project_psd((W - eta * G) / (1.0 + 2.0 * eta * gamma))
        Fn, objn, Gn = _user_objective(terms, W0n, Wn, V, gamma, rho, delta)
        if Fn <= F:
            W0, W, F, obj, G = W0n, Wn, Fn, objn, Gn
            eta *= _GROW
        else:
            eta *= _SHRINK
    new = replace(state, W0=W0, W=W, eta=max(eta, 1e-300), rho=rho, history=state.history + [obj],
                  rounds=state.rounds + 1)
    return new, W0.copy()


def mtlmnn_user_finish(state: MTLMNNUserState, Z) -> MTLMNNUserResult:
    """A user's result once the coordinator sent the consensus Z: M_k = Z + W_k."""
    d = state.W0.shape[0]
    Z = _check_psd("the consensus W0", Z, d)
    M = Z + state.W
    M = (M + M.T) / 2
    return MTLMNNUserResult(M=M, W0=Z, W=state.W.copy(), L=metric_factor(M), W0_local=state.W0.copy(),
                            objective_history=list(state.history), rounds=state.rounds)


def mtlmnn_coordinator_init(users, d, config: MTLMNNConfig) -> tuple:
    """The coordinator's start: Z = I, U_k = 0; returns (state, {user: V_k = I})."""
    users = list(users)
    if len(users) < 2:
        raise ValueError(f"MT-LMNN needs at least 2 users to share W0, got {len(users)}")
    if len(set(users)) != len(users):
        raise ValueError(f"MT-LMNN: user identifiers must be distinct, got {users}")
    d = _check_int("d", d, 1)
    state = MTLMNNCoordinatorState(Z=np.eye(d), U={u: np.zeros((d, d)) for u in users}, rho=config.rho)
    return state, {u: np.eye(d) for u in users}


def mtlmnn_consensus_step(state: MTLMNNCoordinatorState, copies, config: MTLMNNConfig) -> tuple:
    """The coordinator's round: Z ← Π_PSD((2γ₀I + ρΣ(W₀⁽ᵏ⁾ + U_k))/(2γ₀ + Kρ)), U_k ← U_k + W₀⁽ᵏ⁾ − Z,
    residuals r = (Σ‖W₀⁽ᵏ⁾ − Z‖²)^½, s = ρ√K‖Z − Z_prev‖, ρ balanced (×2 or /2 when one residual
    exceeds the other tenfold, U rescaled). Returns (state, {user: V_k = Z − U_k}, stop)."""
    users = list(state.U)
    if set(copies) != set(users):
        raise ValueError(f"MT-LMNN coordinator: expected W0 copies from users {sorted(users)}, "
                         f"got {sorted(copies)}")
    d = state.Z.shape[0]
    W0s = {}
    for u in users:
        C = np.asarray(copies[u], dtype=np.float64)
        if C.shape != (d, d) or not np.all(np.isfinite(C)):
            raise ValueError(f"MT-LMNN coordinator: user {u} sent a W0 copy of shape {C.shape} (need a finite "
                             f"({d}, {d}) matrix)")
        W0s[u] = C
    K, rho, g0 = len(users), state.rho, config.gamma0
    a = config.relax                                                   # over-relaxation (Boyd et al. §3.4.3)
    Xh = {u: a * W0s[u] + (1.0 - a) * state.Z for u in users}
    S = sum(Xh[u] + state.U[u] for u in users)
    Z = project_psd((2.0 * g0 * np.eye(d) + rho * S) / (2.0 * g0 + K * rho))
    U = {u: state.U[u] + Xh[u] - Z for u in users}
    r = math.sqrt(sum(float(np.sum((W0s[u] - Z) ** 2)) for u in users))
    s = rho * math.sqrt(K) * float(np.linalg.norm(Z - state.Z))
    norm_U = math.sqrt(sum(float(np.sum(U[u] ** 2)) for u in users))
    scale = max(math.sqrt(K) * float(np.linalg.norm(Z)), math.sqrt(sum(float(np.sum(C ** 2)) for C in W0s.values())),
                1.0)
    t = state.round + 1
    # Boyd et al. §3.3.1 (relative): ε_pri = tol·max(‖Z‖, ‖W₀⁽ᵏ⁾‖), ε_dual = tol·max(‖ρU‖, ρ‖Z‖), stacked over users
    converged = t >= config.min_rounds and r <= config.tol * scale and s <= config.tol * rho * max(norm_U, scale)
    stop = converged or t >= config.rounds
    new_rho = rho
    if config.adaptive_rho and not stop and t <= config.rho_rounds:     # residual balancing (Boyd et al. §3.4.1)
        if r > config.rho_balance[0] * s:
            new_rho = rho * 2.0
        elif s > config.rho_balance[1] * r:
            new_rho = rho / 2.0
        if new_rho != rho:
            U = {u: U[u] * (rho / new_rho) for u in users}
    new = MTLMNNCoordinatorState(Z=Z, U=U, rho=new_rho, round=t, primal=state.primal + [r],
                                 dual=state.dual + [s], rhos=state.rhos + [rho], converged=converged)
    return new, {u: Z - U[u] for u in users}, stop


def _coordinator_result(state, users=None):
    return MTLMNNResult(W0=state.Z.copy(), L0=metric_factor(state.Z), rounds=state.round,
                        primal_residuals=list(state.primal), dual_residuals=list(state.dual),
                        rhos=list(state.rhos), converged=state.converged, users=users)


def _check_users(Xs, ys):
    Xs, ys = list(Xs), list(ys)
    if len(Xs) != len(ys):
        raise ValueError(f"MT-LMNN: {len(Xs)} data sets but {len(ys)} label vectors")
    if len(Xs) < 2:
        raise ValueError(f"MT-LMNN needs at least 2 users to share W0, got {len(Xs)}")
    dims = {np.shape(X)[1] if np.ndim(X) == 2 else None for X in Xs}
    if len(dims) != 1 or None in dims:
        raise ValueError(f"MT-LMNN: every user's X must be 2-D with the same number of features, got shapes "
                         f"{[np.shape(X) for X in Xs]}")
    return Xs, ys, dims.pop()


def mtlmnn(Xs, ys, config: MTLMNNConfig | None = None) -> MTLMNNResult:
    """MT-LMNN by the consensus dual decomposition, every user in this process (the same steps as the
    roles, without a transport). ``result.users[k]`` is user k's :class:`MTLMNNUserResult`."""
    config = MTLMNNConfig() if config is None else config
    Xs, ys, d = _check_users(Xs, ys)
    users = [mtlmnn_user_init(X, y, config) for X, y in zip(Xs, ys)]
    coord, targets = mtlmnn_coordinator_init(range(len(users)), d, config)
    while True:
        copies = {}
        for u, st in enumerate(users):
            users[u], copies[u] = mtlmnn_local_step(st, targets[u], config, rho=coord.rho)
        coord, targets, stop = mtlmnn_consensus_step(coord, copies, config)
        if stop:
            break
    return _coordinator_result(coord, [mtlmnn_user_finish(st, coord.Z) for st in users])


def mtlmnn_objective(Xs, ys, W0, Ws, config: MTLMNNConfig | None = None) -> float:
    """Eq. 7: γ₀‖W₀ − I‖² + Σ_k (γ‖W_k‖² + ε_k(W₀ + W_k)) (ε_k with the trade-off μ)."""
    config = MTLMNNConfig() if config is None else config
    Xs, ys, d = _check_users(Xs, ys)
    W0 = _check_psd("W0", W0, d)
    total = config.gamma0 * float(np.sum((W0 - np.eye(d)) ** 2))
    for X, y, W in zip(Xs, ys, Ws):
        W = _check_psd("W_k", W, d)
        total += config.gamma * float(np.sum(W * W)) + lmnn_objective(X, y, W0 + W, k=config.k, mu=config.mu)
    return total


def mtlmnn_centralized(Xs, ys, config: MTLMNNConfig | None = None, *, max_iter=3000, tol=1e-7):
    """Eq. 7 solved with all users' data in one place (projected gradient on (W₀, W_1..W_K) jointly, the
    hinge smoothed with δ shrinking as in the rounds of the distributed solver, one stage per
    ``max_iter``/100 steps): a reference for testing the distributed solver only.
    Returns (W0, [W_k], exact objective after each accepted step)."""
    config = MTLMNNConfig() if config is None else config
    Xs, ys, d = _check_users(Xs, ys)
    terms = []
    for X, y in zip(Xs, ys):
        X, yi, k = _check_data(X, y, config.k, who="MT-LMNN user")
        terms.append(_LMNNTerms(X, yi, k, config.mu, buffer=config.buffer))
    I = np.eye(d)

    def value(W0, Ws, delta):
        r0 = config.gamma0 * float(np.sum((W0 - I) ** 2))
        f, exact, G0, Gs = r0, r0, 2.0 * config.gamma0 * (W0 - I), []
        for t, W in zip(terms, Ws):
            ft, Gt, _, et = t.evaluate(W0 + W, smooth=delta)
            reg = config.gamma * float(np.sum(W * W))
            f, exact = f + ft + reg, exact + et + reg
            G0 = G0 + Gt
            Gs.append(Gt + 2.0 * config.gamma * W)
        return f, exact, G0, Gs

    W0, Ws = I.copy(), [np.zeros((d, d)) for _ in terms]
    stage_len = max(1, max_iter // 100)
    delta = _smoothing(config, 0)
    f, exact, G0, Gs = value(W0, Ws, delta)
    gn = math.sqrt(float(np.sum(G0 ** 2)) + sum(float(np.sum(G ** 2)) for G in Gs))
    eta = config.step * math.sqrt(d) / max(gn, 1e-300)
    history = [exact]
    for it in range(max_iter):
        stage_delta = _smoothing(config, it // stage_len)
        if stage_delta != delta:
            delta = stage_delta
            f, exact, G0, Gs = value(W0, Ws, delta)
        W0n = project_psd(W0 - eta * G0)
        Wsn = [project_psd(W - eta * G) for W, G in zip(Ws, Gs)]
        fn, en, G0n, Gsn = value(W0n, Wsn, delta)
        if fn <= f:
            W0, Ws, f, exact, G0, Gs = W0n, Wsn, fn, en, G0n, Gsn
            history.append(exact)
            eta *= _GROW
        else:
            eta *= _SHRINK
            if eta < 1e-300:
                break
    return W0, Ws, history


# -- MT-LMNN as roles over a transport ---------------------------------------------------------------

def _user_ranks(transport, n_users):
    n_users = _check_int("n_users", n_users, 0)
    if n_users < 2:
        raise ValueError(f"MT-LMNN needs at least 2 users to share W0, got n_users = {n_users}")
    others = [r for r in range(transport.size) if r != transport.rank]
    if len(others) < n_users:
        raise ValueError(f"MT-LMNN coordinator: n_users = {n_users} but the transport has only "
                         f"{len(others)} other ranks")
    return others[:n_users]


def mtlmnn_coordinator(transport, n_users, config: MTLMNNConfig | None = None) -> MTLMNNResult:
    """The coordinator's role: the users are the first ``n_users`` ranks other than its own. It only
    ever receives W₀ copies and ``{"d": d}``, and sends V_k = Z − U_k, the final Z and control dicts."""
    config = MTLMNNConfig() if config is None else config
    users = _user_ranks(transport, n_users)
    dims = {}
    for u in users:
        hello, _ = transport.recv(u, TAGS["hello"], timeout=config.timeout)
        dims[u] = int(hello["d"])
    if len(set(dims.values())) != 1:
        raise ValueError(f"MT-LMNN coordinator: the users' feature dimensions differ: {dims}")
    state, targets = mtlmnn_coordinator_init(users, dims[users[0]], config)
    stop = False
    while True:
        for u in users:
            transport.send({"round": state.round, "stop": 0, "rho": float(state.rho)}, u, TAGS["control"])
            transport.send(targets[u], u, TAGS["target"])
        copies = {}
        for u in users:
            copies[u], _ = transport.recv(u, TAGS["w0"], timeout=config.timeout)
        state, targets, stop = mtlmnn_consensus_step(state, copies, config)
        if stop:
            break
    for u in users:
        transport.send({"round": state.round, "stop": 1, "rho": float(state.rho)}, u, TAGS["control"])
        transport.send(state.Z, u, TAGS["final"])
    return _coordinator_result(state)


def mtlmnn_user(transport, X, y, config: MTLMNNConfig | None = None, coordinator=0) -> MTLMNNUserResult:
    """A user's role: keeps X, y and W_k to itself, sends only its copy of W₀ each round."""
    config = MTLMNNConfig() if config is None else config
    state = mtlmnn_user_init(X, y, config)
    transport.send({"d": int(state.W0.shape[0])}, coordinator, TAGS["hello"])
    while True:
        ctrl, _ = transport.recv(coordinator, TAGS["control"], timeout=config.timeout)
        if ctrl.get("stop"):
            Z, _ = transport.recv(coordinator, TAGS["final"], timeout=config.timeout)
            return mtlmnn_user_finish(state, Z)
        V, _ = transport.recv(coordinator, TAGS["target"], timeout=config.timeout)
        state, W0 = mtlmnn_local_step(state, V, config, rho=float(ctrl["rho"]))
        transport.send(W0, coordinator, TAGS["w0"])


# -- eq. 8: the triplet loss for fine-tuning ψ with the commonality metric ----------------------------

def triplet_loss(anchor, positive, negative, L, margin=1.0, *, normalize=False, check=True):
    """mean over triplets of [margin + ‖L(a − p)‖² − ‖L(a − n)‖²]₊ in torch (differentiable in a, p, n).

    ``L`` (m × d, torch or NumPy) is a factor of the commonality metric W₀ = LᵀL (:func:`metric_factor`);
    ``normalize`` divides each feature vector by its norm first (ψ̂ of eq. 8); ``check=False`` skips
    the data-dependent finiteness checks, which ``torch.func.vmap`` (per-sample gradients) cannot trace."""
    import torch

    a, p, n = anchor, positive, negative
    if not all(isinstance(t, torch.Tensor) for t in (a, p, n)):
        raise ValueError("triplet_loss: anchor, positive and negative must be torch tensors")
    if a.ndim != 2 or p.shape != a.shape or n.shape != a.shape or a.shape[0] == 0:
        raise ValueError(f"triplet_loss: anchor, positive and negative must share one (n, d) shape with n >= 1, "
                         f"got {tuple(a.shape)}, {tuple(p.shape)}, {tuple(n.shape)}")
    L = torch.as_tensor(L, dtype=a.dtype, device=a.device)
    if L.ndim != 2 or L.shape[1] != a.shape[1]:
        raise ValueError(f"triplet_loss: L must be (m, {a.shape[1]}), got {tuple(L.shape)}")
    margin = _check_real("margin", margin, 0.0)
    if check and not bool(torch.isfinite(L).all()):
        raise ValueError("triplet_loss: L contains NaN or infinite values")
    if check and not all(bool(torch.isfinite(t.detach()).all()) for t in (a, p, n)):
        raise ValueError("triplet_loss: the features contain NaN or infinite values")
    if normalize:
        a, p, n = (torch.nn.functional.normalize(t, dim=1) for t in (a, p, n))
    d_ap = ((a - p) @ L.T).pow(2).sum(dim=1)
    d_an = ((a - n) @ L.T).pow(2).sum(dim=1)
    return torch.clamp(margin + d_ap - d_an, min=0).mean()


def mine_triplets(features, labels, rng, n, *, L=None, margin=1.0, strategy="random"):
    """``n`` triplets (anchor, positive, negative) as three index arrays into ``features``.

    Anchors are drawn uniformly from the points whose class has another member, positives uniformly
    from the rest of the anchor's class, negatives from the other classes: uniformly ("random"), or
    ("semihard") among those with d(a, p) < d(a, n) < d(a, p) + margin under L (Euclidean when None),
    falling back to the closest negative beyond d(a, p), then to the hardest."""
    try:
        import torch
        if isinstance(features, torch.Tensor):
            features = features.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    F = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if F.ndim != 2 or y.shape != (len(F),):
        raise ValueError(f"mine_triplets: need features (N, d) and one label per row, got {F.shape} and {y.shape}")
    if not np.all(np.isfinite(F)):
        raise ValueError("mine_triplets: features contain NaN or infinite values")
    n = _check_int("n", n, 1)
    if strategy not in ("random", "semihard"):
        raise ValueError(f"mine_triplets: strategy must be 'random' or 'semihard', got {strategy!r}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    classes, yi = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("mine_triplets: needs at least two classes (negatives come from another class)")
    counts = np.bincount(yi)
    eligible = np.flatnonzero(counts[yi] >= 2)
    if len(eligible) == 0:
        raise ValueError("mine_triplets: no class has two members, so there is no anchor-positive pair")
    a = rng.choice(eligible, size=n)
    members = [np.flatnonzero(yi == c) for c in range(len(classes))]
    p = np.empty(n, dtype=np.intp)
    for t, i in enumerate(a):
        same = members[yi[i]]
        j = rng.integers(len(same) - 1)
        p[t] = same[j] if same[j] != i else same[-1]
    if strategy == "random":
        neg = np.empty(n, dtype=np.intp)
        for t, i in enumerate(a):
            others = np.flatnonzero(yi != yi[i])
            neg[t] = others[rng.integers(len(others))]
        return a, p, neg
    Z = F if L is None else F @ np.asarray(L, dtype=np.float64).T
    neg = np.empty(n, dtype=np.intp)
    for t, (i, j) in enumerate(zip(a, p)):
        others = np.flatnonzero(yi != yi[i])
        dn = np.sum((Z[others] - Z[i]) ** 2, axis=1)
        dp = float(np.sum((Z[j] - Z[i]) ** 2))
        semi = np.flatnonzero((dn > dp) & (dn < dp + margin))
        if len(semi):
            neg[t] = others[semi[rng.integers(len(semi))]]
        elif np.any(dn > dp):
            beyond = np.flatnonzero(dn > dp)
            neg[t] = others[beyond[np.argmin(dn[beyond])]]
        else:
            neg[t] = others[np.argmin(dn)]
    return a, p, neg
