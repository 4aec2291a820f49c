"""The CJK font embedded in every PDF: found on this machine at run time, never assumed on the reader's.

Debian's fonts-wqy-microhei (installed by `make system-deps`) is a TrueType collection that ReportLab
can subset and embed. OpenType/CFF CJK fonts (Noto CJK .otf/.ttc) cannot be embedded by ReportLab,
so they are not candidates.
"""

from __future__ import annotations

import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from service.errors import DomainError

FONT_NAME = "HomecareCJK"
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian, Ubuntu
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",  # Arch
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
_registered: dict[str, str] = {}
_lock = threading.Lock()


class FontMissing(DomainError):
    status, title = 503, "Service unavailable"


def cjk_font_path(configured: str | None = None) -> Path:
    if configured:
        if not Path(configured).is_file():
            raise FontMissing(f"HOMECARE_REPORT_FONT names {configured}, which does not exist")
        return Path(configured)
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(
        "PDF reports embed a CJK TrueType font and none is installed: install Debian's "
        "fonts-wqy-microhei (`make system-deps`) or set HOMECARE_REPORT_FONT to a .ttf or "
        ".ttc file"
    )


def registered_font(path: Path) -> str:
    """Register the font with ReportLab once per process; returns the name to draw with."""
    with _lock:
        if str(path) not in _registered:
            name = f"{FONT_NAME}{len(_registered)}"
            pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=0))
            _registered[str(path)] = name
        return _registered[str(path)]
