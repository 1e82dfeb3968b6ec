"""The model generators' prompt templates (*.md), shipped with the package and read
through importlib.resources by rag.answer.prompts."""
