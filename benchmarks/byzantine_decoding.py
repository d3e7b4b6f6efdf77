"""Cost of locating Byzantine workers (Berlekamp-Welch on two random combinations) against erasure-only
Lagrange decoding, at N = 50 (issue 13, item 3). Run: .venv/bin/python benchmarks/byzantine_decoding.py"""
import time, numpy as np, pyprivml as pp
from pyprivml.reedsolomon import locate_errors
p=2**25-39; F=pp.PrimeField(p)
for N,K,T,A,d in ((50,5,5,2,1000),(50,3,3,12,1000),(50,3,3,12,10000)):
    need=3*(K+T-1)+1
    code=pp.LagrangeCode(F,N,K,T)
    n=need+2*A+1
    rng=np.random.default_rng(0)
    results={i: rng.integers(0,p,d) for i in range(n)}
    code.decode({i: results[i] for i in range(need)}, 3)
    t=time.perf_counter()
    for _ in range(3): code.decode({i: results[i] for i in range(need)}, 3)
    erasure=(time.perf_counter()-t)/3
    Y=np.stack([results[i] for i in range(n)]); xs=[int(a) for a in code.alphas[:n]]
    pp.modmatvec(Y, rng.integers(0,p,d), F)  # load the kernel of this shape before timing
    t=time.perf_counter()
    for _ in range(3):
        for _ in range(2):
            c=rng.integers(0,p,d); ys=pp.modmatvec(Y,c,F)
            try: locate_errors(xs, ys.tolist(), k=need, e=A, p=p)
            except Exception: pass
    bw=(time.perf_counter()-t)/3
    print(f"N={N} K={K} T={T} threshold={need} A={A} d={d}: erasure decode {erasure*1e3:.2f} ms, error location {bw*1e3:.2f} ms, ratio {bw/erasure:.1f}")
