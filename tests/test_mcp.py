"""Newsdesk's MCP tools through the MCP SDK's own client: over stdio (`rag mcp`) and over
streamable HTTP (`/mcp` on a real `rag serve`).

Each transport is connected once per module; one session lists the tools and makes
every call, and the tests check what came back.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from eval.bench.api import serving
from eval.bench.common import isolated_env, rag_command
from tests.ui_fixtures import LAVROV, article_text, ingested_settings

pytestmark = pytest.mark.slow

CALLS = {
    "ask": ("ask", {"question": LAVROV}),
    "ask_filtered_out": ("ask", {"question": LAVROV, "source": "Associated Press"}),
    "ask_bad_date": ("ask", {"question": LAVROV, "date_from": "2022-13-01"}),
    "search": ("search", {"query": "Lavrov demands NATO", "top_k": 3}),
    "search_as_of_before": ("search", {"query": "Lavrov demands NATO", "as_of": "2022-01-20"}),
    "search_bad_top_k": ("search", {"query": "Lavrov", "top_k": 0}),
    "sources": ("sources", {}),
}


async def _session(target: Any) -> dict[str, Any]:
    async with Client(target, read_timeout_seconds=180) as client:
        tools = (await client.list_tools()).tools
        results = {"tools": {t.name: t for t in tools}}
        for key, (name, arguments) in CALLS.items():
            results[key] = await client.call_tool(name, arguments)
        return results


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("mcp")
    return ingested_settings(root), root


@pytest.fixture(scope="module")
def over_stdio(site) -> dict[str, Any]:
    settings, root = site
    command = rag_command()
    params = StdioServerParameters(command=command[0], args=[*command[1:], "mcp"],
                                   env=isolated_env(settings), cwd=str(root))
    return asyncio.run(_session(params))


@pytest.fixture(scope="module")
def over_http(site) -> dict[str, Any]:
    settings, root = site
    with serving(settings, root) as (url, _):
        return asyncio.run(_session(f"{url}/mcp"))


@pytest.fixture(scope="module", params=["stdio", "http"])
def results(request) -> dict[str, Any]:
    return request.getfixturevalue(f"over_{request.param}")


@pytest.fixture(scope="module")
def cli_answer(site) -> dict:
    """`rag ask --json` for the same question over the same store."""
    settings, root = site
    run = subprocess.run([*rag_command(), "ask", "--json", LAVROV], env=isolated_env(settings),
                         cwd=root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def structured(result) -> dict:
    assert result.is_error is False, result.content
    return result.structured_content


def test_the_three_tools_are_listed_with_typed_inputs(results):
    tools = results["tools"]

    assert set(tools) == {"ask", "search", "sources"}
    ask_schema, search_schema = tools["ask"].input_schema, tools["search"].input_schema
    assert ask_schema["required"] == ["question"]
    assert set(ask_schema["properties"]) == {"question", "as_of", "source", "date_from", "date_to"}
    assert set(search_schema["properties"]) == {"query", "as_of", "source", "date_from", "date_to", "top_k"}
    assert search_schema["properties"]["top_k"]["maximum"] == 50
    assert "pattern" in json.dumps(ask_schema["properties"]["as_of"])
    assert tools["sources"].input_schema.get("properties", {}) == {}


def test_ask_gives_the_same_citations_as_rag_ask_json(results, cli_answer, site):
    answer = structured(results["ask"])

    assert answer["refused"] is False and answer["answer"] == cli_answer["answer"]
    keys = ("n", "doc_id", "quote", "start", "end", "title", "date", "source", "url")
    assert [{k: c[k] for k in keys} for c in answer["citations"]] == \
        [{k: c[k] for k in keys} for c in cli_answer["citations"]]
    for citation in answer["citations"]:
        assert article_text(site[0], citation["doc_id"])[citation["start"]:citation["end"]] == citation["quote"]
    assert "quoted from news articles" in answer["note"] and "passages" not in answer


def test_ask_filters_and_bad_input(results):
    assert structured(results["ask_filtered_out"])["refused"] is True
    bad = results["ask_bad_date"]
    assert bad.is_error is True
    assert "date" in bad.content[0].text.lower() and "Traceback" not in bad.content[0].text


def test_search_returns_small_passages_with_article_metadata_and_no_answer(results):
    found = structured(results["search"])

    assert "answer" not in found and 0 < len(found["passages"]) <= 3
    for passage in found["passages"]:
        assert passage["title"] == "Blinken and Lavrov wrap up talks in Geneva"
        assert passage["source"] == "Reuters" and passage["date"] == "2022-01-21"
        assert len(passage["text"]) <= 601 and isinstance(passage["copies"], list)
    assert any("NATO" in p["text"] for p in found["passages"])
    assert structured(results["search_as_of_before"])["passages"] == []
    assert results["search_bad_top_k"].is_error is True


def test_sources_describes_the_collection(results):
    overview = structured(results["sources"])

    assert overview["articles"] == 1 and overview["passages"] > 1
    assert overview["outlets"] == ["Reuters"]
    assert overview["date_from"] == overview["date_to"] == "2022-01-21"
    assert overview["feeds"] == []
