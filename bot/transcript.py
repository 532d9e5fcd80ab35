"""A ticket's transcript as a file: Markdown or HTML, for the command line
(``python -m bot tickets export N``) and for agents, who get it as a file in the
ticket's thread. The content is ``bot.views.transcript`` (card, service levels,
description, steps, files, every thread entry, every status change, the rating), with
times in the department's zone; everything a person wrote is escaped for the format.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from bot.i18n import Translator
from bot.reply import Reply
from bot.ticket import Ticket

FORMATS = {"md": "text/markdown", "html": "text/html"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


@dataclass(frozen=True, slots=True)
class TranscriptFile:
    name: str
    mime_type: str
    data: bytes


def markdown_escape(text: str) -> str:
    """``text`` shown as written in Markdown (no emphasis, links or HTML taken from it)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def export(
    ticket: Ticket, replies: list[Reply], translator: Translator, lang: str, fmt: str
) -> TranscriptFile:
    """The transcript ``replies`` of ``ticket`` as a ``fmt`` file (``md`` or ``html``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    title = f"#{ticket.number} {ticket.title}"
    if fmt == "html":
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title></head><body>",
            f"<h1>{html.escape(title)}</h1>",
        ]
        for reply in replies:
            text = translator.reply(reply, lang, html.escape).replace("\n", "<br>\n")
            tag = "h2" if reply.key.endswith("_header") else "p"
            parts.append(f"<{tag}>{text}</{tag}>")
        parts.append("</body></html>")
    else:
        parts = [f"# {markdown_escape(title)}", ""]
        for reply in replies:
            text = translator.reply(reply, lang, markdown_escape)
            if reply.key.endswith("_header"):
                parts += [f"## {text}", ""]
            else:
                # Two spaces: a line break inside the paragraph.
                parts += [text.replace("\n", "  \n"), ""]
    data = ("\n".join(parts) + "\n").encode()
    return TranscriptFile(f"ticket-{ticket.number}.{fmt}", FORMATS[fmt], data)
