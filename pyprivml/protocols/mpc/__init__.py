"""The MPC baselines of seed 004 (sec. V, appendix D): BGW and BH08 over Shamir shares in groups.

* :mod:`.sharing`: groups of 2T+1 workers, T = floor((N-3)/6), element-wise share arithmetic;
* :mod:`.multiply`: multiplication with degree reduction, BGW-style and BH08-style.
"""

from .multiply import REDUCERS, BGWReducer, BH08Reducer, DegreeReducer, open_shares, reducer_class
from .sharing import Group, make_groups, mpc_threshold

__all__ = ["Group", "make_groups", "mpc_threshold", "DegreeReducer", "BGWReducer", "BH08Reducer",
           "REDUCERS", "reducer_class", "open_shares"]
