"""Markdown rendering: ids, contents, tables, footnotes, code, math rules, figures, images, links."""
import re

from site_builder.links import html_ids
from site_builder.markdown_renderer import MarkdownRenderer, RenderHooks, slugify

RENDERER = MarkdownRenderer()


def render(text: str, first_line: int = 1, sizes=None):
    seen = []

    def size(src, line, errors):
        seen.append((src, line))
        return (sizes or {}).get(src)
    hooks = RenderHooks(rewrite_url=lambda href, line, errors: href.replace("/old/", "/repo/"), image_size=size)
    return RENDERER.render(text, first_line, hooks), seen


def test_heading_ids_are_stable_unique_and_explicit_ids_win():
    text = "# Title\n\n## Same name\n\n## Same name\n\n### Über *emphasis* `code`\n\n## Custom {#my-id}\n\n## Main\n"
    result, _ = render(text)
    assert re.findall(r'<h\d id="([^"]+)"', result.html) == ["title", "same-name", "same-name-1",
                                                                 "über-emphasis-code", "my-id", "main-1"]
    assert render(text)[0].html == result.html  # same input, same ids
    assert result.toc == [(2, "same-name", "Same name"), (2, "same-name-1", "Same name"),
                          (3, "über-emphasis-code", "Über emphasis code"), (2, "my-id", "Custom"), (2, "main-1", "Main")]
    assert result.first_heading == "Title"
    assert '<a class="heading-anchor" href="#my-id"' in result.html and "{#my-id}" not in result.html


def test_slugify():
    assert slugify("  Hello, World! ") == "hello-world"
    assert slugify("C++ & Python 3.11") == "c-python-311"
    assert slugify("???") == "section"


def test_tables_scroll_and_keep_alignment():
    result, _ = render("| a | b |\n|:--|--:|\n| 1 | 2 |\n")
    assert result.html.startswith('<div class="table-scroll" tabindex="0">\n<table>')
    assert '<td style="text-align:right">2</td>' in result.html


def test_footnotes_and_their_ids():
    result, _ = render("Text.[^a]\n\n[^a]: The note.\n")
    assert 'href="#fn1"' in result.html and '<section class="footnotes"' in result.html
    assert {"fn1", "fnref1"} <= html_ids(result.html)  # what the anchor check sees


def test_code_is_highlighted_and_escaped():
    result, _ = render("```python\nif a < b: print('x')\n```\n\n```nosuchlang\n<b>\n```\n")
    assert '<pre class="highlight" tabindex="0"><code class="language-python"><span class="k">if</span>' in result.html
    assert "&lt;b&gt;" in result.html and "<b>" not in result.html


def test_kramdown_math_rule():
    inline = "A sentence with $$x^2$$ inside.\n"
    display = "Before.\n\n$$\nx^2\n$$\n\nAfter.\n"
    html_inline = render(inline)[0].html
    html_display = render(display)[0].html
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in html_inline
    assert html_inline.startswith("<p>A sentence with <math")
    assert '<div class="math-display"><math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in html_display


def test_other_math_delimiters():
    html = render("Inline $a_1$ and \\(b\\).\n\n\\[\nc\n\\]\n")[0].html
    assert html.count('display="inline"') == 2 and html.count('display="block"') == 1
    assert "$" not in html and "\\(" not in html


def test_math_is_not_mangled_by_markdown():
    html = render("$a_1 * b_2 * c$ and $x<y$\n")[0].html
    assert "<em>" not in html and "&lt;y" not in html.split("<math")[0]
    assert html.count("<math") == 2


def test_currency_is_not_math():
    html = render("It costs $5 and $10 today.\n")[0].html
    assert "<math" not in html and "$5" in html


def test_unterminated_and_broken_math_report_lines():
    result, _ = render("para\n\nline $$x\n\nand \\(y\n\n$\\frac{a}$\n", first_line=20)
    assert (22, "unterminated math: '$$' has no closing '$$'") in result.errors
    assert (24, "unterminated math: '\\(' has no closing '\\)'") in result.errors
    assert any(line == 26 and "math does not render: incomplete expression" in msg for line, msg in result.errors)


def test_lone_image_becomes_a_figure_with_size_and_lazy_loading():
    result, seen = render('Intro.\n\n![Alt text](/repo/a.png "The caption")\n', sizes={"/repo/a.png": (640, 360)})
    assert ('<figure>\n<img src="/repo/a.png" alt="Alt text" width="640" height="360" loading="lazy" '
            'decoding="async"><figcaption>The caption</figcaption>\n</figure>') in result.html
    assert seen == [("/repo/a.png", 3)]


def test_image_inside_text_stays_inline():
    html = render("See ![icon](/repo/i.png) here.\n", sizes={"/repo/i.png": (16, 16)})[0].html
    assert "<figure>" not in html and 'width="16" height="16" loading="lazy"' in html


def test_links_are_rewritten_and_recorded_with_lines():
    result, _ = render("One\ntwo [a](/old/x/)\n\n<a href=\"/repo/y/\" id=\"raw\">raw</a>\n", first_line=5)
    assert '<a href="/repo/x/">a</a>' in result.html
    assert [(l.url, l.line, l.kind) for l in result.links] == [("/repo/x/", 6, "link"), ("/repo/y/", 8, "link")]
    assert "raw" in html_ids(result.html)
