"""Package data: a wheel installed outside the checkout answers with a model, so its
prompts load from the install (importlib.resources), not from the repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.fake_openai import fake_openai

SCRIPT = """
import sys, rag, prompts
from pathlib import Path
from rag.config import Settings
from rag.ingest import ingest
from rag.answer import Newsdesk
root = Path(sys.argv[1])
assert str(root) in rag.__file__ and str(root) in prompts.__file__, (rag.__file__, prompts.__file__)
settings = Settings(corpus_dir=root / "corpus", store_path=root / "chroma", generator="openai-compatible",
                    base_url=sys.argv[2], api_key="sk-test-not-real")
ingest(settings.corpus_dir, settings, progress=False)
answer = Newsdesk(settings).answer("What did Blinken call the talks?")
print(answer.outcome.value, answer.answer)
"""


@pytest.mark.slow
def test_an_installed_wheel_answers_with_a_model_server(tmp_path: Path):
    # the files of a clone (no build/ left by an earlier build to hide a missing package)
    source = tmp_path / "source"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, check=True, capture_output=True, text=True).stdout.splitlines()
    for name in listed:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    # an isolated build, as `pip install .` does (it fetches the build backend pyproject.toml names)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                    str(source)], check=True, cwd=tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # the dependencies come from the test's own environment; newsdesk only from the wheel
    # (every site-packages folder this interpreter reads, e.g. a worktree venv pointing at
    # the main one; their .pth files, such as an editable install's, are not run)
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "deps.pth").write_text("\n".join(deps) + "\n")
    wheel = next(wheels.glob("newsdesk-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "-q", str(wheel)], check=True, cwd=tmp_path)
    shutil.copytree(REPO / "corpus", venv / "corpus")
    reply = "Blinken called the talks frank and substantial [1]."
    with fake_openai(reply) as (fake, url):
        done = subprocess.run([str(python), "-c", SCRIPT, str(venv), url], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith("answered Blinken called the talks")
    system = fake.requests[-1]["body"]["messages"][0]["content"]
    assert system == (REPO / "prompts" / "answer_system.md").read_text(encoding="utf-8")
