"""The Markdown of a model's answer, as a tree of a few safe tags; the page builds DOM nodes
from it with createElement and text nodes, so no HTML from the model is ever parsed.

Ours, not a library's: the page has only the standard library and the wheels we serve, the
answers use a small part of Markdown (paragraphs, fenced code, inline code, emphasis, lists,
headings, quotes, links), and a tree of tags we allow is safer than any HTML string. Raw HTML in
the text stays text; a link keeps its href only for http:, https: or mailto:. An unclosed code
fence (an answer still streaming) runs to the end.

A node is (tag, attrs, children); a child is a node or a str.
"""

from __future__ import annotations

import re

TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "h3", "h4", "h5", "h6", "blockquote", "hr", "a"}
SAFE_HREF = re.compile(r"^(https?:|mailto:)", re.I)

_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+#.-]*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBER = re.compile(r"^\s*(\d{1,9})[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_INLINE = re.compile(r"(`+)(.+?)\1|\*\*(.+?)\*\*|__(.+?)__|\*(?!\s)(.+?)\*|(?<!\w)_(?!\s)(.+?)_(?!\w)"
                     r"|\[([^\]\n]+)\]\(([^)\s]+)\)")


def render(text: str) -> list:
    """The block nodes of a Markdown text."""
    lines = text.replace("\r\n", "\n").split("\n")
    out: list = []
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            mark, lang = fence.group(1), fence.group(2)
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(mark):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence
            attrs = {"class": "language-" + lang.lower()} if re.fullmatch(r"[\w+#.-]{1,32}", lang or "") else {}
            out.append(("pre", {}, [("code", attrs, ["\n".join(body)])]))
            continue
        if not line.strip():
            i += 1
            continue
        if _RULE.match(line):
            out.append(("hr", {}, []))
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            out.append((f"h{min(6, len(heading.group(1)) + 2)}", {}, inline(heading.group(2))))
            i += 1
            continue
        if _QUOTE.match(line):
            quoted = []
            while i < len(lines) and _QUOTE.match(lines[i]):
                quoted.append(_QUOTE.match(lines[i]).group(1))
                i += 1
            out.append(("blockquote", {}, render("\n".join(quoted))))
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBER, "ol")):
            if pattern.match(line) and not _RULE.match(line):
                items = []
                while i < len(lines) and pattern.match(lines[i]) and not _RULE.match(lines[i]):
                    items.append(("li", {}, inline(pattern.match(lines[i]).groups()[-1])))
                    i += 1
                    while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():  # a wrapped item
                        items[-1][2].extend([("br", {}, [])] + inline(lines[i].strip()))
                        i += 1
                start = _NUMBER.match(line)
                attrs = {"start": start.group(1)} if tag == "ol" and start and start.group(1) != "1" else {}
                out.append((tag, attrs, items))
                break
        else:
            para: list = []
            while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
                if para:
                    para.append(("br", {}, []))
                para.extend(inline(lines[i]))
                i += 1
            out.append(("p", {}, para))
    return out


def _starts_block(line: str) -> bool:
    return bool(_FENCE.match(line) or _HEADING.match(line) or _BULLET.match(line) or _NUMBER.match(line)
                or _QUOTE.match(line) or _RULE.match(line))


def inline(text: str) -> list:
    """Inline nodes: code spans, strong, emphasis, links; everything else is text."""
    out: list = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            out.append(text[pos:m.start()])
        code, strong, strong2, em, em2, label, href = m.group(2), m.group(3), m.group(4), m.group(5), m.group(6), \
            m.group(7), m.group(8)
        if code is not None:
            out.append(("code", {}, [code.strip() if code.strip() else code]))
        elif strong is not None or strong2 is not None:
            out.append(("strong", {}, inline(strong if strong is not None else strong2)))
        elif em is not None or em2 is not None:
            out.append(("em", {}, inline(em if em is not None else em2)))
        elif SAFE_HREF.match(href):
            out.append(("a", {"href": href}, inline(label)))
        else:  # a javascript:, data: or relative link: its text only
            out.extend(inline(label))
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def plain(nodes: list) -> str:
    """The text of nodes (what a copy of an answer's code block holds)."""
    return "".join(n if isinstance(n, str) else "\n" if n[0] == "br" else plain(n[2]) for n in nodes)
