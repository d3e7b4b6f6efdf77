"""Irene: collaborative, differentially private face tagging (seed 001).

* :mod:`.model`: ψ = ψ_l ∘ ψ_g, the bootstrapping classifier φ, faceprints (Fig. 1-2, Table II);
* :mod:`.identity`: identity tags hashed into classes by a pre-shared SHA-1 (§III-A);
* :mod:`.bootstrap`: the noise-robust loss of eq. 2 and its EM-like procedure (§III-A);
* :mod:`.dpsgd`: Algorithm 2 (clipped Gaussian) and Algorithm 3 (sparse vector) on per-sample gradients (§III-D);
* :mod:`.easgd`: asynchronous EASGD with dropout-thinned exchange (§III-C, Algorithm 1);
* :mod:`.metric`: per-user LMNN and MT-LMNN by dual decomposition, the triplet loss of eq. 8 (§III-B);
* :mod:`.data`: the offline stand-in identity sets and loaders for LFW / CASIA-WebFace;
* :mod:`.app`: photo → faces → faceprints → tag suggestions (§II-B).
"""

import importlib

#: Public names, loaded from their modules on first use (torch and scikit-image load only then).
_NAMES = {
    "IreneConfig": "training", "IreneResult": "training", "run_irene": "training", "STAGES": "training",
    "make_model": "model", "IreneNet": "model", "table3_parameter_counts": "model", "faceprint": "model",
    "TagSpace": "identity", "add_tag_noise": "identity",
    "noisy_bootstrap_loss": "bootstrap", "bootstrap_step": "bootstrap",
    "DPGradient": "dpsgd", "SparseVectorGradient": "dpsgd", "per_sample_gradients": "dpsgd",
    "EASGDConfig": "easgd", "easgd_server": "easgd", "easgd_user": "easgd", "ModelThinning": "thinning",
    "lmnn": "metric", "mtlmnn": "metric", "MTLMNNConfig": "metric", "triplet_loss": "metric",
    "load_lfw_standin": "data", "load_digits_identities": "data", "load_lfw_pairs": "data",
    "load_identity_folders": "data", "verification_accuracy": "data",
    "TaggedCollection": "app", "detect_faces": "app", "tag_photo": "app",
}
__all__ = sorted(_NAMES)


def __getattr__(name):
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
