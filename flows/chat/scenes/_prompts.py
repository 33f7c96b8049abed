"""Where the scenes' prompt templates live."""

from pathlib import Path

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
