"""Template helpers: Jekyll's filter names and the layout list."""
import datetime as dt

import jinja2
import pytest

from site_builder.config import SiteConfig
from site_builder.templates import filters, layout_names, make_environment
from tests.site.helpers import make_site

CONFIG = SiteConfig(title="T", author="A", description="", language="en", base_url="https://u.github.io/repo/")


def test_jekyll_filters():
    f = filters(CONFIG)
    assert f["relative_url"]("/a/") == "/repo/a/" and f["absolute_url"]("a/") == "https://u.github.io/repo/a/"
    assert f["prepend"]("/x", "/repo") == "/repo/x" and f["append"]("a", "b") == "ab"
    when = dt.datetime(2024, 5, 1, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert f["date_to_xmlschema"](when) == "2024-05-01T08:30:00Z"
    assert f["date"](when, "%Y") == "2024" and f["date_to_string"](when) == "01 May 2024"
    assert f["xml_escape"]("<a&b>") == "&lt;a&amp;b&gt;" and f["cgi_escape"]("a b&c") == "a+b%26c"
    assert f["slugify"]("Hello World!") == "hello-world" and f["strip_html"]("<b>x</b>") == "x"
    assert f["number_of_words"]("<p>one two</p> three") == 3 and f["jsonify"]({"a": 1}) == '{"a": 1}'
    with pytest.raises(jinja2.TemplateRuntimeError, match="non-deterministic"):
        f["date"]("now", "%Y")


def test_environment_is_strict_and_escapes(tmp_path):
    site = make_site(tmp_path)
    env = make_environment(site, CONFIG, lambda name: f"/repo/{name}")
    assert env.from_string("{{ asset_url('a.css') }}").render() == "/repo/a.css"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()
    assert env.get_template("default.html").render(
        site={"language": "en", "title": "<T>", "author": "A", "navigation": [], "description": ""},
        page={"kind": "page", "title": "P", "url": "/p/", "summary": "", "image": None, "toc": [],
              "body_has_title": False, "date": None},
        content="<p>raw</p>").count("&lt;T&gt;") >= 1


def test_layouts_are_top_level_html_files_not_partials(tmp_path):
    names = layout_names(make_site(tmp_path))
    assert {"404", "base", "default", "home", "page", "post"} <= set(names) and "_toc" not in names
