"""site_builder: a small static-site generator for long technical articles.

Pipeline (one direction, like MkDocs): site.yml + content/*.md -> pages -> HTML via templates/ -> the
output directory, with static/ copied (and fingerprinted) beside it. See README.md, "Site builder".
"""

__version__ = "0.1.0"
