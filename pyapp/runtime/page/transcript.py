"""The conversation in #output: the history as the model is given it, and the answer streaming in.

Every change of the history redraws it from the ChatSession's messages, so what the page shows
is what the next prompt holds. Answers are Markdown (markdown.py), built as DOM nodes from a
tree of allowed tags with text nodes only: no HTML from the model is ever parsed. The buttons
(Copy an answer or a code block, Edit a question) carry data-action and data-index, and one
listener on #output handles them all (history.py), so a redraw makes no proxies.
"""

from __future__ import annotations

import js

from . import markdown

STICK_PX = 48  # the view follows the answer while it is this close to the bottom


def _el(tag: str, text: str = "", cls: str = ""):
    node = js.document.createElement(tag)
    if text:
        node.textContent = text
    if cls:
        node.className = cls
    return node


def build(nodes, parent):
    """Append Markdown nodes (markdown.render) to parent as DOM nodes; each code block gets a Copy button."""
    for n in nodes:
        if isinstance(n, str):
            parent.append(js.document.createTextNode(n))
            continue
        tag, attrs, children = n
        if tag not in markdown.TAGS:  # cannot happen from markdown.render; never trust a tag name
            parent.append(js.document.createTextNode(markdown.plain(children)))
            continue
        node = _el(tag)
        for key, value in attrs.items():
            if key == "href" and markdown.SAFE_HREF.match(value):
                node.setAttribute("href", value)
                node.setAttribute("rel", "noopener noreferrer nofollow")
                node.setAttribute("target", "_blank")
            elif key in ("class", "start"):
                node.setAttribute(key, value)
        build(children, node)
        if tag == "pre":
            copy = _el("button", "Copy", "copy")
            copy.type = "button"
            copy.dataset.action = "copy-code"
            node.append(copy)
        parent.append(node)


def _button(label: str, action: str, index: int):
    b = _el("button", label)
    b.type = "button"
    b.dataset.action = action
    b.dataset.index = str(index)
    return b


def _message(role: str, text: str, who: str, index: int | None):
    box = _el("div", cls=f"msg {role}")
    box.append(_el("div", who, "who"))
    body = _el("div", cls="text")
    if role == "assistant":
        build(markdown.render(text), body)
    else:
        body.textContent = text
    box.append(body)
    if index is not None:
        tools = _el("div", cls="tools")
        tools.append(_button("Copy", "copy", index))
        if role == "user":
            tools.append(_button("Edit", "edit", index))
        box.append(tools)
    return box


def show(messages: list[dict], assistant: str):
    """Redraw the chat from its history."""
    out = js.document.getElementById("output")
    out.replaceChildren(*(_message(m["role"], m["content"], "You" if m["role"] == "user" else assistant, i)
                          for i, m in enumerate(messages)))
    out.scrollTop = out.scrollHeight


class Pending:
    """The turn running now: its question (chat mode) and the answer as it streams in."""

    def __init__(self, text: str, mode: str, assistant: str):
        self.out = js.document.getElementById("output")
        self.mode = mode
        if mode == "completion":  # a plain completion shows the text and its continuation, alone
            self.out.replaceChildren()
            self.box = _el("div", cls="msg completion")
            self.body = _el("div", cls="text")
            self.body.append(js.document.createTextNode(text))
            self.answer = js.document.createTextNode("")
            self.body.append(self.answer)
            self.box.append(self.body)
        else:
            self.out.append(_message("user", text, "You", None))
            self.box = _message("assistant", "", assistant, None)
            self.body = self.box.querySelector(".text")
        self.out.append(self.box)
        self.text = ""
        self._follow()

    def update(self, text: str):
        """The answer so far (re-rendered whole: an open code fence or emphasis may close later)."""
        follow = self.out.scrollHeight - self.out.scrollTop - self.out.clientHeight < STICK_PX
        self.text = text
        if self.mode == "completion":
            self.answer.data = text
        else:
            self.body.replaceChildren()
            build(markdown.render(text), self.body)
        if follow:
            self._follow()

    def _follow(self):
        self.out.scrollTop = self.out.scrollHeight
