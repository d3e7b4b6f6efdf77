"""The objectives a GradientCoin user minimises (seed 002 §5.2, Definition 13, appendix C.1; seed 000).

Every objective is a sum over data, ``L = Σ_c f_c``, and :meth:`Objective.split` hands user c its
private part f_c (Algorithm 1's local data Y, Algorithm 5's f_c), so the users' parts add up to
the whole: ``sum(p.value(x) for p in L.split(N)) == L.value(x)`` up to rounding, and likewise for
the gradients. :func:`local_steps` is a user's K local gradient steps of Algorithms 1 and 5.

:class:`AttentionRegression`: the softmax ("attention") regression of Definition 13 / C.1
------------------------------------------------------------------------------------------
How Definitions 38-47 are read here. Given A_1, A_2 ∈ R^{n×d}, B ∈ R^{n×n} (b = vec(B)) and the
weights x = vec(X) ∈ R^{d²}, vec being row-major so that (A_1 ⊗ A_2) vec(X) = vec(A_1 X A_2ᵀ)
(Claim 50, part 1, with Definition 38's row numbering (i_1 − 1) n + i_2):

* A = A_1 ⊗ A_2 ∈ R^{n²×d²} (Definition 38, "the attention matrix" of §5.2); its j_1-th block of
  n rows is A_[j_1] = A_{1,j_1,*} ⊗ A_2 ∈ R^{n×d²} (Definition 41);
* u(x)_{j_1} = exp(A_[j_1] x), α(x)_{j_1} = ⟨u(x)_{j_1}, 1_n⟩, f(x)_{j_1} = u(x)_{j_1} / α(x)_{j_1}
  (Definitions 41-43): f_{j_1} is the softmax of row j_1 of A_1 X A_2ᵀ, i.e. row j_1 of the
  attention matrix D(X)^{-1} exp(A_1 X A_2ᵀ) of Definitions 39-40 and Claim 50, part 4;
* c(x)_{j_1} = f(x)_{j_1} − b_[j_1] (Definition 44), L_exp,j_1 = ½ ‖c(x)_{j_1}‖² (Definition 45);
* L_reg,j_1 = ½ ‖diag(w) A_[j_1] x‖² with one w ∈ R^n for every block (Definition 46);
* L_j_1 = L_exp,j_1 + L_reg,j_1 and L = Σ_{j_1 ∈ [n]} L_j_1 (Definitions 13 and 47).

So L(X) = ½ ‖softmax_rows(A_1 X A_2ᵀ) − B‖_F² + ½ ‖(A_1 X A_2ᵀ) diag(w)‖_F², and the j_1-th
term of the sum, the natural unit of data a user holds, is row j_1 of A_1 with row j_1 of B.
With z_j = A_[j] x, J_j = diag(f_j) − f_j f_jᵀ (the softmax Jacobian) and W = diag(w):

    ∇L(x) = Σ_j A_[j]ᵀ (J_j c_j + W² z_j)                         (Lemma 51, part 9, plus the
                                                                   regulariser's gradient)
    ∇²L(x) = Σ_j A_[j]ᵀ (J_j² + Σ_k c_{j,k} ∇²_z f_{j,k} + W²) A_[j],
    ∇²_z f_{j,k} = f_{j,k} ((e_k − f_j)(e_k − f_j)ᵀ − J_j)          (Lemmas 57-58, B_1 and B_2)

Lemma 14 (Lemma 68 of appendix F.2): if every b_[j] has entries in [0, 1] (a row of a
row-stochastic target, as here), then |c_{j,k}| ≤ 1 and the middle term is ⪰ −3 I ⪰ −4 I, so
∇²L_j ⪰ (min_i w_i² − 4) A_[j]ᵀ A_[j] ⪰ (min_i w_i² − 4) σ_min²(A_[j]) I. Under the lemma's
condition min_i w_i² ≥ 4 + μ / (σ_min²(A_[j]) n) for all j, each L_j is (μ/n)-strongly convex and L
is μ-strongly convex. :meth:`AttentionRegression.lemma14_mu` is that μ, solved from w;
:func:`lemma14_weight` is the smallest admissible min w_i for a given μ.

One caveat the tests make visible: σ_min(A_[j]) here is the d²-th singular value of the n × d²
block (zero when n < d²). For the Kronecker A of Definition 38, A_[j] = A_{1,j,*} ⊗ A_2 has rank
at most d < d², so σ_min(A_[j]) = 0 for d ≥ 2 and the lemma's condition cannot be met. The lemma
applies as stated to a general A ∈ R^{n²×d²} with blocks of full column rank (n ≥ d²), which is
what ``AttentionRegression.random(..., structure="generic")`` builds ("random data of the
shapes it names"). For the Kronecker case the same argument summed over j still gives the
bound :meth:`AttentionRegression.strong_convexity_bound`, (min w² − 4) λ_min(Σ_j A_[j]ᵀ A_[j])
= (min w² − 4) σ_min²(A_1) σ_min²(A_2), which is never smaller than Lemma 14's μ.

The other objectives
--------------------
* :class:`RidgeRegression` (seed 000): ½ ‖Xw − y‖² + λ/2 ‖w‖², gradient Xᵀ(Xw − y) + λw; each of N
  users gets a share of the rows and λ/N of the regulariser;
* :class:`LogisticRegression`: Σ_i log(1 + exp(−y_i x_iᵀw)) + λ/2 ‖w‖² with labels ±1 (0 is read
  as −1), split the same way.

Example
-------
>>> import numpy as np
>>> L = AttentionRegression.random(n=5, d=2, seed=0, structure="generic", w=3.0)
>>> x = np.zeros(L.dim)
>>> parts = L.split(2, seed=1)
>>> bool(np.isclose(sum(p.value(x) for p in parts), L.value(x)))
True
>>> err = np.abs(L.gradient(x) - finite_difference_gradient(L, x)).max()
>>> bool(err < 1e-7)
True
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

__all__ = [
    "Objective", "ObjectiveSum", "AttentionRegression", "RidgeRegression", "LogisticRegression",
    "local_steps", "finite_difference_gradient", "finite_difference_hessian", "lemma14_weight",
    "sigma_min_blocks",
]


def _as_matrix(M, name) -> np.ndarray:
    M = np.asarray(M)
    if M.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real-valued array, got dtype {M.dtype}")
    M = np.ascontiguousarray(M, dtype=np.float64)
    if M.ndim != 2 or 0 in M.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError(f"{name} contains NaN or infinity")
    return M


def _as_vector(v, n, name) -> np.ndarray:
    v = np.asarray(v)
    if v.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real-valued array, got dtype {v.dtype}")
    v = np.ascontiguousarray(v, dtype=np.float64)
    if v.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or infinity")
    return v


def _check_reg(lam) -> float:
    value = float(lam)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"the regularisation λ must be finite and >= 0, got {lam!r}")
    return value


def _partition(n_terms: int, n_users, seed) -> list[np.ndarray]:
    """A seeded random partition of range(n_terms) into n_users non-empty sorted index sets."""
    if isinstance(n_users, bool) or not isinstance(n_users, (int, np.integer)) or n_users < 1:
        raise ValueError(f"n_users must be a positive integer, got {n_users!r}")
    if n_users > n_terms:
        raise ValueError(f"cannot split {n_terms} data terms among {n_users} users: each needs at least one")
    perm = np.random.default_rng(seed).permutation(n_terms)
    return [np.sort(part) for part in np.array_split(perm, int(n_users))]


class Objective(ABC):
    """A differentiable loss L : R^dim → R that is a sum over data terms (the common interface).

    Subclasses define ``dim``, ``n_terms``, :meth:`value`, :meth:`gradient` and :meth:`split`;
    :meth:`hessian` defaults to central finite differences of the gradient (symmetrised).
    """

    dim: int
    n_terms: int

    def _x(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.dim,):
            raise ValueError(f"x must have shape ({self.dim},), got shape {x.shape}")
        return x

    @abstractmethod
    def value(self, x) -> float:
        """L(x)."""

    @abstractmethod
    def gradient(self, x) -> np.ndarray:
        """∇L(x), shape (dim,)."""

    def hessian(self, x) -> np.ndarray:
        """∇²L(x) (dim × dim); here by central differences of :meth:`gradient`, symmetrised."""
        return finite_difference_hessian(self, x)

    @abstractmethod
    def split(self, n_users: int, seed=0) -> list["Objective"]:
        """Each of `n_users` users' private part: the data terms partitioned at random by `seed`,
        every user getting at least one, so that the parts sum to this objective."""

    def __call__(self, x) -> float:
        return self.value(x)


class ObjectiveSum(Objective):
    """Σ_c f_c of objectives of one dimension, e.g. the users' parts put back together."""

    def __init__(self, parts):
        self.parts = list(parts)
        if not self.parts:
            raise ValueError("ObjectiveSum needs at least one objective")
        dims = {p.dim for p in self.parts}
        if len(dims) != 1:
            raise ValueError(f"the objectives have different dimensions {sorted(dims)}")
        self.dim = dims.pop()
        self.n_terms = sum(p.n_terms for p in self.parts)

    def value(self, x) -> float:
        return float(sum(p.value(x) for p in self.parts))

    def gradient(self, x) -> np.ndarray:
        return np.sum([p.gradient(x) for p in self.parts], axis=0)

    def hessian(self, x) -> np.ndarray:
        return np.sum([p.hessian(x) for p in self.parts], axis=0)

    def split(self, n_users, seed=0):
        if n_users != len(self.parts):
            raise ValueError(f"an ObjectiveSum of {len(self.parts)} parts splits only into those parts")
        return list(self.parts)


def finite_difference_gradient(objective, x, h: float = 1e-6) -> np.ndarray:
    """Central differences (L(x + h e_i) − L(x − h e_i)) / 2h of ``objective.value``."""
    x = np.asarray(x, dtype=np.float64)
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (objective.value(x + e) - objective.value(x - e)) / (2 * h)
    return g


def finite_difference_hessian(objective, x, h: float = 1e-5) -> np.ndarray:
    """Central differences of ``objective.gradient``, column by column, then symmetrised."""
    x = np.asarray(x, dtype=np.float64)
    H = np.empty((x.size, x.size))
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        H[:, i] = (objective.gradient(x + e) - objective.gradient(x - e)) / (2 * h)
    return 0.5 * (H + H.T)


def local_steps(objective_part, x, K: int, lr: float) -> np.ndarray:
    """One user's K local gradient steps (Algorithm 1, lines 12-15; Algorithm 5, lines 12-15).

    u⁰ = x, u^k = u^{k−1} − η ∇f_c(u^{k−1}) for k = 1..K, and the returned change is
    Δx = u^K − x (Algorithm 5, line 15: Δx_c(t) ← u_c^{t,K} − x_t), the vector a gradient block
    carries (Definition 4). Algorithm 5's line 18 multiplies the sketch by η once more; the
    learning rate is already inside u^K, so it is not applied twice here. K = 0 gives zero.
    """
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 0:
        raise ValueError(f"the number of local steps K must be a non-negative integer, got {K!r}")
    eta = float(lr)
    if not (eta > 0 and math.isfinite(eta)):
        raise ValueError(f"the learning rate must be finite and > 0, got {lr!r}")
    x0 = objective_part._x(x) if hasattr(objective_part, "_x") else np.asarray(x, dtype=np.float64)
    u = x0.copy()
    for _ in range(int(K)):
        u = u - eta * objective_part.gradient(u)
    return u - x0


# -- the softmax / attention regression of Definition 13 ------------------------------------------------


def sigma_min_blocks(A_blocks: np.ndarray) -> np.ndarray:
    """σ_min(A_[j]) for each block A_[j] ∈ R^{n×D} of a (m, n, D) array: the D-th singular value,
    i.e. the largest σ with A_[j]ᵀ A_[j] ⪰ σ² I_D (0 when n < D: the block cannot have full
    column rank)."""
    A_blocks = np.asarray(A_blocks, dtype=np.float64)
    m, n, D = A_blocks.shape
    if n < D:
        return np.zeros(m)
    s = np.linalg.svd(A_blocks, compute_uv=False)
    smallest = s[:, D - 1]
    # numerically zero (rank-deficient, e.g. a Kronecker block) below the usual rank tolerance
    smallest[smallest <= s[:, 0] * max(n, D) * np.finfo(np.float64).eps] = 0.0
    return smallest


def lemma14_weight(A_blocks, mu: float) -> float:
    """The smallest min_i |w_i| Lemma 14 admits for strong convexity μ: √(4 + μ / (σ_min²(A_[j]) n))
    maximised over the blocks j (n = the number of blocks of Definition 13). Infinite when some
    σ_min(A_[j]) = 0, as for every Kronecker A with d ≥ 2 (see the module docstring)."""
    A_blocks = np.asarray(A_blocks, dtype=np.float64)
    mu = float(mu)
    if not (mu >= 0 and math.isfinite(mu)):
        raise ValueError(f"μ must be finite and >= 0, got {mu!r}")
    s2 = float(sigma_min_blocks(A_blocks).min() ** 2)
    n = A_blocks.shape[0]
    if s2 == 0:
        return math.inf if mu > 0 else 2.0
    return math.sqrt(4.0 + mu / (s2 * n))


def _softmax_rows(Z: np.ndarray) -> np.ndarray:
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


class AttentionRegression(Objective):
    """L(x) = Σ_{j ∈ blocks} ½ ‖softmax(A_[j] x) − b_[j]‖² + ½ ‖diag(w) A_[j] x‖² (Definition 13, C.1).

    Give either ``A`` (m·n × D, m blocks of n rows; for Definition 13 itself m = n and D = d²) or
    the Kronecker factors ``A1`` (m × d) and ``A2`` (n × d), with A = A1 ⊗ A2 (Definition 38) and
    x = vec(X) row-major; ``b`` is the (m, n) target (row j = b_[j], B of Claim 50) and ``w``
    the n weights of Definition 46. A user's part (:meth:`split`) keeps a subset of the blocks.
    The Kronecker form is evaluated as A1 X A2ᵀ without forming A.
    """

    def __init__(self, b, w, *, A=None, A1=None, A2=None, blocks=None, n_blocks_total=None):
        if (A is None) == (A1 is None and A2 is None) or ((A1 is None) != (A2 is None)):
            raise ValueError("give either A, or both Kronecker factors A1 and A2")
        if A is not None:
            A = _as_matrix(A, "A")
            self.kronecker = False
            self.A1 = self.A2 = None
            self._A = A
            self.dim = A.shape[1]
        else:
            self.A1 = _as_matrix(A1, "A1")
            self.A2 = _as_matrix(A2, "A2")
            if self.A1.shape[1] != self.A2.shape[1]:
                raise ValueError(f"A1 and A2 must have the same number of columns d, got shapes "
                                 f"{self.A1.shape} and {self.A2.shape}")
            self.kronecker = True
            self._A = None
            self.d = self.A1.shape[1]
            self.dim = self.d * self.d
        b = np.asarray(b, dtype=np.float64)
        if b.ndim != 2:
            raise ValueError(f"b must be the (blocks, n) target matrix B, got shape {b.shape}")
        self.m, self.n = b.shape
        if not np.all(np.isfinite(b)):
            raise ValueError("b contains NaN or infinity")
        self.b = np.ascontiguousarray(b)
        self.w = _as_vector(np.broadcast_to(np.asarray(w, dtype=np.float64), (self.n,)), self.n, "w")
        if self.kronecker:
            if self.A1.shape[0] != self.m or self.A2.shape[0] != self.n:
                raise ValueError(f"A1 must have {self.m} rows (one per block) and A2 {self.n} rows, "
                                 f"got {self.A1.shape[0]} and {self.A2.shape[0]}")
        elif self._A.shape[0] != self.m * self.n:
            raise ValueError(f"A must have blocks × n = {self.m} × {self.n} = {self.m * self.n} rows, "
                             f"got {self._A.shape[0]}")
        self.n_terms = self.m
        self.blocks = np.arange(self.m) if blocks is None else np.asarray(blocks)
        self.n_blocks_total = self.m if n_blocks_total is None else int(n_blocks_total)

    # constructors ---------------------------------------------------------------------------------

    @classmethod
    def random(cls, n: int, d: int, seed=0, *, structure: str = "generic", w=3.0, scale: float = 0.5):
        """A random instance of Definition 13's shapes: n blocks of n rows, x ∈ R^{d²}.

        ``structure="kronecker"``: A1, A2 ∈ R^{n×d} with N(0, scale²/d) entries, A = A1 ⊗ A2
        (Definition 38). ``structure="generic"``: A ∈ R^{n²×d²} with N(0, scale²/d²) entries,
        blocks of full column rank when n ≥ d² (what Lemma 14 needs). The target B is
        row-stochastic: B = softmax_rows of A x* for a random teacher x*, so that b_[j] lies in the
        simplex (the lemma's constant 4 needs entries in [0, 1]) and the instance is realisable
        up to the regulariser.
        """
        rng = np.random.default_rng(seed)
        if structure == "kronecker":
            A1 = rng.normal(0, scale / math.sqrt(d), (n, d))
            A2 = rng.normal(0, scale / math.sqrt(d), (n, d))
            X_star = rng.normal(size=(d, d))
            B = _softmax_rows(A1 @ X_star @ A2.T)
            return cls(B, w, A1=A1, A2=A2)
        if structure == "generic":
            A = rng.normal(0, scale / d, (n * n, d * d))
            x_star = rng.normal(size=d * d)
            B = _softmax_rows((A @ x_star).reshape(n, n))
            return cls(B, w, A=A)
        raise ValueError(f"structure must be 'generic' or 'kronecker', got {structure!r}")

    @classmethod
    def from_sequence(cls, tokens, embeddings, *, target=None, teacher=None, w=3.0):
        """A small sequence model: the self-attention of one token sequence.

        The n tokens' embeddings E = embeddings[tokens] ∈ R^{n×d} are both the queries' and the
        keys' inputs, A1 = A2 = E, so softmax_rows(E X Eᵀ) is the attention pattern of the
        bilinear form X = W_Q W_Kᵀ (seed 002 §5.2: "based on attention computation"). The target
        is ``target`` (an n × n row-stochastic matrix) or the pattern of a ``teacher`` X*.
        """
        tokens = np.asarray(tokens)
        if tokens.ndim != 1 or tokens.size == 0 or tokens.dtype.kind not in "iu":
            raise ValueError("tokens must be a non-empty 1-D array of integer token ids")
        E = _as_matrix(embeddings, "embeddings")
        if tokens.min() < 0 or tokens.max() >= E.shape[0]:
            raise ValueError(f"token ids must lie in [0, {E.shape[0]}) (the embedding table's rows)")
        Es = E[tokens]
        if (target is None) == (teacher is None):
            raise ValueError("give exactly one of target (an n × n matrix) or teacher (a d × d matrix)")
        if target is None:
            teacher = np.asarray(teacher, dtype=np.float64)
            target = _softmax_rows(Es @ teacher @ Es.T)
        return cls(target, w, A1=Es, A2=Es)

    # the maths ------------------------------------------------------------------------------------

    @property
    def A(self) -> np.ndarray:
        """The (blocks·n) × dim matrix A (Definition 38 formed explicitly for the Kronecker case)."""
        return np.kron(self.A1, self.A2) if self.kronecker else self._A

    def A_blocks(self) -> np.ndarray:
        """A_[j] for every block, as an array of shape (blocks, n, dim)."""
        return self.A.reshape(self.m, self.n, self.dim)

    def _z(self, x) -> np.ndarray:
        x = self._x(x)
        if self.kronecker:
            return self.A1 @ x.reshape(self.d, self.d) @ self.A2.T
        return (self._A @ x).reshape(self.m, self.n)

    def _back(self, G) -> np.ndarray:
        """Aᵀ vec(G) for G of shape (blocks, n)."""
        if self.kronecker:
            return (self.A1.T @ G @ self.A2).ravel()
        return self._A.T @ G.ravel()

    def attention(self, x) -> np.ndarray:
        """f(x)_{j} for every block j (Definition 43), rows of D(X)^{-1} exp(A1 X A2ᵀ)."""
        return _softmax_rows(self._z(x))

    def value_parts(self, x) -> tuple[float, float]:
        """(L_exp(x), L_reg(x)) of Definitions 45 and 46, summed over this objective's blocks."""
        Z = self._z(x)
        C = _softmax_rows(Z) - self.b
        return 0.5 * float(np.sum(C * C)), 0.5 * float(np.sum((Z * self.w) ** 2))

    def value(self, x) -> float:
        """L(x) = L_exp(x) + L_reg(x) (Definition 13 / 47)."""
        exp_part, reg_part = self.value_parts(x)
        return exp_part + reg_part

    def gradient(self, x) -> np.ndarray:
        """∇L(x) = Σ_j A_[j]ᵀ (J_j c_j + W² z_j) (Lemma 51, part 9, plus ∇L_reg), exact."""
        Z = self._z(x)
        F = _softmax_rows(Z)
        FC = F * (F - self.b)
        G = FC - F * FC.sum(axis=1, keepdims=True) + Z * (self.w ** 2)
        return self._back(G)

    def hessian_z(self, x) -> np.ndarray:
        """The (blocks, n, n) inner matrices B_1 + B_2 + W² of Lemma 58 with ∇²L = Σ_j A_[j]ᵀ (·) A_[j]."""
        Z = self._z(x)
        F = _softmax_rows(Z)
        C = F - self.b
        CF = C * F
        s = CF.sum(axis=1)
        J = np.einsum("jk,kl->jkl", F, np.eye(self.n)) - np.einsum("jk,jl->jkl", F, F)
        Hz = np.einsum("jkl,jlm->jkm", J, J)                                          # B_1
        Hz += np.einsum("jk,kl->jkl", CF, np.eye(self.n))                             # B_2 ...
        Hz -= np.einsum("jk,jl->jkl", CF, F) + np.einsum("jk,jl->jkl", F, CF)
        Hz += s[:, None, None] * (np.einsum("jk,jl->jkl", F, F) - J)
        Hz += np.diag(self.w ** 2)[None]                                              # W²
        return Hz

    def hessian(self, x) -> np.ndarray:
        """∇²L(x) exactly (Lemmas 57-58): Σ_j A_[j]ᵀ (J_j² + Σ_k c_jk ∇²f_jk + W²) A_[j]."""
        Ab = self.A_blocks()
        H = np.einsum("jki,jkl,jlm->im", Ab, self.hessian_z(x), Ab)
        return 0.5 * (H + H.T)

    def lemma14_mu(self) -> float:
        """The μ Lemma 14 certifies for this w and A: (min_i w_i² − 4) · n · min_j σ_min²(A_[j]).

        n is the number of blocks of the whole objective (Definition 13). 0 when the condition
        cannot hold for any μ > 0 (min w_i² ≤ 4 or a rank-deficient block). For a user's part
        holding m of the n blocks the same argument gives λ_min(∇²f_c) ≥ m μ / n.
        """
        self._check_simplex()
        gap = float(np.min(self.w ** 2)) - 4.0
        s2 = float(sigma_min_blocks(self.A_blocks()).min() ** 2)
        return max(0.0, gap * self.n_blocks_total * s2)

    def strong_convexity_bound(self) -> float:
        """(min w_i² − 4) λ_min(Σ_j A_[j]ᵀ A_[j]): the bound of Lemma 14's proof before the
        per-block σ_min step (valid for the Kronecker A too; ≥ the lemma's m μ / n)."""
        self._check_simplex()
        gap = float(np.min(self.w ** 2)) - 4.0
        A = self.A
        return max(0.0, gap * float(np.linalg.eigvalsh(A.T @ A)[0]))

    def _check_simplex(self):
        if np.any(self.b < 0) or np.any(self.b > 1):
            raise ValueError("Lemma 14's constant 4 needs every target b_[j] to have entries in [0, 1] "
                             "(e.g. a row-stochastic B); this target does not")

    def split(self, n_users: int, seed=0) -> list["AttentionRegression"]:
        """Each user gets a random subset of the blocks j (rows of A1 / blocks of A, rows of B):
        L = Σ_j L_j is a sum over the blocks (Definition 13), so the parts sum to L."""
        parts = []
        for idx in _partition(self.m, n_users, seed):
            kw = dict(blocks=self.blocks[idx], n_blocks_total=self.n_blocks_total)
            if self.kronecker:
                parts.append(AttentionRegression(self.b[idx], self.w, A1=self.A1[idx], A2=self.A2, **kw))
            else:
                A = self._A.reshape(self.m, self.n, self.dim)[idx].reshape(-1, self.dim)
                parts.append(AttentionRegression(self.b[idx], self.w, A=A, **kw))
        return parts

    def __repr__(self) -> str:
        form = f"A1 ⊗ A2, d={self.d}" if self.kronecker else f"A {self._A.shape}"
        return f"AttentionRegression(blocks={self.m}, n={self.n}, dim={self.dim}, {form})"


# -- seed 000's ridge regression and logistic regression ------------------------------------------


class RidgeRegression(Objective):
    """½ ‖Xw − y‖² + λ/2 ‖w‖² (seed 000), gradient Xᵀ(Xw − y) + λ w, Hessian XᵀX + λ I.

    :meth:`split` gives each user a random share of the rows and λ/N of the regulariser (as
    seed 000's toy does), so the parts sum to the whole.

    >>> import numpy as np
    >>> R = RidgeRegression(np.eye(2), np.ones(2), lam=1.0)
    >>> R.value(np.zeros(2)), R.gradient(np.zeros(2)).tolist()
    (1.0, [-1.0, -1.0])
    """

    def __init__(self, X, y, lam: float = 0.0):
        self.X = _as_matrix(X, "X")
        self.y = _as_vector(y, self.X.shape[0], "y")
        self.lam = _check_reg(lam)
        self.dim = self.X.shape[1]
        self.n_terms = self.X.shape[0]

    def value(self, w) -> float:
        w = self._x(w)
        r = self.X @ w - self.y
        return 0.5 * float(r @ r) + 0.5 * self.lam * float(w @ w)

    def gradient(self, w) -> np.ndarray:
        w = self._x(w)
        return self.X.T @ (self.X @ w - self.y) + self.lam * w

    def hessian(self, w) -> np.ndarray:
        self._x(w)
        return self.X.T @ self.X + self.lam * np.eye(self.dim)

    def split(self, n_users: int, seed=0) -> list["RidgeRegression"]:
        return [RidgeRegression(self.X[idx], self.y[idx], self.lam / n_users)
                for idx in _partition(self.n_terms, n_users, seed)]


def _log1pexp(t):
    return np.logaddexp(0.0, t)


def _sigmoid(t):
    return np.exp(-np.logaddexp(0.0, -t))


class LogisticRegression(Objective):
    """Σ_i log(1 + exp(−y_i x_iᵀw)) + λ/2 ‖w‖², labels y_i ∈ {−1, +1} (0 is read as −1).

    Gradient −Σ_i y_i σ(−y_i x_iᵀw) x_i + λ w; Hessian Xᵀ diag(σ(m)σ(−m)) X + λ I, m_i = y_i x_iᵀw.
    """

    def __init__(self, X, y, lam: float = 0.0):
        self.X = _as_matrix(X, "X")
        y = _as_vector(y, self.X.shape[0], "y")
        if not np.all(np.isin(y, (-1.0, 0.0, 1.0))):
            raise ValueError("logistic regression labels must be ±1 (or 0/1)")
        self.y = np.where(y == 0, -1.0, y)
        self.lam = _check_reg(lam)
        self.dim = self.X.shape[1]
        self.n_terms = self.X.shape[0]

    def _margins(self, w):
        return self.y * (self.X @ self._x(w))

    def value(self, w) -> float:
        w = self._x(w)
        return float(np.sum(_log1pexp(-self._margins(w)))) + 0.5 * self.lam * float(w @ w)

    def gradient(self, w) -> np.ndarray:
        w = self._x(w)
        return -self.X.T @ (self.y * _sigmoid(-self._margins(w))) + self.lam * w

    def hessian(self, w) -> np.ndarray:
        m = self._margins(w)
        s = _sigmoid(m) * _sigmoid(-m)
        return (self.X.T * s) @ self.X + self.lam * np.eye(self.dim)

    def split(self, n_users: int, seed=0) -> list["LogisticRegression"]:
        return [LogisticRegression(self.X[idx], self.y[idx], self.lam / n_users)
                for idx in _partition(self.n_terms, n_users, seed)]
