"""Nothing lost, nothing stale: a full disk never leaves a broken output that a rerun trusts.

The full-disk cases write to a small tmpfs (root only; skipped elsewhere, see ``tmpfs`` in conftest)."""

import subprocess

import OpenImageIO as oiio
import pytest
from click.testing import CliRunner
from shots import make_shot

from vfxkey.cli import main


def render(spec, *args):
    return CliRunner().invoke(main, ["render", str(spec), *args])


def reads_back(path) -> bool:
    """Whether OIIO opens the image and reads all of its pixels."""
    image = oiio.ImageInput.open(str(path))
    if image is None:
        oiio.geterror()
        return False
    pixels = image.read_image()
    ok = pixels is not None and not image.has_error
    image.geterror()
    image.close()
    return ok


def test_previews_on_a_full_disk_fail_the_render_and_a_rerun_with_space_redoes_them(tmp_path, tmpfs):
    disk = tmpfs("12k")  # tmpfs gives a file whole 4 kB pages: at most 3 of the 6 previews fit
    spec = make_shot(tmp_path, noise=0.05)
    text = spec.read_text().replace('"render/preview/comp.####.png"', f'"{disk}/comp.####.png"')
    spec.write_text(text)
    result = render(spec, "--frames", "1001-1006")
    assert result.exit_code == 4, result.output  # a data error: an output that cannot be written
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "comp.100" in error[0], result.output
    assert "cannot write PNG" in error[0] or "nothing was written" in error[0], result.output
    written = sorted(disk.iterdir())
    assert written and len(written) < 6
    assert all(reads_back(path) for path in written), "a broken preview under its final name"

    subprocess.run(["mount", "-o", "remount,size=1m", str(disk)], check=True)
    result = render(spec, "--frames", "1001-1006")
    assert result.exit_code == 0, result.output
    assert [p.name for p in sorted(disk.iterdir())] == [f"comp.{f}.png" for f in range(1001, 1007)]
    assert all(reads_back(path) for path in disk.iterdir())


def test_a_preview_cut_short_is_not_up_to_date(tmp_path):
    spec = make_shot(tmp_path, frames=3)
    assert render(spec, "--frames", "1001-1003").exit_code == 0
    preview = tmp_path / "render" / "preview" / "comp.1002.png"
    preview.write_bytes(preview.read_bytes()[:200])  # as a full disk left it before vfxkey checked writes
    result = render(spec, "--frames", "1001-1003")
    assert result.exit_code == 0, result.output
    assert reads_back(preview)
    assert "frame 1002" in result.output and "comp.1002.png" in result.output


def test_finalize_removes_a_killed_finalizes_temporaries_in_every_output_folder(tmp_path):
    from vfxkey.io.files import _HOST

    spec = make_shot(tmp_path, frames=2)
    spec.write_text(spec.read_text().replace('"render/comp.mov"', '"render/movie/comp.mov"')
                    .replace('"render/qc.html"', '"render/report/qc.html"'))
    assert render(spec, "--frames", "1001-1002").exit_code == 0
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that no longer runs: the killed finalize's
    stale = [tmp_path / "render" / "movie" / f".comp.{_HOST}-{gone.pid}.0badf00d.tmp.mov",
             tmp_path / "render" / "report" / f".qc.{_HOST}-{gone.pid}.0badf00d.tmp.html",
             tmp_path / "render" / f".el.qc.{_HOST}-{gone.pid}.0badf00d.tmp.json"]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * 4096)
    result = CliRunner().invoke(main, ["finalize", str(spec)])
    assert result.exit_code == 0, result.output
    assert [path for path in stale if path.exists()] == []
    assert (tmp_path / "render" / "movie" / "comp.mov").is_file()


def test_an_output_through_a_symbolic_link_onto_the_input_is_refused_before_anything_is_written(tmp_path):
    spec = make_shot(tmp_path, frames=2)
    (tmp_path / "link").symlink_to(tmp_path / "plate_in")
    spec.write_text(spec.read_text().replace('"render/preview/comp.####.png"', '"link/gs.####.png"'))
    before = {path.name: path.read_bytes() for path in (tmp_path / "plate_in").iterdir()}
    result = render(spec)
    assert result.exit_code == 2 and "[outputs] preview" in result.output, result.output
    assert "would overwrite the element's input" in result.output
    assert {path.name: path.read_bytes() for path in (tmp_path / "plate_in").iterdir()} == before
    assert not (tmp_path / "render").exists()


@pytest.mark.parametrize("command", ["key", "convert"])
def test_key_and_convert_refuse_an_output_that_is_their_input(tmp_path, command):
    from shots import green_screen_frame

    for frame in (1001, 1002):
        spec = oiio.ImageSpec(32, 20, 3, "half")
        out = oiio.ImageOutput.create(str(tmp_path / f"gs.{frame}.exr"))
        assert out.open(str(tmp_path / f"gs.{frame}.exr"), spec)
        assert out.write_image(green_screen_frame(32, 20, frame - 1001))
        out.close()
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    result = CliRunner().invoke(main, [command, str(tmp_path / "gs.####.exr"), "-o", str(tmp_path / "gs.%04d.exr")])
    assert result.exit_code == 2, result.output
    assert "-o/--output: " in result.output and "would overwrite the " in result.output
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_re_delivered_footage_re_renders_exactly_the_frames_that_read_it(tmp_path):
    import os

    from shots import green_screen_frame, write_png

    from vfxkey.matte.greenpost import TEMPORAL_FRAMES
    from vfxkey.shot.run import render as render_frames
    from vfxkey.shot.spec import load_spec

    spec_path = make_shot(tmp_path, frames=8)
    assert load_spec(spec_path).element.keyer.temporal > 0  # frames read the TEMPORAL_FRAMES before them
    assert render(spec_path, "--frames", "1001-1008").exit_code == 0

    def redone(rendered):
        return {done.frame: ("skipped" if done.skipped else
                             "element" if any("el." in path for path in done.outputs) else "comp")
                for done in rendered.frames}

    # 1. Frame 1003 re-delivered: another picture under the same name, same size and time.
    frame = tmp_path / "plate_in" / "gs.1003.png"
    stat = frame.stat()
    write_png(frame, green_screen_frame(128, 80, 5))
    os.utime(frame, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    touched = set(range(1003, 1003 + TEMPORAL_FRAMES + 1)) & set(range(1001, 1009))
    result = redone(render_frames(load_spec(spec_path)))
    assert {f for f, how in result.items() if how == "element"} == touched
    assert {f for f, how in result.items() if how == "skipped"} == set(range(1001, 1009)) - touched
    assert redone(render_frames(load_spec(spec_path))) == {f: "skipped" for f in range(1001, 1009)}

    # 2. The plate re-delivered: every comp again, no element.
    write_png(tmp_path / "plate.png", green_screen_frame(128, 80, 2))
    assert redone(render_frames(load_spec(spec_path))) == {f: "comp" for f in range(1001, 1009)}


def test_a_re_delivered_reference_frame_measures_the_screen_again(tmp_path):
    import json
    import os

    from shots import green_screen_frame, write_png

    spec = make_shot(tmp_path, frames=2)
    assert render(spec, "--frames", "1001-1002").exit_code == 0
    stored = tmp_path / "render" / "el.screen.json"
    before = json.loads(stored.read_text())
    frame = tmp_path / "plate_in" / "gs.1001.png"  # the reference frame (the shot's first)
    stat = frame.stat()
    write_png(frame, green_screen_frame(128, 80, 0) * 0.5)  # a darker screen, same name, size and time
    os.utime(frame, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert render(spec, "--frames", "1001-1002").exit_code == 0
    after = json.loads(stored.read_text())
    assert after["settings_hash"] != before["settings_hash"] and after["rgb"] != before["rgb"]
