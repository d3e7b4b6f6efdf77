"""Two GAL recipes: ours and the seed authors' (issue 14).

Algorithm 1 leaves a few numerical choices open. :data:`RECIPES` names two complete sets of them:

``ours`` (the default)
    squared overarching loss for regression (r = y − F); assistance weights w = softmax(θ) by L-BFGS
    from θ = 0 (uniform) to convergence (100 iterations, strong-Wolfe line search); the η line
    search one L-BFGS call of up to 100 iterations (strong Wolfe), η unbounded; local linear models
    start at zero; feature blocks from ``numpy.random.default_rng(seed)``; Late fusion sums the
    organisations' outputs, each fitted to the labels with the organisation's ℓ_q; AL visits the
    organisations in turn, each fitting the residual its predecessor left (§4.3).
``authors``
    what the seed authors' public code does for Table 1: ℓ₁ overarching loss for regression
    (their ``loss_fn`` for Diabetes is ``F.l1_loss``, so r = sign(y − F)); assistance weights
    w = softmax(θ) fitted by Adam, 100 steps, learning rate 0.1, weight decay 5e-4 on θ, from
    θ = (1, …, 1) (softmax of ones: uniform, but the weight decay pulls θ towards 0); the η line
    search 10 ``torch.optim.LBFGS(lr=1)`` steps (each up to torch's default 20 iterations, no
    line-search function) from η = 1, then η ← min(|η|, 300); local linear models start from
    torch's default ``nn.Linear`` initialisation (Kaiming-uniform weights, uniform bias, drawn
    from the run's seed); feature blocks from ``torch.manual_seed(seed); torch.randperm(d)``;
    Late fusion averages the organisations' outputs, each trained on the labels with the
    overarching loss (cross-entropy or ℓ₁), tested after every epoch; AL as their
    ``train_model_al.py`` computes it: every organisation is sent the residual of the previous
    round and each overwrites its predecessor's update, so only the last organisation is boosted
    (η by the same line search, unclipped: their 'search' mode, which Table 1's AL column matches).

>>> get_recipe("authors").eta_clip, get_recipe("ours").regression_loss
(300.0, 'squared')
>>> get_recipe("theirs")
Traceback (most recent call last):
...
ValueError: unknown GAL recipe 'theirs'; valid: ours, authors
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import check_choice, check_int, check_real


@dataclass(frozen=True)
class GALRecipe:
    """The numerical choices of one GAL recipe (see the module docstring for the two named ones)."""

    name: str = "ours"
    regression_loss: str = "squared"       # Alice's L₁ for regression: "squared" or "l1"
    weights_optimizer: str = "lbfgs"       # "lbfgs" (to convergence) or "adam" (fixed steps)
    weights_steps: int = 100               # L-BFGS max_iter, or Adam steps
    weights_lr: float = 0.1                # Adam only
    weights_weight_decay: float = 0.0      # Adam only (torch's, on θ)
    weights_theta0: float = 0.0            # θ's start; 0 and 1 both give uniform weights
    line_search: str = "lbfgs"             # "lbfgs": one call, strong Wolfe; "lbfgs_steps": plain steps
    line_search_steps: int = 1             # L-BFGS .step() calls
    line_search_iter: int = 100            # iterations per call
    eta_clip: float | None = None          # None, or η ← min(|η|, eta_clip)
    linear_init: str = "zero"              # "zero" or "default" (torch's nn.Linear init)
    partition: str = "numpy"               # feature blocks: "numpy" (default_rng) or "torch" (randperm)
    late: str = "sum"                      # Late fusion: "sum" (local ℓ_q) or "mean" (overarching loss)
    al: str = "sequential"                 # AL: "sequential" (§4.3) or "last" (as the authors' script runs)

    def __post_init__(self):
        check_choice("regression_loss", self.regression_loss, ("squared", "l1"))
        check_choice("weights_optimizer", self.weights_optimizer, ("lbfgs", "adam"))
        check_int("weights_steps", self.weights_steps, minimum=1)
        check_real("weights_lr", self.weights_lr, positive=True)
        check_real("weights_weight_decay", self.weights_weight_decay, non_negative=True)
        check_real("weights_theta0", self.weights_theta0)
        check_choice("line_search", self.line_search, ("lbfgs", "lbfgs_steps"))
        check_int("line_search_steps", self.line_search_steps, minimum=1)
        check_int("line_search_iter", self.line_search_iter, minimum=1)
        check_real("eta_clip", self.eta_clip, positive=True, allow_none=True)
        check_choice("linear_init", self.linear_init, ("zero", "default"))
        check_choice("partition", self.partition, ("numpy", "torch"))
        check_choice("late", self.late, ("sum", "mean"))
        check_choice("al", self.al, ("sequential", "last"))

    def weight_options(self) -> dict:
        """Keyword arguments of :func:`~.weights.assistance_weights`."""
        return dict(method=self.weights_optimizer, max_iter=self.weights_steps, lr=self.weights_lr,
                    weight_decay=self.weights_weight_decay, theta0=self.weights_theta0)

    def line_search_options(self) -> dict:
        """Keyword arguments of :func:`~.weights.line_search`."""
        return dict(steps=self.line_search_steps, max_iter=self.line_search_iter,
                    wolfe=self.line_search == "lbfgs", clip=self.eta_clip)


RECIPES = {
    "ours": GALRecipe(),
    "authors": GALRecipe(name="authors", regression_loss="l1", weights_optimizer="adam", weights_steps=100,
                         weights_lr=0.1, weights_weight_decay=5e-4, weights_theta0=1.0,
                         line_search="lbfgs_steps", line_search_steps=10, line_search_iter=20, eta_clip=300.0,
                         linear_init="default", partition="torch", late="mean", al="last"),
}
RECIPE_NAMES = tuple(RECIPES)


def get_recipe(recipe) -> GALRecipe:
    """A :class:`GALRecipe` from its name (``"ours"``, ``"authors"``) or itself."""
    if isinstance(recipe, GALRecipe):
        return recipe
    if recipe not in RECIPES:
        raise ValueError(f"unknown GAL recipe {recipe!r}; valid: {', '.join(RECIPE_NAMES)}")
    return RECIPES[recipe]
