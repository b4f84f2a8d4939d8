"""The answer's Markdown (pyapp/runtime/markdown.py): the tags we allow, and hostile text stays text."""

from pyapp.runtime.page.markdown import TAGS, plain, render


def tags(nodes) -> set:
    found = set()
    for n in nodes:
        if not isinstance(n, str):
            found.add(n[0])
            found |= tags(n[2])
    return found


def test_blocks_and_inline():
    doc = render("# Title\nSome **bold**, *em* and `x < y`.\nNext line\n\n- one\n- two\n\n3. three\n\n"
                 "```python\nprint('<b>')\n```\n> quoted\n\n---\n[site](https://example.org)")
    assert [n[0] for n in doc] == ["h3", "p", "ul", "ol", "pre", "blockquote", "hr", "p"]
    assert doc[1][2][:2] == ["Some ", ("strong", {}, ["bold"])]
    assert ("code", {}, ["x < y"]) in doc[1][2] and ("br", {}, []) in doc[1][2]
    assert doc[3][1] == {"start": "3"}
    assert doc[4] == ("pre", {}, [("code", {"class": "language-python"}, ["print('<b>')"])])
    assert doc[7][2] == [("a", {"href": "https://example.org"}, ["site"])]
    assert tags(doc) <= TAGS


def test_an_unclosed_fence_runs_to_the_end_while_streaming():
    doc = render("Here:\n```js\nlet a = 1;\nlet b")
    assert doc[1] == ("pre", {}, [("code", {"class": "language-js"}, ["let a = 1;\nlet b"])])
    assert plain(doc[1][2]) == "let a = 1;\nlet b"


def test_hostile_text_stays_text():
    evil = ('<img src=x onerror="alert(1)"> <script>alert(2)</script> [click](javascript:alert(3)) '
            '[d](data:text/html,<b>) [r](/relative) <a href="javascript:x">a</a>\n```"><script>\nx\n```')
    doc = render(evil)
    assert tags(doc) <= {"p", "pre", "code"}  # no link survives: none is http(s) or mailto
    text = plain(doc)
    assert '<img src=x onerror="alert(1)">' in text and "<script>alert(2)</script>" in text
    assert "click" in text and "javascript:" not in text.split("</script>")[1].split("<a")[0]
    assert doc[-1] == ("pre", {}, [("code", {}, ["x"])])  # a junk language name is no attribute
