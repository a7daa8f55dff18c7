"""The README is the user's manual: it must name every knob, preset and admin endpoint the code has."""

from pathlib import Path

from mock_as.knobs import PRESETS, Knobs

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_knob_is_documented() -> None:
    missing = [k for k in Knobs.model_fields if k != "preset" and f"`{k}`" not in README]
    assert not missing, f"README lacks knobs {missing}; regenerate its knob table"


def test_every_preset_is_documented() -> None:
    missing = [p for p in PRESETS if f"`{p}`" not in README]
    assert not missing, f"README lacks presets {missing}"


def test_every_admin_route_is_documented() -> None:
    from mock_as.admin import _ADMIN_OPS

    missing = sorted({path for path, _ in _ADMIN_OPS if path not in README})
    assert not missing, f"README lacks admin endpoints {missing}"


def test_readme_shows_the_two_commands() -> None:
    assert "scripts/test" in README and "scripts/report" in README
