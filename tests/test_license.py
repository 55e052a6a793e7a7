"""The licence the package declares is the one it ships: Apache-2.0, in ``LICENSE``."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself depends on tomli below 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_license_file_is_the_apache_2_text() -> None:
    """``LICENSE`` is the standard Apache License 2.0 text, its appendix left as a template."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith(
        "Apache License\n                           Version 2.0, January 2004"
    )
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert "Copyright [yyyy] [name of copyright owner]" in text  # no other project's name
    assert len(text.split()) > 1500


def test_pyproject_declares_and_ships_the_license() -> None:
    """pyproject declares ``Apache-2.0``, lists ``LICENSE`` as its licence file (the wheel's
    ``License-File``) and puts it in the sdist."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert "LICENSE" in pyproject["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
