"""How a report gets plotly.js (importable without plotly): ``inline`` (one file that opens
offline), ``directory`` (``plotly.min.js`` beside it) or ``cdn``."""

from __future__ import annotations

__all__ = ["PLOTLYJS_FILE", "PLOTLYJS_MODES"]

PLOTLYJS_MODES = ("inline", "directory", "cdn")
PLOTLYJS_FILE = "plotly.min.js"
