"""Jekyll's Liquid in Markdown (python-liquid): supported syntax renders, math and code are never touched,
and mistakes name their line."""
import pytest

from site_builder import liquid
from site_builder.build import build
from site_builder.config import SiteConfig
from site_builder.errors import BuildFailed
from site_builder.liquid import LiquidError, protect
from site_builder.templates import filters
from tests.site.helpers import make_site

CONFIG = SiteConfig(title="T", author="A", description="", language="en", base_url="https://u.github.io/repo/")
ENV = liquid.make_environment(filters(CONFIG))
VARIABLES = {"site": {"baseurl": "/repo", "title": "T", "list": [1, 2]}, "page": {"title": "P"}}


def render(text: str, first_line: int = 1):
    calls = []

    def include(name, params, variables):
        calls.append((name, params))
        return f"<div data-include='{name}' data-base='{variables['site']['baseurl']}'></div>"

    def url(kind):
        def find(name):
            if name == "missing":
                raise LookupError(f"{kind}: no post named '{name}'")
            return f"/repo/{kind}/{name}/"
        return find
    hooks = liquid.Hooks(include, url("post_url"), url("link"))
    return liquid.render(text, first_line, ENV, VARIABLES, hooks), calls


def test_jekyll_outputs_and_filters():
    result, _ = render('![x]({{ "/img/a.png" | prepend: site.baseurl }}) [y]({{ "/p/" | relative_url }}) {{ site.baseurl }}')
    assert result.text == "![x](/repo/img/a.png) [y](/repo/p/) /repo"
    result, _ = render('{{ "a b&c" | cgi_escape }} {{ "Hello World!" | slugify }} {{ site.list | jsonify }} '
                       '{{ page.missing | default: "d" }} {{ "x" | upcase }}')
    assert result.text == "a+b%26c hello-world [1, 2] d X"


def test_include_with_parameters_becomes_a_placeholder():
    result, calls = render('Before\n\n{% include stylizer.html %}\n\n{% include note.html kind="tip" n=site.title %}\n')
    assert calls == [("stylizer.html", {}), ("note.html", {"kind": "tip", "n": "T"})]
    assert result.text == "Before\n\n\x02I0\x03\n\n\x02I1\x03\n"
    assert "data-base='/repo'" in result.includes[0]


def test_post_url_and_link_tags():
    result, _ = render("[a]({% post_url 2024-05-01-first %}) [b]({% link content/about.md %})")
    assert result.text == "[a](/repo/post_url/2024-05-01-first/) [b](/repo/link/content/about.md/)"
    with pytest.raises(LiquidError) as info:
        render("ok\n[a]({% post_url missing %})", first_line=4)
    assert info.value.line == 5 and "no post named 'missing'" in str(info.value)


def test_math_and_code_are_never_templated():
    text = ("Inline $\\{{a}}$ and $$\\frac{{b}}{c}$$ and \\(x_{{1}}\\) and `{{ code }}`\n\n"
            "```liquid\n{{ not.touched }} {% include x.html %}\n```\n\n"
            "\\[ {%raw%}{{y}}{%endraw%} \\]\n\n{{ site.baseurl }}\n")
    result, calls = render(text)
    assert calls == []
    assert result.text == text.replace("{%raw%}", "").replace("{%endraw%}", "").replace("{{ site.baseurl }}", "/repo")


def test_raw_and_comment_blocks():
    result, _ = render("{% raw %}{{ kept }}{% endraw %} {% comment %}gone {{ x }}{% endcomment %}end")
    assert result.text == "{{ kept }} end"


def test_highlight_tag_becomes_a_fenced_block_with_the_same_lines():
    text = "a\n{% highlight python linenos %}\nx = {{ 1 }}\n{% endhighlight %}\nb\n"
    out = liquid.convert_highlight_tags(text)
    assert out == "a\n```python\nx = {{ 1 }}\n```\nb\n"
    assert render(text)[0].text == out


def test_control_flow():
    src = ("{% assign n = 'x' | prepend: 'a' %}{% if page.title == 'P' %}yes{% elsif false %}no{% endif %}"
           "{% unless nil %}U{% endunless %}{% for i in site.list %}{{ i }}{% endfor %}{{ n }}"
           "{% if page.missing %}never{% endif %}{% case page.title %}{% when 'P' %}C{% endcase %}"
           "{% for i in site.list limit: 1 %}L{{ i }}{% endfor %}{% capture c %}cap{% endcapture %}{{ c }}")
    assert render(src)[0].text == "yesU12axCL1cap"


@pytest.mark.parametrize("text, first_line, line, message", [
    ("line one\nline two {% seo %}\n", 10, 11, "unexpected tag 'seo'"),
    ("ok\n\n{{ site.nope }}\n", 5, 7, "site.nope is undefined"),
    ("a\n{{ site.title | nofilter }}\n", 3, 4, "unknown filter 'nofilter'"),
    ('a\n\n{{ "now" | date: "%Y" }}\n', 3, 5, "non-deterministic"),
    ("a\n{% if x %}\nno end\n", 3, 6, "Liquid syntax error: expected tag endif"),
])
def test_mistakes_name_their_line(text, first_line, line, message):
    with pytest.raises(LiquidError) as info:
        render(text, first_line)
    assert info.value.line == line and message in str(info.value)


def test_placeholders_keep_line_numbers():
    text = "```\n1\n2\n```\n{{ bad"
    protected = protect(text)
    assert protected.text.count("\n") == text.count("\n")
    assert protected.restore(protected.text) == text


def test_text_without_liquid_is_returned_as_is():
    text = "Costs $5 and $10, braces {not liquid}."
    assert render(text)[0].text == text


def test_an_unclosed_backtick_or_dollar_does_not_hide_later_paragraphs():
    result, calls = render("A `lone tick and $$ alone\n\n{{ site.baseurl }} {% include x.html %}\n")
    assert result.text.startswith("A `lone tick and $$ alone\n\n/repo \x02I0\x03")
    assert calls == [("x.html", {})]


def test_post_url_and_link_in_a_built_site(tmp_path):
    site = make_site(tmp_path, {"content/links.md": "---\ntitle: Links\n---\n\n"
                                                    "[post]({% post_url 2024-05-01-first %}) "
                                                    "[about]({% link content/about.md %})\n"})
    build(site)
    html = (site / "_site/links/index.html").read_text()
    assert '<a href="/repo/posts/first/">post</a>' in html and '<a href="/repo/about/">about</a>' in html
    (site / "content/links.md").write_text("---\ntitle: Links\n---\n\n[x]({% link content/nope.md %})\n")
    with pytest.raises(BuildFailed, match=r"content/links.md:5: link: no page 'content/nope.md'"):
        build(site)


def test_content_cannot_hang_or_flood_the_build():
    for source, message in (("a\n{% for i in (1..1000) %}{% for j in (1..2000) %}{% endfor %}{% endfor %}",
                             "loop iteration limit"),
                            ("a\n{% for i in (1..900000) %}" + "x" * 40 + "{% endfor %}", "output stream limit")):
        with pytest.raises(LiquidError, match=message) as info:
            render(source)
        assert info.value.line == 2
