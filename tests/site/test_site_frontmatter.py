"""Front matter: fields parsed and typed, Jekyll spellings understood, mistakes reported at their line."""
import datetime as dt

import pytest

from site_builder import frontmatter
from site_builder.frontmatter import FrontMatterError, date_from_filename, parse, suspicious_keys


def test_fields_are_parsed():
    text = """---
title: Hello
date: 2024-05-01 10:30:00 +0200
summary: Short.
layout: default
draft: true
tags: [a, b]
image: /img/x.png
custom: 42
---
Body line
"""
    parsed = parse(text, "content/x.md")
    m = parsed.meta
    assert (m.title, m.summary, m.layout, m.draft, m.tags, m.image) == ("Hello", "Short.", "default", True, ("a", "b"), "/img/x.png")
    assert m.date == dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.timezone.utc)  # the instant ...
    assert m.date.utcoffset() == dt.timedelta(hours=2) and m.date.hour == 10  # ... in the author's own zone
    assert m.extra == {"custom": 42}
    assert parsed.body == "Body line\n"
    assert parsed.body_line == 11


def test_no_front_matter_means_body_from_line_one():
    parsed = parse("# Just text\n", "content/x.md")
    assert parsed.body == "# Just text\n" and parsed.body_line == 1 and parsed.meta.title is None


def test_jekyll_spellings():
    m = parse("---\npublished: false\nexcerpt: From Jekyll\ntags: one two\n---\n", "p.md").meta
    assert m.draft is True and m.summary == "From Jekyll" and m.tags == ("one", "two")
    m = parse("---\nimage:\n  path: /a.png\n---\n", "p.md").meta
    assert m.image == "/a.png"


@pytest.mark.parametrize("yaml_text, message", [
    ("title: [a list]", "content/x.md:2: 'title' must be a string, got a list"),
    ("title: ok\ndraft: maybe", "content/x.md:3: 'draft' must be true or false, got a string"),
    ("title: ok\n\ndate: tomorrow", "content/x.md:4: 'date' must be a date like 2024-05-01 or '2024-05-01 10:30:00 +0200', got 'tomorrow'"),
    ("tags: {a: 1}", "content/x.md:2: 'tags' must be a list of strings, got a mapping"),
    ("permalink: about", "content/x.md:2: 'permalink' must start with '/' and end with '/' or '.html', got 'about'"),
])
def test_bad_fields_name_key_and_line(yaml_text, message):
    with pytest.raises(FrontMatterError) as info:
        parse(f"---\n{yaml_text}\n---\nbody\n", "content/x.md")
    assert [str(e) for e in info.value.errors] == [message]


def test_invalid_yaml_reports_file_line():
    with pytest.raises(FrontMatterError) as info:
        parse("---\ntitle: fine\nsummary: [unclosed\n---\n", "content/x.md")
    (error,) = info.value.errors
    assert error.path == "content/x.md" and error.line in (3, 4) and "invalid YAML" in error.message


def test_unterminated_front_matter():
    with pytest.raises(FrontMatterError) as info:
        parse("---\ntitle: x\n\nNo closing line\n", "content/x.md")
    assert str(info.value.errors[0]) == "content/x.md:1: front matter starts with '---' but has no closing '---' line"


def test_date_from_jekyll_file_name():
    assert date_from_filename("2024-02-29-leap-day") == (dt.datetime(2024, 2, 29, tzinfo=dt.timezone.utc), "leap-day")
    assert date_from_filename("2023-02-30-not-a-date") == (None, "2023-02-30-not-a-date")
    assert date_from_filename("plain") == (None, "plain")


def test_typo_warnings_suggest_the_known_key():
    m = parse("---\ntitel: x\nsumary: y\nfavourite: z\n---\n", "p.md").meta
    assert suspicious_keys(m) == [("titel", "title"), ("sumary", "summary")]


def test_parse_date_forms():
    assert frontmatter.parse_date(dt.date(2024, 1, 2)) == dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
    assert frontmatter.parse_date("2024-01-02T03:04:05Z").hour == 3
    assert frontmatter.parse_date(12) is None
