"""A job page's HTML as plain text (stdlib `html.parser`, no JavaScript): headings and list items become
lines of their own, scripts, styles and page chrome (navigation, footer) are dropped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Content that is never the job: code, styling, and the site's chrome around the posting.
_SKIP = {"script", "style", "noscript", "template", "head", "nav", "footer", "svg", "iframe"}
_BLOCK = {"p", "div", "section", "article", "main", "header", "ul", "ol", "table", "tr", "dl", "dt", "dd",
          "blockquote", "pre", "br", "hr", "form", "aside"}
_HEADINGS = {"h1": "# ", "h2": "## ", "h3": "### ", "h4": "#### ", "h5": "##### ", "h6": "###### "}
_VOID = {"br", "hr", "img", "input", "meta", "link", "source", "wbr", "area", "base", "col", "embed"}


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.prefix = ""  # "- " or "## " for the line being collected
        self.skipping: list[str] = []  # the open skipped elements, innermost last

    def handle_starttag(self, tag: str, attrs) -> None:
        if self.skipping or tag in _SKIP:
            if tag not in _VOID:
                self.skipping.append(tag)
            return
        if tag in _HEADINGS or tag == "li":
            self._break()
            self.prefix = _HEADINGS.get(tag, "- ")
        elif tag in _BLOCK and "".join(self.current).strip():  # <li><p>x</p></li> keeps its bullet
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag in self.skipping:  # tolerate unclosed children inside the skipped element
                del self.skipping[len(self.skipping) - 1 - self.skipping[::-1].index(tag):]
            return
        if tag in _HEADINGS or tag == "li" or tag in _BLOCK:
            self._break()
            self.prefix = "" if tag in _HEADINGS or tag == "li" else self.prefix

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.current.append(data)

    def _break(self) -> None:
        line = re.sub(r"\s+", " ", "".join(self.current)).strip()
        if line:
            self.lines.append(self.prefix + line)
            self.prefix = ""
        self.current = []


def html_to_text(html: str) -> str:
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    parser._break()
    return "\n".join(parser.lines)
