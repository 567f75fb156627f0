"""LLM schedules from papers and model cards (WSD, DeepSeek LLM, DeepSeek-V3 in tokens with its
batch ramp and its older step approximation, inverse square root): compositions of the
origins' formulas (``schedules``, ``tokens``) and their exact oracle (``oracle``)."""

from jaxsched.presets.schedules import (
    deepseek_llm,
    deepseek_v3_steps,
    inverse_sqrt,
    warmup_stable_decay,
)
from jaxsched.presets.tokens import deepseek_v3

__all__ = ["deepseek_llm", "deepseek_v3", "deepseek_v3_steps", "inverse_sqrt",
           "warmup_stable_decay"]
