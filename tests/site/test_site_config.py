"""site.yml validation: good values load, and every mistake names its key and line."""
from pathlib import Path

import pytest

from site_builder.config import load_config, normalise_base_url
from site_builder.errors import BuildFailed


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "site.yml").write_text(text)
    return tmp_path


def errors_of(tmp_path: Path, text: str, base_url: str | None = None) -> list[str]:
    with pytest.raises(BuildFailed) as info:
        load_config(write(tmp_path, text), base_url)
    return [str(e) for e in info.value.errors]


GOOD = """title: T
author: A
description: D
base_url: https://user.github.io/repo
language: de
navigation:
  - title: Home
    url: /
assets:
  fingerprint: [css]
  bundles: [widget/]
"""


def test_valid_config_and_url_parts(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.base_url == "https://user.github.io/repo/"
    assert (config.url, config.base_path, config.baseurl) == ("https://user.github.io", "/repo/", "/repo")
    assert config.language == "de"
    assert config.navigation[0].url == "/"
    assert config.fingerprint_dirs == ("css",) and config.bundle_dirs == ("widget",)
    assert config.relative_url("/posts/x/") == "/repo/posts/x/"
    assert config.relative_url("posts/x/") == "/repo/posts/x/"
    assert config.relative_url("/repo/already/") == "/repo/already/"
    assert config.relative_url("https://other.example/x") == "https://other.example/x"
    assert config.absolute_url("/feed.xml") == "https://user.github.io/repo/feed.xml"


def test_root_site_has_empty_baseurl(tmp_path):
    config = load_config(write(tmp_path, GOOD.replace("https://user.github.io/repo", "https://example.org")))
    assert (config.base_path, config.baseurl) == ("/", "")
    assert config.relative_url("/a/") == "/a/"


def test_base_url_override_from_the_command_line(tmp_path):
    config = load_config(write(tmp_path, GOOD), "https://octo.github.io/other")
    assert config.base_path == "/other/"
    assert errors_of(tmp_path, GOOD, "not a url") == ["--base-url: 'not a url' is not an absolute http(s) URL"]


def test_unknown_key_is_named_with_its_line(tmp_path):
    assert errors_of(tmp_path, GOOD + "titel: oops\n") == [
        "site.yml:12: unknown key 'titel' (allowed: assets, author, base_url, description, language, navigation, title)"]


def test_wrong_type_is_named_with_its_line(tmp_path):
    text = GOOD.replace("language: de", "language: [de]")
    assert errors_of(tmp_path, text) == ["site.yml:5: 'language' must be a string, got a list"]


def test_nested_mistakes_name_the_full_key(tmp_path):
    text = GOOD.replace("    url: /", "    url: 3\n    icon: x").replace("bundles: [widget/]", "bundle: [w]")
    messages = errors_of(tmp_path, text)
    assert "site.yml:8: 'navigation[0].url' must be a string, got a number" in messages
    assert "site.yml:9: unknown key 'navigation[0].icon' (allowed: title, url)" in messages
    assert "site.yml:12: unknown key 'assets.bundle' (allowed: bundles, fingerprint)" in messages


def test_missing_required_keys_and_bad_base_url(tmp_path):
    messages = errors_of(tmp_path, "title: T\nbase_url: /repo/\n")
    assert "site.yml: missing required key 'author'" in messages
    assert any(m.startswith("site.yml:2: 'base_url' must be an absolute http(s) URL") for m in messages)


def test_invalid_yaml_reports_line(tmp_path):
    messages = errors_of(tmp_path, "title: T\nauthor: [unclosed\nbase_url: x\n")
    assert len(messages) == 1 and messages[0].startswith("site.yml:3: invalid YAML")


def test_missing_file(tmp_path):
    with pytest.raises(BuildFailed) as info:
        load_config(tmp_path)
    assert str(info.value.errors[0]).startswith("site.yml: not found")


@pytest.mark.parametrize("value, expected", [
    ("https://a.github.io/r", "https://a.github.io/r/"),
    ("https://a.github.io/r/", "https://a.github.io/r/"),
    ("http://localhost:8000", "http://localhost:8000/"),
    ("ftp://x/", None),
    ("/repo/", None),
])
def test_normalise_base_url(value, expected):
    assert normalise_base_url(value) == expected
