"""The bridge in a studio's conditions, against the stand-in ``nuke`` module: movie plates,
proxy mode, re-keys, wrapper commands, Cancel, non-UTF-8 output, Windows, progress."""

import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fake_nuke import FakeNode


def script(tmp_path, name, body):
    """An executable Python script ``name`` running ``body`` (stands in for vfxkey)."""
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


def test_a_movie_reads_frames_from_its_own_start(nuke):
    movie = FakeNode("Read", "Mov", file="/p/gs.mov", first=1, last=48, colorspace="default")
    info = nuke.bridge.read_info(movie)
    assert info["frames"] == "1-48"  # the node's own range: 1..48 for a movie Read as loaded
    with pytest.raises(ValueError, match="vfxkey reads a movie's first frame as frame 1001"):
        nuke.bridge.check_key_input(movie, info)
    started = FakeNode("Read", "Mov", file="/p/gs.mov", first=1, last=48, frame_mode="start at", frame=1001,
                       colorspace="default")
    info = nuke.bridge.read_info(started)
    assert info["frames"] == "1001-1048"
    nuke.bridge.check_key_input(started, info)  # fine as it is
    offset = FakeNode("Read", "Seq", file="/p/gs.####.exr", first=1001, last=1010, frame_mode="offset", frame=9,
                      colorspace="default")
    assert nuke.bridge.read_info(offset)["frames"] == "1010-1019"
    with pytest.raises(ValueError, match="moves its frames"):
        nuke.bridge.check_key_input(offset, nuke.bridge.read_info(offset))


def test_key_selected_movie_read_says_what_to_do(nuke):
    movie = FakeNode("Read", "Mov", file="/p/gs.mov", first=1, last=48, colorspace="default")
    movie.setSelected(True)
    nuke.nodes += [movie, FakeNode("Read", "Plate", file="/p/plate.exr", first=1, last=1, colorspace="ACEScg")]
    assert nuke.bridge.key_selected_read() is None
    assert nuke.messages == ["vfxkey: Mov starts at frame 1; vfxkey reads a movie's first frame as frame 1001: "
                             "set its frame mode to 'start at' 1001"]


def test_proxy_mode_still_reads_the_full_resolution_file(nuke):
    nuke.root()["proxy"].setValue(True)
    read = FakeNode("Read", "R", file="/p/full.####.exr", proxy="/p/half.####.exr", first=1001, last=1002,
                    colorspace="ACEScg")
    assert nuke.filename(read) == "/p/half.####.exr"  # what the old code took
    assert nuke.bridge.read_info(read)["file"] == "/p/full.####.exr"


def test_every_run_gets_a_new_version(nuke, tmp_path):
    first, name = nuke.bridge.shot_folder("GS_key")
    assert (first, name) == (str(tmp_path / "comps" / "vfxkey" / "GS_key" / "v001"), "GS_key_v001")
    os.makedirs(first)
    second, name = nuke.bridge.shot_folder("GS_key")
    assert (second, name) == (str(tmp_path / "comps" / "vfxkey" / "GS_key" / "v002"), "GS_key_v002")
    spec = nuke.bridge.key_spec(name, {"file": "/gs.####.png", "colorspace": None},
                                {"file": "/p.png", "colorspace": None, "fps": "24"},
                                {"frames": "1001-1002", "screen": "auto", "despill": "1"})
    assert spec["outputs"]["element"] == "render/GS_key_v002_element.####.exr"


def test_a_paste_without_a_plate_says_so(nuke, tmp_path):
    snippet = tmp_path / "s.nk"
    snippet.write_text("")
    nuke.bridge.paste_snippet(str(snippet), None)
    assert len(nuke.pastes) == 1 and "pasted unconnected" in nuke.messages[-1]


def test_cancel_ends_the_whole_process_group(nuke, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    child = script(tmp_path, "child.py", f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(120)
        """)
    # a wrapper that starts vfxkey and waits, as `rez env ... -- vfxkey` or a shell wrapper does
    wrapper = script(tmp_path, "wrapper.py", f"""
        import subprocess
        subprocess.run([{child!r}])
        """)
    job = nuke.bridge.Job("render", [wrapper], str(tmp_path / "log"), [1001]).start()
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    nuke.cancel = True
    job.thread.join(timeout=30)
    try:
        assert not job.thread.is_alive() and job.cancelled
        for _ in range(100):  # the grandchild goes too
            try:
                os.kill(grandchild, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the grandchild is still running")
    finally:
        try:
            os.kill(grandchild, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_undecodable_output_neither_hangs_nor_loses_the_job(nuke, tmp_path):
    # "Übersee" in Latin-1, then more output than a pipe holds: a reader that dies on the
    # first line leaves the child blocked on a full pipe for ever
    noisy = script(tmp_path, "noisy.py", """
        import sys
        sys.stdout.buffer.write(b"\\xdcbersee\\n")
        for i in range(20000):
            sys.stdout.buffer.write(b"x" * 40 + b"\\n")
        sys.stdout.buffer.write("vfxkey render: frame 1001 0.10 s \\u00dcbersee.exr\\n".encode())
        """)
    job = nuke.bridge.Job("render", [noisy], str(tmp_path / "log"), [1001]).start()
    job.thread.join(timeout=60)
    assert not job.thread.is_alive(), "the job hangs"
    assert job.returncode == 0 and job.last_line.endswith("Übersee.exr")
    log = (tmp_path / "log").read_text(encoding="utf-8")
    assert "\ufffdbersee" in log  # the bad byte replaced, the line kept
    assert nuke.tasks[-1].progress[-1] == 100


def test_the_child_is_told_to_write_utf8(nuke, tmp_path):
    probe = script(tmp_path, "probe.py", """
        import os, sys
        print(os.environ.get("PYTHONUTF8"), sys.stdout.encoding)
        """)
    job = nuke.bridge.Job("probe", [probe], str(tmp_path / "log")).start()
    job.thread.join(timeout=30)
    assert job.last_line == "1 utf-8"


def test_progress_counts_frame_lines_only_and_says_when_finalizing(nuke, tmp_path):
    talker = script(tmp_path, "talker.py", """
        print("reading plate.1002.exr, 1003 frames of 1001-1003")
        print("vfxkey render: frame 1001 0.20 s el.1001.exr")
        print("vfxkey render: frame 1002 0.20 s el.1002.exr")
        print("vfxkey render: frame 1003 0.20 s el.1003.exr")
        print("vfxkey render: wrote render/sh010.nk")
        """)
    job = nuke.bridge.Job("render", [talker], str(tmp_path / "log"), [1001, 1002, 1003]).start()
    job.thread.join(timeout=30)
    task = nuke.tasks[-1]
    assert task.progress == [33, 66, 99, 100]  # nothing from the first line; 100 at exit 0
    assert task.messages[-1].startswith("finalizing")


def test_windows_command_splitting_and_quoting(nuke, monkeypatch):
    monkeypatch.setattr(nuke.bridge, "WINDOWS", True)
    monkeypatch.setenv("VFXKEY", r'"C:\venvs\vfx key\Scripts\vfxkey.exe" --verbose')
    assert nuke.bridge.vfxkey_command() == [r"C:\venvs\vfx key\Scripts\vfxkey.exe", "--verbose"]
    monkeypatch.setenv("VFXKEY", r"C:\venvs\vfxkey\Scripts\vfxkey.exe")
    assert nuke.bridge.vfxkey_command() == [r"C:\venvs\vfxkey\Scripts\vfxkey.exe"]
    assert nuke.bridge.command_line([r"C:\a b\vfxkey.exe", "render", r"D:\shot 1\shot.toml"]) == \
        r'"C:\a b\vfxkey.exe" render "D:\shot 1\shot.toml"'
    if not hasattr(__import__("subprocess"), "CREATE_NO_WINDOW"):
        return  # the flags exist only in Windows Pythons
    options = nuke.bridge._popen_options()
    assert options["creationflags"] & 0x08000000  # CREATE_NO_WINDOW


def test_the_snippet_names_the_open_scripts_config(nuke, monkeypatch):
    args = nuke.bridge.snippet_args("/s/shot.toml", "/s/nuke/snippet.nk")
    assert args[-4:] == ["--ocio-config", "fn-nuke_studio-config-v1.0.0_aces-v1.3_ocio-v2.1", "--nuke-version", "15"]
    root = nuke.root()
    root["OCIO_config"].setValue("custom")
    root["customOCIOConfigPath"].setValue("/show/config.ocio")
    assert nuke.bridge.snippet_args("/s/shot.toml", "/s/n.nk")[-4:-2] == ["--ocio-config", "/show/config.ocio"]
    root["OCIO_config"].setValue("aces_1.2")  # one of Nuke's own config files
    assert nuke.bridge.snippet_args("/s/shot.toml", "/s/n.nk")[-3] == str(
        Path("/usr/local/Nuke15.1v1") / "plugins" / "OCIOConfigs" / "configs" / "aces_1.2" / "config.ocio")
    root["colorManagement"].setValue("Nuke")
    assert "--ocio-config" not in nuke.bridge.snippet_args("/s/shot.toml", "/s/n.nk")


def test_the_shot_is_processed_in_the_open_scripts_config(nuke, tmp_path):
    import PyOpenColorIO as ocio

    from vfxkey.io.colour import use_config
    from vfxkey.shot.spec import load_spec

    # a show's config with a name vfxkey's built-in config does not know (as nuke-default's "Cineon")
    config = ocio.Config.CreateFromFile("ocio://studio-config-v1.0.0_aces-v1.3_ocio-v2.1")
    cineon = config.getColorSpace("ACEScct")
    cineon.setName("Cineon")
    cineon.clearAliases()
    config.addColorSpace(cineon)
    show = tmp_path / "show.ocio"
    show.write_text(config.serialize())
    nuke.root()["OCIO_config"].setValue("custom")
    nuke.root()["customOCIOConfigPath"].setValue(str(show))
    (tmp_path / "plate.exr").write_bytes(b"")  # the spec reader wants the plate to exist
    folder, name = nuke.bridge.shot_folder("GS_key")
    source = {"file": str(tmp_path / "gs.####.exr"), "colorspace": "Cineon"}
    plate = {"file": str(tmp_path / "plate.exr"), "colorspace": "ACEScg", "fps": "24"}
    shot = nuke.bridge.write_shot(folder, nuke.bridge.key_spec(name, source, plate, {
        "frames": "1001-1002", "screen": "auto", "despill": "1"}))
    try:
        spec = load_spec(shot)
        assert spec.ocio_config == str(show) and spec.element.input_colorspace == "Cineon"
    finally:
        use_config(None)
