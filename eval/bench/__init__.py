"""Benchmarks, one module per figure family; `python -m eval.bench` runs them (see
`__main__.py`), `eval.bench.common` holds what they and the tests share."""
