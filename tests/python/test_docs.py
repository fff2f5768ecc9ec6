"""Runs every ```python block of docs/python.md (each a whole program, in a
fresh namespace), so the Python guide cannot drift from the package."""
import os
import re

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "python.md")
BLOCKS = re.findall(r"^```python\n(.*?)^```", open(DOC, encoding="utf-8").read(), re.S | re.M)


def test_the_guide_has_examples():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("n", range(len(BLOCKS)))
def test_example(n):
    exec(compile(BLOCKS[n], "docs/python.md example %d" % (n + 1), "exec"), {"__name__": "__doc_example__"})
