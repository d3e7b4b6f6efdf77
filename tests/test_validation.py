"""Bad input to the public API gets a clear error that says what is wrong and what would be valid.

Tiny data and max_iter = 1 keep every fit fast; each test pins the message, not just the type.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import pyprivml as pp
from pyprivml.data import load_cifar10_binary, load_gisette, make_synthetic, prepare
from pyprivml.data.tabular import load_csv_table, load_tabular
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


# -- data loaders -------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, msg", [
    ({"X": np.where(X > 0.3, np.nan, X)}, r"X contains NaN or infinity \(first at index"),
    ({"y": np.where(Y > 0, np.nan, 0.0)}, "the labels contain NaN or infinity"),
    ({"X_test": X[:, :2], "y_test": Y}, r"X_test must be \(n, 3\) like X and y_test \(n,\)"),
    ({"X_test": X, "y_test": Y[:3]}, r"X_test must be \(n, 3\) like X and y_test \(n,\)"),
    ({"y_test": Y}, "give both X_test and y_test, or neither"),
    ({"scale": 0}, "scale must be a finite positive number"),
])
def test_prepare_refuses(kw, msg):
    args = {"X": X, "y": Y, **kw}
    with pytest.raises(ValueError, match=msg):
        prepare("toy", args.pop("X"), args.pop("y"), **args)


def test_make_synthetic_refuses():
    with pytest.raises(ValueError, match="integers m >= 4 and d >= 1, got m = 10.5"):
        make_synthetic(10.5, 3)
    with pytest.raises(ValueError, match=r"label-flip probability, in \[0, 0.5\], got 2"):
        make_synthetic(10, 3, noise=2)


@pytest.mark.parametrize("text, kw, msg", [
    ("a,b,c\n1,2,3\n4,5\n", {}, "data row 2: 2 fields, but the header has 3 columns"),
    ("a,b,c\n1,nan,3\n4,5,6\n", {}, "data row 1: a feature is NaN or infinite"),
    ("a,b,c\n1,2,3\n4,5,\n", {}, r"data row 2: the label \('c'\) is empty"),
    ("a,b,c\n1,2,3\n4,5,6\n", {"label_column": 5}, r"label_column 5 is out of range for 3 columns \(valid: -3..2"),
    ("a,b,c\n1,2,x\n4,5,y\n", {"numeric_labels": True}, "the label column 'c' must be numeric"),
])
def test_csv_table_refuses(tmp_path, text, kw, msg):
    f = tmp_path / "t.csv"
    f.write_text(text)
    with pytest.raises(ValueError, match=msg):
        load_csv_table(f, **kw)


def test_regression_table_refuses_text_targets(tmp_path):
    # Text labels used to be numbered 0, 1, ... and silently trained on as regression targets.
    f = tmp_path / "t.csv"
    f.write_text("a,b,c\n" + "1,2,x\n4,5,y\n" * 3)
    with pytest.raises(ValueError, match="the label column 'c' must be numeric"):
        load_tabular("diabetes", csv_path=f)


@pytest.mark.parametrize("data, msg", [
    ("1 2 3\n4 5\n", "are not GISETTE text files"),
    ("1 2 3\n4 5 5000\n", r"features are integers in 0..999, found 5000.0 at row 2, column 3"),
    ("1 2 3\n4 5 nan\n", "features are integers in 0..999, found nan"),
])
def test_gisette_malformed(tmp_path, data, msg):
    (tmp_path / "gisette_train.data").write_text(data)
    (tmp_path / "gisette_train.labels").write_text("1\n-1\n")
    with pytest.raises(ValueError, match=msg):
        load_gisette(tmp_path)


def _cifar(tmp_path, test_batch):
    import pickle

    good = {b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1, 1]}
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(good))
    (tmp_path / "test_batch").write_bytes(test_batch if isinstance(test_batch, bytes) else pickle.dumps(test_batch))
    return tmp_path


@pytest.mark.parametrize("batch, msg", [
    (b"garbage", "test_batch is not a CIFAR-10 python batch"),
    ({b"data": np.full((3, 3072), 300), b"labels": [0, 1, 1]}, r"pixels are integers in 0..255, .* \[300, 300\]"),
    ({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]}, r"one label in 0..9 per image \(3 images\), got 2"),
    ({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1, 12]}, "one label in 0..9 per image"),
])
def test_cifar_malformed(tmp_path, batch, msg):
    with pytest.raises(ValueError, match=msg):
        load_cifar10_binary(_cifar(tmp_path, batch))


def test_cifar_classes_must_be_a_pair(tmp_path):
    with pytest.raises(ValueError, match=r"classes must be two different CIFAR-10 labels in 0..9, got \(0,\)"):
        load_cifar10_binary(_cifar(tmp_path, {b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1, 1]}),
                            classes=(0,))


def test_sigmoid_coefficients_that_would_wrap_name_the_scales_and_a_safe_prime():
    from pyprivml import PrimeField
    from pyprivml.protocols.fixedpoint import FixedPointPlan

    plan = FixedPointPlan(PrimeField(11), 3, 4, (0.5, 0.197))
    with pytest.raises(ValueError, match=r"reach 1024, above \(p-1\)/2 = 5 for p = 11 .*use p >= 2053"):
        plan.field_coefficients()
