"""A report as a list of blocks (headings, paragraphs, tables, images, audio, code), written as
Markdown and as one self-contained HTML file (images and audio inlined as base64 data URIs).

Our own small writer: the blocks are already structured, so a Markdown-to-HTML library would
only parse back what we just wrote, and inlining the media is the part such libraries lack."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.audio { display: inline-block; margin: 0 1.5em 0.8em 0; }
.note { color: #666; font-size: 0.9em; }
"""


# Report text comes from what runs wrote (transcripts, run names, overrides), so the Markdown
# shows it as text: HTML as entities, and the characters that make links, code or emphasis escaped.
_MD_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "[": "\\[",
        "]": "\\]",
    }
)
_NEWLINES = re.compile(r"[\r\n]+")


@dataclass(frozen=True)
class Code:
    """An inline code span inside a paragraph: ``doc.paragraph(["run ", Code("seqlab eval"), "."])``."""

    text: str


def _md_text(text) -> str:
    """Plain text for a Markdown paragraph, heading or link text (one line)."""
    return _NEWLINES.sub(" ", str(text).translate(_MD_ESCAPES))


def _md_cell(text) -> str:
    """Plain text for a Markdown table cell (a pipe would end the cell)."""
    return _md_text(text).replace("|", "\\|")


def _md_code_span(text: str) -> str:
    """A code span whose fence is longer than any run of backticks inside it."""
    text = _NEWLINES.sub(" ", text)
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _md_fence(text: str) -> str:
    """A code-block fence longer than any run of backticks in ``text`` (so it cannot close early)."""
    return "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)


def _md_link(relative: str) -> str:
    """A relative path as a link destination (spaces and parentheses percent-encoded)."""
    return quote(str(relative), safe="/")


def _parts(text) -> list:
    return list(text) if isinstance(text, (list, tuple)) else [text]


def _is_number(text: str) -> bool:
    try:
        float(str(text).replace(",", "").rstrip("%").lstrip("★ "))
    except ValueError:
        return False
    return True


@dataclass
class Document:
    """Blocks in order; ``base_dir`` is where the relative image/audio paths start."""

    title: str
    base_dir: Path
    blocks: list[tuple] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", level, text))

    def paragraph(self, text: str | list, note: bool = False) -> None:
        """Plain text (shown as text, never as markup), or a list of text and :class:`Code` parts."""
        self.blocks.append(("p", text, note))

    def table(self, columns: list[str], rows: list[list], note: str | None = None) -> None:
        """``rows`` of cells (any values, shown with ``str``); ``note`` is printed below."""
        self.blocks.append(("table", list(columns), [[str(c) for c in r] for r in rows], note))

    def image(self, relative: str, alt: str) -> None:
        self.blocks.append(("image", relative, alt))

    def audio(self, relative: str, label: str) -> None:
        self.blocks.append(("audio", relative, label))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    # ------------------------------------------------------------------ Markdown
    def to_markdown(self) -> str:
        """The report as GitHub-flavoured Markdown (media linked by relative path)."""
        out = [f"# {_md_text(self.title)}", ""]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out += ["#" * block[1] + " " + _md_text(block[2]), ""]
            elif kind == "p":
                text = "".join(
                    _md_code_span(p.text) if isinstance(p, Code) else _md_text(p)
                    for p in _parts(block[1])
                )
                out += [f"_{text}_" if block[2] else text, ""]
            elif kind == "table":
                _, columns, rows, note = block
                out.append("| " + " | ".join(_md_cell(c) for c in columns) + " |")
                out.append("|" + "|".join("---:" if self._numeric(rows, i) else "---"
                                          for i in range(len(columns))) + "|")  # fmt: skip
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
                out += ["", f"_{_md_text(note)}_", ""] if note else [""]
            elif kind == "image":
                out += [f"![{_md_text(block[2])}]({_md_link(block[1])})", ""]
            elif kind == "audio":
                out += [f"- [{_md_text(block[2])}]({_md_link(block[1])})", ""]
            elif kind == "code":
                fence = _md_fence(block[1])
                out += [fence, block[1].rstrip("\n"), fence, ""]
        return "\n".join(out).rstrip() + "\n"

    @staticmethod
    def _numeric(rows: list[list[str]], column: int) -> bool:
        cells = [r[column] for r in rows if column < len(r) and r[column] not in ("", "-")]
        return bool(cells) and all(_is_number(c) for c in cells)

    # ------------------------------------------------------------------ HTML
    def _data_uri(self, relative: str, mime: str) -> str:
        data = (self.base_dir / relative).read_bytes()
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"

    def to_html(self) -> str:
        """One self-contained HTML page: PNGs and WAVs inlined, no external requests."""
        esc = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(self.title)}</title><style>{STYLE}</style></head><body>",
            f"<h1>{esc(self.title)}</h1>",
        ]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out.append(f"<h{block[1]}>{esc(block[2])}</h{block[1]}>")
            elif kind == "p":
                css = ' class="note"' if block[2] else ""
                text = "".join(
                    f"<code>{esc(p.text)}</code>" if isinstance(p, Code) else esc(str(p))
                    for p in _parts(block[1])
                )
                out.append(f"<p{css}>{text}</p>")
            elif kind == "table":
                _, columns, rows, note = block
                numeric = [self._numeric(rows, i) for i in range(len(columns))]
                out.append("<table><thead><tr>")
                out.append("".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr></thead><tbody>")
                for row in rows:
                    cells = "".join(
                        f'<td class="num">{esc(c)}</td>' if i < len(numeric) and numeric[i]
                        else f"<td>{esc(c)}</td>"
                        for i, c in enumerate(row)
                    )  # fmt: skip
                    out.append(f"<tr>{cells}</tr>")
                out.append("</tbody></table>")
                if note:
                    out.append(f'<p class="note">{esc(note)}</p>')
            elif kind == "image":
                uri = self._data_uri(block[1], "image/png")
                out.append(f'<p><img alt="{esc(block[2])}" src="{uri}"></p>')
            elif kind == "audio":
                uri = self._data_uri(block[1], "audio/wav")
                out.append(
                    f'<div class="audio"><div>{esc(block[2])}</div>'
                    f'<audio controls preload="none" src="{uri}"></audio></div>'
                )
            elif kind == "code":
                out.append(f"<pre>{esc(block[1])}</pre>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"

    def write(self, stem: str = "report") -> tuple[Path, Path]:
        """Write ``<base_dir>/<stem>.md`` and ``<stem>.html``; returns both paths."""
        md, page = self.base_dir / f"{stem}.md", self.base_dir / f"{stem}.html"
        md.write_text(self.to_markdown(), encoding="utf-8")
        page.write_text(self.to_html(), encoding="utf-8")
        return md, page
