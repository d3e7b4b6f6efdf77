"""Bad input to the public API gets a clear error that says what is wrong and what would be valid.

Tiny data and max_iter = 1 keep every fit fast; each test pins the message, not just the type.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.estimators import NotFittedError, gradient_descent
from pyprivml.protocols.fixedpoint import FixedPointPlan, WrapAroundError
from pyprivml.protocols.mpc.estimators import MPCLinearRegression, MPCLogisticRegression

rng = np.random.default_rng(0)
X = rng.normal(size=(24, 3)) / 3
Y = (X[:, 0] > 0).astype(int)
T = X[:, 0] + 0.5 * X[:, 1]


def coded(**kw):
    return pp.CodedPrivateLogisticRegression(**{"n_workers": 4, "case": 1, "max_iter": 1,
                                                "transport": "inprocess", **kw})


def coded_linear(**kw):
    return pp.CodedPrivateLinearRegression(**{"n_workers": 4, "case": 1, "max_iter": 1,
                                              "transport": "inprocess", **kw})


def mpc(**kw):
    return MPCLogisticRegression(**{"n_workers": 9, "max_iter": 1, "transport": "inprocess", **kw})


def baseline(**kw):
    return pp.GradientDescentLogisticRegression(**{"max_iter": 1, **kw})


CLASSIFIERS = [coded, mpc, baseline]
REGRESSORS = [coded_linear, lambda **kw: MPCLinearRegression(**{"n_workers": 9, "max_iter": 1,
                                                                "transport": "inprocess", **kw}),
              lambda **kw: pp.GradientDescentLinearRegression(**{"max_iter": 1, **kw})]
ALL = CLASSIFIERS + REGRESSORS
IDS = ["coded", "mpc", "float", "coded-linear", "mpc-linear", "float-linear"]


def target_for(make):
    return Y if make in CLASSIFIERS else T


# -- data ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ALL, ids=IDS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X_is_named(make, bad):
    Xb = X.copy()
    Xb[5, 2] = bad
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first at row 5, column 2\)"):
        make().fit(Xb, target_for(make))


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_length_mismatch(make):
    with pytest.raises(ValueError, match="X has 24 samples but y has 23; they must have the same length"):
        make().fit(X, target_for(make)[:-1])


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_column_vector_y_is_refused_not_broadcast(make):
    with pytest.raises(ValueError, match=r"y must be a 1-D array .* got shape \(24, 1\) \(use y.ravel\(\)"):
        make().fit(X, target_for(make)[:, None])


@pytest.mark.parametrize("make", ALL, ids=IDS)
@pytest.mark.parametrize("shape", [(24,), (24, 3, 1)])
def test_X_must_be_2d(make, shape):
    with pytest.raises(ValueError, match=r"X must be a 2-D array \(m samples x d features\)"):
        make().fit(np.zeros(shape), target_for(make))


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_empty_X(make):
    with pytest.raises(ValueError, match=r"at least one sample and one feature, got shape \(0, 3\)"):
        make().fit(X[:0], target_for(make)[:0])


def test_non_numeric_X():
    with pytest.raises(ValueError, match="X must be a 2-D array of real numbers"):
        baseline().fit(np.array([["a", "b"]] * 24), Y)


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_nan_target(make):
    # NaN labels used to count as a second class (np.unique), silently training on garbage.
    y = target_for(make).astype(np.float64)
    y[3] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN or infinity \(first at index 3\)"):
        make().fit(X, y)


@pytest.mark.parametrize("make", CLASSIFIERS, ids=IDS[:3])
@pytest.mark.parametrize("y, got", [(np.arange(24) % 3, r"3: \[0, 1, 2\]"), (np.ones(24), r"1: \[1.0\]")])
def test_labels_not_binary(make, y, got):
    with pytest.raises(ValueError, match=f"exactly two classes in y, got {got}"):
        make().fit(X, y)


# -- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ALL, ids=IDS)
@pytest.mark.parametrize("lr", [0, -1.0, math.nan, math.inf, "0.1"])
def test_bad_learning_rate(make, lr):
    with pytest.raises(ValueError, match="lr must be a finite positive learning rate, or None"):
        make(lr=lr).fit(X, target_for(make))


@pytest.mark.parametrize("make", ALL, ids=IDS)
@pytest.mark.parametrize("max_iter", [0, -1, 1.5, True])
def test_bad_max_iter(make, max_iter):
    with pytest.raises(ValueError, match=r"max_iter must be a positive integer \(the number of gradient steps\)"):
        make(max_iter=max_iter).fit(X, target_for(make))


def test_fit_intercept_must_be_bool():
    with pytest.raises(ValueError, match="fit_intercept must be True or False, got 'no'"):
        baseline(fit_intercept="no").fit(X, Y)


@pytest.mark.parametrize("make", [coded, mpc], ids=["coded", "mpc"])
@pytest.mark.parametrize("kw, msg", [
    ({"degree": 0}, r"degree \(r of eq. 13\) must be an integer >= 1, got 0"),
    ({"degree": 1.5}, r"degree \(r of eq. 13\) must be an integer >= 1, got 1.5"),
    ({"n_workers": 3.0}, "n_workers must be a positive integer, got 3.0"),
    ({"n_workers": 0}, "n_workers must be a positive integer, got 0"),
    ({"lx": -1}, r"lx must be an integer in \[0, 30\], got -1"),
    ({"lw": 31}, r"lw must be an integer in \[0, 30\], got 31"),
    ({"lc": 1.5}, r"lc must be an integer in \[0, 30\] or None \(automatic\), got 1.5"),
    ({"fit_interval": 5}, r"fit_interval must be a pair \(lo, hi\) of reals, got 5"),
    ({"fit_interval": (5, -5)}, "fit_interval must be finite with lo < hi"),
    ({"fit_interval": (-math.inf, 5)}, "fit_interval must be finite with lo < hi"),
    ({"random_state": "a"}, "random_state must be None or a non-negative integer, got 'a'"),
    ({"p": 100}, r"p = 100 is not prime; .* \(nearest valid primes: 97 below and 101 above\)"),
])
def test_bad_protocol_parameters(make, kw, msg):
    with pytest.raises(ValueError, match=msg):
        make(**kw).fit(X, Y)


@pytest.mark.parametrize("kw, msg", [
    ({"timeout": 0}, "timeout must be a finite positive number of seconds, got 0"),
    ({"timeout": -1}, "timeout must be a finite positive number of seconds, got -1"),
    ({"timeout": math.inf}, "timeout must be a finite positive number of seconds, got inf"),
    ({"straggle": {1: -1}}, r"straggle: worker 1 must wait a non-negative number of seconds .* got -1"),
    ({"straggle": {9: 1}}, r"straggle: rank 9 is not a worker \(workers are ranks 1..4\)"),
    ({"K": 2, "T": 2}, r"N = 4 workers cannot decode: K = 2, T = 2, r = 1 need N >= \(2r\+1\)\(K\+T-1\)\+1 = 10"),
    ({"n_workers": 2}, "case 1 with degree r = 1 needs N >= 4 workers"),
])
def test_bad_coded_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        coded(**kw).fit(X, Y)


def test_valid_parameters_still_fit():
    # The checks accept numpy integers and floats, and straggle delays of zero.
    clf = coded(max_iter=np.int64(1), timeout=np.float64(30), straggle={1: 0}, lr=np.float64(0.5), random_state=3)
    assert clf.fit(X, Y).coef_.shape == (3,)


def test_degree_too_high_for_p_names_the_degree():
    with pytest.raises(WrapAroundError, match=r"a lower degree r or smaller scales \(l = .* with r = 5"):
        coded(n_workers=40, degree=5).fit(X, Y)


def test_fixed_point_plan_refuses_fractional_lc():
    with pytest.raises(ValueError, match=r"lc must be an integer in \[0, 30\] or None"):
        FixedPointPlan(pp.PrimeField(), 3, 4, (0.5, 0.13), lc=1.5)


def test_gradient_descent_function_checks_its_input():
    with pytest.raises(ValueError, match="X has 24 samples but y has 23"):
        gradient_descent(X, Y[:-1], lr=1.0, max_iter=1)
    with pytest.raises(ValueError, match="lr must be a finite positive learning rate"):
        gradient_descent(X, Y, lr=-1.0, max_iter=1)
    with pytest.raises(ValueError, match="task must be 'logistic' or 'linear', got 'svm'"):
        gradient_descent(X, Y, lr=1.0, max_iter=1, task="svm")


# -- after fit ----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ALL, ids=IDS)
@pytest.mark.parametrize("method", ["predict", "decision_function", "score"])
def test_use_before_fit(make, method):
    est = make()
    args = (X, target_for(make)) if method == "score" else (X,)
    # sklearn's NotFittedError derives from ValueError and AttributeError; ours too.
    with pytest.raises(NotFittedError, match=f"this {type(est).__name__} is not fitted .* call fit first"):
        getattr(est, method)(*args)
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


@pytest.fixture(scope="module")
def fitted():
    return baseline().fit(X, Y), pp.GradientDescentLinearRegression(max_iter=1).fit(X, T)


def test_predict_feature_count(fitted):
    for est in fitted:
        with pytest.raises(ValueError, match=f"X has 2 features, but this {type(est).__name__} was fitted with 3"):
            est.predict(X[:, :2])


def test_predict_non_finite(fitted):
    for est in fitted:
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            est.predict(np.full((2, 3), np.nan))


def test_score_length_mismatch(fitted):
    clf, reg = fitted
    with pytest.raises(ValueError, match="X has 24 samples but y has 23"):
        clf.score(X, Y[:-1])
    with pytest.raises(ValueError, match="X has 24 samples but y has 23"):
        reg.score(X, T[:-1])
