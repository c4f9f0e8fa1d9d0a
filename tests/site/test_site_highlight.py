"""Build-time code highlighting and its light/dark stylesheet."""
from site_builder.highlight import highlight_code, known_language, stylesheet


def test_known_and_unknown_languages():
    assert known_language("python") and known_language("JS") and not known_language("klingon")
    html = highlight_code("const a = 1;\n", "js")
    assert html.startswith('<pre class="highlight" tabindex="0"><code class="language-js">')
    assert '<span class="kd">const</span>' in html
    plain = highlight_code("<x> & y\n", "klingon")
    assert "&lt;x&gt; &amp; y" in plain and "<span" not in plain
    assert highlight_code("x\n", "").startswith('<pre class="highlight" tabindex="0"><code>')


def test_info_string_extras_are_ignored():
    assert 'class="language-python"' in highlight_code("x = 1\n", "python {linenos=true}")


def test_stylesheet_has_light_rules_and_dark_rules_for_screens():
    css = stylesheet()
    light, _, dark = css.partition("@media screen and (prefers-color-scheme: dark)")
    assert ".highlight .k {" in light and ".highlight .k {" in dark
    assert light.count("{") > 20 and dark.count("{") > 20
    assert "pre {" not in css  # only rules scoped to .highlight
