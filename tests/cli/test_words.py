"""A setting is worded at the edge: ``--despill`` on the command line, ``shot.toml: [element]
despill`` for a shot spec; the library gives its name only."""

from click.testing import CliRunner

from vfxkey.cli import main
from vfxkey.cli.words import option_words, spec_words
from vfxkey.errors import SettingError, VfxkeyError
from vfxkey.matte.greenpost import KeySettings


def refusal(**settings) -> SettingError:
    try:
        KeySettings(**settings)
    except SettingError as exc:
        return exc
    raise AssertionError("accepted")


def test_the_library_names_the_setting_and_each_edge_words_it():
    exc = refusal(despill=2.0)
    assert exc.setting == "despill" and str(exc) == "despill 2.0: must be within 0..1"
    assert exc.worded(option_words()) == "--despill 2.0: must be within 0..1"
    assert exc.worded(spec_words("shot.toml")) == "shot.toml: [element] despill: 2.0: must be within 0..1"
    assert SettingError("x", setting="data_type").worded(spec_words("s.toml")) == "s.toml: [outputs] data_type: x"
    assert SettingError("x", setting="inversion_iters").worded(option_words()) == "--inversion-iters x"
    assert (SettingError("x", setting="inversion_iters").worded(spec_words("s.toml"))
            == "s.toml: [element] inversion_iters: x")  # the setting's name is the spec key
    assert SettingError("x", setting="element").worded(option_words()) == "-o/--output x"  # spelled otherwise
    assert (spec_words("s.toml", {"allow_mixed_settings"})("allow_mixed_settings")
            == "--allow-mixed-settings ")  # render's own option stays an option


def test_an_error_keeps_its_fields_and_a_location_goes_first():
    exc = SettingError("2.0: must be within 0..1", setting="despill").located("gs.####.png", 1001)
    assert isinstance(exc, SettingError) and (exc.path, exc.frame, exc.setting) == ("gs.####.png", 1001, "despill")
    assert str(exc) == "gs.####.png (frame 1001): despill 2.0: must be within 0..1"
    assert str(VfxkeyError("no such file", path="a.exr")) == "a.exr: no such file"


def test_a_spec_command_words_the_setting_as_the_spec_key(tmp_path):
    spec = tmp_path / "shot.toml"
    spec.write_text('[shot]\nname = "s"\nframes = "1-2"\n[element]\nmode = "generate"\nmodel = "m"\n'
                    'prompt = "p"\nkey = "chartreuse"\n[outputs]\nelement = "el.####.exr"\n')
    result = CliRunner().invoke(main, ["render", str(spec)])
    assert result.exit_code == 2
    assert f"{spec}: [element] key: 'chartreuse': use #RRGGBB" in result.output and "--key" not in result.output
