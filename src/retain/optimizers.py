"""``create_prompt_optimizer`` and ``create_multi_prompt_optimizer``: procedural memory.

They turn conversations (with optional feedback) into better prompts. The algorithms live
in :mod:`retain.core.optimization` (pure); the classes here only validate arguments and
drive them with sync or async model calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig

from retain.core.optimization import (
    MultiPromptOptimizerInput,
    OptimizationResult,
    OptimizerInput,
    OptimizerKind,
    OptimizerSpec,
    Prompt,
    PromptSpec,
    Trajectory,
    classify_flow,
    merge_prompts,
    needs_classification,
    optimize_flow,
    parse_prompt,
    parse_prompts,
    parse_trajectories,
)
from retain.core.requests import CoreFlow
from retain.errors import InvalidInputError
from retain.llm.driver import ModelRunner, adrive, drive
from retain.llm.resolve import resolve_model
from retain.llm.structured import resolve_style
from retain.runnables import ChainRunnable, takes_arguments_of

__all__ = [
    "MultiPromptOptimizer",
    "PromptOptimizer",
    "create_multi_prompt_optimizer",
    "create_prompt_optimizer",
]

ModelArg = str | BaseChatModel | Runnable[Any, Any]
StyleArg = Literal["auto", "tool_calling", "json_schema"]


def _input(value: Any, key: str) -> tuple[list[Trajectory] | str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"The input must be a dict {{'trajectories': [...], '{key}': ...}}; got "
            f"{type(value).__name__}."
        )
    missing = [k for k in ("trajectories", key) if k not in value]
    if missing:
        raise InvalidInputError(
            f"The input dict needs the key(s) {missing}: {{'trajectories': [(messages, "
            f"feedback), ...], '{key}': ...}}; got keys {sorted(value)}."
        )
    return parse_trajectories(value["trajectories"]), value[key]


class _Base:
    def __init__(
        self,
        model: ModelArg,
        *,
        kind: OptimizerKind = "gradient",
        config: Mapping[str, Any] | None = None,
        structured_output: StyleArg = "auto",
        max_repairs: int = 2,
    ) -> None:
        self.model = resolve_model(model)
        self.kind = kind
        self.config = dict(config) if isinstance(config, Mapping) else config
        self.spec = OptimizerSpec.build(
            kind,
            config,
            style=resolve_style(self.model, structured_output),
            max_repairs=max_repairs,
        )
        self._runner = ModelRunner({"main": self.model})


class PromptOptimizer(_Base, ChainRunnable[OptimizerInput, str]):
    """Improves one prompt from trajectories and feedback. Build it with
    :func:`create_prompt_optimizer`. ``invoke`` optimizes ``{"trajectories": [...],
    "prompt": str | Prompt}`` and returns the prompt text."""

    def flow(self, input: Any) -> CoreFlow[OptimizationResult]:
        """The pure optimization flow for ``input`` (for custom drivers and tests)."""
        trajectories, prompt = _input(input, "prompt")
        return optimize_flow(self.spec, parse_prompt(prompt), trajectories)

    def optimize(self, input: Any, config: RunnableConfig | None = None) -> OptimizationResult:
        """Like :meth:`invoke`, but returns the :class:`OptimizationResult` (calls, reasoning)."""
        return drive(self.flow(input), self._runner, config)

    async def aoptimize(
        self, input: Any, config: RunnableConfig | None = None
    ) -> OptimizationResult:
        """Async :meth:`optimize`."""
        return await adrive(self.flow(input), self._runner, config)

    def _invoke(self, input: Any, config: RunnableConfig) -> str:
        return self.optimize(input, config).prompt

    async def _ainvoke(self, input: Any, config: RunnableConfig) -> str:
        return (await self.aoptimize(input, config)).prompt

    async def __call__(self, trajectories: Any, prompt: str | Prompt) -> str:
        """``await optimizer(trajectories, prompt)`` is ``await optimizer.ainvoke({...})``."""
        return await self.ainvoke({"trajectories": trajectories, "prompt": prompt})


class MultiPromptOptimizer(_Base, ChainRunnable[MultiPromptOptimizerInput, list[Prompt]]):
    """Improves the prompts of a multi-step system. Build it with
    :func:`create_multi_prompt_optimizer`. ``invoke`` optimizes ``{"trajectories": [...],
    "prompts": [Prompt, ...]}`` and returns the prompts; ``ainvoke`` optimizes the chosen
    prompts concurrently."""

    def _parse(self, input: Any) -> tuple[list[Trajectory] | str, list[PromptSpec]]:
        trajectories, prompts = _input(input, "prompts")
        return trajectories, parse_prompts(prompts)

    def _invoke(self, input: Any, config: RunnableConfig) -> list[Prompt]:
        trajectories, prompts = self._parse(input)
        chosen = prompts
        if needs_classification(prompts):
            names = drive(classify_flow(self.spec, prompts, trajectories), self._runner, config)
            chosen = [p for p in prompts if p.name in names]
        updated = {
            str(p.name): drive(
                optimize_flow(self.spec, p, trajectories), self._runner, config
            ).prompt
            for p in chosen
        }
        return merge_prompts(prompts, updated)

    async def _ainvoke(self, input: Any, config: RunnableConfig) -> list[Prompt]:
        trajectories, prompts = self._parse(input)
        chosen = prompts
        if needs_classification(prompts):
            flow = classify_flow(self.spec, prompts, trajectories)
            names = await adrive(flow, self._runner, config)
            chosen = [p for p in prompts if p.name in names]
        results = await asyncio.gather(
            *(
                adrive(optimize_flow(self.spec, p, trajectories), self._runner, config)
                for p in chosen
            )
        )
        return merge_prompts(
            prompts, {str(p.name): r.prompt for p, r in zip(chosen, results, strict=True)}
        )

    async def __call__(self, trajectories: Any, prompts: Sequence[Prompt]) -> list[Prompt]:
        """``await optimizer(trajectories, prompts)`` is ``await optimizer.ainvoke({...})``."""
        return await self.ainvoke({"trajectories": trajectories, "prompts": prompts})


@takes_arguments_of(PromptOptimizer)
def create_prompt_optimizer(*args: Any, **kwargs: Any) -> PromptOptimizer:
    """Create a prompt optimizer: trajectories + feedback + a prompt -> a better prompt.

    Args:
        model: A LangChain chat model or a ``"provider:model"`` string.
        kind: ``"gradient"`` (reflect with think/critique, recommend, then apply the
            recommendation), ``"metaprompt"`` (reflect, then rewrite in the same
            conversation) or ``"prompt_memory"`` (one call).
        config: For ``"gradient"``: ``max_reflection_steps`` (default 5),
            ``min_reflection_steps`` (default 1), ``gradient_prompt`` and ``metaprompt``
            (custom templates). For ``"metaprompt"``: ``max_reflection_steps``,
            ``min_reflection_steps`` and ``metaprompt``. ``"prompt_memory"`` takes none.
        structured_output: ``"tool_calling"``, ``"json_schema"`` or ``"auto"``.
        max_repairs: How often an invalid answer is sent back to be fixed before
            :class:`~retain.ModelOutputError` is raised (default 2).

    Returns:
        A Runnable taking ``{"trajectories": [(messages, feedback), ...], "prompt": str |
        Prompt}`` and returning the new prompt text; the original text when the model
        finds nothing to change. ``await optimizer(trajectories, prompt)`` also works.

    Model calls per run (plus repairs): ``prompt_memory`` 1; ``metaprompt``
    ``max(1, min_reflection_steps)`` to ``max_reflection_steps``; ``gradient``
    ``min(min_reflection_steps + 1, max_reflection_steps)`` to ``max_reflection_steps``
    reflection calls, plus 1 update call when a change is recommended.

    Example:
        >>> from retain import create_prompt_optimizer
        >>> from retain.testing import FakeChatModel, structured_reply
        >>> model = FakeChatModel([
        ...     structured_reply("GeneralResponse", logic="User wants examples",
        ...                      update_prompt=True, new_prompt="Always include an example."),
        ... ])
        >>> optimizer = create_prompt_optimizer(model, kind="prompt_memory")
        >>> conversation = [{"role": "user", "content": "How do I write a bash script?"}]
        >>> optimizer.invoke({"trajectories": [(conversation, "Include an example")],
        ...                   "prompt": "You are a coding assistant"})
        'Always include an example.'
    """
    return PromptOptimizer(*args, **kwargs)


@takes_arguments_of(MultiPromptOptimizer)
def create_multi_prompt_optimizer(*args: Any, **kwargs: Any) -> MultiPromptOptimizer:
    """Create an optimizer for the prompts of a multi-step system (a team of agents, a chain).

    One model call decides which prompts the trajectories show need to change (using each
    prompt's ``when_to_update``); each chosen prompt is then optimized with ``kind`` (see
    :func:`create_prompt_optimizer` for ``kind``, ``config`` and the other arguments). The
    prompts that need no change come back as the very objects passed in. With a single
    prompt that has no ``when_to_update``, the classification call is skipped.

    Example:
        >>> from retain import create_multi_prompt_optimizer
        >>> from retain.testing import FakeChatModel, structured_reply
        >>> model = FakeChatModel([
        ...     structured_reply("Classify", reasoning="The report lacked detail",
        ...                      which=["writer"]),
        ...     structured_reply("GeneralResponse", logic="Add detail", update_prompt=True,
        ...                      new_prompt="Write detailed reports."),
        ... ])
        >>> optimizer = create_multi_prompt_optimizer(model, kind="prompt_memory")
        >>> prompts = [{"name": "researcher", "prompt": "Find papers"},
        ...            {"name": "writer", "prompt": "Write reports"}]
        >>> conversation = [{"role": "user", "content": "The report is too thin"}]
        >>> updated = optimizer.invoke({"trajectories": [(conversation, None)],
        ...                             "prompts": prompts})
        >>> [p["prompt"] for p in updated]
        ['Find papers', 'Write detailed reports.']
        >>> updated[0] is prompts[0]
        True
    """
    return MultiPromptOptimizer(*args, **kwargs)
