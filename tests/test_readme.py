"""README.md's and the protocol docs' examples are runnable: they pass as doctests."""

import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_examples_run():
    failed, attempted = doctest.testfile(str(ROOT / "README.md"), module_relative=False)
    assert attempted >= 10
    assert failed == 0


@pytest.mark.parametrize("doc, needs", [("docs/mpc.md", None), ("docs/irene.md", "torch"), ("docs/gradientcoin.md", None),
                                        ("docs/kernels.md", "torch")])
def test_doc_examples_run(doc, needs):
    if needs:
        pytest.importorskip(needs)
    failed, attempted = doctest.testfile(str(ROOT / doc), module_relative=False)
    assert attempted >= 3
    assert failed == 0
