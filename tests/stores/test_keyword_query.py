"""The FTS5 query built from recall text: stopwords and role labels never reach the index."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from retain.core.ranking import MAX_QUERY_TERMS, analyse_query
from retain.core.store_flow import recall_queries
from retain.stores.sqlite_sql import fts_query


def match(text: str) -> str | None:
    return fts_query(analyse_query(text).terms)


def test_stopwords_are_dropped_unless_nothing_else_is_left() -> None:
    assert match("I went hiking in the Alps") == '"went" OR "hiking" OR "alps"'
    assert match("the") == '"the"'
    assert match("?!") is None


def test_long_texts_keep_the_longest_terms_in_order() -> None:
    words = [f"w{'x' * i}" for i in range(40)]
    terms = match(" ".join(words))
    assert terms is not None
    kept = [t.strip('"') for t in terms.split(" OR ")]
    assert len(kept) == MAX_QUERY_TERMS
    assert kept == words[-MAX_QUERY_TERMS:]


def test_quotes_cannot_break_out_of_a_term() -> None:
    assert fts_query(['a"b']) == '"a""b"'


def test_recall_queries_carry_no_role_labels() -> None:
    queries = recall_queries(
        [HumanMessage("I went hiking"), AIMessage("Which trail?"), HumanMessage("The Eiger")]
    )
    assert queries == ("I went hiking\nWhich trail?\nThe Eiger",)  # one query per call


def test_a_keyword_match_keeps_to_its_namespace_prefix() -> None:
    from retain.stores.sqlite_sql import fts_match, ns_terms

    users, u1 = ns_terms("users.u1").split()
    assert ns_terms("users") == users
    assert fts_match(["tea"], ("users", "u1")) == f'ns : "{u1}" AND body : ("tea")'
    assert fts_match(["tea"], ("users",)) == f'ns : "{users}" AND body : ("tea")'
    assert fts_match(["tea"], ()) == 'body : ("tea")'
    assert fts_match([], ("users",)) is None
