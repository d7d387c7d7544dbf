"""The status page (`certsmith report`): every lineage on a timeline with its state, the last
runs from the history and the findings of `certsmith check`, as one self-contained HTML page.

    page.py       facts -> the HTML document (escaped, inline CSS, no script)
    timeline.py   the inline SVG timeline
    serve.py      read-only HTTP on loopback (`--serve`)

Layering: cli -> report -> storage.history (types only). Nothing here prints.
"""

from __future__ import annotations

from certsmith.report.page import FindingRow, LineageFacts, PageFacts, State, render_page

__all__ = ["FindingRow", "LineageFacts", "PageFacts", "State", "render_page"]
