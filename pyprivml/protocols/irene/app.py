"""The face-tagging app of Irene (seed 001, section II-B and II-D), on the user's device.

A photo goes through:

1. face detection by a traditional cascade (the seed names cascading LBP or Haar classifiers):
   the LBP frontal-face cascade that ships with scikit-image, :func:`detect_faces`;
2. each face cropped, made grey and resized to the model's input size;
3. faceprints from the model, a callable ``embed(crops) -> (n, m)`` passed in (the app treats
   the model as a black box, section II-C);
4. tag suggestions by nearest neighbour over the user's tagged faceprints,
   tau(l) = tau(NN(l)) with NN(l) = argmin over x in T of ||phi(psi(l)) - phi(psi(x))||_2:
   :meth:`TaggedCollection.suggest`, with an optional distance threshold beyond which no tag
   is suggested;
5. the user accepts right suggestions and corrects wrong ones
   (:meth:`TaggedCollection.accept` / :meth:`TaggedCollection.correct`); both join the tagged
   set and are kept, with their crops, as training feedback (:meth:`TaggedCollection.training_data`).

:func:`tag_photo` runs steps 1-4 on one photo.

>>> import numpy as np
>>> c = TaggedCollection()
>>> c.add(np.eye(2), ["alice@example.org", "bob@example.org"])
>>> [s.tag for s in c.suggest(np.array([[0.9, 0.1], [0.0, 5.0]]), threshold=1.0)[:1]]
['alice@example.org']
>>> c.suggest(np.array([[0.0, 5.0]]), threshold=1.0)
[None]
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from .data import to_grey

__all__ = ["Box", "Face", "Suggestion", "TaggedCollection", "default_detector", "detect_faces", "merge_boxes", "crop_face",
           "embed_crops", "tag_photo", "save_user_state", "load_user_state"]


class Box(NamedTuple):
    """A face box in pixels: top-left corner (row, col) and its height and width."""

    row: int
    col: int
    height: int
    width: int

    @property
    def center(self) -> tuple[float, float]:
        return (self.row + self.height / 2.0, self.col + self.width / 2.0)


class Face(NamedTuple):
    """A detected face: its box in the photo and its crop, (1, H, W) float32 grey in [0, 1]."""

    box: Box
    crop: np.ndarray


@dataclasses.dataclass
class Suggestion:
    """A tag suggestion for one faceprint: `tag` (None when the nearest tagged faceprint is
    farther than the threshold, or nothing is tagged yet), `distance` to the nearest tagged
    faceprint carrying that tag (to the nearest one at all when `tag` is None), `neighbours`:
    the k nearest (tag, distance), nearest first; plus the face's faceprint, and its box and
    crop when it comes from a photo."""

    tag: str | None
    distance: float
    faceprint: np.ndarray
    neighbours: tuple = ()
    box: Box | None = None
    crop: np.ndarray | None = None


def _check_size(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    try:
        out = tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"crop_size must be an int or (height, width), got {size!r}") from None
    if len(out) != 2 or min(out) < 1:
        raise ValueError(f"crop_size must be a positive int or (height, width) of positive ints, got {size!r}")
    return out


def default_detector():
    """scikit-image's LBP frontal-face cascade (OpenCV's lbpcascade_frontalface)."""
    from skimage import data, feature

    return feature.Cascade(data.lbp_frontal_face_cascade_filename())


def crop_face(grey: np.ndarray, box: Box, crop_size=25, *, margin: float = 0.0) -> np.ndarray:
    """The face in `box` of a grey (H, W) photo, the box enlarged by `margin` of its size on
    every side (clipped at the photo's border), resized to `crop_size`: (1, h, w) float32."""
    from skimage import transform

    size = _check_size(crop_size)
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    h, w = grey.shape
    dr, dc = int(round(margin * box.height)), int(round(margin * box.width))
    r0, c0 = max(0, box.row - dr), max(0, box.col - dc)
    r1, c1 = min(h, box.row + box.height + dr), min(w, box.col + box.width + dc)
    if r1 <= r0 or c1 <= c0:
        raise ValueError(f"box {tuple(box)} lies outside the {h} x {w} photo")
    patch = transform.resize(grey[r0:r1, c0:c1], size, anti_aliasing=True, preserve_range=True)
    return np.clip(patch, 0.0, 1.0)[None].astype(np.float32)


def _overlap(a: Box, b: Box) -> float:
    """Intersection area over the smaller box's area."""
    dr = min(a.row + a.height, b.row + b.height) - max(a.row, b.row)
    dc = min(a.col + a.width, b.col + b.width) - max(a.col, b.col)
    if dr <= 0 or dc <= 0:
        return 0.0
    return dr * dc / min(a.height * a.width, b.height * b.width)


def merge_boxes(boxes, threshold: float = 0.5) -> list[Box]:
    """Boxes grouped greedily (largest first) with a group's first box when they overlap it by
    at least `threshold` of the smaller area; each group becomes its mean box (rounded)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"merge_threshold must lie in (0, 1] or be None, got {threshold}")
    groups: list[list[Box]] = []
    for b in sorted(boxes, key=lambda b: (-b.height * b.width, b)):
        for g in groups:
            if _overlap(g[0], b) >= threshold:
                g.append(b)
                break
        else:
            groups.append([b])
    return [Box(*(int(round(v)) for v in np.mean(np.asarray(g, dtype=np.float64), axis=0))) for g in groups]


def detect_faces(photo, *, crop_size=25, detector=None, scale_factor: float = 1.2, step_ratio: float = 1.0,
                 min_size=(48, 48), max_size=None, min_neighbor_number: int = 4,
                 intersection_score_threshold: float = 0.5, merge_threshold: float | None = 0.5,
                 margin: float = 0.0) -> list[Face]:
    """Faces in a photo (grey, RGB or RGBA; integer or float in [0, 1]) as (box, crop) pairs in
    reading order (top to bottom, then left to right).

    The detector is the LBP frontal-face cascade (:func:`default_detector`) unless one with a
    ``detect_multi_scale`` method like scikit-image's ``Cascade`` is given; the search runs over
    windows from `min_size` to `max_size` (default: the photo's size) growing by
    `scale_factor`, and keeps detections backed by `min_neighbor_number` overlapping windows.
    Small windows are slow and give more false positives; the defaults suit faces of 48 pixels
    and up (on ``skimage.data.astronaut()`` they find the face and two false positives on the
    suit and helmet; ``min_size=(60, 60)`` finds the face alone). The cascade can report one
    face as two nested boxes; boxes overlapping by `merge_threshold` of the smaller one are
    merged (:func:`merge_boxes`; None keeps them all). Crops are resized to `crop_size`, the model's input size (see :func:`crop_face`).
    """
    grey = to_grey(photo)
    size = _check_size(crop_size)
    min_size = _check_size(min_size)
    max_size = tuple(grey.shape) if max_size is None else _check_size(max_size)
    if min_size[0] > max_size[0] or min_size[1] > max_size[1]:
        raise ValueError(f"min_size {min_size} exceeds max_size {max_size}")
    if scale_factor <= 1.0 or step_ratio < 1.0:
        raise ValueError(f"need scale_factor > 1 and step_ratio >= 1, got {scale_factor} and {step_ratio}")
    detector = default_detector() if detector is None else detector
    found = detector.detect_multi_scale(img=grey, scale_factor=float(scale_factor), step_ratio=float(step_ratio),
                                        min_size=min_size, max_size=max_size,
                                        min_neighbor_number=int(min_neighbor_number),
                                        intersection_score_threshold=float(intersection_score_threshold))
    boxes = [Box(int(d["r"]), int(d["c"]), int(d["height"]), int(d["width"])) for d in found]
    if merge_threshold is not None:
        boxes = merge_boxes(boxes, merge_threshold)
    boxes = sorted(boxes)
    return [Face(b, crop_face(grey, b, size, margin=margin)) for b in boxes]


def embed_crops(embed: Callable, crops) -> np.ndarray:
    """``embed(crops)`` checked: crops (n, 1, H, W) float32 -> faceprints (n, m) float64."""
    crops = np.asarray(crops, dtype=np.float32)
    out = np.asarray(embed(crops), dtype=np.float64)
    if out.ndim != 2 or out.shape[0] != crops.shape[0]:
        raise ValueError(f"embed must map {crops.shape[0]} crops to an (n, m) = ({crops.shape[0]}, m) array of "
                         f"faceprints, got shape {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError("embed returned non-finite faceprints")
    return out


def _check_tag(tag) -> str:
    if not isinstance(tag, str) or not tag:
        raise TypeError(f"an identity tag is a non-empty string (e.g. an e-mail address), got {tag!r}")
    return tag


class TaggedCollection:
    """One user's tagged faceprints T: faceprints (N, m), their tags, and for each its crop
    (or None) and how it got there: "tagged" (added by hand), "accepted" (a right suggestion),
    "corrected" (a wrong suggestion the user fixed; the wrong tag is kept in `suggested`)."""

    KINDS = ("tagged", "accepted", "corrected")

    def __init__(self, faceprints=None, tags=None, crops=None):
        self._fp: list[np.ndarray] = []
        self.tags: list[str] = []
        self.crops: list[np.ndarray | None] = []
        self.kinds: list[str] = []
        self.suggested: list[str | None] = []
        self.dim: int | None = None
        if faceprints is not None or tags is not None:
            self.add(faceprints, tags, crops)

    @classmethod
    def from_faceset(cls, faceset, embed: Callable, *, batch_size: int = 512) -> TaggedCollection:
        """A collection of a user's photos (a :class:`~.data.FaceSet`): faceprints from `embed`,
        tags from the set's names, the images kept as crops."""
        images = np.asarray(faceset.images, dtype=np.float32)
        fps = [embed_crops(embed, images[i:i + batch_size]) for i in range(0, images.shape[0], batch_size)]
        return cls(np.concatenate(fps) if fps else None, faceset.tags, list(images))

    def __len__(self) -> int:
        return len(self.tags)

    @property
    def faceprints(self) -> np.ndarray:
        if not self._fp:
            return np.zeros((0, self.dim or 0))
        return np.stack(self._fp)

    def _check_faceprint(self, fp) -> np.ndarray:
        fp = np.asarray(fp, dtype=np.float64)
        if fp.ndim != 1 or fp.size == 0 or not np.all(np.isfinite(fp)):
            raise ValueError(f"a faceprint is a finite 1-D vector, got shape {fp.shape}")
        if self.dim is not None and fp.size != self.dim:
            raise ValueError(f"this collection holds {self.dim}-dimensional faceprints, got one of {fp.size}")
        return fp

    def _append(self, fp, tag, crop, kind, suggested=None):
        fp = self._check_faceprint(fp)
        tag = _check_tag(tag)
        if crop is not None:
            crop = np.asarray(crop, dtype=np.float32)
            if crop.ndim == 2:
                crop = crop[None]
            if crop.ndim != 3 or crop.shape[0] != 1:
                raise ValueError(f"a crop is (1, H, W) or (H, W), got shape {crop.shape}")
            shapes = {c.shape for c in self.crops if c is not None}
            if shapes and crop.shape not in shapes:
                raise ValueError(f"crops in this collection are {shapes.pop()}, got {crop.shape}")
        self.dim = fp.size
        self._fp.append(fp)
        self.tags.append(tag)
        self.crops.append(crop)
        self.kinds.append(kind)
        self.suggested.append(suggested)

    def add(self, faceprints, tags, crops=None) -> None:
        """Faceprints (n, m) tagged by hand with `tags` (n strings), optionally with their crops."""
        fps = np.asarray(faceprints, dtype=np.float64)
        if fps.ndim == 1:
            fps = fps[None]
        if isinstance(tags, str):
            tags = [tags]
        tags = list(tags)
        if fps.ndim != 2 or fps.shape[0] != len(tags):
            raise ValueError(f"need one tag per faceprint: faceprints of shape {fps.shape}, {len(tags)} tags")
        crops = [None] * len(tags) if crops is None else list(crops)
        if len(crops) != len(tags):
            raise ValueError(f"need one crop per faceprint: {len(tags)} faceprints, {len(crops)} crops")
        for fp, tag, crop in zip(fps, tags, crops):
            self._append(fp, tag, crop, "tagged")

    def suggest(self, faceprints, k: int = 1, threshold: float | None = None) -> list[Suggestion | None]:
        """One suggestion per faceprint (rows of an (n, m) array, or one vector): the tag of the
        nearest tagged faceprint (Euclidean); with k > 1 the most common tag among the k nearest
        (ties: the tag whose nearest member is closest). None when that tag's nearest member is
        farther than `threshold`, or the collection is empty."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if threshold is not None and not threshold >= 0:
            raise ValueError(f"threshold must be >= 0 or None, got {threshold!r}")
        q = np.asarray(faceprints, dtype=np.float64)
        if q.ndim == 1:
            q = q[None]
        if q.ndim != 2:
            raise ValueError(f"faceprints must be (n, m) or (m,), got shape {q.shape}")
        if not len(self):
            return [None] * q.shape[0]
        if q.shape[1] != self.dim:
            raise ValueError(f"this collection holds {self.dim}-dimensional faceprints, got {q.shape[1]}")
        T = self.faceprints
        d = np.sqrt(np.maximum(((q ** 2).sum(1)[:, None] - 2.0 * q @ T.T + (T ** 2).sum(1)[None]), 0.0))
        kk = min(int(k), T.shape[0])
        out = []
        for row, fp in zip(d, q):
            near = np.argsort(row, kind="stable")[:kk]
            neighbours = tuple((self.tags[j], float(row[j])) for j in near)
            votes = Counter(t for t, _ in neighbours)
            first = {}
            for t, dist in neighbours:
                first.setdefault(t, dist)
            tag = min(votes, key=lambda t: (-votes[t], first[t]))
            dist = first[tag]
            out.append(None if threshold is not None and dist > threshold
                       else Suggestion(tag, dist, fp.copy(), neighbours))
        return out

    def accept(self, item, tag: str | None = None, *, crop=None) -> None:
        """The user accepts a suggestion: `item` is a :class:`Suggestion` (its tag, faceprint and
        crop are used unless given) or a faceprint with its `tag`. It joins the tagged set and
        the feedback."""
        if isinstance(item, Suggestion):
            tag = item.tag if tag is None else tag
            crop = item.crop if crop is None else crop
            item = item.faceprint
        if tag is None:
            raise ValueError("accept needs a tag: the suggestion has none (beyond the threshold); use correct(...) "
                             "to tag it by hand")
        self._append(item, tag, crop, "accepted")

    def correct(self, item, tag: str, *, crop=None, suggested: str | None = None) -> None:
        """The user corrects a suggestion to `tag`: `item` is a :class:`Suggestion` (its wrong tag
        is recorded as `suggested`) or a faceprint. It joins the tagged set and the feedback."""
        if isinstance(item, Suggestion):
            suggested = item.tag if suggested is None else suggested
            crop = item.crop if crop is None else crop
            item = item.faceprint
        if suggested is not None and suggested == tag:
            raise ValueError(f"correct() was given the suggested tag {tag!r} itself; use accept() for a right suggestion")
        self._append(item, tag, crop, "corrected", suggested)

    def feedback(self, kinds=("accepted", "corrected")) -> list[int]:
        """Positions of the entries of these kinds."""
        bad = set(kinds) - set(self.KINDS)
        if bad:
            raise ValueError(f"unknown kinds {sorted(bad)}; valid kinds are {self.KINDS}")
        return [i for i, kind in enumerate(self.kinds) if kind in kinds]

    def training_data(self, kinds=("accepted", "corrected")) -> tuple[np.ndarray, list[str]]:
        """The feedback as training data: (crops (n, 1, H, W) float32, tags) of the accepted and
        corrected entries (or `kinds`) that carry a crop, in the order they were given."""
        keep = [i for i in self.feedback(kinds) if self.crops[i] is not None]
        if not keep:
            return np.zeros((0, 1, 0, 0), dtype=np.float32), []
        return np.stack([self.crops[i] for i in keep]), [self.tags[i] for i in keep]

    def refresh(self, embed: Callable) -> None:
        """Recompute the faceprints of entries with crops after the model (or the user's metric)
        changed; entries without a crop cannot be re-embedded and are refused."""
        if any(c is None for c in self.crops):
            raise ValueError("some entries have no crop and cannot be re-embedded; add them with their crops")
        if not len(self):
            return
        fps = embed_crops(embed, np.stack(self.crops))
        self._fp = list(fps)
        self.dim = fps.shape[1]


def tag_photo(photo, embed: Callable, collection: TaggedCollection, *, k: int = 1, threshold: float | None = None,
              crop_size=25, **detect_kwargs) -> list[Suggestion]:
    """Steps 1-4 on one photo: a :class:`Suggestion` per detected face (reading order), carrying
    its box and crop; `tag` is None where no tagged faceprint is within `threshold`. `crop_size`
    is the model's input size; `detect_kwargs` go to :func:`detect_faces`. Accept or correct the
    suggestions with the collection's methods to feed them back."""
    if not isinstance(collection, TaggedCollection):
        raise TypeError(f"collection must be a TaggedCollection, got {type(collection).__name__}")
    faces = detect_faces(photo, crop_size=crop_size, **detect_kwargs)
    if not faces:
        return []
    fps = embed_crops(embed, np.stack([f.crop for f in faces]))
    out = []
    for face, fp, s in zip(faces, fps, collection.suggest(fps, k=k, threshold=threshold)):
        if s is None:
            if len(collection):
                dist = float(np.min(np.linalg.norm(collection.faceprints - fp, axis=1)))
            else:
                dist = float("inf")
            s = Suggestion(None, dist, fp.copy(), ())
        s.box, s.crop = face.box, face.crop
        out.append(s)
    return out


# -- a user's device state: what `pyprivml irene tag` needs, kept on the user's own machine ----------

def save_user_state(path, model, spec: dict, L, images, tags) -> None:
    """Write a user's trained model (ψ_g, ψ_l, ϕ), its metric factor L (M = LᵀL) and its tagged
    collection (faceprints of its photos and their tags) to ``path``: the device's own file,
    never sent anywhere."""
    import torch

    from .tuning import normalized_features

    faceprints = normalized_features(model, images) @ np.asarray(L, dtype=np.float64).T
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"spec": dict(spec), "state": model.state_dict(), "L": np.asarray(L, dtype=np.float64),
                "faceprints": faceprints, "tags": list(tags)}, path)


def load_user_state(path):
    """(embed, collection, crop_size) from :func:`save_user_state`: ``embed(crops)`` gives the
    user's faceprints L ψ̂(ℓ), ``collection`` its :class:`TaggedCollection`."""
    import torch

    from .model import make_model
    from .tuning import normalized_features

    state = torch.load(path, weights_only=False)
    model = make_model(**state["spec"])
    model.load_state_dict(state["state"])
    L = state["L"]

    def embed(crops):
        return normalized_features(model, np.asarray(crops, dtype=np.float32)) @ L.T

    collection = TaggedCollection(state["faceprints"], state["tags"])
    return embed, collection, model.image_shape[1:]
