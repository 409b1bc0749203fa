"""Markdown as contributors write it (GitHub / Hugging Face Hub flavour), still through the allowlist."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest

from ftbench.site.context import render_card
from ftbench.site.sanitize import ID_PREFIX, render_markdown
from ftbench.untrusted import MAX_DEPTH, card_problem

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
# the sentence-transformers model card as shipped with the weights (Apache-2.0, like the model)
MINILM_CARD = FIXTURES / "all-MiniLM-L6-v2.md"


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                found += [child] if child.tag == tag else []
                found += child.find_all(tag)
        return found

    def kids(self, tag: str) -> list[Node]:
        return [c for c in self.children if isinstance(c, Node) and c.tag == tag]


class _TreeBuilder(HTMLParser):
    VOID: ClassVar = {"br", "hr", "img", "input"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack = [Node("root")]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def first_line(node: Node) -> str:
    lines = node.text().strip().splitlines()
    return lines[0] if lines else ""


def tree(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(str(html))
    builder.close()
    assert len(builder.stack) == 1, "unclosed tags"
    return builder.stack[0]


def leaked_syntax(html: str) -> list[str]:
    """Lines of prose (outside code) that still read as markdown block syntax: a list marker
    or a fence that the renderer did not take for one."""
    prose = re.sub(r"<pre>.*?</pre>", "", str(html), flags=re.S)
    text = re.sub(r"<[^>]+>", "", prose)
    return [line for line in text.splitlines() if re.match(r"\s*(```|~~~|[-*+] |\d{1,9}[.)] )", line)]


# ---------------------------------------------------------------- lists as GitHub reads them


@pytest.mark.parametrize("indent", [2, 3, 4])
def test_a_list_item_continues_at_the_indent_of_its_text(indent):
    pad = " " * indent
    marker = "-".ljust(indent)  # "- ", "-  ", "-   ": text starts at the indent
    text = f"{marker}first\n{pad}more of first\n\n{pad}second paragraph of first\n{marker}second\n"
    ul = tree(render_markdown(text)).kids("ul")
    assert len(ul) == 1
    items = ul[0].kids("li")
    assert len(items) == 2
    assert [p.text() for p in items[0].kids("p")] == ["first\nmore of first", "second paragraph of first"]
    assert items[1].text().strip() == "second"


@pytest.mark.parametrize("text", ["- a\n  - b\n    - c\n- d\n", "1. a\n   1. b\n      1. c\n2. d\n"])
def test_lists_nest_at_two_or_three_spaces(text):
    top = tree(render_markdown(text)).children[0]
    assert isinstance(top, Node)
    assert [first_line(li) for li in top.kids("li")] == ["a", "d"]
    assert [first_line(li) for li in top.kids("li")[0].find_all("li")] == ["b", "c"]


def test_a_fence_inside_a_numbered_list_stays_code_and_the_numbering_goes_on():
    text = "1. one\n2. two:\n\n   ```sh\n   cmd a\n   cmd b\n   ```\n\n   after\n3. three\n"
    ol = tree(render_markdown(text)).kids("ol")
    assert len(ol) == 1 and "start" not in ol[0].attrs
    items = ol[0].kids("li")
    assert len(items) == 3
    assert [pre.text() for pre in items[1].kids("pre")] == ["cmd a\ncmd b\n"]
    assert items[2].text().strip() == "three"


def test_the_submit_page_keeps_its_six_steps_and_the_commands_of_step_five():
    html = render_markdown((ROOT / "pages" / "submit.md").read_text(encoding="utf-8"))
    ol = tree(html).kids("ol")
    assert len(ol) == 1
    steps = ol[0].kids("li")
    assert len(steps) == 6
    assert steps[4].find_all("pre")[0].text().splitlines() == [
        "ftbench validate submissions/<id>",
        "ftbench evaluate submissions/<id> --limit 200",
    ]
    assert "Every problem is reported" in steps[4].text()
    assert steps[5].text().strip().startswith("Open a pull request.")
    assert leaked_syntax(html) == []


@pytest.mark.parametrize(
    "path",
    sorted(p.relative_to(ROOT).as_posix() for p in [*ROOT.glob("pages/*.md"), *ROOT.glob("submissions/*/README.md")]),
)
def test_no_markdown_syntax_is_left_in_the_boards_own_pages_and_cards(path):
    assert leaked_syntax(render_markdown((ROOT / path).read_text(encoding="utf-8"))) == []


def test_a_card_nested_as_deep_as_the_bounds_allow_loses_nothing():
    text = "".join("  " * i + f"- item {i}\n" for i in range(MAX_DEPTH))
    assert card_problem(text) is None
    html = render_markdown(text)
    assert [first_line(li) for li in tree(html).find_all("li")] == [f"item {i}" for i in range(MAX_DEPTH)]


# ---------------------------------------------------------------- GFM additions


def test_tables_keep_their_alignment():
    html = render_markdown("| left | middle | right |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n")
    table = tree(html).kids("table")[0]
    assert [th.attrs.get("align") for th in table.find_all("th")] == ["left", "center", "right"]
    assert [td.attrs.get("align") for td in table.find_all("td")] == ["left", "center", "right"]
    assert "style" not in html


def test_task_items_are_marked_as_text_not_inputs():
    html = render_markdown("- [ ] to do\n- [x] done\n- [X] also done\n- not a [ ] task\n- [y] nor this\n")
    items = [li.text() for li in tree(html).find_all("li")]
    assert items == ["☐ to do", "☑ done", "☑ also done", "not a [ ] task", "[y] nor this"]
    assert "<input" not in html


def test_strikethrough():
    assert str(render_markdown("~~gone~~ kept")) == "<p><s>gone</s> kept</p>"


# ---------------------------------------------------------------- headings under the page's own


def test_card_headings_are_demoted_below_the_page_heading_keeping_their_steps():
    html = render_markdown("# Card\n## Use\n### Detail\n#### Deeper\n##### Deepest\n", top_heading=3)
    assert [n.tag for n in tree(html).children if isinstance(n, Node)] == ["h3", "h4", "h5", "h6", "h6"]


def test_a_card_that_starts_at_h2_still_starts_right_under_the_page():
    html = render_markdown("## Model\n### Training\n", top_heading=3)
    assert [n.tag for n in tree(html).children if isinstance(n, Node)] == ["h3", "h4"]


def test_a_card_cannot_raise_a_heading_above_its_place_with_raw_html():
    html = render_markdown('<h1>Big</h1>\n\n<h2 id="card-h">Also big</h2>\n\n## fine\n', top_heading=3)
    assert not re.search(r"<h[12][ >]", str(html))
    assert "Big" in html and "Also big" in html


def test_pages_keep_their_own_levels():
    html = render_markdown("# Page\n\n## Part\n")
    assert [n.tag for n in tree(html).children if isinstance(n, Node)] == ["h1", "h2"]


def test_heading_ids_are_namespaced_unique_and_followed_by_fragment_links():
    html = render_markdown(
        "# Usage (Sentence-Transformers)\n\n## Usage (Sentence-Transformers)\n\n[see](#usage-sentence-transformers)\n",
        top_heading=3,
    )
    root = tree(html)
    assert [h.attrs["id"] for h in root.find_all("h3") + root.find_all("h4")] == [
        "md-usage-sentence-transformers",
        "md-usage-sentence-transformers-1",
    ]
    assert root.find_all("a")[0].attrs["href"] == "#md-usage-sentence-transformers"


def test_an_id_from_raw_html_cannot_take_one_of_the_pages_ids():
    html = render_markdown('<h3 id="card-h">x</h3>\n\n<h3 id="summary-h">y</h3>\n\n<h3 id="md-ok">z</h3>\n')
    ids = re.findall(r'id="([^"]*)"', str(html))
    assert ids == ["md-ok"]
    assert all(i.startswith(ID_PREFIX) for i in re.findall(r'id="([^"]*)"', str(render_markdown("# a\n## b"))))


def test_a_model_card_gives_its_page_no_second_h1():
    html = render_card("---\nlicense: mit\n---\n# My model\n\n## Training\n")
    assert [n.tag for n in tree(html).children if isinstance(n, Node)] == ["h3", "h4"]


# ---------------------------------------------------------------- a real model card


def test_the_minilm_card_keeps_its_code_blocks_and_its_table():
    html = render_card(MINILM_CARD.read_text(encoding="utf-8"))
    root = tree(html)
    assert "pipeline_tag" not in html  # the YAML front matter is not shown
    blocks = [pre.text() for pre in root.find_all("pre")]
    assert len(blocks) == 3
    assert blocks[0] == "pip install -U sentence-transformers\n"
    assert blocks[2].startswith("from transformers import AutoTokenizer, AutoModel\n")
    assert "def mean_pooling(model_output, attention_mask):\n    token_embeddings" in blocks[2]
    tables = root.find_all("table")
    assert len(tables) == 1
    header = [th.text() for th in tables[0].find_all("th")]
    assert header == ["Dataset", "Paper", "Number of training tuples"]
    assert [th.attrs.get("align") for th in tables[0].find_all("th")] == [None, "center", "center"]
    rows = tables[0].find_all("tbody")[0].kids("tr")
    assert len(rows) == 33
    assert [td.text() for td in rows[-1].kids("td")] == ["Total", "", "1,170,060,424"]
    assert rows[0].find_all("a")[0].attrs["href"].startswith("https://github.com/PolyAI-LDN/")
    assert leaked_syntax(html) == []


def test_the_minilm_card_headings_fit_under_the_model_card_section():
    text = MINILM_CARD.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    root = tree(render_markdown(text, top_heading=3))
    headings = [n.tag for n in root.children if isinstance(n, Node) and n.tag.startswith("h")]
    assert headings[0] == "h3" and "h1" not in headings and "h2" not in headings
    assert headings.count("h6") == 2  # its two #### headings: "Hyper parameters", "Training data"


# ---------------------------------------------------------------- hostile text still cleaned


HOSTILE = {
    # name: (markdown, text that must not survive at all, or "" where only the markup must go)
    "script": ("<script>alert(1)</script>ok", "alert"),
    "javascript link": ("[x](javascript:alert(1))", ""),
    "javascript reference link": ("[x][r]\n\n[r]: javascript:alert(1)", ""),
    "javascript autolink": ("<javascript:alert(1)>", ""),
    "entity-encoded scheme": ("[x](jav&#x61;script:alert(1))", ""),
    "data link": ("[x](data:text/html;base64,PHNjcmlwdD4=)", ""),
    "event handler": ('<a href="#x" onclick="alert(1)">x</a>', "alert"),
    "image": ("![x](https://evil.example/x.png)", "evil"),
    "raw image": ("<img src=x onerror=alert(1)>", "alert"),
    "iframe": ('<iframe src="https://evil.example"></iframe>', "evil"),
    "style": ("<style>body{display:none}</style><p style='color:red'>x</p>", "display"),
    "form": ('<form action="https://evil.example"><input name=q></form>', "evil"),
    "svg": ("<svg onload=alert(1)><circle r=5></circle></svg>", "alert"),
    "in a table cell": ("| a |\n|---|\n| <img src=x onerror=alert(1)> |", "alert"),
    "in a task item": ("- [ ] <script>alert(1)</script>", "alert"),
    "in a heading": ("# <a href='javascript:alert(1)'>x</a>", "alert"),
    "html in a fence": ("```\n<script>alert(1)</script>\n```", ""),
    "comment": ("<!-- <script>alert(1)</script> -->", "alert"),
}
SAFE_HREF = re.compile(r"(https?:|mailto:|#)", re.I)


def markup_problems(node: Node) -> list[str]:
    """Tags, attributes and links in ``node`` that the allowlist should have removed."""
    problems = []
    for child in node.children:
        if not isinstance(child, Node):
            continue
        if child.tag in ("script", "style", "img", "iframe", "form", "input", "svg", "object", "embed"):
            problems.append(f"<{child.tag}>")
        for name, value in child.attrs.items():
            if name.startswith("on") or name in ("style", "src", "srcset", "action"):
                problems.append(f"{child.tag}[{name}]")
            if name == "href" and not SAFE_HREF.match(value or ""):
                problems.append(f"href={value}")
        problems += markup_problems(child)
    return problems


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_markdown_is_cleaned(name):
    text, gone = HOSTILE[name]
    for top in (1, 3):
        html = str(render_markdown(text, top_heading=top))
        assert markup_problems(tree(html)) == []
        assert not gone or gone not in html


def test_the_hostile_checks_can_fail():
    found = markup_problems(tree('<p><a href="javascript:x" onclick="y">a</a><img src="z"></p>'))
    assert sorted(found) == ["<img>", "a[onclick]", "href=javascript:x", "img[src]"]


def test_the_submit_pages_example_submission_is_valid_as_written(tmp_path):
    """The page's ``submission.yaml`` passes ``ftbench validate`` with an adapter beside it."""
    import shutil

    import yaml

    from ftbench.submissions import load_submission
    from ftbench.tasks import load_tasks

    page = (ROOT / "pages" / "submit.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", page, re.S)
    assert block is not None
    spec = yaml.safe_load(block.group(1))
    folder = tmp_path / spec["id"]
    folder.mkdir()
    (folder / "submission.yaml").write_text(block.group(1), encoding="utf-8")
    (folder / "README.md").write_text("# My run\n\nLoRA r=8 on SST-2.\n", encoding="utf-8")
    shutil.copytree(ROOT / "submissions" / "minilm-lora-r8" / "adapters" / "sst2", folder / "adapter")
    loaded = load_submission(folder, load_tasks(ROOT / "tasks"))  # raises on any error
    assert loaded.spec.id == "my-minilm-lora" and list(loaded.spec.tasks) == ["sst2"]
    html = render_markdown(page)
    assert "<pre><code>id: my-minilm-lora\n" in html and leaked_syntax(html) == []
