"""The training-loop companions: read the hyperparameters in force from an optax state
(``monitor``), torch-style param groups over a parameter tree (``groups``), weight decay on
a schedule and its coupled / decoupled conventions (``decay``), and clocks that drive a
schedule by samples, tokens or fractional epochs (``clocks``), and K lrs or schedules trained
side by side in one compiled run (``grid``)."""

from jaxsched.loop.clocks import epoch_clock, rampup_table, samples_clock
from jaxsched.loop.decay import (
    coupled_from_decoupled,
    decoupled_from_coupled,
    decoupled_weight_decay,
)
from jaxsched.loop.grid import GridResult, grid_search
from jaxsched.loop.groups import (
    Groups,
    Rule,
    grouped,
    layerwise,
    param_groups,
    path_name,
    rules_from_megatron,
    rules_from_torch,
)
from jaxsched.loop.monitor import hyperparams

__all__ = [
    "GridResult", "Groups", "Rule", "coupled_from_decoupled", "decoupled_from_coupled",
    "decoupled_weight_decay", "epoch_clock", "grid_search", "grouped", "hyperparams", "layerwise",
    "param_groups", "path_name", "rampup_table", "rules_from_megatron", "rules_from_torch",
    "samples_clock",
]
