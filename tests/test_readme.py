"""README.md's examples are runnable: they pass as a doctest."""

import doctest
from pathlib import Path


def test_readme_examples_run():
    path = Path(__file__).resolve().parents[1] / "README.md"
    failed, attempted = doctest.testfile(str(path), module_relative=False)
    assert attempted >= 10
    assert failed == 0
