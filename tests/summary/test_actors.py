"""Every person named with a reporting or stance verb is an actor of the brief, with the role the text
gives, one actor under two spellings, and opposing positions cited on both sides (issue 13, item 1)."""

from __future__ import annotations

import pytest

from rag.summary.actors import find_actors
from rag.summary.brief import find_tensions
from rag.summary.extractive import read_documents
from tests.fakes import HashingEmbedder
from tests.summary.test_summarizing import corpus

BRIEFING = (
    "Baltic grid security after the cable incident\n\n"
    "Finnish Energy Minister Liisa Aalto insisted that a second subsea cable was necessary to keep the grid "
    "stable through the winter. Marek Nowak, a senior Polish lawmaker for energy, has stated that the cable "
    "could push Warsaw to withdraw from the joint grid agreement.\n\n"
    "EU Commissioner for Energy Dan Jorgensen has not ruled out allowing member states to subsidise the second "
    "cable. Ingrid Solberg, a member of the energy committee of the Norwegian parliament's upper chamber and a "
    "former adviser to the grid operator, indicated that according to the Energy Charter Treaty, states that "
    "subsidise the cable could face sanctions from the other members.\n\n"
    "Aalto later said that the second cable would be ready by 2029.\n"
)


@pytest.fixture(scope="module")
def reading():
    infos, chunks, _ = corpus([("d1", "Baltic grid note", "2026-06-04", BRIEFING)], size=2, overlap=1)
    return read_documents(infos, chunks, HashingEmbedder())


def test_every_named_person_with_a_stance_is_an_actor_with_their_role(reading):
    actors = {a.name: a for a in find_actors(reading)}
    assert set(actors) == {"Liisa Aalto", "Marek Nowak", "Dan Jorgensen", "Ingrid Solberg"}
    assert actors["Liisa Aalto"].role == "Finnish Energy Minister"
    assert actors["Marek Nowak"].role == "senior Polish lawmaker for energy"
    assert actors["Dan Jorgensen"].role == "EU Commissioner for Energy"  # "of/for <Office>" stays in the role
    assert actors["Ingrid Solberg"].role.startswith("member of the energy committee")


def test_a_surname_joins_the_full_name_and_a_treaty_is_no_actor(reading):
    actors = {a.name: a for a in find_actors(reading)}
    assert len(actors["Liisa Aalto"].units) == 2  # "Aalto later said" is the same person
    assert not any("Treaty" in name for name in actors)


@pytest.mark.e2e
def test_opposing_positions_are_tensions_cited_on_both_sides():
    from rag.config import Settings
    from rag.embed.embedder import load_embedder

    infos, chunks, _ = corpus([("d1", "Baltic grid note", "2026-06-04", BRIEFING)], size=2, overlap=1)
    real = read_documents(infos, chunks, load_embedder(Settings.from_env({})))
    actors = find_actors(real)
    tensions = find_tensions(real, actors)
    pairs = {text.split(" take opposing positions")[0]: pair for text, pair, _ in tensions}
    assert "Dan Jorgensen and Ingrid Solberg" in pairs or "Ingrid Solberg and Dan Jorgensen" in pairs
    assert "Liisa Aalto and Marek Nowak" in pairs or "Marek Nowak and Liisa Aalto" in pairs
    for text, (a, b), _ in tensions:
        for i in (a, b):
            assert " ".join(real.units[i].text.split()) in text
