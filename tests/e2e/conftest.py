"""End-to-end tests start the real app on Xvfb. In CI Xvfb is installed by .ci/run, so a
missing Xvfb there is a failure, not a skip."""

import os
import shutil

import pytest


@pytest.fixture(autouse=True)
def _need_xvfb() -> None:
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is missing: .ci/run should have installed it")
        pytest.skip("Xvfb is not installed (bash scripts/install-debian-deps.sh)")
