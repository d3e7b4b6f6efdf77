"""Irene (seed 001) data sets and the face-tagging app: stand-ins, real-format loaders, the
10-fold verification protocol, the LBP cascade, nearest-neighbour tagging and its feedback."""

import numpy as np
import pytest
from skimage import data as skdata
from skimage import io

from pyprivml.protocols.irene.app import (Box, Suggestion, TaggedCollection, detect_faces, embed_crops,
                                          merge_boxes, tag_photo)
from pyprivml.protocols.irene.data import (FaceSet, best_threshold, load_digits_identities, load_identity_folders,
                                           load_lfw_pairs, load_lfw_standin, parse_lfw_pairs, read_image,
                                           split_users, train_test_split, verification_accuracy)


@pytest.fixture(scope="module")
def standin():
    return load_lfw_standin(n_views=6, seed=0)


def _pixel_distances(faces):
    X = faces.images.reshape(len(faces), -1).astype(np.float64)
    sq = (X ** 2).sum(1)
    return np.sqrt(np.maximum(sq[:, None] - 2 * X @ X.T + sq[None], 0.0))


# ---------------------------------------------------------------- the stand-in and digits

def test_lfw_subset_first_100_are_faces():
    # The cascade finds a face in most of the first 100 crops (upscaled to 100 x 100) and in none of the rest.
    subset = skdata.lfw_subset()
    assert subset.shape == (200, 25, 25) and subset.dtype == np.float64
    found = [len(detect_faces(np.kron(im, np.ones((4, 4))), min_size=(60, 60))) > 0 for im in subset]
    assert sum(found[:100]) >= 60
    assert sum(found[100:]) == 0


def test_standin_shape_names_and_originals():
    faces = load_lfw_standin(n_views=3, seed=0, include_original=True)
    assert faces.images.shape == (300, 1, 25, 25) and faces.images.dtype == np.float32
    assert 0.0 <= faces.images.min() and faces.images.max() <= 1.0
    assert faces.n_identities == 100 and len(faces.names) == 100
    assert np.array_equal(np.bincount(faces.identities), np.full(100, 3))
    assert faces.names[42] == "person042@example.org" and faces.tags[3 * 42] == "person042@example.org"
    assert len(set(faces.names.values())) == 100
    assert "stand-in" in faces.source
    # each identity's first view is its real LFW crop, in order
    originals = skdata.lfw_subset()[:100].astype(np.float32)
    np.testing.assert_allclose(faces.images[::3, 0], originals, atol=1e-6)
    assert "STAND-IN" in load_lfw_standin.__doc__


def test_standin_views_differ_but_stay_closer_to_their_identity(standin):
    D = _pixel_distances(standin)
    same = standin.identities[:, None] == standin.identities[None]
    off = ~np.eye(len(standin), dtype=bool)
    intra, inter = D[same & off], D[~same]
    assert intra.min() > 0.5  # no two views of a face are (nearly) identical
    assert intra.mean() < 0.9 * inter.mean()
    per_identity = [D[np.ix_(m, m)][~np.eye(m.sum(), dtype=bool)].mean() < D[np.ix_(m, ~m)].mean()
                    for m in (standin.identities[:, None] == np.arange(100)[None]).T]
    assert sum(per_identity) >= 90


def test_standin_deterministic_with_seed_and_resizable():
    a = load_lfw_standin(n_views=2, seed=7)
    b = load_lfw_standin(n_views=2, seed=7)
    c = load_lfw_standin(n_views=2, seed=8)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.identities, b.identities)
    assert not np.allclose(a.images, c.images)
    small = load_lfw_standin(n_views=1, seed=0, image_size=(16, 12))
    assert small.images.shape == (100, 1, 16, 12)


def test_digits_identities():
    digits = load_digits_identities()
    assert digits.images.shape == (1797, 1, 8, 8) and digits.images.dtype == np.float32
    assert digits.images.max() == 1.0 and digits.images.min() == 0.0
    assert digits.n_identities == 10
    assert digits.names == {d: f"digit{d}@example.org" for d in range(10)}
    assert np.array_equal(np.unique(digits.identities), np.arange(10))


# ---------------------------------------------------------------- users

def test_split_users_properties(standin):
    users = split_users(standin, 8, seed=0, overlap=0.5)
    assert len(users) == 8
    everything = np.concatenate([u.index for u in users])
    assert np.array_equal(np.sort(everything), np.arange(len(standin)))  # every photo with exactly one user
    seen_by = {}
    for k, u in enumerate(users):
        assert len(u) > 0 and u.n_identities >= 100 // 8
        np.testing.assert_array_equal(u.images, standin.images[u.index])
        np.testing.assert_array_equal(u.identities, standin.identities[u.index])
        assert set(u.names) == set(u.identity_set.tolist())
        assert all(u.names[i] == standin.names[i] for i in u.names)
        for i in u.identity_set.tolist():
            seen_by.setdefault(i, set()).add(k)
    assert set(seen_by) == set(range(100))
    assert sum(len(s) > 1 for s in seen_by.values()) == 50  # overlap = half of the identities
    assert max(len(s) for s in seen_by.values()) == 2
    sets = [frozenset(u.identity_set.tolist()) for u in users]
    assert len(set(sets)) == 8  # different collections ...
    assert any(a & b for i, a in enumerate(sets) for b in sets[i + 1:])  # ... that overlap


def test_split_users_no_overlap_deterministic_and_one_user(standin):
    users = split_users(standin, 5, seed=3, overlap=0.0)
    sets = [set(u.identity_set.tolist()) for u in users]
    assert sum(len(s) for s in sets) == 100 and len(set().union(*sets)) == 100
    assert [len(s) for s in sets] == [20] * 5
    again = split_users(standin, 5, seed=3, overlap=0.0)
    assert all(np.array_equal(a.index, b.index) for a, b in zip(users, again))
    other = split_users(standin, 5, seed=4, overlap=0.0)
    assert any(not np.array_equal(a.index, b.index) for a, b in zip(users, other))
    (alone,) = split_users(standin, 1, seed=0, overlap=0.5)
    assert len(alone) == len(standin) and alone.n_identities == 100


def test_split_users_bad_input(standin):
    with pytest.raises(ValueError, match="at least 1"):
        split_users(standin, 0)
    with pytest.raises(ValueError, match=r"only 100 identities.*1\.\.100"):
        split_users(standin, 101)
    with pytest.raises(ValueError, match="overlap"):
        split_users(standin, 4, overlap=1.5)
    with pytest.raises(TypeError, match="FaceSet"):
        split_users(standin.images, 4)


def test_train_test_split_by_views(standin):
    train, test = train_test_split(standin, test_fraction=0.34, seed=0)
    assert len(train) + len(test) == len(standin)
    assert not set(train.index.tolist()) & set(test.index.tolist())
    assert np.array_equal(np.bincount(test.identities), np.full(100, 2))
    assert np.array_equal(train.identity_set, test.identity_set)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        train_test_split(standin, test_fraction=1.0)


def test_faceset_validation():
    with pytest.raises(ValueError, match=r"\(n, 1, H, W\)"):
        FaceSet(np.zeros((3, 8, 8)), np.zeros(3, int), {0: "a@example.org"}, "x")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        FaceSet(np.full((1, 1, 2, 2), 2.0), np.zeros(1, int), {0: "a@example.org"}, "x")
    with pytest.raises(ValueError, match="one label per image"):
        FaceSet(np.zeros((3, 1, 2, 2)), np.zeros(2, int), {0: "a@example.org"}, "x")
    with pytest.raises(ValueError, match="lacks a tag"):
        FaceSet(np.zeros((2, 1, 2, 2)), np.array([0, 1]), {0: "a@example.org"}, "x")


# ---------------------------------------------------------------- LFW pairs and the 10-fold protocol

PEOPLE = {"Alice_Smith": 3, "Bob_Jones": 2, "Carol_King": 2, "Dan_Brown": 1}


def _grey_value(name, number):
    return 40 + 50 * list(PEOPLE).index(name) + 10 * number  # distinct per image, below 255


def _write_lfw(root, shape=(20, 20)):
    for name, count in PEOPLE.items():
        (root / name).mkdir(parents=True)
        for i in range(1, count + 1):
            img = np.full(shape, _grey_value(name, i), dtype=np.uint8)
            io.imsave(root / name / f"{name}_{i:04d}.jpg", img, check_contrast=False)


MATCHED = [("Alice_Smith", 1, 2), ("Bob_Jones", 1, 2)]
MISMATCHED = [("Alice_Smith", 3, "Dan_Brown", 1), ("Carol_King", 2, "Bob_Jones", 1)]


def _write_pairs(path, n_folds=10):
    lines = [f"{n_folds} 2"]
    for _ in range(n_folds):
        lines += [f"{n}\t{i}\t{j}" for n, i, j in MATCHED]
        lines += [f"{a}\t{i}\t{b}\t{j}" for a, i, b, j in MISMATCHED]
    path.write_text("\n".join(lines) + "\n")


def test_lfw_pairs_loader(tmp_path):
    root = tmp_path / "lfw"
    _write_lfw(root)
    _write_pairs(tmp_path / "pairs.txt")
    pairs = load_lfw_pairs(root, tmp_path / "pairs.txt", image_size=8)
    assert len(pairs) == 40 and pairs.left.shape == (40, 1, 8, 8) and pairs.right.shape == (40, 1, 8, 8)
    assert pairs.same.tolist() == [True, True, False, False] * 10
    assert pairs.fold.tolist() == [k for k in range(10) for _ in range(4)]
    assert pairs.n_folds == 10 and [f.tolist() for f in pairs.folds][3] == [12, 13, 14, 15]
    spec = [(n, i, n, j) for n, i, j in MATCHED] + list(MISMATCHED)
    for p in range(4):
        a, i, b, j = spec[p]
        assert pairs.files[p] == (str(root / a / f"{a}_{i:04d}.jpg"), str(root / b / f"{b}_{j:04d}.jpg"))
        np.testing.assert_allclose(pairs.left[p], _grey_value(a, i) / 255, atol=3 / 255)
        np.testing.assert_allclose(pairs.right[p], _grey_value(b, j) / 255, atol=3 / 255)
    # View 1's one-number header: a single fold
    (tmp_path / "dev.txt").write_text("1\nBob_Jones 1 2\nAlice_Smith 1 Carol_King 1\n")
    assert parse_lfw_pairs(tmp_path / "dev.txt") == [("Bob_Jones", 1, "Bob_Jones", 2, True, 0),
                                                    ("Alice_Smith", 1, "Carol_King", 1, False, 0)]


def test_lfw_pairs_errors(tmp_path):
    root = tmp_path / "lfw"
    _write_lfw(root)
    pairs = tmp_path / "pairs.txt"
    with pytest.raises(FileNotFoundError, match="pairs file not found"):
        load_lfw_pairs(root, pairs)
    _write_pairs(pairs)
    with pytest.raises(FileNotFoundError, match="image root"):
        load_lfw_pairs(tmp_path / "nope", pairs)
    bad = tmp_path / "bad.txt"
    bad.write_text("10 300\nAlice_Smith 1 2\n")
    with pytest.raises(ValueError, match="promises 10 folds"):
        parse_lfw_pairs(bad)
    bad.write_text("ten folds\n")
    with pytest.raises(ValueError, match=":1: header must be"):
        parse_lfw_pairs(bad)
    bad.write_text("1 1\nAlice_Smith 1 Bob_Jones 2\nAlice_Smith 1 Bob_Jones 1\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: fold 1 line 1 should be a matched pair 'name i j'"):
        parse_lfw_pairs(bad)
    bad.write_text("1 1\nAlice_Smith 1 2\nAlice_Smith 1 Bob_Jones\n")
    with pytest.raises(ValueError, match=r":3: .*mismatched pair 'name1 i name2 j'"):
        parse_lfw_pairs(bad)
    bad.write_text("1 1\nAlice_Smith 1 x\nAlice_Smith 1 Bob_Jones 1\n")
    with pytest.raises(ValueError, match="positive integers"):
        parse_lfw_pairs(bad)
    bad.write_text("1 1\nAlice_Smith 1 9\nAlice_Smith 1 Bob_Jones 1\n")
    with pytest.raises(FileNotFoundError, match="Alice_Smith_0009.jpg does not exist"):
        load_lfw_pairs(root, bad)
    with pytest.raises(ValueError, match=r"expected an image of \(250, 250\) pixels, got \(20, 20\)"):
        load_lfw_pairs(root, pairs, expect_shape=(250, 250))


def _constructed_distances():
    """10 folds of (matched, matched, mismatched, mismatched). Folds 1-9: 0.2, 0.3 | 0.5, 0.8;
    fold 0: 0.45, 0.6 | 0.7, 0.8.

    Test fold 0: threshold from folds 1-9 is the midpoint 0.4 (perfect there); on fold 0 both
    matched pairs (0.45, 0.6) fall above it: accuracy 2/4 = 0.5.
    Test fold k >= 1: the other folds hold fold 0; candidates 0.375 (2 errors: 0.45, 0.6),
    0.475 (1 error: 0.6), 0.55 (9 errors) ... so t = 0.475, and fold k is all right: 1.0.
    Mean (0.5 + 9) / 10 = 0.95; std sqrt((0.45^2 + 9 * 0.05^2) / 10) = sqrt(0.0225) = 0.15.
    Choosing the threshold on all 10 folds instead would give 0.475 for fold 0 too (0.75).
    """
    d = np.tile([0.2, 0.3, 0.5, 0.8], 10)
    d[:4] = [0.45, 0.6, 0.7, 0.8]
    same = np.tile([True, True, False, False], 10)
    fold = np.repeat(np.arange(10), 4)
    return d, same, fold


def test_verification_accuracy_hand_computed():
    d, same, fold = _constructed_distances()
    result = verification_accuracy(d, same, fold)
    assert result.mean == pytest.approx(0.95)
    assert result.std == pytest.approx(0.15)
    np.testing.assert_allclose(result.fold_accuracies, [0.5] + [1.0] * 9)
    np.testing.assert_allclose(result.thresholds, [0.4] + [0.475] * 9)
    # folds as index arrays (LFWPairs.folds) give the same, and pair order does not matter
    perm = np.random.default_rng(0).permutation(d.size)
    again = verification_accuracy(d[perm], same[perm], [np.flatnonzero(fold[perm] == k) for k in range(10)])
    assert again.mean == pytest.approx(0.95) and again.std == pytest.approx(0.15)
    assert "95.00 +- 15.00 %" in str(result)


def test_best_threshold_ties_go_to_the_smallest():
    # same iff d < t on (0.1 same, 0.5 diff, 0.6 same, 0.9 diff): t = 0.3 and t = 0.75 both get 3 of 4 right
    assert best_threshold([0.1, 0.5, 0.6, 0.9], [True, False, True, False]) == pytest.approx(0.3)
    assert best_threshold([0.2, 0.3, 0.7], [True, True, False]) == pytest.approx(0.5)


def test_verification_accuracy_on_loaded_pairs(tmp_path):
    root = tmp_path / "lfw"
    _write_lfw(root)
    _write_pairs(tmp_path / "pairs.txt")
    pairs = load_lfw_pairs(root, tmp_path / "pairs.txt", image_size=4)
    dist = np.abs(pairs.left - pairs.right).reshape(len(pairs), -1).mean(1)
    # matched grey levels differ by 10, mismatched by 30 or more: perfect verification
    result = verification_accuracy(dist, pairs.same, pairs.fold)
    assert result.mean == 1.0 and result.std == 0.0


def test_verification_accuracy_bad_input():
    d, same, fold = _constructed_distances()
    with pytest.raises(ValueError, match="one same/different label per distance"):
        verification_accuracy(d, same[:-1], fold)
    with pytest.raises(ValueError, match="at least 2 folds"):
        verification_accuracy(d, same, np.zeros(d.size, int))
    with pytest.raises(ValueError, match="belong to no fold"):
        verification_accuracy(d, same, [np.arange(4), np.arange(4, 8)])
    with pytest.raises(ValueError, match="repeats pairs"):
        verification_accuracy(d, same, [np.arange(40), np.arange(4)])


# ---------------------------------------------------------------- identity folders (CASIA-WebFace style)

def test_identity_folders(tmp_path):
    rng = np.random.default_rng(0)
    layout = {"0000045": [(30, 20, 3)] * 3, "George_W_Bush": [(16, 16), (24, 24, 4)], "solo": [(10, 10)]}
    for person, shapes in layout.items():
        (tmp_path / person).mkdir()
        for k, shape in enumerate(shapes):
            io.imsave(tmp_path / person / f"{k:03d}.png", rng.integers(0, 256, shape, dtype=np.uint8), check_contrast=False)
    (tmp_path / "George_W_Bush" / "notes.txt").write_text("not an image")
    faces = load_identity_folders(tmp_path, image_size=12)
    assert faces.images.shape == (6, 1, 12, 12) and faces.images.dtype == np.float32
    assert faces.identities.tolist() == [0, 0, 0, 1, 1, 2]
    assert faces.names == {0: "0000045@example.org", 1: "george_w_bush@example.org", 2: "solo@example.org"}
    assert faces.source == str(tmp_path)
    np.testing.assert_allclose(faces.images[3, 0], read_image(tmp_path / "George_W_Bush" / "000.png", 12), atol=1e-6)
    kept = load_identity_folders(tmp_path, image_size=(8, 6), min_images=2, max_per_identity=2)
    assert kept.images.shape == (4, 1, 8, 6) and kept.n_identities == 2


@pytest.mark.filterwarnings("ignore:The legacy `DICOM` plugin:DeprecationWarning")  # imageio trying every reader
def test_identity_folders_and_images_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="identity-folder root not found"):
        load_identity_folders(tmp_path / "missing")
    (tmp_path / "empty_person").mkdir()
    with pytest.raises(ValueError, match="no identity .* has 1 or more images"):
        load_identity_folders(tmp_path)
    io.imsave(tmp_path / "empty_person" / "la.png", np.zeros((5, 5, 2), dtype=np.uint8), check_contrast=False)
    with pytest.raises(ValueError, match=r"la.png: expected a grey \(H, W\), RGB .* got shape \(5, 5, 2\)"):
        load_identity_folders(tmp_path)
    with pytest.raises(FileNotFoundError, match="image file not found"):
        read_image(tmp_path / "nothing.png")
    (tmp_path / "broken.png").write_text("this is not a png")
    with pytest.raises(ValueError, match="not a readable image"):
        read_image(tmp_path / "broken.png")
    with pytest.raises(ValueError, match="image_size"):
        load_identity_folders(tmp_path, image_size=0)


# ---------------------------------------------------------------- the app: detection

FACE_POINT = (120, 222)  # astronaut: between the eyes and the nose (rows ~100-145, cols ~195-250 are eyes-mouth)


def test_detector_finds_the_astronaut_face():
    photo = skdata.astronaut()
    faces = detect_faces(photo, crop_size=25, min_size=(60, 60), max_size=(123, 123))
    assert len(faces) == 1
    (box, crop), = faces
    assert isinstance(box, Box)
    assert box.row <= FACE_POINT[0] < box.row + box.height and box.col <= FACE_POINT[1] < box.col + box.width
    assert 50 <= box.row and box.row + box.height <= 200 and 150 <= box.col and box.col + box.width <= 290
    assert 60 <= box.height <= 123 and box.height == box.width
    assert crop.shape == (1, 25, 25) and crop.dtype == np.float32 and 0 <= crop.min() <= crop.max() <= 1
    # the same face from a grey float photo; the defaults also find it, once (nested boxes merged)
    grey = detect_faces(photo.mean(-1) / 255.0, min_size=(60, 60), max_size=(123, 123))
    assert len(grey) == 1 and abs(grey[0].box.row - box.row) <= 8
    default = [f.box for f in detect_faces(photo)]
    covering = [b for b in default if b.row <= FACE_POINT[0] < b.row + b.height and b.col <= FACE_POINT[1] < b.col + b.width]
    assert len(covering) == 1
    assert detect_faces(np.full((200, 200), 0.5)) == []


def test_merge_boxes_and_detector_bad_input():
    merged = merge_boxes([Box(62, 187, 97, 97), Box(74, 178, 90, 90), Box(300, 300, 50, 50)])
    assert sorted(merged) == [Box(68, 182, 94, 94), Box(300, 300, 50, 50)]
    with pytest.raises(ValueError, match="expected a grey"):
        detect_faces(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        detect_faces(np.full((50, 50), 3.0))
    with pytest.raises(ValueError, match="exceeds max_size"):
        detect_faces(np.zeros((50, 50)), min_size=(60, 60))


# ---------------------------------------------------------------- the app: nearest-neighbour tags and feedback

def _collection():
    c = TaggedCollection()
    c.add(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]), ["a@x.org", "a@x.org", "b@x.org", "c@x.org"])
    return c


def test_nearest_neighbour_suggestions():
    c = _collection()
    s1, s2, s3 = c.suggest(np.array([[0.9, 0.1], [0.1, 0.8], [4.0, 4.0]]))
    assert (s1.tag, s2.tag, s3.tag) == ("a@x.org", "b@x.org", "c@x.org")
    assert s1.distance == pytest.approx(np.sqrt(0.02)) and s3.distance == pytest.approx(np.sqrt(2))
    # k = 3 votes: b at 0.224, a at 0.806 and 1.204 -> a, at the distance of its nearest member
    (vote,) = c.suggest([0.1, 0.8], k=3)
    assert vote.tag == "a@x.org" and vote.distance == pytest.approx(np.hypot(0.1, 0.8))
    assert [t for t, _ in vote.neighbours] == ["b@x.org", "a@x.org", "a@x.org"]
    # beyond the threshold: no suggestion
    assert c.suggest([[4.0, 4.0]], threshold=1.0) == [None]
    assert c.suggest([[4.0, 4.0]], threshold=2.0)[0].tag == "c@x.org"
    assert TaggedCollection().suggest(np.zeros((2, 2))) == [None, None]
    with pytest.raises(ValueError, match="2-dimensional faceprints, got 3"):
        c.suggest(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="positive integer"):
        c.suggest([0.0, 0.0], k=0)


def test_accept_correct_and_training_data():
    c = _collection()
    crop = np.full((1, 4, 4), 0.5, dtype=np.float32)
    (s,) = c.suggest([0.2, 0.7])
    s.crop = crop
    assert s.tag == "b@x.org"
    c.accept(s)
    (wrong,) = c.suggest([2.6, 2.6])
    wrong.crop = crop * 0.5
    c.correct(wrong, "d@x.org")
    c.accept([9.0, 9.0], "e@x.org")  # no crop: joins the tagged set, not the training data
    assert len(c) == 7 and c.kinds[-3:] == ["accepted", "corrected", "accepted"]
    assert c.suggested[-2] == wrong.tag
    crops, tags = c.training_data()
    assert crops.shape == (2, 1, 4, 4) and tags == ["b@x.org", "d@x.org"]
    np.testing.assert_array_equal(crops[1], crop * 0.5)
    assert c.training_data(kinds=("corrected",))[1] == ["d@x.org"]
    assert c.training_data(kinds=("tagged",))[1] == []
    # the corrected faceprint is now the nearest neighbour of itself
    assert c.suggest([2.6, 2.6])[0].tag == "d@x.org" and c.suggest([2.6, 2.6])[0].distance == 0.0
    with pytest.raises(ValueError, match="use accept"):
        c.correct(Suggestion("a@x.org", 0.1, np.zeros(2)), "a@x.org")
    with pytest.raises(ValueError, match="accept needs a tag"):
        c.accept(Suggestion(None, 3.0, np.zeros(2)))
    with pytest.raises(ValueError, match="2-dimensional faceprints, got one of 3"):
        c.accept(np.zeros(3), "a@x.org")
    with pytest.raises(TypeError, match="identity tag is a non-empty string"):
        c.accept(np.zeros(2), 7)
    with pytest.raises(ValueError, match="unknown kinds"):
        c.training_data(kinds=("liked",))
    with pytest.raises(ValueError, match="one tag per faceprint"):
        c.add(np.zeros((2, 2)), ["a@x.org"])


def _pixels(crops):
    """A toy model: each crop's pixels, centred and scaled to unit norm (brightness/contrast invariant)."""
    x = crops.reshape(crops.shape[0], -1).astype(np.float64)
    x = x - x.mean(1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_tag_photo_end_to_end():
    photo = skdata.astronaut()
    kw = dict(min_size=(60, 60), max_size=(123, 123))
    users = split_users(load_lfw_standin(n_views=2, seed=0), 4, seed=0)
    c = TaggedCollection.from_faceset(users[0], _pixels)
    assert len(c) == len(users[0]) and c.tags == users[0].tags and c.dim == 625
    # the user tagged her in an earlier, darker copy of the photo (the cascade's box moves a little)
    earlier = (photo * 0.8).astype(np.uint8)
    (face,) = detect_faces(earlier, **kw)
    c.add(_pixels(face.crop[None]), ["eileen.collins@example.org"], [face.crop])
    (s,) = tag_photo(photo, _pixels, c, **kw)
    assert s.tag == "eileen.collins@example.org" and s.box.row <= FACE_POINT[0] < s.box.row + s.box.height
    assert s.crop.shape == (1, 25, 25) and s.faceprint.shape == (625,)
    others = np.linalg.norm(c.faceprints[:-1] - s.faceprint, axis=1).min()
    assert s.distance < 0.5 * others
    (none,) = tag_photo(photo, _pixels, c, threshold=s.distance / 2, **kw)
    assert none.tag is None and none.distance == pytest.approx(s.distance) and none.box == s.box
    c.accept(s)
    crops, tags = c.training_data()
    assert tags == ["eileen.collins@example.org"] and np.array_equal(crops[0], s.crop)
    assert tag_photo(np.full((200, 200), 0.5), _pixels, c) == []
    # re-embedding after the model changed
    c.refresh(lambda x: _pixels(x)[:, :10])
    assert c.faceprints.shape == (len(c), 10)


def test_embed_must_return_one_faceprint_per_crop():
    photo = skdata.astronaut()
    c = TaggedCollection(np.zeros((1, 4)), ["a@x.org"])
    with pytest.raises(ValueError, match=r"an \(n, m\) = \(1, m\) array"):
        tag_photo(photo, lambda x: np.zeros((2, 4)), c, min_size=(60, 60), max_size=(123, 123))
    with pytest.raises(ValueError, match="non-finite"):
        embed_crops(lambda x: np.full((1, 3), np.nan), np.zeros((1, 1, 2, 2)))
    with pytest.raises(TypeError, match="TaggedCollection"):
        tag_photo(photo, _pixels, [], min_size=(60, 60))
