"""galois FieldArrays and torch tensors in and out of the linear-algebra functions: same type
and field out, exact against the NumPy reference, zero-copy where DLPack allows, clear errors."""

import galois
import numpy as np
import pytest
import torch

import pyprivml as pp
from pyprivml.backends import cuda_available
from pyprivml.backends import numpy_backend as ref
from pyprivml.interop import unwrap


@pytest.mark.parametrize("p", [97, 2**25 - 39, 2**32 - 5])   # 2**32 - 5: galois's object dtype
def test_galois_in_galois_out(p, rng):
    GF = galois.GF(p)
    A = rng.integers(0, p, (5, 7), dtype=np.int64)
    B = rng.integers(0, p, (7, 3), dtype=np.int64)
    gA, gB = GF(A), GF(B)
    for got, want in [(pp.modmatmul(gA, gB), ref.matmul(A, B, p)),
                      (pp.modcombine(gA, gB, p), ref.matmul(A, B, p)),
                      (pp.modmatvec(gA, gB[:, 0]), ref.matvec(A, B[:, 0], p)),
                      (pp.modmatvec(gA, gA[:, 0], transpose=True), ref.matvec_t(A, A[:, 0], p)),
                      (pp.modmul(gA, gA), ref.mul(A, A, p)), (pp.modsub(gA, 1), (A - 1) % p)]:
        assert type(got) is GF and got.dtype == gA.dtype
        assert np.array_equal(np.asarray(got.view(np.ndarray), dtype=np.int64), want)
    assert np.array_equal(pp.modmatmul(gA, gB), gA @ gB)   # galois's own product agrees


def test_galois_field_errors():
    GF, other = galois.GF(97), galois.GF(101)
    with pytest.raises(ValueError, match="different fields"):
        pp.modmatmul(GF([[1]]), other([[1]]))
    with pytest.raises(ValueError, match="field p = 101 but the galois operands are over GF\\(97\\)"):
        pp.modmatmul(GF([[1]]), GF([[1]]), 101)
    with pytest.raises(ValueError, match="extension field"):
        pp.modmatmul(galois.GF(2**4)([[1]]), galois.GF(2**4)([[1]]))
    with pytest.raises(TypeError, match="give the field"):
        pp.modmatmul(np.eye(2, dtype=np.int64), np.eye(2, dtype=np.int64))


def test_torch_in_torch_out_zero_copy(rng):
    p = 65521
    A = torch.from_numpy(rng.integers(0, p, (6, 9), dtype=np.int64))
    B = torch.from_numpy(rng.integers(0, p, (9, 4), dtype=np.int64).astype(np.int32))
    view, _ = unwrap(A)
    assert np.shares_memory(view, A.numpy())                 # the kernels read the tensor's memory
    got = pp.modmatmul(A, B, p)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.int64 and got.device.type == "cpu"
    assert np.array_equal(got.numpy(), ref.matmul(A.numpy(), B.numpy(), p))
    Bt = B.T                                                  # a strided view crosses as well
    assert np.array_equal(pp.modmatmul(Bt, A.T, p).numpy(), ref.matmul(B.numpy().T, A.numpy().T, p))
    assert np.array_equal(pp.modadd(A, 5, p).numpy(), (A.numpy() + 5) % p)
    with pytest.raises(ValueError, match="outside"):
        pp.modmatmul(A + p, B, p)                             # range checks apply as for arrays


@pytest.mark.gpu
def test_cuda_tensors_cross_to_cupy():
    if not cuda_available():
        pytest.skip("needs CUDA, CuPy and a GPU; none here")
    A = torch.arange(12, device="cuda").reshape(3, 4)
    got = pp.modmatmul(A, A.T, 7)
    assert got.device.type == "cuda"
    assert np.array_equal(got.cpu().numpy(), ref.matmul(A.cpu().numpy(), A.cpu().numpy().T, 7))
