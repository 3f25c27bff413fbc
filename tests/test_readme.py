"""The README's Python blocks run as written (the quick start must not rot).

Blocks fenced as ```python run; a block that needs something the tests cannot give it (a Dask
scheduler on another machine) is fenced as ```py and only shown.
"""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_two_commands_first():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    assert "make demo" in first_block and "make test" in first_block
    assert text.index("make demo") < text.index("```python")


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_python_block_runs(index):
    exec(compile(python_blocks()[index], f"README block {index}", "exec"), {})


def test_core_example_values():
    import torch
    from snnsk.core.neurons import lif
    # the comment in the README's core example
    assert lif(torch.full((6, 1), 1.5), tau=2.0).flatten().tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
