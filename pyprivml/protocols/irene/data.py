"""Identity-labelled face sets for Irene (seed 001, section IV-A): offline stand-ins and real loaders.

The seed trains on CASIA-WebFace (494,414 images, 10,575 identities) and evaluates on LFW
(13,233 images, 5,749 identities) under the standard 10-fold verification protocol. Neither
ships with any installed package and machines here have no internet, so this module offers:

* :func:`load_lfw_standin`: a STAND-IN for LFW / CASIA-WebFace built from the 100 real LFW face
  crops that ship with scikit-image (``skimage.data.lfw_subset()``, 25 x 25), each crop made
  into one identity with many "photos" by photometric and geometric augmentation;
* :func:`load_digits_identities`: scikit-learn's 8 x 8 digits, digit class as identity;
* :func:`split_users`: the k users' private photo collections (different, overlapping
  identities, disjoint photos) and :func:`train_test_split` by views;
* loaders for the real formats, to run the same code on the real data where it is present:
  :func:`load_identity_folders` (``root/identity/image``, CASIA-WebFace or LFW as an identity
  set), :func:`load_lfw_pairs` (``pairs.txt``) and :func:`verification_accuracy` (threshold
  chosen on 9 folds, accuracy on the 10th, mean and standard deviation over the 10 folds).

Identity tags are e-mail-like strings (``person042@example.org``), as the seed's users tag
faces with unique identity tags such as e-mail addresses (section III-A).

>>> faces = load_lfw_standin(n_views=4)
>>> faces.images.shape, faces.n_identities, faces.names[42]
((400, 1, 25, 25), 100, 'person042@example.org')
>>> users = split_users(faces, 8, seed=0, overlap=0.5)
>>> len(users), sum(len(u) for u in users)
(8, 400)
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np

__all__ = ["FaceSet", "LFWPairs", "Verification", "email_tag", "load_lfw_standin", "load_digits_identities",
           "split_users", "train_test_split", "read_image", "load_identity_folders", "parse_lfw_pairs",
           "load_lfw_pairs", "lfw_image_path", "best_threshold", "verification_accuracy", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff")
_N_LFW_SUBSET_FACES = 100  # skimage.data.lfw_subset(): 100 faces, then 100 non-faces


# ---------------------------------------------------------------------------------------------
# the container


@dataclasses.dataclass
class FaceSet:
    """Grey face images with identity labels.

    images: (n, 1, H, W) float32 in [0, 1]; identities: (n,) int; names: identity -> e-mail-like
    tag (every identity in `identities` has one); source: where the images came from; index:
    positions in the set this one was cut from (None for a loaded set).
    """

    images: np.ndarray
    identities: np.ndarray
    names: dict
    source: str
    index: np.ndarray | None = None

    def __post_init__(self):
        images = np.asarray(self.images)
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"FaceSet images must be (n, 1, H, W) grey images, got shape {images.shape}")
        images = images.astype(np.float32, copy=False)
        if images.size and not (np.all(np.isfinite(images)) and images.min() >= 0.0 and images.max() <= 1.0):
            raise ValueError("FaceSet images must be finite values in [0, 1]")
        ids = np.asarray(self.identities)
        if ids.ndim != 1 or ids.shape[0] != images.shape[0]:
            raise ValueError(f"identities must be one label per image ({images.shape[0]}), got shape {ids.shape}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"identities must be integers, got dtype {ids.dtype}")
        ids = ids.astype(np.int64, copy=False)
        names = {int(k): str(v) for k, v in dict(self.names).items()}
        missing = sorted(set(np.unique(ids).tolist()) - set(names))
        if missing:
            raise ValueError(f"names lacks a tag for identities {missing[:5]}")
        self.images, self.identities, self.names = images, ids, names
        if self.index is not None:
            self.index = np.asarray(self.index, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def identity_set(self) -> np.ndarray:
        """The distinct identities, sorted."""
        return np.unique(self.identities)

    @property
    def n_identities(self) -> int:
        return int(self.identity_set.size)

    @property
    def tags(self) -> list[str]:
        """The e-mail-like tag of every image."""
        return [self.names[int(i)] for i in self.identities]

    def subset(self, indices) -> FaceSet:
        """The images at `indices` (names restricted to the identities kept; `index` composed)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        ids = self.identities[idx]
        keep = set(np.unique(ids).tolist())
        base = idx if self.index is None else self.index[idx]
        return FaceSet(self.images[idx], ids, {k: v for k, v in self.names.items() if k in keep},
                       self.source, index=base)


def email_tag(name: str, domain: str = "example.org") -> str:
    """An e-mail-like identity tag from a person or folder name: ``George_W_Bush`` ->
    ``george_w_bush@example.org`` (characters other than letters, digits, ``._-`` become ``_``)."""
    local = re.sub(r"[^a-z0-9._-]+", "_", str(name).strip().lower()).strip("._") or "unknown"
    return f"{local}@{domain}"


def _check_int(value, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {value}")
    return int(value)


def _check_size(image_size) -> tuple[int, int]:
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    else:
        try:
            size = tuple(int(s) for s in image_size)
        except TypeError:
            raise TypeError(f"image_size must be an int or (height, width), got {image_size!r}") from None
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"image_size must be a positive int or (height, width) of positive ints, got {image_size!r}")
    return size


# ---------------------------------------------------------------------------------------------
# the offline stand-in


def _augment(face: np.ndarray, rng: np.random.Generator, *, max_rotation: float, max_shift: float,
             scale_range: tuple[float, float], flip: bool, noise: float) -> np.ndarray:
    """One augmented view of a (H, W) face in [0, 1]: a similarity transform about the centre
    (rotation, scale, shift), a horizontal flip, contrast, brightness, gamma, Gaussian noise."""
    from skimage import exposure, transform

    h, w = face.shape
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])  # (x, y), skimage's convention
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    scale = rng.uniform(*scale_range)
    shift = rng.uniform(-max_shift, max_shift, size=2)
    to_origin = transform.SimilarityTransform(translation=-centre)
    move = transform.SimilarityTransform(scale=scale, rotation=angle, translation=centre + shift)
    tf = to_origin + move  # first to the origin, then rotate/scale and back, shifted
    out = transform.warp(face, tf.inverse, mode="edge", order=1, preserve_range=True)
    if flip and rng.random() < 0.5:
        out = out[:, ::-1]
    contrast = rng.uniform(0.75, 1.25)
    brightness = rng.uniform(-0.1, 0.1)
    mean = out.mean()
    out = np.clip((out - mean) * contrast + mean + brightness, 0.0, 1.0)
    out = exposure.adjust_gamma(out, gamma=float(np.exp(rng.uniform(-0.3, 0.3))))
    if noise > 0:
        out = out + rng.normal(0.0, noise, size=out.shape)
    return np.clip(out, 0.0, 1.0)


def load_lfw_standin(n_views: int = 10, seed: int = 0, image_size=25, *, include_original: bool = False,
                     max_rotation: float = 10.0, max_shift: float = 1.5,
                     scale_range: tuple[float, float] = (0.9, 1.1), flip: bool = True,
                     noise: float = 0.02) -> FaceSet:
    """A STAND-IN for LFW / CASIA-WebFace: 100 identities with `n_views` photos each.

    This is NOT LFW or CASIA-WebFace. It takes the 100 real LFW face crops that ship with
    scikit-image (the first 100 of the 200 images of ``skimage.data.lfw_subset()``; the other
    100 are non-face background patches and are not used), 25 x 25 grey in [0, 1], and makes
    each crop one identity. Its "photos" are augmented views of that crop: a rotation of up to
    `max_rotation` degrees, a scale in `scale_range` and a shift of up to `max_shift` pixels
    about the centre, a horizontal flip (half of the views when `flip`), contrast 0.75-1.25,
    brightness +-0.1, gamma exp(+-0.3) and Gaussian noise of standard deviation `noise`,
    clipped to [0, 1]. With `include_original` the unaugmented crop is each identity's first
    view. Views are resized to `image_size` (int or (height, width)) after augmentation.

    Real pose, lighting, age and expression variation is much larger than this augmentation,
    so accuracies on the stand-in are not comparable with the seed's LFW numbers. The crops
    were drawn at random from LFW, so a few of them may show the same person (LFW has 530
    images of George W Bush); the stand-in treats every crop as its own identity.

    Deterministic given `seed`. Identity i is tagged ``person{i:03d}@example.org``.
    """
    from skimage import data, transform

    n_views = _check_int(n_views, "n_views", 1)
    size = _check_size(image_size)
    if not (0 <= max_rotation <= 180 and max_shift >= 0 and 0 < scale_range[0] <= scale_range[1] and noise >= 0):
        raise ValueError("augmentation needs 0 <= max_rotation <= 180, max_shift >= 0, "
                         "0 < scale_range[0] <= scale_range[1] and noise >= 0")
    faces = np.asarray(data.lfw_subset(), dtype=np.float64)[:_N_LFW_SUBSET_FACES]
    rng = np.random.default_rng(seed)
    views = []
    for face in faces:
        for v in range(n_views):
            if include_original and v == 0:
                view = face
            else:
                view = _augment(face, rng, max_rotation=max_rotation, max_shift=max_shift,
                                scale_range=tuple(scale_range), flip=flip, noise=noise)
            if view.shape != size:
                view = transform.resize(view, size, anti_aliasing=True, preserve_range=True)
            views.append(np.clip(view, 0.0, 1.0))
    images = np.stack(views)[:, None].astype(np.float32)
    identities = np.repeat(np.arange(faces.shape[0]), n_views)
    names = {i: f"person{i:03d}@example.org" for i in range(faces.shape[0])}
    return FaceSet(images, identities, names, source=f"skimage lfw_subset stand-in (augmented, seed={seed})")


def load_digits_identities() -> FaceSet:
    """scikit-learn's 1,797 handwritten digits (8 x 8, values 0..16 scaled to [0, 1]) as a second
    identity-labelled set: identity = digit class, tagged ``digit{d}@example.org``. A stand-in
    with few identities and many views each, for quick tests of the identity pipeline."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (np.asarray(digits.images, dtype=np.float64) / 16.0)[:, None].astype(np.float32)
    identities = np.asarray(digits.target, dtype=np.int64)
    names = {int(d): f"digit{int(d)}@example.org" for d in np.unique(identities)}
    return FaceSet(images, identities, names, source="sklearn digits")


# ---------------------------------------------------------------------------------------------
# users' private collections


def split_users(faceset: FaceSet, n_users: int, seed: int = 0, *, overlap: float = 0.5,
                share: int = 2) -> list[FaceSet]:
    """Each of `n_users` users' private photo collection, as in the seed's users tagging friends.

    Every identity gets a home user (round robin over a seeded permutation of the identities,
    so every user has at least one identity and their counts differ by at most one). A
    fraction `overlap` of the identities (``round(overlap * n_identities)``, chosen at random
    among those with at least `share` photos) is also seen by ``share - 1`` other users drawn
    at random, so users see different but overlapping identities. Each photo belongs to exactly
    one user: an identity's photos are dealt out in turn among the users who see it, so every
    one of them gets at least one. With one user there is nobody to share with and `overlap`
    has no effect. The returned sets keep the global identity numbers and tags; their `index`
    gives the photos' positions in `faceset`.
    """
    if not isinstance(faceset, FaceSet):
        raise TypeError(f"split_users needs a FaceSet, got {type(faceset).__name__}")
    n_users = _check_int(n_users, "n_users", 1)
    share = _check_int(share, "share", 2)
    overlap = float(overlap)
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"overlap is the fraction of identities seen by more than one user, in [0, 1]; got {overlap}")
    ids, counts = np.unique(faceset.identities, return_counts=True)
    if n_users > ids.size:
        raise ValueError(f"{n_users} users but the set has only {ids.size} identities; every user needs at least one, "
                         f"so n_users must be 1..{ids.size}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(ids.size)
    owners = {int(ids[j]): [pos % n_users] for pos, j in enumerate(order)}
    width = min(share, n_users)
    if width > 1:
        n_shared = int(round(overlap * ids.size))
        candidates = ids[counts >= width]
        if n_shared > candidates.size:
            raise ValueError(f"overlap={overlap} asks for {n_shared} shared identities, but only {candidates.size} "
                             f"identities have the {width} photos needed to give each of {width} users one")
        for ident in rng.choice(candidates, size=n_shared, replace=False):
            home = owners[int(ident)][0]
            others = [u for u in range(n_users) if u != home]
            owners[int(ident)] += [int(u) for u in rng.choice(others, size=width - 1, replace=False)]
    per_user = [[] for _ in range(n_users)]
    for ident in ids.tolist():
        photos = rng.permutation(np.flatnonzero(faceset.identities == ident))
        users = owners[ident]
        for k, p in enumerate(photos):
            per_user[users[k % len(users)]].append(int(p))
    return [faceset.subset(np.sort(np.asarray(p, dtype=np.int64))) for p in per_user]


def train_test_split(faceset: FaceSet, test_fraction: float = 0.2, seed: int = 0) -> tuple[FaceSet, FaceSet]:
    """(train, test) split by views: each identity keeps at least one photo in train and gives
    ``round(test_fraction * n_photos)`` of its photos (at most n_photos - 1) to test, so the test
    set holds new photos of identities seen in training. Seeded."""
    if not isinstance(faceset, FaceSet):
        raise TypeError(f"train_test_split needs a FaceSet, got {type(faceset).__name__}")
    test_fraction = float(test_fraction)
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for ident in np.unique(faceset.identities).tolist():
        photos = rng.permutation(np.flatnonzero(faceset.identities == ident))
        n_test = min(int(round(test_fraction * photos.size)), photos.size - 1)
        test += photos[:n_test].tolist()
        train += photos[n_test:].tolist()
    return faceset.subset(np.sort(np.asarray(train, dtype=np.int64))), faceset.subset(np.sort(np.asarray(test, dtype=np.int64)))


# ---------------------------------------------------------------------------------------------
# real formats


def to_grey(photo) -> np.ndarray:
    """A photo as (H, W) float64 grey in [0, 1]: RGB and RGBA are converted, integer images rescaled."""
    from skimage import color, util

    img = np.asarray(photo)
    if img.ndim == 3 and img.shape[-1] == 4:
        img = color.rgba2rgb(img)
    if img.ndim == 3 and img.shape[-1] == 3:
        img = color.rgb2gray(img)
    elif img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim != 2 or min(img.shape) < 1:
        raise ValueError(f"expected a grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image, got shape {img.shape}")
    if np.issubdtype(img.dtype, np.integer) or img.dtype == bool:
        img = util.img_as_float(img)
    img = np.asarray(img, dtype=np.float64)
    if not np.all(np.isfinite(img)) or img.min() < 0.0 or img.max() > 1.0:
        raise ValueError("a float image must hold finite values in [0, 1] (integer images are rescaled)")
    return img


def read_image(path, image_size=None, *, expect_shape=None, center_fraction: float = 1.0) -> np.ndarray:
    """One image file as (H, W) grey float in [0, 1]: read with ``skimage.io.imread``, RGB(A)
    converted to grey, the central `center_fraction` of each side kept, then resized to
    `image_size` (int or (height, width); None keeps the size). `expect_shape` (height, width)
    refuses an image of any other raw size, e.g. (250, 250) for LFW."""
    from skimage import io, transform

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        img = np.asarray(io.imread(path))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad file
        raise ValueError(f"{path} is not a readable image: {exc}") from None
    try:
        img = to_grey(img)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if expect_shape is not None and tuple(img.shape) != tuple(expect_shape):
        raise ValueError(f"{path}: expected an image of {tuple(expect_shape)} pixels, got {tuple(img.shape)}")
    if not 0.0 < center_fraction <= 1.0:
        raise ValueError(f"center_fraction must lie in (0, 1], got {center_fraction}")
    if center_fraction < 1.0:
        h, w = img.shape
        ch, cw = max(1, int(round(h * center_fraction))), max(1, int(round(w * center_fraction)))
        top, left = (h - ch) // 2, (w - cw) // 2
        img = img[top:top + ch, left:left + cw]
    if image_size is not None:
        size = _check_size(image_size)
        if img.shape != size:
            img = transform.resize(img, size, anti_aliasing=True, preserve_range=True)
    return np.clip(img, 0.0, 1.0)


def _image_files(folder: Path, extensions) -> list[Path]:
    exts = {e.lower() for e in extensions}
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in exts)


def load_identity_folders(root, image_size=25, *, extensions=IMAGE_EXTENSIONS, min_images: int = 1,
                          max_per_identity: int | None = None, expect_shape=None,
                          center_fraction: float = 1.0) -> FaceSet:
    """A CASIA-WebFace-style set, ``root/<identity>/<image>`` (also LFW's ``root/Name_Surname/
    Name_Surname_0001.jpg``): one identity per sub-folder, in sorted order, tagged with
    :func:`email_tag` of the folder name. Identities with fewer than `min_images` images are
    skipped; `max_per_identity` keeps the first images of each (sorted by file name). Images
    go through :func:`read_image` (grey, central crop, resize to `image_size`)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"identity-folder root not found or not a directory: {root}")
    min_images = _check_int(min_images, "min_images", 1)
    if max_per_identity is not None:
        max_per_identity = _check_int(max_per_identity, "max_per_identity", 1)
    size = _check_size(image_size)
    images, identities, names = [], [], {}
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    for folder in folders:
        files = _image_files(folder, extensions)
        if len(files) < min_images:
            continue
        if max_per_identity is not None:
            files = files[:max_per_identity]
        ident = len(names)
        names[ident] = email_tag(folder.name)
        for f in files:
            images.append(read_image(f, size, expect_shape=expect_shape, center_fraction=center_fraction))
            identities.append(ident)
    if not images:
        raise ValueError(f"no identity under {root} has {min_images} or more images with extensions "
                         f"{', '.join(extensions)} (expected root/<identity>/<image>; found {len(folders)} folders)")
    tags = list(names.values())
    if len(set(tags)) != len(tags):
        raise ValueError(f"two folders under {root} give the same e-mail tag; rename them")
    return FaceSet(np.stack(images)[:, None].astype(np.float32), np.asarray(identities), names, source=str(root))


@dataclasses.dataclass
class LFWPairs:
    """LFW verification pairs: left and right (P, 1, H, W) float32, same (P,) bool (matched pair),
    fold (P,) int (0..n_folds-1), files: the (left, right) image paths of each pair."""

    left: np.ndarray
    right: np.ndarray
    same: np.ndarray
    fold: np.ndarray
    files: list

    def __len__(self) -> int:
        return int(self.same.shape[0])

    @property
    def n_folds(self) -> int:
        return int(self.fold.max()) + 1 if self.fold.size else 0

    @property
    def folds(self) -> list[np.ndarray]:
        """The pair indices of each fold."""
        return [np.flatnonzero(self.fold == k) for k in range(self.n_folds)]


def _lfw_index(token: str, path, lineno: int) -> int:
    if not re.fullmatch(r"\d+", token) or int(token) < 1:
        raise ValueError(f"{path}:{lineno}: image numbers are positive integers (1 is Name_0001), got {token!r}")
    return int(token)


def parse_lfw_pairs(pairs_path) -> list[tuple[str, int, str, int, bool, int]]:
    """The pairs of an LFW ``pairs.txt`` as (name1, i, name2, j, same, fold).

    Header ``<n_folds> <n>`` (the official View 2 file: ``10 300``) or ``<n>`` (View 1's
    pairsDevTrain.txt / pairsDevTest.txt: one fold), then per fold n matched lines ``name i j``
    followed by n mismatched lines ``name1 i name2 j`` (whitespace-separated)."""
    pairs_path = Path(pairs_path)
    if not pairs_path.is_file():
        raise FileNotFoundError(f"LFW pairs file not found: {pairs_path}")
    lines = [(k + 1, line.split()) for k, line in enumerate(pairs_path.read_text().splitlines())]
    lines = [(k, t) for k, t in lines if t]
    if not lines:
        raise ValueError(f"{pairs_path} is empty; expected a header '<n_folds> <n_pairs>' such as '10 300'")
    lineno, head = lines[0]
    if not (1 <= len(head) <= 2 and all(re.fullmatch(r"\d+", t) for t in head)):
        raise ValueError(f"{pairs_path}:{lineno}: header must be '<n_folds> <n_pairs>' (e.g. '10 300') or '<n_pairs>', "
                         f"got {' '.join(head)!r}")
    n_folds, n = (1, int(head[0])) if len(head) == 1 else (int(head[0]), int(head[1]))
    if n_folds < 1 or n < 1:
        raise ValueError(f"{pairs_path}:{lineno}: header needs at least 1 fold and 1 pair per kind, got {' '.join(head)!r}")
    body = lines[1:]
    expected = n_folds * 2 * n
    if len(body) != expected:
        raise ValueError(f"{pairs_path}: header {' '.join(head)!r} promises {n_folds} folds x (2 x {n}) = {expected} "
                         f"pair lines, found {len(body)}")
    out = []
    for pos, (lineno, t) in enumerate(body):
        fold, within = divmod(pos, 2 * n)
        if within < n:
            if len(t) != 3:
                raise ValueError(f"{pairs_path}:{lineno}: fold {fold + 1} line {within + 1} should be a matched pair "
                                 f"'name i j', got {' '.join(t)!r}")
            out.append((t[0], _lfw_index(t[1], pairs_path, lineno), t[0], _lfw_index(t[2], pairs_path, lineno), True, fold))
        else:
            if len(t) != 4:
                raise ValueError(f"{pairs_path}:{lineno}: fold {fold + 1} line {within + 1} should be a mismatched pair "
                                 f"'name1 i name2 j', got {' '.join(t)!r}")
            out.append((t[0], _lfw_index(t[1], pairs_path, lineno), t[2], _lfw_index(t[3], pairs_path, lineno), False, fold))
    return out


def lfw_image_path(root, name: str, number: int, ext: str = ".jpg") -> Path:
    """``root/name/name_0001.jpg`` for `number` 1."""
    return Path(root) / name / f"{name}_{int(number):04d}{ext}"


def load_lfw_pairs(root, pairs_path, image_size=25, *, ext: str = ".jpg", expect_shape=None,
                   center_fraction: float = 1.0) -> LFWPairs:
    """The images of an LFW ``pairs.txt`` (see :func:`parse_lfw_pairs`) from the folders
    ``root/Name_Surname/Name_Surname_0001.jpg``, each read once with :func:`read_image`. The
    official images are 250 x 250 with the face in the middle: ``expect_shape=(250, 250)``
    checks that, and ``center_fraction`` below 1 keeps only the middle. Evaluate with
    :func:`verification_accuracy` on one distance per pair and ``pairs.fold``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"LFW image root not found or not a directory: {root}")
    pairs = parse_lfw_pairs(pairs_path)
    size = _check_size(image_size)
    cache: dict[Path, np.ndarray] = {}

    def get(name, number):
        path = lfw_image_path(root, name, number, ext)
        if path not in cache:
            if not path.is_file():
                raise FileNotFoundError(f"{pairs_path} names {name} {number}, but {path} does not exist "
                                        f"(expected root/Name_Surname/Name_Surname_{number:04d}{ext})")
            cache[path] = read_image(path, size, expect_shape=expect_shape, center_fraction=center_fraction)
        return path, cache[path]

    left, right, files = [], [], []
    for name1, i, name2, j, _, _ in pairs:
        p1, a = get(name1, i)
        p2, b = get(name2, j)
        left.append(a)
        right.append(b)
        files.append((str(p1), str(p2)))
    return LFWPairs(np.stack(left)[:, None].astype(np.float32), np.stack(right)[:, None].astype(np.float32),
                    np.array([p[4] for p in pairs], dtype=bool), np.array([p[5] for p in pairs], dtype=np.int64), files)


@dataclasses.dataclass
class Verification:
    """The 10-fold verification result: mean and (population) std of the per-fold test
    accuracies, each fold's accuracy and the threshold chosen on the other folds."""

    mean: float
    std: float
    fold_accuracies: np.ndarray
    thresholds: np.ndarray

    def __str__(self) -> str:
        return f"{100 * self.mean:.2f} +- {100 * self.std:.2f} % over {self.fold_accuracies.size} folds"


def _accuracy(distances, same, threshold) -> float:
    return float(np.mean((distances < threshold) == same))


def best_threshold(distances, same) -> float:
    """The threshold t maximising the accuracy of "same person iff distance < t" on these
    pairs; candidates are the midpoints between consecutive distinct distances and one below
    the smallest and one above the largest; ties go to the smallest candidate (as OpenFace's
    LFW evaluation, which scans thresholds upward and keeps the first best)."""
    d = np.unique(np.asarray(distances, dtype=np.float64))
    spread = max(1.0, float(d[-1] - d[0]))
    candidates = np.concatenate([[d[0] - spread], (d[:-1] + d[1:]) / 2.0, [d[-1] + spread]])
    acc = [_accuracy(distances, same, t) for t in candidates]
    return float(candidates[int(np.argmax(acc))])


def verification_accuracy(distances, same, folds) -> Verification:
    """The standard LFW protocol: for each fold, the threshold on the distance is chosen on
    the other folds (:func:`best_threshold`) and the accuracy measured on that fold; the result
    is the mean and standard deviation (ddof 0) over folds.

    distances: one distance per pair (small = same person); same: True for a matched pair;
    folds: each pair's fold number (e.g. ``LFWPairs.fold``) or a list of index arrays, one per
    fold (e.g. ``LFWPairs.folds``), which must partition the pairs. At least 2 folds."""
    d = np.asarray(distances, dtype=np.float64).reshape(-1)
    s = np.asarray(same)
    if s.shape != d.shape:
        raise ValueError(f"need one same/different label per distance: {d.size} distances, same has shape {s.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError("distances must be finite")
    s = s.astype(bool)
    try:
        as_array = np.asarray(folds)
    except ValueError:  # ragged: a list of index arrays
        as_array = None
    if as_array is not None and as_array.ndim == 1 and as_array.size == d.size and np.issubdtype(as_array.dtype, np.integer):
        labels = as_array.astype(np.int64)
    else:
        labels = np.full(d.size, -1, dtype=np.int64)
        for k, idx in enumerate(folds):
            idx = np.asarray(idx, dtype=np.int64).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= d.size):
                raise ValueError(f"fold {k} has pair indices outside 0..{d.size - 1}")
            if np.any(labels[idx] != -1):
                raise ValueError(f"fold {k} repeats pairs of an earlier fold; folds must partition the pairs")
            labels[idx] = k
        if np.any(labels == -1):
            raise ValueError(f"{int(np.sum(labels == -1))} pairs belong to no fold; folds must partition the pairs")
    ks = np.unique(labels)
    if ks.size < 2:
        raise ValueError(f"the protocol needs at least 2 folds (LFW has 10), got {ks.size}")
    accs, thresholds = [], []
    for k in ks:
        test = labels == k
        t = best_threshold(d[~test], s[~test])
        thresholds.append(t)
        accs.append(_accuracy(d[test], s[test], t))
    accs = np.asarray(accs)
    return Verification(float(accs.mean()), float(accs.std()), accs, np.asarray(thresholds))
