"""Runs every ```python block of docs/python.md and README.md (each a whole
program, in a fresh namespace), so the guides cannot drift from the
package."""
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
BLOCKS = []
for doc in ("docs/python.md", "README.md"):
    text = open(os.path.join(ROOT, doc), encoding="utf-8").read()
    for i, b in enumerate(re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)):
        BLOCKS.append(("%s example %d" % (doc, i + 1), b))


def test_the_guides_have_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("where,code", BLOCKS, ids=[w for w, _ in BLOCKS])
def test_example(where, code):
    exec(compile(code, where, "exec"), {"__name__": "__doc_example__"})
