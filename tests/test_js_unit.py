"""Runs the Node unit tests of the pure JS modules (tests/js/*.test.mjs) so `python -m pytest` covers them."""
import shutil
import subprocess
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent


def test_node_unit_tests():
    node = shutil.which("node")
    assert node, "node is required (Node 20)"
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "js").glob("*.test.mjs"))
    assert files, "no JS unit tests found"
    r = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
