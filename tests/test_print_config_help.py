"""``--print_config``'s help names every flag it takes, lightkit's ``sources`` included."""

from __future__ import annotations

from lightkit.cli.argv import PRINT_CONFIG_FLAGS


def test_fit_help_names_every_print_config_flag(lightkit, workdir):
    result = lightkit("fit", "--help")
    assert result.code == 0, result.err
    text = " ".join(result.out.split())
    start = text.index("Print the configuration after applying all other arguments")  # --print_config's
    described = text[start : text.index(" --", start)]
    assert all(flag in described for flag in PRINT_CONFIG_FLAGS), described
    assert "where it came from" in described  # what `sources` does
