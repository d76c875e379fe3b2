"""Terminal rendering: right-to-left text reordered and shaped for terminals without bidi."""

from __future__ import annotations

import re

_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")


def visual(text: str, enabled: bool = True) -> str:
    """Text in display order (Arabic shaped and reordered) when it holds right-to-left script."""
    if not enabled or not _RTL.search(text):
        return text
    import arabic_reshaper
    from bidi import get_display

    return "\n".join(str(get_display(arabic_reshaper.reshape(line))) for line in text.split("\n"))
