"""One `--quick` run of the quality benchmark for the session, read by its smoke test and by the honesty
benchmark's (which reuses its studies instead of running them again)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def quick_quality(tmp_path_factory, ray_session):
    """(the results folder of `python -m benchmarks.quality --quick`, what `main` returned)."""
    from benchmarks.quality import main

    out = tmp_path_factory.mktemp("quality")
    return out, main(["--quick", "--out", str(out)])
