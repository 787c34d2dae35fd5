"""Prompt optimization, free of I/O: inputs, prompts, the wire format and the algorithms.

* :mod:`~retain.core.optimization.inputs`: ``Prompt``, trajectories, their validation;
* :mod:`~retain.core.optimization.templates`: the default prompts and custom-template checks;
* :mod:`~retain.core.optimization.actions`: the structured answers and their bounded repair;
* :mod:`~retain.core.optimization.flows`: ``gradient``, ``metaprompt``, ``prompt_memory``
  and the multi-prompt credit assignment, as generators driven by :mod:`retain.optimizers`.
"""

from retain.core.optimization.flows import (
    KINDS,
    OptimizationResult,
    OptimizerKind,
    OptimizerSpec,
    classify_flow,
    merge_prompts,
    needs_classification,
    optimize_flow,
)
from retain.core.optimization.inputs import (
    AnnotatedTrajectory,
    MultiPromptOptimizerInput,
    OptimizerInput,
    Prompt,
    PromptSpec,
    Trajectory,
    format_trajectories,
    parse_prompt,
    parse_prompts,
    parse_trajectories,
    template_variables,
)

__all__ = [
    "KINDS",
    "AnnotatedTrajectory",
    "MultiPromptOptimizerInput",
    "OptimizationResult",
    "OptimizerInput",
    "OptimizerKind",
    "OptimizerSpec",
    "Prompt",
    "PromptSpec",
    "Trajectory",
    "classify_flow",
    "format_trajectories",
    "merge_prompts",
    "needs_classification",
    "optimize_flow",
    "parse_prompt",
    "parse_prompts",
    "parse_trajectories",
    "template_variables",
]
