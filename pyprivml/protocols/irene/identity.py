"""Identity tags of Irene (seed 001, section III-A, section IV-D): strings hashed into n classes.

Users do not agree on a list of identities. Each one tags faceprints with a unique identity tag,
such as the person's e-mail address, and maps the tag to a class of the n-way bootstrapping
classifier with a pre-shared hash H(tau) in [0, n):

    H(tau) = int(SHA-1(key || utf8(tau)), big-endian) mod n.

The key (a salt) is shared by all users, like the hash function itself; an outsider who does
not know it (the service provider) cannot tell which class belongs to which e-mail address by
hashing guessed addresses. SHA-1 is
what the seed uses (section IV-D); the 160-bit digest makes the bias of the reduction mod n
negligible (below n / 2^160). Two distinct tags can land in the same class (a hash collision):
the bootstrapping has to live with that inconsistency, which :meth:`TagSpace.collisions` counts.

:func:`add_tag_noise` is the seed's artificial tagging noise (section IV-D): a fraction of the
tags is replaced by tags drawn at random from the tag list.

>>> space = TagSpace(3000, key=b"shared secret")
>>> 0 <= space.index("alice@example.org") < 3000
True
>>> space.indices(["alice@example.org", "bob@example.org"]).shape
(2,)
"""

from __future__ import annotations

import hashlib
import math
from typing import NamedTuple

import numpy as np

__all__ = ["TagSpace", "TagNoise", "add_tag_noise", "check_tags", "expected_collisions"]


def check_tags(tags, *, allow_empty: bool = False) -> list[str]:
    """`tags` as a list of strings; a single string, a non-string element or (unless
    `allow_empty`) an empty collection is refused."""
    if isinstance(tags, (str, bytes)):
        raise TypeError("tags must be a collection of strings, not a single string; wrap it in a list")
    try:
        out = list(tags)
    except TypeError:
        raise TypeError(f"tags must be an iterable of strings, got {type(tags).__name__}") from None
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"identity tags must be strings (e.g. e-mail addresses); tag {i} is {type(t).__name__} {t!r}")
    if not out and not allow_empty:
        raise ValueError("the tag set is empty; give at least one identity tag")
    return out


def _check_fraction(fraction) -> float:
    try:
        f = float(fraction)
    except (TypeError, ValueError):
        raise TypeError(f"the noise fraction must be a real number, got {fraction!r}") from None
    if not 0.0 <= f <= 1.0:  # also refuses NaN
        raise ValueError(f"the noise fraction must lie in [0, 1], got {fraction!r}")
    return f


class TagSpace:
    """The pre-shared map from identity tags to the n classes of the bootstrapping classifier.

    ``n_classes`` n >= 2; ``key`` the pre-shared salt (bytes, or str taken as UTF-8);
    ``normalize=True`` strips surrounding white space and case-folds a tag before hashing (so
    " Alice@Example.org" and "alice@example.org" agree); it is off by default, so the index is
    exactly the SHA-1 formula of the module docstring. All users must use the same three values.
    """

    def __init__(self, n_classes: int, key: bytes | str = b"", *, normalize: bool = False):
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
            raise TypeError(f"n_classes must be an integer, got {type(n_classes).__name__} {n_classes!r}")
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2 for a classification problem, got {n_classes}")
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError(f"key must be bytes or str, got {type(key).__name__}")
        self.n_classes = int(n_classes)
        self.key = bytes(key)
        self.normalize = bool(normalize)

    def _prepare(self, tag: str) -> str:
        return tag.strip().casefold() if self.normalize else tag

    def index(self, tag: str) -> int:
        """H(tag) = int(SHA-1(key || utf8(tag))) mod n, the class of one tag."""
        if not isinstance(tag, str):
            raise TypeError(f"an identity tag must be a string, got {type(tag).__name__} {tag!r}")
        digest = hashlib.sha1(self.key + self._prepare(tag).encode("utf-8")).digest()
        return int.from_bytes(digest, "big") % self.n_classes

    def indices(self, tags) -> np.ndarray:
        """The classes of many tags, an int64 array (the targets of the bootstrapping classifier)."""
        tags = check_tags(tags)
        cache: dict[str, int] = {}
        out = np.empty(len(tags), dtype=np.int64)
        for i, t in enumerate(tags):
            c = cache.get(t)
            if c is None:
                c = cache[t] = self.index(t)
            out[i] = c
        return out

    def one_hot(self, tags) -> np.ndarray:
        """The one-hot vectors t in {0, 1}^n of section III-A, shape (len(tags), n)."""
        idx = self.indices(tags)
        out = np.zeros((idx.size, self.n_classes), dtype=np.float32)
        out[np.arange(idx.size), idx] = 1.0
        return out

    def colliding(self, tags) -> dict[int, tuple[str, ...]]:
        """Classes that two or more *distinct* tags map to: class -> the sorted distinct tags
        (after normalisation). Repeats of one tag are no collision."""
        tags = check_tags(tags)
        groups: dict[int, set[str]] = {}
        for t in set(self._prepare(t) for t in tags):
            groups.setdefault(self.index(t), set()).add(t)
        return {c: tuple(sorted(g)) for c, g in sorted(groups.items()) if len(g) > 1}

    def collisions(self, tags) -> int:
        """How many distinct tags share their class with another distinct tag."""
        return sum(len(g) for g in self.colliding(tags).values())

    def __repr__(self) -> str:
        return f"TagSpace(n_classes={self.n_classes}, key=<{len(self.key)} bytes>, normalize={self.normalize})"


def expected_collisions(n_tags: int, n_classes: int) -> float:
    """Expected number of colliding tags (as :meth:`TagSpace.collisions` counts them) for
    `n_tags` distinct tags hashed uniformly into `n_classes` classes: m (1 - (1 - 1/n)^(m-1)).

    >>> round(expected_collisions(530, 3000), 1)   # one user's n' = 530 tags, n = 3000 (section IV-D)
    85.7
    """
    m, n = int(n_tags), int(n_classes)
    if m < 0 or n < 1:
        raise ValueError(f"need n_tags >= 0 and n_classes >= 1, got {n_tags}, {n_classes}")
    if m == 0:
        return 0.0
    return m * -math.expm1((m - 1) * math.log1p(-1.0 / n)) if n > 1 else float(m if m > 1 else 0)


class TagNoise(NamedTuple):
    """The result of :func:`add_tag_noise`."""

    tags: list          # the noisy tags
    replaced: np.ndarray  # positions that got a random tag (sorted)
    changed: np.ndarray   # boolean mask: positions whose tag actually differs now

    @property
    def effective_fraction(self) -> float:
        """The fraction of tags that really changed (<= the requested fraction)."""
        return float(self.changed.mean()) if self.changed.size else 0.0


def add_tag_noise(tags, fraction: float, rng=None, *, pool=None, exclude_original: bool = False) -> TagNoise:
    """Artificial tagging noise of section IV-D: replace ``round(fraction * len(tags))`` tags,
    at positions chosen uniformly without replacement, by tags drawn uniformly from the tag list.

    The tag list is ``pool`` if given, else the distinct tags of `tags` (in sorted order, so a
    seeded `rng` gives the same result whatever the input order of the pool). By default a
    replacement may equal the original tag, as "replacing with random samples from the tag list"
    allows, so with K tags in the list only about fraction * (1 - 1/K) of the tags really change;
    ``changed`` and ``effective_fraction`` report that. ``exclude_original=True`` draws from the
    other tags of the list instead, so that every replaced tag changes.

    `rng` is a NumPy Generator, a seed, or None.

    >>> out = add_tag_noise(["a", "b", "c", "d"], 0.5, rng=0, exclude_original=True)
    >>> len(out.replaced), int(out.changed.sum())
    (2, 2)
    """
    tags = check_tags(tags)
    f = _check_fraction(fraction)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    tag_list = sorted(set(tags)) if pool is None else sorted(set(check_tags(pool)))
    n_replace = int(round(f * len(tags)))
    replaced = np.sort(rng.choice(len(tags), size=n_replace, replace=False)) if n_replace else np.zeros(0, np.int64)
    if exclude_original and n_replace and len(tag_list) < 2:
        raise ValueError("exclude_original=True needs at least two distinct tags in the tag list")
    noisy = list(tags)
    position = {t: i for i, t in enumerate(tag_list)}
    K = len(tag_list)
    for i in replaced:
        if exclude_original and tags[i] in position:
            j = int(rng.integers(K - 1))
            j += j >= position[tags[i]]   # skip the original: uniform over the other K - 1 tags
        else:
            j = int(rng.integers(K))
        noisy[i] = tag_list[j]
    changed = np.fromiter((a != b for a, b in zip(tags, noisy)), dtype=bool, count=len(tags))
    return TagNoise(noisy, replaced.astype(np.int64), changed)
