"""GAL: gradient assisted learning between organisations (seed 003, Algorithm 1).

>>> from pyprivml.protocols.gal import GALSetup, gal_rank
>>> from pyprivml.comm import launch
>>> setup = GALSetup(dataset="iris", orgs=4, rounds=3)
>>> out = launch(lambda t: gal_rank(t, setup, timeout=60), setup.num_orgs, kind="inprocess").master
>>> out["metric"], len(out["eta_per_round"])
('accuracy', 3)
"""

from .baselines import BASELINES, run_baseline
from .experiment import SPLITS, GALSetup, gal_rank, load_seed_split, metric
from .losses import get_loss, lq_loss
from .models import assign_models, make_model
from .protocol import Alice, GALConfig, GALResult, LocalLearner, Organisation
from .recipe import RECIPES, GALRecipe, get_recipe
from .weights import assistance_weights, line_search, on_simplex

__all__ = ["Alice", "Organisation", "LocalLearner", "GALConfig", "GALResult", "GALSetup", "gal_rank",
           "metric", "get_loss", "lq_loss", "make_model", "assign_models", "assistance_weights",
           "line_search", "on_simplex", "BASELINES", "run_baseline", "SPLITS", "load_seed_split", "RECIPES",
           "GALRecipe", "get_recipe"]
