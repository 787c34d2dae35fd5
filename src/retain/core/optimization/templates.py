"""The optimizers' default prompts and the checks on custom ones.

Custom templates are ``str.format`` templates (write literal braces as ``{{`` and ``}}``)
and may use only the placeholders listed for their config key:

* ``gradient_prompt`` (kind ``"gradient"``, the reflection step): ``{prompt}``,
  ``{update_instructions}``, ``{trajectories}``, ``{feedback}`` (always empty; kept for
  LangMem templates);
* ``metaprompt`` of kind ``"gradient"`` (the update step): ``{current_prompt}``,
  ``{hypotheses}``, ``{recommendations}``, ``{update_instructions}``;
* ``metaprompt`` of kind ``"metaprompt"``: ``{prompt}``, ``{update_instructions}``,
  ``{trajectories}``.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

from retain.errors import ConfigurationError

__all__ = [
    "CLASSIFY_PROMPT",
    "DEFAULT_GRADIENT_METAPROMPT",
    "DEFAULT_GRADIENT_PROMPT",
    "DEFAULT_METAPROMPT",
    "GRADIENT_METAPROMPT_FIELDS",
    "GRADIENT_PROMPT_FIELDS",
    "METAPROMPT_FIELDS",
    "PROMPT_MEMORY_PROMPT",
    "check_template",
]

GRADIENT_PROMPT_FIELDS = ("prompt", "update_instructions", "trajectories", "feedback")
GRADIENT_METAPROMPT_FIELDS = (
    "current_prompt",
    "hypotheses",
    "recommendations",
    "update_instructions",
)
METAPROMPT_FIELDS = ("prompt", "update_instructions", "trajectories")

DEFAULT_GRADIENT_PROMPT = """You are reviewing how an AI assistant performed, to decide whether its
prompt should change.

## The prompt the assistant used

<current_prompt>
{prompt}
</current_prompt>

The developer's instructions about when and how to update this prompt:

<update_instructions>
{update_instructions}
</update_instructions>

## Sessions

These are the assistant's sessions (conversations or other work), each with any feedback it got:

<trajectories>
{trajectories}
</trajectories>

## Task

Judge how well the assistant met the user's intent, where it fell short of what was expected, and
which aspects (correctness, completeness, style, tone, reasoning, ...) need work.

Recommend changes ONLY where the sessions or the feedback show a failure, and then the smallest
change that fixes it. If the prompt works, no change is needed.

1. Summarize what went well and what failed.
2. Name the failure modes (style mismatch, missing or unclear instructions, flawed reasoning,
   hallucination, ...).
3. Pick an edit strategy that fits them: synthetic few-shot examples for style or decision
   boundaries, explicit rules for conditions and logic, step-by-step guidance for multi-step
   reasoning.
4. Give concrete, specific recommendations for the prompt.

Do not recommend generic changes that no failure calls for.

Use `think` and `critique` to reason and to challenge your reasoning. When you are done, call
`recommend`: with `warrants_adjustment` true and your hypotheses and full recommendations if the
prompt should change, or with `warrants_adjustment` false if it should not."""

DEFAULT_GRADIENT_METAPROMPT = """You are improving a prompt so that it handles its task better.

<current_prompt>
{current_prompt}
</current_prompt>

Why we believe the current prompt underperforms:

<hypotheses>
{hypotheses}
</hypotheses>

The changes we recommend:

<recommendations>
{recommendations}
</recommendations>

The developer's instructions about how to update this prompt:

<update_instructions>
{update_instructions}
</update_instructions>

Answer with your analysis and the full updated prompt. Make only the changes that are clearly
needed; keep everything else as it is."""

DEFAULT_METAPROMPT = """You are helping an AI assistant learn by improving its prompt.

## The current prompt

<current_prompt>
{prompt}
</current_prompt>

The developer's instructions about when and how to update it:

<update_instructions>
{update_instructions}
</update_instructions>

## Sessions

Study these sessions and any feedback on them:

<trajectories>
{trajectories}
</trajectories>

## Instructions

1. Reflect on how the assistant did and find the real failure modes (style mismatch, missing or
   unclear instructions, flawed reasoning, ...).
2. Make the smallest changes that fix real failures. If the prompt worked, return it unchanged.
3. Keep every template variable of the current prompt exactly as it is (e.g. {{variable_name}}).

If changes are warranted, make them concrete and fit them to the failure: synthetic few-shot
examples for style or decision boundaries, explicit rules for conditions and logic, step-by-step
guidance for multi-step reasoning.

You may use `think` and `critique` first. Give the result with `OptimizedPromptOutput`: your
analysis and the full improved prompt."""

PROMPT_MEMORY_PROMPT = """You are helping an AI agent improve by changing its system prompt.

This is its current prompt:
<current_prompt>
{current_prompt}
</current_prompt>

Here are examples of its trajectories and the feedback on them:
<data>
{data}
</data>

Here are instructions for updating the agent's prompt:
<instructions>
{instructions}
</instructions>

Based on this, return an updated prompt. Return the full prompt: keep whatever from the current one
still applies, and change or drop what does not. You do not have to change the prompt; if it should
stay as it is, set `update_prompt` to false."""

CLASSIFY_PROMPT = """Analyze the following trajectories and decide which prompts ought to be
updated to improve the performance on future trajectories.

<trajectories>
{trajectories}
</trajectories>

These are the prompts of the system, with the developer's notes on when each should change:

{prompts}

Answer with your reasoning and "which": the names of the prompts that need updates (an empty list
if none do)."""


def check_template(key: str, template: object, fields: Sequence[str]) -> str:
    """Check a custom template for ``config[key]``; return it, or raise ConfigurationError."""
    if not isinstance(template, str) or not template.strip():
        raise ConfigurationError(f"config[{key!r}] must be a non-empty string template.")
    try:
        used = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as e:
        raise ConfigurationError(
            f"config[{key!r}] is not a valid template ({e}); write literal braces as '{{{{' and "
            "'}}}}'."
        ) from None
    unknown = sorted({u for u in used if u not in fields})
    if unknown:
        raise ConfigurationError(
            f"config[{key!r}] uses unknown placeholder(s) {unknown}; it may use "
            f"{', '.join('{' + f + '}' for f in fields)} (write literal braces as '{{{{' and "
            "'}}}}')."
        )
    return template
