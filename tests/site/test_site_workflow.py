"""The GitHub Pages workflow: valid (actionlint), official actions, and the README's build command."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.site.helpers import ROOT

WORKFLOW = ROOT / ".github/workflows/deploy.yml"


def actionlint() -> str:
    local = Path(sys.executable).parent / "actionlint"
    found = str(local) if local.exists() else shutil.which("actionlint")
    assert found, "actionlint is not installed (pip install the test extras)"
    return found


def test_actionlint_passes():
    result = subprocess.run([actionlint(), str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github/workflows/broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("${{ steps.pages.outputs.base_url }}", "${{ steps.pages.outputs.nope }"))
    result = subprocess.run([actionlint(), str(broken)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode != 0


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_official_pages_actions_permissions_and_concurrency():
    wf = workflow()
    assert wf[True]["push"]["branches"] == ["main"]  # YAML reads the `on` key as True
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    assert wf["concurrency"]["group"] == "pages"
    uses = [s.get("uses", "") for job in wf["jobs"].values() for s in job["steps"]]
    for action in ("actions/configure-pages@", "actions/upload-pages-artifact@", "actions/deploy-pages@"):
        assert any(u.startswith(action) for u in uses), action
    build = next(s for s in wf["jobs"]["build"]["steps"] if s.get("name") == "Build the site")
    pages_step = next(s for s in wf["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/configure-pages@"))
    assert build["env"]["BASE_URL"] == "${{ steps.%s.outputs.base_url }}" % pages_step["id"]
    upload = next(s for s in wf["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_site"
    assert wf["jobs"]["deploy"]["environment"]["name"] == "github-pages"


def test_the_site_is_checked_before_it_is_uploaded():
    steps = workflow()["jobs"]["build"]["steps"]
    names = [s.get("name") or s.get("uses", "") for s in steps]
    check = next(s for s in steps if s.get("name") == "Check the site")
    assert check["run"].strip() == 'python -m site_builder check --base-url "$BASE_URL"'
    assert check["env"]["BASE_URL"] == "${{ steps.pages.outputs.base_url }}"
    upload = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert names.index("Check the site") < upload
    readme_lines = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()]
    assert check["run"].strip() in readme_lines, "README.md must show the deploy check command verbatim"


def test_files_the_workflow_names_exist():
    named = re.findall(r"tests/[\w/]+\.py", WORKFLOW.read_text())
    assert named and all((ROOT / name).is_file() for name in named), named


def test_build_step_is_the_readme_command():
    build = next(s for s in workflow()["jobs"]["build"]["steps"] if s.get("name") == "Build the site")
    command = build["run"].strip()
    assert "python -m site_builder build --base-url \"$BASE_URL\"" in command
    readme_lines = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()]
    assert command in readme_lines, f"README.md must show the deploy build command verbatim:\n{command}"
