"""Preset discovery and validation: unknown keys and bad values name the file, the key and a hint."""

import pytest

from filmgan.errors import ConfigError, ModelUnavailableError
from filmgan.presets import find_preset, list_presets, load_preset_file


def write(tmp_path, name, text):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


GOOD = 'task = "style"\nmodel = "m.safetensors"\nrender_size = 320\n[temporal]\nstrength = 0.5\n[encode]\ncodec = "h265"\ncrf = 20\n'


def test_shipped_colorize_preset_is_valid():
    preset = find_preset("colorize")
    assert preset.task == "colorize" and preset.model == "colorize-v5"
    assert preset.blend_config().chroma_only is True


def test_user_preset_path_wins_and_flags_override(tmp_path, monkeypatch):
    write(tmp_path, "mine", GOOD)
    monkeypatch.setenv("FILMGAN_PRESET_PATH", str(tmp_path))
    preset = find_preset("mine")
    assert preset.render_size == 320
    assert preset.encode_config().codec == "h265" and preset.encode_config(crf=12).crf == 12
    assert preset.blend_config(strength=0.2).strength == 0.2 and preset.blend_config().strength == 0.5
    assert "mine" in [p.name for p in list_presets()]


def test_preset_by_file_path_and_model_relative_to_it(tmp_path):
    path = write(tmp_path, "direct", GOOD)
    (tmp_path / "m.safetensors").write_bytes(b"x")
    assert find_preset(str(path)).model_path() == tmp_path / "m.safetensors"


@pytest.mark.parametrize(
    "text, message",
    [
        ('task = "style"\nmodel = "m"\nrender_sise = 3\n', r"unknown key 'render_sise'.*did you mean 'render_size'"),
        ('task = "styl"\nmodel = "m"\n', r"task 'styl'.*did you mean 'style'"),
        ('task = "style"\n', r"'model' is required"),
        ('task = "style"\nmodel = "m"\n[temporal]\nstrenght = 0.5\n', r"\[temporal\].*unknown key 'strenght'.*did you mean 'strength'"),
        ('task = "style"\nmodel = "m"\n[temporal]\nstrength = 1.5\n', r"strength must be in"),
        ('task = "style"\nmodel = "m"\n[encode]\ncrf = "high"\n', r"\[encode\] crf"),
        ('task = "style"\nmodel = "m"\nrender_size = -4\n', r"must be >= 0"),
        ('task = "style"\nmodel = = "m"\n', r"not valid TOML"),
    ],
)
def test_bad_presets_name_file_key_and_hint(tmp_path, text, message):
    path = write(tmp_path, "bad", text)
    with pytest.raises(ConfigError, match=message) as info:
        load_preset_file(path)
    assert str(path) in str(info.value)


def test_unknown_preset_name_suggests_a_close_one():
    with pytest.raises(ConfigError, match="did you mean 'colorize'"):
        find_preset("colourize")


def test_missing_model_is_model_unavailable(tmp_path):
    preset = load_preset_file(write(tmp_path, "nomodel", 'task = "style"\nmodel = "nowhere"\n'))
    with pytest.raises(ModelUnavailableError, match="nowhere"):
        preset.model_path()
