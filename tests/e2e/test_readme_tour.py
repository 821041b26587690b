"""The README's curl tour, run as written against a real server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def tour_script(base_url: str) -> str:
    """Every ```sh block after the first (make run / make test), pointed at `base_url`."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)[1:]
    script = "\n".join(blocks)
    assert "export API=http://127.0.0.1:8000" in script
    return "set -euo pipefail\n" + script.replace("http://127.0.0.1:8000", base_url)


def test_the_readme_tour_runs_as_written(server: Server, tmp_path: Path) -> None:
    # The tour runs in the project's directory, where `make install` made .venv.
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    done = subprocess.run(
        ["bash", "-c", tour_script(server.base_url)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"status":"active"' in out
    assert '"status":"paid"' in out and '"program_paid":"1500.00"' in out
    assert '"status":"duplicate"' in out
    assert '"used":"1500.00","remaining":"10500.00"' in out
    assert '"status":"reversed"' in out
    assert '"used":"0.00","remaining":"12000.00"' in out
    assert '"lines.0.patient_responsibility"' in out and '"lines.0.bogus"' in out
    assert re.search(r'\[\s*"AN",\s*"P"\s*\]', out)
    assert re.search(r'\[\s*"F9",\s*"15000\{"\s*\]', out)
    assert '"sent":' in out and '"balance_forward":' in out
    assert re.search(r"^ISA\*00\*", out, re.M) and re.search(r"^BPR\*[IH]\*", out, re.M)
    assert re.search(r"^CLP\*1001-0\*2\*1500\.00\*1500\.00\*", out, re.M)
