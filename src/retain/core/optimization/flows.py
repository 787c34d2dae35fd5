"""The three prompt-optimization algorithms and the multi-prompt credit assignment, no I/O.

Each is a generator (see :mod:`retain.core.requests`) that the drivers in
:mod:`retain.optimizers` run with sync or async model calls. Model calls, not counting
repairs (each step may add up to ``max_repairs`` calls when an answer does not validate):

* ``"prompt_memory"``: 1 call.
* ``"metaprompt"``: between ``max(1, min_reflection_steps)`` and ``max_reflection_steps``
  calls. Calls before number ``min_reflection_steps`` may only ``think``/``critique``;
  from then on the model may also answer with the improved prompt, which ends the run;
  the last allowed call must give it.
* ``"gradient"``: reflection, then one update call if the model recommends a change.
  The first ``min_reflection_steps`` reflection calls may only ``think``/``critique``;
  later ones may also ``recommend``; call ``max_reflection_steps`` must recommend. So
  ``min(min_reflection_steps + 1, max_reflection_steps)`` to ``max_reflection_steps``
  reflection calls, plus 1 update call unless the recommendation is to change nothing.
* the multi-prompt optimizer: 1 classification call (skipped when there is one prompt
  without ``when_to_update``), then the single-prompt algorithm for each prompt chosen.

When the model judges that no change is warranted, the original prompt comes back
unchanged (never an empty string).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel, Field

from retain.core.optimization import templates
from retain.core.optimization.actions import Action, Check, acknowledge, ask
from retain.core.optimization.inputs import (
    PromptSpec,
    Trajectory,
    format_trajectories,
    template_variables,
)
from retain.core.requests import CoreFlow, StructuredStyle
from retain.errors import ConfigurationError

__all__ = [
    "KINDS",
    "OptimizationResult",
    "OptimizerKind",
    "OptimizerSpec",
    "classify_flow",
    "merge_prompts",
    "needs_classification",
    "optimize_flow",
]

OptimizerKind: TypeAlias = Literal["gradient", "metaprompt", "prompt_memory"]
KINDS: tuple[str, ...] = get_args(OptimizerKind)

DEFAULT_MAX_REFLECTION_STEPS = 5
DEFAULT_MIN_REFLECTION_STEPS = 1

_CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "gradient": ("gradient_prompt", "metaprompt", "max_reflection_steps", "min_reflection_steps"),
    "metaprompt": ("metaprompt", "max_reflection_steps", "min_reflection_steps"),
    "prompt_memory": (),
}


class Think(BaseModel):
    thought: str = Field(description="Your reasoning about the sessions and the prompt.")


class Critique(BaseModel):
    criticism: str = Field(description="What is weak or wrong in the reasoning so far.")


class Recommend(BaseModel):
    warrants_adjustment: bool = Field(
        description="True if the sessions show failures the prompt should be changed to fix."
    )
    hypotheses: str | None = Field(
        default=None, description="Why the prompt underperforms (if it should change)."
    )
    full_recommendations: str | None = Field(
        default=None, description="The concrete changes to make (if it should change)."
    )


class OptimizedPromptOutput(BaseModel):
    analysis: str = Field(description="First, analyze the results and plan the improvements.")
    improved_prompt: str | None = Field(
        default=None,
        description="Then the full updated prompt (the current one, unchanged, if nothing "
        "needs to change).",
    )


class GeneralResponse(BaseModel):
    logic: str = Field(description="Your reasoning.")
    update_prompt: bool = Field(description="Whether the prompt should change.")
    new_prompt: str = Field(
        default="", description="The full new prompt (empty if update_prompt is false)."
    )


class Classify(BaseModel):
    reasoning: str = Field(description="Reasoning for which prompts to update.")
    which: list[str] = Field(description="Names of the prompts that should be updated.")


THINK = Action("think", "A reflection tool: reason over the problem and hypothesize fixes.", Think)
CRITIQUE = Action("critique", "A critique tool: diagnose flaws in the reasoning so far.", Critique)
RECOMMEND = Action(
    "recommend",
    "Decide whether the prompt should be adjusted and, if so, how.",
    Recommend,
)
OPTIMIZED = Action(
    "OptimizedPromptOutput",
    "The analysis and the full improved prompt.",
    OptimizedPromptOutput,
)
GENERAL = Action("GeneralResponse", "Whether and how to update the prompt.", GeneralResponse)

_CONTINUE = "Noted. Continue: reflect further, or give your answer when you are ready."


@dataclass(frozen=True)
class OptimizerSpec:
    """Everything about an optimizer that does not change between calls."""

    kind: OptimizerKind
    style: StructuredStyle = "tool_calling"
    max_reflection_steps: int = DEFAULT_MAX_REFLECTION_STEPS
    min_reflection_steps: int = DEFAULT_MIN_REFLECTION_STEPS
    gradient_prompt: str = templates.DEFAULT_GRADIENT_PROMPT
    metaprompt: str = ""
    max_repairs: int = 2

    @classmethod
    def build(
        cls,
        kind: Any,
        config: Mapping[str, Any] | None,
        *,
        style: StructuredStyle = "tool_calling",
        max_repairs: int = 2,
    ) -> OptimizerSpec:
        """Validate ``kind`` and ``config`` (raises :class:`ConfigurationError`)."""
        if kind not in KINDS:
            raise ConfigurationError(
                f"Unknown optimizer kind {kind!r}; use one of {', '.join(map(repr, KINDS))}."
            )
        if config is None:
            config = {}
        if not isinstance(config, Mapping):
            raise ConfigurationError(f"config must be a dict or None; got {type(config).__name__}.")
        allowed = _CONFIG_KEYS[kind]
        unknown = sorted(set(config) - set(allowed))
        if unknown:
            hint = f"it takes {', '.join(allowed)}" if allowed else "it takes no config"
            raise ConfigurationError(
                f"config for kind={kind!r} has unknown key(s) {unknown}; {hint}."
            )
        if isinstance(max_repairs, bool) or not isinstance(max_repairs, int) or max_repairs < 0:
            raise ConfigurationError(f"max_repairs must be an integer >= 0; got {max_repairs!r}.")
        steps_max = _int(config, "max_reflection_steps", DEFAULT_MAX_REFLECTION_STEPS, 1)
        steps_min = _int(config, "min_reflection_steps", DEFAULT_MIN_REFLECTION_STEPS, 0)
        if steps_min > steps_max:
            raise ConfigurationError(
                f"min_reflection_steps ({steps_min}) is larger than max_reflection_steps "
                f"({steps_max})."
            )
        if kind == "gradient":
            gradient_prompt = templates.check_template(
                "gradient_prompt",
                config.get("gradient_prompt", templates.DEFAULT_GRADIENT_PROMPT),
                templates.GRADIENT_PROMPT_FIELDS,
            )
            metaprompt = templates.check_template(
                "metaprompt",
                config.get("metaprompt", templates.DEFAULT_GRADIENT_METAPROMPT),
                templates.GRADIENT_METAPROMPT_FIELDS,
            )
        else:
            gradient_prompt = templates.DEFAULT_GRADIENT_PROMPT
            metaprompt = templates.check_template(
                "metaprompt",
                config.get("metaprompt", templates.DEFAULT_METAPROMPT),
                templates.METAPROMPT_FIELDS,
            )
        return cls(
            kind=kind,
            style=style,
            max_reflection_steps=steps_max,
            min_reflection_steps=steps_min,
            gradient_prompt=gradient_prompt,
            metaprompt=metaprompt,
            max_repairs=max_repairs,
        )


def _int(config: Mapping[str, Any], key: str, default: int, low: int) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"config[{key!r}] must be an integer >= {low}; got {value!r}.")
    return value


@dataclass(frozen=True)
class OptimizationResult:
    """The outcome of optimizing one prompt."""

    prompt: str
    """The optimized prompt text (the original when nothing changed)."""
    changed: bool
    model_calls: int
    reasoning: str = ""


def _variables_note(text: str) -> str:
    names = template_variables(text)
    if not names:
        return ""
    shown = ", ".join("{" + n + "}" for n in names)
    return (
        f"\n\nThe prompt is a template with the variable(s) {shown}. Keep each of them in the "
        "improved prompt exactly as written, add no new ones, and write any other literal "
        "braces doubled ({{ and }})."
    )


def _prompt_problem(original: str, candidate: str) -> str | None:
    required = template_variables(original)
    if not required:
        return None
    present = set(template_variables(candidate))
    missing = [n for n in required if n not in present]
    extra = sorted(present - set(required))
    problems = []
    if missing:
        problems.append(
            "it drops the template variable(s) " + ", ".join("{" + n + "}" for n in missing)
        )
    if extra:
        problems.append(
            "it adds template variable(s) "
            + ", ".join("{" + n + "}" for n in extra)
            + " the prompt does not have (write literal braces doubled)"
        )
    if not problems:
        return None
    return "The improved prompt cannot be used: " + "; ".join(problems) + "."


def _is_decline(text: str | None) -> bool:
    return not text or not text.strip() or text.strip().lower().startswith("no recommend")


def _finish(
    prompt: PromptSpec, candidate: str | None, calls: int, reasoning: str
) -> OptimizationResult:
    if _is_decline(candidate):
        return OptimizationResult(prompt.text, False, calls, reasoning)
    assert candidate is not None
    return OptimizationResult(candidate, candidate != prompt.text, calls, reasoning)


def _checker(original: str) -> Any:
    def check(name: str, value: BaseModel) -> str | None:
        if isinstance(value, OptimizedPromptOutput):
            if _is_decline(value.improved_prompt):
                return None
            return _prompt_problem(original, value.improved_prompt or "")
        if isinstance(value, GeneralResponse):
            if not value.update_prompt:
                return None
            if not value.new_prompt.strip():
                return (
                    "update_prompt is true but new_prompt is empty: give the full new prompt, "
                    "or set update_prompt to false."
                )
            return _prompt_problem(original, value.new_prompt)
        return None

    return check


def _filled(template: str, prompt: PromptSpec, sessions: str, **more: str) -> str:
    """A reflection template filled in: the prompt, how to update it, the sessions."""
    return template.format(
        prompt=prompt.text,
        update_instructions=prompt.update_instructions,
        trajectories=sessions,
        **more,
    )


def _reflect(
    spec: OptimizerSpec,
    conversation: list[BaseMessage],
    final: Action,
    *,
    final_from: int,
    check: Check | None,
    what: str,
) -> CoreFlow[tuple[BaseModel, int]]:
    """Let the model think and critique, one call per step for up to
    ``spec.max_reflection_steps`` steps, until it answers with ``final`` (offered from step
    ``final_from`` on, 0-based, and alone at the last step); returns that answer and the
    model calls made."""
    calls = 0
    last = spec.max_reflection_steps - 1
    for step in range(spec.max_reflection_steps):
        if step == last:
            actions = [final]
        elif step < final_from:
            actions = [THINK, CRITIQUE]
        else:
            actions = [THINK, CRITIQUE, final]
        answer = yield from ask(
            conversation,
            actions,
            style=spec.style,
            max_repairs=spec.max_repairs,
            check=check,
            what=f"{what} (step {step + 1})",
        )
        calls += answer.model_calls
        found = answer.first(final.name)
        if isinstance(found, final.arguments):
            return found, calls
        conversation.extend(acknowledge(answer.reply, spec.style, _CONTINUE))
    raise AssertionError("unreachable: the last step offers only the final answer")


def _ask_once(
    spec: OptimizerSpec, prompt: PromptSpec, text: str, action: Action, what: str
) -> CoreFlow[tuple[Any, int]]:
    """One question (``text`` with the prompt's template-variable note) answered with
    ``action``, checked to keep the prompt usable; returns the answer and the model calls."""
    answer = yield from ask(
        [HumanMessage(text + _variables_note(prompt.text))],
        [action],
        style=spec.style,
        max_repairs=spec.max_repairs,
        check=_checker(prompt.text),
        what=what,
    )
    return answer.first(action.name), answer.model_calls


def _gradient(
    spec: OptimizerSpec, prompt: PromptSpec, sessions: str
) -> CoreFlow[OptimizationResult]:
    text = _filled(spec.gradient_prompt, prompt, sessions, feedback="")
    recommendation, calls = yield from _reflect(
        spec,
        [HumanMessage(text)],
        RECOMMEND,
        final_from=spec.min_reflection_steps,
        check=None,
        what="reflection",
    )
    assert isinstance(recommendation, Recommend)
    reasoning = recommendation.hypotheses or ""
    if not recommendation.warrants_adjustment:
        return OptimizationResult(prompt.text, False, calls, reasoning)
    update = spec.metaprompt.format(
        current_prompt=prompt.text,
        hypotheses=recommendation.hypotheses or "",
        recommendations=recommendation.full_recommendations or "",
        update_instructions=prompt.update_instructions,
    )
    out, more = yield from _ask_once(spec, prompt, update, OPTIMIZED, "updated prompt")
    assert isinstance(out, OptimizedPromptOutput)
    return _finish(prompt, out.improved_prompt, calls + more, reasoning)


def _metaprompt(
    spec: OptimizerSpec, prompt: PromptSpec, sessions: str
) -> CoreFlow[OptimizationResult]:
    text = _filled(spec.metaprompt, prompt, sessions) + _variables_note(prompt.text)
    out, calls = yield from _reflect(
        spec,
        [HumanMessage(text)],
        OPTIMIZED,
        final_from=spec.min_reflection_steps - 1,
        check=_checker(prompt.text),
        what="prompt update",
    )
    assert isinstance(out, OptimizedPromptOutput)
    return _finish(prompt, out.improved_prompt, calls, out.analysis)


def _prompt_memory(
    spec: OptimizerSpec, prompt: PromptSpec, sessions: str
) -> CoreFlow[OptimizationResult]:
    text = templates.PROMPT_MEMORY_PROMPT.format(
        current_prompt=prompt.text, data=sessions, instructions=prompt.update_instructions
    )
    out, calls = yield from _ask_once(spec, prompt, text, GENERAL, "prompt update")
    assert isinstance(out, GeneralResponse)
    candidate = out.new_prompt if out.update_prompt else None
    return _finish(prompt, candidate, calls, out.logic)


_ALGORITHMS = {"gradient": _gradient, "metaprompt": _metaprompt, "prompt_memory": _prompt_memory}


def optimize_flow(
    spec: OptimizerSpec, prompt: PromptSpec, trajectories: Sequence[Trajectory] | str
) -> CoreFlow[OptimizationResult]:
    """Optimize one prompt with ``spec.kind`` (see the module docs for the call counts)."""
    return _ALGORITHMS[spec.kind](spec, prompt, format_trajectories(trajectories))


def needs_classification(prompts: Sequence[PromptSpec]) -> bool:
    """LangMem's rule: one prompt without ``when_to_update`` is optimized directly."""
    return not (len(prompts) == 1 and not prompts[0].when_to_update)


def _describe_prompts(prompts: Sequence[PromptSpec]) -> str:
    parts = []
    for p in prompts:
        lines = [f'<prompt name="{p.name}">', p.text, "</prompt>"]
        if p.when_to_update:
            lines.append(f"When to update {p.name}: {p.when_to_update}")
        if p.update_instructions:
            lines.append(f"How to update {p.name}: {p.update_instructions}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def classify_flow(
    spec: OptimizerSpec, prompts: Sequence[PromptSpec], trajectories: Sequence[Trajectory] | str
) -> CoreFlow[list[str]]:
    """Ask which prompts the trajectories show need to change; return their names in order."""
    names = [p.name for p in prompts if p.name is not None]
    action = Action(
        "Classify",
        "After analyzing the trajectories, name the prompts (if any) that contributed to poor "
        f"performance and should be updated; names must be among {names}.",
        Classify,
    )

    def check(_: str, value: BaseModel) -> str | None:
        assert isinstance(value, Classify)
        unknown = [w for w in value.which if w not in names]
        if unknown:
            return f"Unknown prompt name(s) {unknown}; 'which' must list names among {names}."
        return None

    text = templates.CLASSIFY_PROMPT.format(
        trajectories=format_trajectories(trajectories), prompts=_describe_prompts(prompts)
    )
    answer = yield from ask(
        [HumanMessage(text)],
        [action],
        style=spec.style,
        max_repairs=spec.max_repairs,
        check=check,
        what="choice of prompts to update",
    )
    out = answer.first(action.name)
    assert isinstance(out, Classify)
    chosen = set(out.which)
    return [n for n in names if n in chosen]


def merge_prompts(prompts: Sequence[PromptSpec], updated: Mapping[str, str]) -> list[Any]:
    """The prompt list with updated texts; prompts that did not change are returned as given."""
    out: list[Any] = []
    for p in prompts:
        new = updated.get(p.name or "")
        if new is None or new == p.text:
            out.append(p.original)
        else:
            out.append({**p.original, "prompt": new})
    return out
