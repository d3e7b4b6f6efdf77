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
