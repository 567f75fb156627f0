"""LLM schedules from papers and model cards (WSD, DeepSeek LLM, DeepSeek-V3, inverse square
root): compositions of the origins' formulas (``schedules``) and their exact oracle
(``oracle``)."""

from jaxsched.presets.schedules import (
    deepseek_llm,
    deepseek_v3,
    inverse_sqrt,
    warmup_stable_decay,
)

__all__ = ["deepseek_llm", "deepseek_v3", "inverse_sqrt", "warmup_stable_decay"]
