"""The lint settings of ruff.toml hold for the whole repository: pyflakes
(unused imports and names, undefined names), pycodestyle and import
order."""
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, '-m', 'ruff', 'check', '--no-cache', '.'],
        cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr
