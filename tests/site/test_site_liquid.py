"""The Jekyll/Liquid translation: supported syntax renders, math and code are never touched."""
import jinja2
import pytest

from site_builder import liquid
from site_builder.liquid import LiquidError, protect, translate


def env() -> jinja2.Environment:
    e = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    e.filters.update({"prepend": lambda v, p: f"{p}{v}", "relative_url": lambda v: "/repo" + v})
    return e


CONTEXT = {"site": {"baseurl": "/repo", "title": "T"}, "page": {"title": "P"}}


def render(text: str, includes=None):
    calls = []

    def include(name, params, ctx):
        calls.append((name, params))
        return f"<div data-include='{name}' data-base='{ctx['site']['baseurl']}'></div>"
    result = liquid.render(text, 1, env(), CONTEXT, include)
    return result, calls


def test_jekyll_outputs_and_filters():
    result, _ = render('![x]({{ "/img/a.png" | prepend: site.baseurl }}) [y]({{ "/p/" | relative_url }}) {{ site.baseurl }}')
    assert result.text == "![x](/repo/img/a.png) [y](/repo/p/) /repo"


def test_include_with_parameters_becomes_a_placeholder():
    result, calls = render('Before\n\n{% include stylizer.html %}\n\n{% include note.html kind="tip" n=site.title %}\n')
    assert calls == [("stylizer.html", {}), ("note.html", {"kind": "tip", "n": "T"})]
    assert result.text == "Before\n\n\x02I0\x03\n\n\x02I1\x03\n"
    assert "data-base='/repo'" in result.includes[0]


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


def test_control_flow_translates():
    src = ("{% assign n = 'x' | prepend: 'a' %}{% if page.title == 'P' %}yes{% elsif false %}no{% endif %}"
           "{% unless nil %}U{% endunless %}{% for i in site.list %}{{ i }}{% endfor %}{{ n }}")
    ctx = {**CONTEXT, "site": {**CONTEXT["site"], "list": [1, 2]}}
    result = liquid.render(src, 1, env(), ctx, lambda *a: "")
    assert result.text == "yesU12ax"


def test_unsupported_tag_names_the_line():
    with pytest.raises(LiquidError) as info:
        translate("line one\nline two {% case x %}\n", first_line=10)
    assert info.value.line == 11 and "unsupported Liquid tag '{% case %}'" in str(info.value)


def test_undefined_variable_names_the_line():
    with pytest.raises(LiquidError) as info:
        liquid.render("ok\n\n{{ site.nope }}\n", 5, env(), CONTEXT, lambda *a: "")
    assert info.value.line == 7 and "nope" in str(info.value)


def test_syntax_error_names_the_line():
    with pytest.raises(LiquidError) as info:
        liquid.render("a\n{% if x %}\nno end\n", 3, env(), {"x": 1}, lambda *a: "")
    assert info.value.line >= 4 and "syntax" in str(info.value)


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
