"""TeX -> MathML: the constructs the article needs render, and broken TeX is an error, not silent text."""
import xml.etree.ElementTree as ET

import pytest

from site_builder.mathml import MathError, tex_to_mathml

NS = "{http://www.w3.org/1998/Math/MathML}"


def tree(tex: str, display: bool = False) -> ET.Element:
    return ET.fromstring(tex_to_mathml(tex, display))


def tags(root: ET.Element) -> list[str]:
    return [e.tag.removeprefix(NS) for e in root.iter()]


def test_fraction():
    root = tree(r"\frac{a}{b}")
    (frac,) = [e for e in root.iter() if e.tag == NS + "mfrac"]
    assert [c.findtext(f".//{NS}mi") for c in frac] == ["a", "b"]


def test_sum_over_forall_uses_under_script_in_display():
    root = tree(r"\sum_{\forall j} x_j", display=True)
    assert root.get("display") == "block"
    assert "munder" in tags(root) or "munderover" in tags(root)
    assert "\u2200" in "".join(root.itertext()) and "\u2211" in "".join(root.itertext())


def test_exp_is_an_upright_function_name():
    """MathML sets a multi-letter <mi> upright and a one-letter one in italics: \\exp must be one <mi>exp</mi>
    (not e, x, p in italics, which is what plain `exp` gives), and x stays an italic variable."""
    names = [(e.text, e.get("mathvariant")) for e in tree(r"\exp(x)").iter(NS + "mi")]
    assert names == [("exp", None), ("x", None)]
    assert [e.text for e in tree("exp(x)").iter(NS + "mi")] == ["e", "x", "p", "x"]  # what the check tells apart


def test_bar_over_sub_superscript():
    root = tree(r"\bar{F^i_c}")
    (over,) = [e for e in root.iter() if e.tag == NS + "mover"]
    assert "msubsup" in tags(over) and over[1].text == "\u00af"
    assert over.get("accent") == "true"  # set tight over its base, like TeX


def test_transpose_and_times():
    assert "msup" in tags(tree("A^T"))
    assert "\u00d7" in "".join(tree(r"a \times b").itertext())


def test_subscripted_superscript():
    root = tree(r"F_c^{r_{41}}")
    (ss,) = [e for e in root.iter() if e.tag == NS + "msubsup"]
    assert ss[0].text == "F" and ss[1].text == "c"
    assert "msub" in tags(ss[2]) and "41" in "".join(ss[2].itertext())


@pytest.mark.parametrize("tex, fragment", [
    (r"\foo{x}", r"unknown command \foo"),
    (r"{a", "'{' is never closed"),
    (r"a}", "'}' without a matching '{'"),
    (r"\frac{a}", "incomplete expression"),
    (r"x^", "missing super script or subscript"),
    (r"\left( x", "extra left or missing right"),
    ("  ", "empty math"),
])
def test_broken_tex_is_an_error(tex, fragment):
    with pytest.raises(MathError) as info:
        tex_to_mathml(tex)
    assert fragment in str(info.value)
