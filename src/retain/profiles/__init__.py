"""User profiles and the learning machine: agents that know their user across threads.

* :class:`UserProfile` / :class:`ProfileSchema`: the default schema and the checks custom
  ones pass (:mod:`retain.profiles.schema`);
* :class:`UserProfileStore`: one profile document per user, updated in place, with history;
* :class:`LearningMachine`: ``ALWAYS`` (background extraction) or ``AGENTIC`` (tools)
  learning of the profile and of user memories;
* :func:`render_user_context`: the bounded ``<user_profile>`` / ``<user_memory>`` blocks;
* :func:`create_learning_agent`: the machine attached to LangGraph's ``create_react_agent``.
"""

from retain.profiles.agents import (
    create_learning_agent,
    learning_post_model_hook,
    learning_prompt,
)
from retain.profiles.context import UserContext, render_user_context
from retain.profiles.machine import (
    LearningMachine,
    LearningMode,
    UserMemoryConfig,
    UserProfileConfig,
    user_id_of,
)
from retain.profiles.schema import ProfileField, ProfileSchema, UserProfile, UserProfileModel
from retain.profiles.store import UserProfileStore

__all__ = [
    "LearningMachine",
    "LearningMode",
    "ProfileField",
    "ProfileSchema",
    "UserContext",
    "UserMemoryConfig",
    "UserProfile",
    "UserProfileConfig",
    "UserProfileModel",
    "UserProfileStore",
    "create_learning_agent",
    "learning_post_model_hook",
    "learning_prompt",
    "render_user_context",
    "user_id_of",
]
