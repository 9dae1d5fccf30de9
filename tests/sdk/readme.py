"""Where the SDK tests find the repository and the README's quickstart snippets."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def readme_snippet(language: str) -> str:
    """The code block of README.md that follows the `<!-- sdk-quickstart:<language> -->` marker."""
    text = (ROOT / "README.md").read_text()
    marker = f"<!-- sdk-quickstart:{language} -->"
    assert marker in text, f"README.md has no {marker}"
    block = text.split(marker, 1)[1].split("```", 2)
    return block[1].split("\n", 1)[1]  # without the fence's language line
