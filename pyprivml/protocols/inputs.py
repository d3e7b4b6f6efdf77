"""Checks on training data where it enters a protocol or an estimator: say what is wrong and what is valid.

>>> check_X([[1.0, float("nan")]])
Traceback (most recent call last):
...
ValueError: X contains NaN or infinity (first at row 0, column 1); every entry must be a finite real (impute or drop those samples)
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_X", "check_y", "check_steps", "binary_labels", "with_intercept"]


def check_X(X, name: str = "X") -> np.ndarray:
    """X as a finite float64 (m, d) array with m, d >= 1, or a ValueError that says what is wrong."""
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 2-D array of real numbers (m samples x d features): {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (m samples x d features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must have at least one sample and one feature, got shape {X.shape}")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} contains NaN or infinity (first at row {bad[0]}, column {bad[1]}); "
                         f"every entry must be a finite real (impute or drop those samples)")
    return X


def check_y(y, m: int, *, numeric: bool) -> np.ndarray:
    """y as a 1-D array of m entries (finite float64 if ``numeric``), or a ValueError."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array with one target per row of X, got shape {y.shape} "
                         f"(use y.ravel() for a column vector)")
    if y.shape[0] != m:
        raise ValueError(f"X has {m} samples but y has {y.shape[0]}; they must have the same length")
    if numeric or y.dtype.kind == "f":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y must hold real numbers: {exc}") from None
        if not np.isfinite(y).all():
            raise ValueError(f"y contains NaN or infinity (first at index {int(np.argmin(np.isfinite(y)))}); "
                             f"every target must be finite")
    return y


def with_intercept(X, fit_intercept: bool) -> np.ndarray:
    """The checked design matrix, with a column of ones appended when ``fit_intercept``."""
    X = check_X(X)
    return np.hstack([X, np.ones((X.shape[0], 1))]) if fit_intercept else X


def binary_labels(y, m: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the two classes, y as 0.0 / 1.0 for the second class), or a ValueError."""
    y = np.asarray(y) if m is None else check_y(y, m, numeric=False)
    classes = np.unique(y)
    if classes.size != 2:
        raise ValueError(f"binary logistic regression needs exactly two classes in y, got "
                         f"{classes.size}: {classes[:10].tolist()}{' ...' if classes.size > 10 else ''}")
    return classes, (y == classes[1]).astype(np.float64)


def check_steps(max_iter, lr) -> None:
    """max_iter >= 1 gradient steps and a finite lr > 0 (None, where allowed, is checked by the caller)."""
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer (the number of gradient steps), got {max_iter!r}")
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (int, float, np.number)) or not 0 < lr < np.inf:
        raise ValueError(f"lr must be a finite positive learning rate, or None for 1/L (Theorem 1), got {lr!r}")
