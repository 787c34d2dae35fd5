"""Every prompt-optimization example of the LangMem docs (the seeds), run offline.

The code is the example's, with ``langmem`` -> ``retain`` and the model string replaced by a
scripted fake; the tests assert the documented results and what the model was shown.
Seeds: 004 guides/optimize_memory_prompt.md, guides/optimize_compound_system.md and the
conceptual guide's "Procedural Memory" example.
"""

from __future__ import annotations

from typing import Any

from retain import create_multi_prompt_optimizer, create_prompt_optimizer
from retain.testing import FakeCall, FakeChatModel
from tests.optimizers.conftest import (
    classify,
    critique,
    general,
    improved,
    offered,
    recommend,
    shown,
    think,
)

trajectories = [
    # Conversation with no annotations (just the conversation)
    (
        [
            {"role": "user", "content": "Tell me about Mars"},
            {"role": "assistant", "content": "Mars is the fourth planet..."},
            {"role": "user", "content": "I wanted more about its moons"},
        ],
        None,
    ),
    (
        [
            {"role": "user", "content": "What are Mars' moons?"},
            {
                "role": "assistant",
                "content": "Mars has two moons: Phobos and Deimos...",
            },
        ],
        {
            "score": 0.9,
            "comment": "Should include more details and recommended follow-up questions",
        },
    ),
    # Annotations can be of different types, such as edits/revisions!
    (
        [
            {"role": "user", "content": "Compare Mars and Earth"},
            {"role": "assistant", "content": "Mars and Earth have many differences..."},
        ],
        {"revised": "Earth and Mars have many similarities and differences..."},
    ),
]

NEW_PROMPT = (
    "You are a planetary science expert. Give detailed answers, start comparisons with "
    "similarities, and end with 2-3 follow-up questions."
)


def assert_shown_trajectories(call: FakeCall) -> None:
    text = call.text
    for messages, _ in trajectories:
        for m in messages:
            assert m["content"] in text
    assert "I wanted more about its moons" in text
    assert "score: 0.9" in text
    assert "comment: Should include more details and recommended follow-up questions" in text
    assert "revised: Earth and Mars have many similarities and differences..." in text
    assert "You are a planetary science expert" in text


def test_metaprompt_one_step(invoke: Any, style: str) -> None:
    model = FakeChatModel([improved(NEW_PROMPT)])
    optimizer = create_prompt_optimizer(
        model,
        kind="metaprompt",
        config={"max_reflection_steps": 1, "min_reflection_steps": 0},
        structured_output=style,  # type: ignore[arg-type]
    )
    updated = invoke(
        optimizer, {"trajectories": trajectories, "prompt": "You are a planetary science expert"}
    )
    assert updated == NEW_PROMPT
    assert len(model.calls) == 1  # max_reflection_steps=1: one call, which must give the prompt
    assert offered(model.calls[0]) == ["OptimizedPromptOutput"]
    assert_shown_trajectories(model.calls[0])


def _gradient_model() -> FakeChatModel:
    return FakeChatModel(
        [
            think("Users asked for moons and detail; the answers were thin."),
            critique("The comparison started with differences; the revision wanted similarities."),
            recommend(
                hypotheses="The prompt gives no guidance on depth or structure.",
                recommendations="Ask for detail, similarities first, and follow-up questions.",
            ),
            improved(NEW_PROMPT),
        ]
    )


def test_gradient_reflects_then_applies(invoke: Any, style: str) -> None:
    model = _gradient_model()
    optimizer = create_prompt_optimizer(
        model,
        kind="gradient",  # 2-10 LLM calls
        config={
            "max_reflection_steps": 3,  # Max improvement cycles
            "min_reflection_steps": 1,  # Min improvement cycles
        },
        structured_output=style,  # type: ignore[arg-type]
    )
    updated = invoke(
        optimizer, {"trajectories": trajectories, "prompt": "You are a planetary science expert"}
    )
    assert updated == NEW_PROMPT
    assert [offered(c) for c in model.calls] == [
        ["think", "critique"],  # min_reflection_steps=1: the first call may only reflect
        ["think", "critique", "recommend"],
        ["recommend"],  # the third (last) reflection call must recommend
        ["OptimizedPromptOutput"],  # then one call applies the recommendation
    ]
    assert_shown_trajectories(model.calls[0])
    # Later reflection calls carry the conversation so far.
    assert "Users asked for moons and detail" in shown(model.calls[1])
    assert "the revision wanted similarities" in shown(model.calls[2])
    # The update call is shown the recommendation and the current prompt.
    update = model.calls[3].text
    assert "The prompt gives no guidance on depth or structure." in update
    assert "Ask for detail, similarities first, and follow-up questions." in update
    assert "You are a planetary science expert" in update


def test_prompt_memory_one_call(invoke: Any, style: str) -> None:
    model = FakeChatModel([general(NEW_PROMPT)])
    optimizer = create_prompt_optimizer(
        model,
        kind="prompt_memory",  # 1 LLM call
        structured_output=style,  # type: ignore[arg-type]
    )
    updated = invoke(
        optimizer, {"trajectories": trajectories, "prompt": "You are a planetary science expert"}
    )
    assert updated == NEW_PROMPT
    assert len(model.calls) == 1
    assert offered(model.calls[0]) == ["GeneralResponse"]
    assert_shown_trajectories(model.calls[0])


def test_conceptual_guide_procedural_memory(invoke: Any, style: str) -> None:
    new = (
        "You are a helpful assistant. When explaining programming concepts, start with a "
        "practical code example."
    )
    model = FakeChatModel(
        [think("The user wanted practice, not theory."), improved(new, analysis="Be practical.")]
    )
    optimizer = create_prompt_optimizer(
        model,
        kind="metaprompt",
        config={"max_reflection_steps": 3},
        structured_output=style,  # type: ignore[arg-type]
    )
    prompt = "You are a helpful assistant."
    trajectory = [
        {"role": "user", "content": "Explain inheritance in Python"},
        {"role": "assistant", "content": "Here's a detailed theoretical explanation..."},
        {"role": "user", "content": "Show me a practical example instead"},
    ]
    optimized = invoke(
        optimizer, {"trajectories": [(trajectory, {"user_score": 0})], "prompt": prompt}
    )
    assert optimized == new
    assert len(model.calls) == 2  # one reflection, then the answer (allowed from call 1)
    first = model.calls[0].text
    assert "Show me a practical example instead" in first
    assert "user_score: 0" in first
    assert "You are a helpful assistant." in first


# Example team: researcher finds information, writer creates reports
conversations = [
    (
        [
            {"role": "user", "content": "Research quantum computing advances"},
            {
                "role": "assistant",
                "content": "Found several papers on quantum supremacy...",
            },
            {
                "role": "assistant",
                "content": "Recent quantum computing developments show...",
            },
            {"role": "user", "content": "The report is missing implementation details"},
        ],
        # No explicit feedback provided but the optimizer can infer from the conversation
        None,
    ),
    (
        [
            {"role": "user", "content": "Analyze new ML models"},
            {"role": "assistant", "content": "Key findings on architecture: ..."},
            {"role": "assistant", "content": "Based on the research, these models..."},
            {"role": "user", "content": "Great report, very thorough"},
        ],
        # Numeric score for the team as a whole
        {"score": 0.95},
    ),
]

RESEARCHER = (
    "You analyze technical papers and extract key findings. For each analysis, include "
    "technical implementation details and methodologies."
)


def test_multi_prompt_gradient_team(invoke: Any, style: str) -> None:
    model = FakeChatModel(
        [
            classify("researcher", reasoning="The findings lacked implementation details."),
            think("The researcher skipped implementation details."),
            recommend(recommendations="Require implementation details in every analysis."),
            improved(RESEARCHER),
        ]
    )
    # Define prompts for each role
    prompts = [
        {
            "name": "researcher",
            "prompt": "You analyze technical papers and extract key findings",
        },
        {"name": "writer", "prompt": "You write clear reports based on research findings"},
    ]

    # Create optimizer
    optimizer = create_multi_prompt_optimizer(
        model,
        kind="gradient",  # Best for team dynamics
        config={"max_reflection_steps": 3},
        structured_output=style,  # type: ignore[arg-type]
    )

    # Update all prompts based on team performance
    updated = invoke(optimizer, {"trajectories": conversations, "prompts": prompts})
    assert updated == [
        {"name": "researcher", "prompt": RESEARCHER},
        {"name": "writer", "prompt": "You write clear reports based on research findings"},
    ]
    assert updated[1] is prompts[1]  # not attributed: returned as given
    assert prompts[0]["prompt"] == "You analyze technical papers and extract key findings"
    assert len(model.calls) == 4  # classify, 2 reflections, 1 update
    classification = model.calls[0]
    assert offered(classification) == ["Classify"]
    assert "The report is missing implementation details" in classification.text
    assert "score: 0.95" in classification.text
    assert "You write clear reports based on research findings" in classification.text
    # The researcher's own optimization is shown its prompt, not the writer's.
    assert "You analyze technical papers" in model.calls[1].text
    assert "You write clear reports" not in model.calls[1].text
