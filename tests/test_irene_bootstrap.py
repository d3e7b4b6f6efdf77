"""Irene (seed 001): identity tags (SHA-1), noisy bootstrapping (eq. 2) and DP gradients (Alg. 2, 3)."""

import hashlib
import math
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pyprivml.dp import PrivacyAccountant
from pyprivml.protocols.irene.bootstrap import bootstrap_step, correct_tags, noisy_bootstrap_loss
from pyprivml.protocols.irene.dpsgd import (
    DPGradient, SparseVectorGradient, flatten_per_sample, per_sample_gradients,
)
from pyprivml.protocols.irene.identity import TagSpace, add_tag_noise, expected_collisions

torch.set_num_threads(1)


def _emails(k, prefix="user"):
    return [f"{prefix}{i}@example.org" for i in range(k)]


# ---- identity tags ---------------------------------------------------------------------------
def test_sha1_mapping_matches_hashlib_and_is_stable():
    space = TagSpace(3000, key=b"irene")
    tags = _emails(50) + ["Zoë@exämple.org", ""]
    direct = [int(hashlib.sha1(b"irene" + t.encode("utf-8")).hexdigest(), 16) % 3000 for t in tags]
    assert [space.index(t) for t in tags] == direct
    np.testing.assert_array_equal(space.indices(tags), direct)
    assert space.indices(tags).dtype == np.int64
    # pinned value: the map must never change between versions or machines
    assert space.index("alice@example.org") == 216
    assert TagSpace(3000, key="irene").index("alice@example.org") == 216      # str key = its UTF-8
    other = TagSpace(3000, key=b"another key")
    assert sum(other.index(t) != space.index(t) for t in tags) > 40           # the key matters
    norm = TagSpace(3000, key=b"irene", normalize=True)
    assert norm.index("  Alice@Example.ORG ") == 216
    one_hot = space.one_hot(tags[:3])
    assert one_hot.shape == (3, 3000) and np.array_equal(one_hot.argmax(1), direct[:3]) and one_hot.sum() == 3


def test_collision_counts_against_brute_force():
    space = TagSpace(7, key=b"k")
    distinct = _emails(40)
    tags = distinct + distinct[:10]                       # repeats of a tag are no collision
    idx = {t: space.index(t) for t in distinct}
    brute = sum(any(idx[s] == idx[t] for s in distinct if s != t) for t in distinct)
    assert space.collisions(tags) == brute
    groups = space.colliding(tags)
    for c in range(7):
        members = sorted(t for t in distinct if idx[t] == c)
        if len(members) > 1:
            assert groups[c] == tuple(members)
        else:
            assert c not in groups
    assert space.collisions(["a@x", "a@x", "a@x"]) == 0
    # two tags that share a class, one that does not
    big = TagSpace(10**6, key=b"k")
    classes = {}
    pair = None
    for t in _emails(5000, "p"):
        c = big.index(t)
        if c in classes:
            pair = (classes[c], t)
            break
        classes[c] = t
    assert pair is not None                              # birthday bound: 5000 tags, 10^6 classes
    loner = next(t for t in _emails(50, "q") if big.index(t) != big.index(pair[0]))
    assert big.collisions([pair[0], pair[1], loner]) == 2
    assert big.colliding([pair[0], pair[1], loner]) == {big.index(pair[0]): tuple(sorted(pair))}
    # many tags: the count follows the expectation m (1 - (1 - 1/n)^(m - 1))
    m, n = 2000, 3000
    got = TagSpace(n, key=b"irene").collisions(_emails(m))
    assert abs(got - expected_collisions(m, n)) < 0.08 * expected_collisions(m, n)
    rng = np.random.default_rng(0)
    counts = []
    for _ in range(400):
        cls = rng.integers(0, 100, 50)
        occ = np.bincount(cls, minlength=100)
        counts.append(int(occ[occ > 1].sum()))
    assert abs(np.mean(counts) - expected_collisions(50, 100)) < 0.5


def test_tag_noise_fraction_and_effective_noise():
    rng = np.random.default_rng(1)
    pool = _emails(20)
    tags = [pool[i] for i in rng.integers(0, 20, 10_000)]
    out = add_tag_noise(tags, 0.3, rng=2)
    assert len(out.replaced) == 3000 and len(set(out.replaced.tolist())) == 3000
    mask = np.zeros(len(tags), bool)
    mask[out.replaced] = True
    assert not out.changed[~mask].any()                          # only replaced positions change
    assert all(a == b for a, b, m in zip(tags, out.tags, mask) if not m)
    assert set(out.tags) <= set(pool)
    # a replacement may equal the original: about 0.3 * (1 - 1/20) really change
    assert abs(out.effective_fraction - 0.3 * 19 / 20) < 0.012
    assert out.changed.sum() < 3000
    strict = add_tag_noise(tags, 0.3, rng=2, exclude_original=True)
    assert strict.changed.sum() == 3000 and np.array_equal(np.flatnonzero(strict.changed), strict.replaced)
    assert add_tag_noise(tags, 0.3, rng=5).tags == add_tag_noise(tags, 0.3, rng=5).tags
    assert add_tag_noise(tags, 0.0, rng=5).tags == tags
    assert len(add_tag_noise(tags, 1.0, rng=5).replaced) == len(tags)
    # replacements are uniform over the tag list
    counts = np.bincount([pool.index(t) for t in np.asarray(out.tags)[out.replaced]], minlength=20)
    assert counts.min() > 100 and counts.max() < 200


# ---- eq. 2 ---------------------------------------------------------------------------------------
def _numpy_loss(z, t, alpha, regularizer):
    z = np.asarray(z, np.float64)
    logq = z - z.max(1, keepdims=True)
    logq = logq - np.log(np.exp(logq).sum(1, keepdims=True))
    ce = -logq[np.arange(len(t)), t]
    if regularizer == "min-entropy":
        h = -logq.max(1)
    else:
        h = -(np.exp(logq) * logq).sum(1)
    return np.mean(alpha * ce + (1 - alpha) * h)


@pytest.mark.parametrize("regularizer", ["min-entropy", "shannon"])
def test_loss_matches_float64_reference_and_gradcheck(regularizer):
    g = torch.Generator().manual_seed(0)
    z = 3 * torch.randn(9, 6, generator=g, dtype=torch.float64)
    t = torch.randint(0, 6, (9,), generator=g)
    for alpha in (0.85, 0.5, 0.1):
        got = noisy_bootstrap_loss(z, t, alpha, regularizer=regularizer)
        assert got.dtype == torch.float64
        assert abs(float(got) - _numpy_loss(z.numpy(), t.numpy(), alpha, regularizer)) < 1e-12
        soft = F.one_hot(t, 6).to(torch.float64)                       # the seed's one-hot t
        assert torch.allclose(noisy_bootstrap_loss(z, soft, alpha, regularizer=regularizer), got, atol=1e-14)
    per = noisy_bootstrap_loss(z, t, 0.85, regularizer=regularizer, reduction="none")
    assert per.shape == (9,) and torch.allclose(per.mean(), noisy_bootstrap_loss(z, t, 0.85, regularizer=regularizer))
    zz = z.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: noisy_bootstrap_loss(x, t, 0.85, regularizer=regularizer), (zz,))
    # the sign: minimising the loss maximises eq. 2, sum_i alpha t_i log q_i + (1 - alpha) log max_i q_i
    logq = torch.log_softmax(z, 1)
    eq2 = (0.85 * logq.gather(1, t[:, None]).squeeze(1) + 0.15 * logq.max(1).values).mean()
    if regularizer == "min-entropy":
        assert torch.allclose(noisy_bootstrap_loss(z, t, 0.85), -eq2, atol=1e-14)


def test_alpha_one_is_cross_entropy_and_regulariser_rewards_confidence():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(16, 5, generator=g)
    t = torch.randint(0, 5, (16,), generator=g)
    assert torch.allclose(noisy_bootstrap_loss(z, t, 1.0), F.cross_entropy(z, t), atol=1e-6)
    assert torch.allclose(noisy_bootstrap_loss(z, t, 1.0, regularizer="shannon"), F.cross_entropy(z, t), atol=1e-6)
    assert not torch.allclose(noisy_bootstrap_loss(z, t, 0.8), F.cross_entropy(z, t), atol=1e-3)
    # a confident wrong prediction costs less than under plain cross entropy
    conf = torch.tensor([[6.0, 0.0, 0.0]])
    wrong = torch.tensor([1])
    assert noisy_bootstrap_loss(conf, wrong, 0.8) < F.cross_entropy(conf, wrong)


def test_e_step_changes_about_one_minus_alpha_of_disagreeing_tags():
    g = torch.Generator().manual_seed(3)
    B, n, alpha = 40_000, 10, 0.8
    logits = torch.randn(B, n, generator=g)
    tags = torch.randint(0, n, (B,), generator=g)
    pred = logits.argmax(1)
    out = correct_tags(logits, tags, alpha, torch.Generator().manual_seed(4))
    assert out.dtype == torch.int64 and out.shape == (B,)
    differ = pred != tags
    changed = out != tags
    assert not changed[~differ].any()                                   # agreeing tags never change
    assert torch.equal(out[changed], pred[changed])                     # changes are to the prediction
    frac = changed[differ].double().mean().item()
    assert abs(frac - (1 - alpha)) < 0.012                              # about 5 standard errors
    same = correct_tags(logits, tags, alpha, torch.Generator().manual_seed(4))
    assert torch.equal(same, out)
    assert torch.equal(correct_tags(logits, tags, 1.0, g), tags)


# ---- per-sample gradients -------------------------------------------------------------------------
def _tiny_model(dtype=torch.float64):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3)).to(dtype)


def test_per_sample_gradients_equal_python_loop():
    model = _tiny_model()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(7, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (7,), generator=g)
    for loss_fn in (F.cross_entropy, partial(noisy_bootstrap_loss, alpha=0.85)):
        grads, losses = per_sample_gradients(model, loss_fn, x, y, return_loss=True)
        assert list(grads) == [n for n, _ in model.named_parameters()]
        for i in range(7):
            model.zero_grad()
            loss = loss_fn(model(x[i:i + 1]), y[i:i + 1])
            loss.backward()
            assert abs(float(losses[i]) - loss.item()) < 1e-12
            for name, p in model.named_parameters():
                assert grads[name].shape == (7, *p.shape)
                assert torch.allclose(grads[name][i], p.grad, atol=1e-12, rtol=0)
        chunked = per_sample_gradients(model, loss_fn, x, y, chunk_size=3)
        assert all(torch.allclose(chunked[k], grads[k], atol=1e-14) for k in grads)
    only = per_sample_gradients(model, F.cross_entropy, x, y, params=["2.weight", model[2].bias])
    assert list(only) == ["2.weight", "2.bias"]
    full = per_sample_gradients(model, F.cross_entropy, x, y)
    assert all(torch.allclose(only[k], full[k], atol=1e-14) for k in only)
    assert flatten_per_sample(only).shape == (7, 4 * 3 + 3)


# ---- Algorithm 2 ------------------------------------------------------------------------------------
def test_clipping_bound_before_noise():
    model = _tiny_model()
    g = torch.Generator().manual_seed(6)
    x = 50 * torch.randn(94, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (94,), generator=g)
    grads = per_sample_gradients(model, F.cross_entropy, x, y)
    dp = DPGradient(seed=0)                                # gamma_1 = 0.01
    assert dp.clip == 0.01
    raw = flatten_per_sample(grads).norm(dim=1)
    rows = dp.clipped_rows(grads)
    norms = rows.norm(dim=1)
    assert (raw > 0.01).all() and torch.all(norms <= 0.01 * (1 + 1e-9))
    assert torch.allclose(norms, torch.full_like(norms, 0.01))
    mean = dp.privatize(grads, noise=False)
    assert torch.allclose(flatten_per_sample({k: v[None] for k, v in mean.items()})[0], rows.mean(0), atol=1e-15)
    assert dp.steps == 0 and dp.accountant.events == []                 # a noise-free check is not a release


def test_noise_std_matches_sigma_and_is_secure_by_default():
    assert DPGradient().mechanism.noise_source.secure
    dp = DPGradient(epsilon=0.5, delta=1e-3, clip=0.01)                 # secure, unseeded
    sigma = 0.01 * math.sqrt(2 * math.log(1.25 / 1e-3)) / 0.5
    assert abs(dp.sigma - sigma) < 1e-15
    B, D = 2, 200_000
    out = dp.privatize({"w": torch.zeros(B, D, dtype=torch.float64)})["w"]
    noise = out * B                                                     # the clipped sum of zeros is 0
    assert abs(float(noise.std()) / sigma - 1) < 0.01                   # ~6 standard errors
    assert abs(float(noise.mean())) < 5 * sigma / math.sqrt(D)
    assert dp.steps == 1


def test_accountant_composes_the_whole_run():
    dp = DPGradient(dataset_size=940, seed=1)
    grads = {"w": torch.randn(94, 10, dtype=torch.float64)}
    eps = []
    for _ in range(4):
        dp.privatize(grads)
        eps.append(dp.epsilon_spent(1e-5))
    assert all(a < b for a, b in zip(eps, eps[1:]))
    z = math.sqrt(2 * math.log(1.25 / 1e-3)) / 0.5
    direct = PrivacyAccountant("rdp")
    direct.add_gaussian(z, steps=4, sampling_rate=94 / 940)
    assert math.isclose(eps[-1], direct.epsilon(1e-5), rel_tol=1e-9)
    assert math.isclose(dp.epsilon_after(4, 1e-5), eps[-1], rel_tol=1e-9)
    assert math.isclose(dp.epsilon_spent(), direct.epsilon(1e-3), rel_tol=1e-9)   # default: per-batch delta
    with pytest.raises(ValueError, match="larger than dataset_size"):
        dp.privatize({"w": torch.randn(941, 3)})


def test_streamed_backward_equals_one_release_of_the_whole_batch():
    """backward() clips and sums chunk by chunk; the result is Algorithm 2 on the whole batch:
    the same clipped sum (to rounding), one noise draw and one accounted step."""
    model = _tiny_model()
    g = torch.Generator().manual_seed(11)
    x = 20 * torch.randn(13, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (13,), generator=g)
    grads = per_sample_gradients(model, F.cross_entropy, x, y)
    ref = DPGradient(dataset_size=130, seed=4, clip=0.5)
    per_tensor = ref.clipped_sum(grads)
    flat = ref.clipped_rows(grads).sum(0)
    assert torch.allclose(flatten_per_sample({k: v[None] for k, v in per_tensor.items()})[0], flat, atol=1e-14)
    expected = ref.privatize(grads)
    for chunk in (1, 4, 13, 50):
        dp = DPGradient(dataset_size=130, seed=4, clip=0.5)
        model.zero_grad()
        dp.backward(model, F.cross_entropy, x, y, chunk_size=chunk)
        assert dp.steps == 1 and math.isclose(dp.epsilon_spent(1e-5), ref.epsilon_spent(1e-5))
        for name, p in model.named_parameters():
            assert torch.allclose(p.grad, expected[name], atol=1e-14, rtol=0), (chunk, name)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        dp.backward(model, F.cross_entropy, x, y, chunk_size=0)
    bad = dict(grads)
    bad["0.bias"] = bad["0.bias"].clone()
    bad["0.bias"][3, 0] = float("nan")
    with pytest.raises(ValueError, match="sample 3 contains NaN"):
        ref.clipped_sum(bad)


def test_backward_writes_grads_and_bootstrap_step():
    model = _tiny_model(torch.float32)
    g = torch.Generator().manual_seed(7)
    x = torch.randn(12, 5, generator=g)
    y = torch.randint(0, 3, (12,), generator=g)
    dp = DPGradient(dataset_size=120, seed=2, clip=1.0)
    loss = dp.backward(model, F.cross_entropy, x, y, params=["2.weight"])
    assert math.isclose(loss, F.cross_entropy(model(x), y).item(), rel_tol=1e-5)
    assert model[2].weight.grad.shape == (3, 4) and model[0].weight.grad is None
    # non-DP bootstrap step: loss and changes reported, parameters move
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    logits = model(x).detach()
    step = bootstrap_step(model, opt, x, y, 0.5, generator=torch.Generator().manual_seed(8))
    expected = correct_tags(logits, y, 0.5, torch.Generator().manual_seed(8))
    assert torch.equal(step.tags, expected) and step.changed == int((expected != y).sum())
    assert math.isclose(step.loss, float(noisy_bootstrap_loss(logits, expected, 0.5)), rel_tol=1e-6)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    # DP bootstrap step: accounted, only the selected parameters move
    before = [p.detach().clone() for p in model.parameters()]
    step = bootstrap_step(model, opt, x, y, 0.85, dp=dp, params=["2.weight", "2.bias"],
                          generator=torch.Generator().manual_seed(9))
    assert dp.steps == 2 and math.isfinite(step.loss)
    moved = [not torch.equal(a, b) for a, b in zip(before, model.parameters())]
    assert moved == [False, False, True, True]


def test_bootstrapping_learns_through_tag_noise():
    rng = np.random.default_rng(0)
    n, d, m = 4, 6, 800
    centers = 3 * rng.standard_normal((n, d))
    truth = rng.integers(0, n, m)
    x = torch.tensor(centers[truth] + rng.standard_normal((m, d)), dtype=torch.float32)
    space = TagSpace(n, key=b"k")
    names = [f"id{i}@x" for i in range(50)]
    by_class = {c: next(t for t in names if space.index(t) == c) for c in range(n)}
    tags = add_tag_noise([by_class[c] for c in truth], 0.3, rng=1).tags
    y = torch.as_tensor(space.indices(tags))
    torch.manual_seed(0)
    model = torch.nn.Linear(d, n)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    gen = torch.Generator().manual_seed(0)
    for epoch in range(30):
        for b in range(0, m, 100):
            bootstrap_step(model, opt, x[b:b + 100], y[b:b + 100], 0.85, generator=gen)
    acc = (model(x).argmax(1).numpy() == np.array([space.index(by_class[c]) for c in truth])).mean()
    assert acc > 0.95


# ---- Algorithm 3 ------------------------------------------------------------------------------------
def test_sparse_vector_gradient_selects_large_coordinates():
    v = torch.tensor([0.006, -0.006, 0.001, 0.0, 0.002], dtype=torch.float64)    # norm < gamma_2 = 0.01
    grads = {"a": v[:2].repeat(4000, 1), "b": v[2:].repeat(4000, 1)}              # large batch: low sensitivity
    svg = SparseVectorGradient(epsilon=500, seed=0)                               # noise scales < 1e-5
    sparse, idx = svg.privatize(grads)
    assert sorted(idx.tolist()) == [0, 1]
    assert torch.allclose(sparse["a"], v[:2], atol=1e-4) and torch.all(sparse["b"] == 0)
    assert svg.last.count_limit == 5                                              # gamma_4 capped at D
    assert math.isclose(svg.last.sensitivity, 2 * 0.01 / 4000)
    one_sided = SparseVectorGradient(epsilon=500, seed=0, absolute=False)
    assert one_sided.privatize(grads)[1].tolist() == [0]
    limited = SparseVectorGradient(epsilon=500, seed=0, count_limit=1)
    assert len(limited.privatize(grads)[1]) == 1
    # the seed's defaults: noisy, sparse, bounded by gamma_2, accounted per run
    assert SparseVectorGradient().noise.secure and not SparseVectorGradient(seed=3).noise.secure
    svg = SparseVectorGradient(seed=3)
    assert (svg.clip, svg.threshold, svg.count_limit, svg.epsilon, svg.delta) == (0.01, 0.005, 10_000, 1.0, 1e-3)
    big = {"w": 0.01 * torch.randn(250, 3000, dtype=torch.float64) / math.sqrt(3000)}
    eps = []
    for _ in range(3):
        sparse, idx = svg.privatize(big)
        assert torch.all(sparse["w"].abs() <= 0.01 + 1e-15)
        assert int((sparse["w"] != 0).sum()) <= len(idx) <= 3000
        eps.append(svg.epsilon_spent(0.01))
    assert eps[0] < eps[1] < eps[2]
    direct = PrivacyAccountant("pld")
    direct.add_approx_dp(1.0, 1e-3, 3)
    assert math.isclose(eps[-1], direct.epsilon(0.01), rel_tol=1e-9)


# ---- bad inputs ---------------------------------------------------------------------------------------
def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 2"):
        TagSpace(1)
    with pytest.raises(TypeError, match="integer"):
        TagSpace(2.5)
    space = TagSpace(10)
    with pytest.raises(ValueError, match="empty"):
        space.indices([])
    with pytest.raises(TypeError, match="strings"):
        space.indices(["a@x", 3])
    with pytest.raises(TypeError, match="single string"):
        space.indices("a@x")
    with pytest.raises(TypeError, match="string"):
        space.index(b"a@x")
    with pytest.raises(ValueError, match="empty"):
        add_tag_noise([], 0.1)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            add_tag_noise(["a", "b"], bad)
    with pytest.raises(ValueError, match="two distinct"):
        add_tag_noise(["a", "a"], 0.5, exclude_original=True)
    z, t = torch.randn(3, 4), torch.tensor([0, 1, 2])
    for bad in (0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            noisy_bootstrap_loss(z, t, bad)
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            correct_tags(z, t, bad)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        noisy_bootstrap_loss(z, torch.tensor([0, 1, 4]), 0.9)
    with pytest.raises(TypeError, match="integer"):
        correct_tags(z, torch.tensor([0.0, 1.0, 2.0]), 0.9)
    with pytest.raises(ValueError, match="regularizer"):
        noisy_bootstrap_loss(z, t, 0.9, regularizer="renyi")
    for cls in (DPGradient, SparseVectorGradient):
        with pytest.raises(ValueError, match="epsilon"):
            cls(epsilon=0)
        with pytest.raises(ValueError, match="epsilon"):
            cls(epsilon=-1)
        for d in (0, 1, 1.5):
            with pytest.raises(ValueError, match="delta"):
                cls(delta=d)
        for c in (0, -0.01):
            with pytest.raises(ValueError, match="clipping threshold"):
                cls(clip=c)
    with pytest.raises(ValueError, match="count_limit"):
        SparseVectorGradient(count_limit=0)
    with pytest.raises(ValueError, match="pld"):
        SparseVectorGradient(accountant=PrivacyAccountant("rdp"))
    with pytest.raises(ValueError, match="dataset_size"):
        DPGradient(dataset_size=0)
    with pytest.raises(ValueError, match="no parameter named"):
        per_sample_gradients(_tiny_model(), F.cross_entropy, torch.randn(2, 5, dtype=torch.float64),
                             torch.tensor([0, 1]), params=["nope"])
