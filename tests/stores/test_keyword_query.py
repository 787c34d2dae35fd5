"""The FTS5 query built from recall text: stopwords and role labels never reach the index."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from retain.core.store_flow import recall_queries
from retain.stores.sqlite_sql import MAX_FTS_TERMS, fts_query


def test_stopwords_are_dropped_unless_nothing_else_is_left() -> None:
    assert fts_query("I went hiking in the Alps") == '"went" OR "hiking" OR "alps"'
    assert fts_query("the") == '"the"'
    assert fts_query("?!") is None


def test_long_texts_keep_the_longest_terms_in_order() -> None:
    words = [f"w{'x' * i}" for i in range(40)]
    terms = fts_query(" ".join(words))
    assert terms is not None
    kept = [t.strip('"') for t in terms.split(" OR ")]
    assert len(kept) == MAX_FTS_TERMS
    assert kept == words[-MAX_FTS_TERMS:]


def test_recall_queries_carry_no_role_labels() -> None:
    queries = recall_queries(
        [HumanMessage("I went hiking"), AIMessage("Which trail?"), HumanMessage("The Eiger")]
    )
    assert queries == ("I went hiking\nWhich trail?\nThe Eiger",)  # one query per call
