"""The README's pytest examples are the files that run as tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_pytest_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    # Every python block of the README is a pytest example.
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_examples_are_tested() -> None:
    tested = [path.read_text(encoding="utf-8") for path in (ROOT / "tests" / "examples").glob("test_howto_*.py")]
    tested.append((ROOT / "tests" / "test_plugin_pytester.py").read_text(encoding="utf-8"))
    blocks = readme_pytest_blocks()

    missing = [block for block in blocks if not any(block in source for source in tested)]

    assert len(blocks) >= 3
    assert missing == []
