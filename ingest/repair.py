"""Text repair: mojibake and line endings, keeping line numbers intact."""

from __future__ import annotations

import re

import ftfy

_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _undo_mac_roman(run: str) -> str:
    """UTF-8 bytes once decoded as Mac Roman ("‚Üí" for "→"); ftfy does not try that codec."""
    try:
        repaired = run.encode("mac_roman").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return run
    return repaired if len(repaired) < len(run) else run


def repair_text(text: str) -> str:
    """Fix mojibake and normalise line endings; never adds or removes lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():  # nothing to repair, and ftfy is the slowest step of loading
        return text
    text = _NON_ASCII_RUN.sub(lambda m: _undo_mac_roman(m.group()), text)
    # html entities stay as written: templates must survive byte for byte.
    return ftfy.fix_text(text, unescape_html=False, uncurl_quotes=False, fix_line_breaks=False)
