"""Seed 001 §II-A / Fig. 8: different users extract different faceprints of the same face, so two
colluding users cannot pool their collections. With each user's faceprint L_k ψ̂ (L_k a factor of
its MT-LMNN metric M_k = W₀ + W_k), a user's own nearest-neighbour tags are right, and the same
search against another user's collection (same identities) gives wrong tags (seed: 93.4 %)."""

import numpy as np

from pyprivml.protocols.irene.data import load_digits_identities, split_users, train_test_split
from pyprivml.protocols.irene.metric import MTLMNNConfig, metric_factor, mtlmnn


def _unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _wrong_tag_rate(queries, query_tags, gallery, gallery_tags):
    d = ((queries[:, None, :] - gallery[None, :, :]) ** 2).sum(-1)
    return float(np.mean(gallery_tags[d.argmin(1)] != query_tags))


def test_colluding_users_get_wrong_tags_where_each_user_alone_is_right():
    faces = load_digits_identities()
    users = [train_test_split(u, 0.3, seed=1) for u in split_users(faces, 2, seed=0, overlap=1.0)]

    def features(s):                   # ψ̂ stand-in: centred, unit-norm pixels in a shared 16-d basis
        return _unit(s.images.reshape(len(s.images), -1).astype(np.float64) - 0.3)

    basis = np.linalg.svd(np.vstack([features(train) for train, _ in users]), full_matrices=False)[2][:16].T
    Xs = [features(train) @ basis for train, _ in users]
    ys = [train.identities for train, _ in users]
    result = mtlmnn(Xs, ys, MTLMNNConfig(k=2, rounds=40))
    L = [metric_factor(u.M) for u in result.users]

    def faceprints(X, k):
        return _unit(X @ L[k].T)

    test = users[0][1]
    shared = np.isin(test.identities, np.intersect1d(ys[0], ys[1]))
    queries, tags = features(test)[shared] @ basis, test.identities[shared]
    own = _wrong_tag_rate(faceprints(queries, 0), tags, faceprints(Xs[0], 0), ys[0])
    colluding = _wrong_tag_rate(faceprints(queries, 0), tags, faceprints(Xs[1], 1), ys[1])
    other_alone = _wrong_tag_rate(faceprints(queries, 1), tags, faceprints(Xs[1], 1), ys[1])
    assert own < 0.1 and other_alone < 0.1            # each user's own metric tags the faces right
    assert colluding > 0.7                            # across users' faceprints the tags are wrong
    assert colluding > 5 * max(own, other_alone)
