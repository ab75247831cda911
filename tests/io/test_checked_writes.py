"""Every write is checked: a full disk, a failed rename or a writer that says nothing never leaves a
short or empty file under the final name, and the error is one line naming the file (and frame).

The full-disk cases write to a small tmpfs (root only; skipped elsewhere, see ``tmpfs`` in conftest)."""

import os
from fractions import Fraction

import numpy as np
import pytest

from vfxkey.errors import VfxkeyError
from vfxkey.io.files import atomic_output
from vfxkey.io.write import ProResWriter, open_frame_writer, write_preview_png
from vfxkey.shot import qc


def noise(height, width, channels, seed=0):
    """Random pixels: they compress badly, so the files are as large as their pixels."""
    return np.random.default_rng(seed).random((height, width, channels)).astype(np.float32)


def files(folder):
    """Every name in ``folder``, temporaries (hidden) included."""
    return sorted(os.listdir(folder))


def test_previews_on_a_full_disk_are_an_error_naming_the_file_and_leave_no_file(tmpfs):
    disk = tmpfs("64k")
    write_preview_png(disk / "small.png", noise(8, 8, 3))  # fits
    for frame in (1001, 1002):  # the first is cut short, the next cannot start: neither returns quietly
        with pytest.raises(VfxkeyError, match=rf"comp\.{frame}\.png: cannot write PNG: .*") as error:
            write_preview_png(disk / f"comp.{frame}.png", noise(200, 300, 3, frame))
        assert "\n" not in str(error.value)
    assert files(disk) == ["small.png"]


def test_a_movie_on_a_full_disk_is_an_error_naming_it_and_leaves_no_file(tmpfs):
    disk = tmpfs("200k")
    with pytest.raises(VfxkeyError, match=r"comp\.mov \(frame 10\d\d\): cannot write the movie: No space left"):
        with ProResWriter(disk / "comp.mov", 320, 192, Fraction(24)) as movie:
            for frame in range(1001, 1041):
                movie.write(noise(192, 320, 4, frame), frame=frame)
    assert files(disk) == []


def test_a_qc_sidecar_on_a_full_disk_is_an_error_naming_it(tmpfs):
    disk = tmpfs("16k")
    records = [{"frame": frame, "note": "x" * 1000} for frame in range(1001, 1101)]
    with pytest.raises(VfxkeyError, match=r"el\.qc\.json: cannot write: No space left on device"):
        qc.write_sidecar(str(disk / "el.####.exr"), {"shot": "s"}, records)
    assert files(disk) == []


def test_an_os_error_while_writing_names_the_file():
    with pytest.raises(VfxkeyError, match=r"report\.html: cannot write: No space left on device"):
        with atomic_output("/tmp/vfxkey-test/report.html") as tmp:
            raise OSError(28, os.strerror(28), tmp)


def test_an_empty_temporary_is_never_put_in_place(tmp_path):
    with pytest.raises(VfxkeyError, match=r"out\.png: nothing was written"):
        with atomic_output(tmp_path / "out.png"):
            pass  # a writer that failed without saying so
    assert files(tmp_path) == []


def test_the_temporary_is_flushed_to_disk_before_it_takes_the_final_name(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(a))), real_replace(a, b)))
    write_preview_png(tmp_path / "p.png", noise(4, 4, 3))
    temporary = events[0][1]
    assert events[:2] == [("fsync", temporary), ("replace", temporary)]
    assert os.path.basename(temporary).startswith(".p.") and events[2] == ("fsync", str(tmp_path))


def test_the_first_frame_lost_is_the_one_named_while_the_writer_drains(tmp_path):
    # Frames 1006 and 1007 cannot be put in place (a folder is in the way of each).
    for frame in (1006, 1007):
        (tmp_path / f"el.{frame}.exr").mkdir()
    with pytest.raises(VfxkeyError) as error:
        with open_frame_writer(tmp_path / "el.####.exr", frame_count=10, working_space="ACEScg") as writer:
            for frame in range(1001, 1011):
                writer.write(frame, noise(16, 16, 4, frame))
    assert "el.1006.exr" in str(error.value)
    for frame in range(1001, 1006):  # the frames before it are complete
        assert (tmp_path / f"el.{frame}.exr").is_file()
    assert not [name for name in files(tmp_path) if name.startswith(".")]


def test_a_rate_the_movie_cannot_store_is_one_line_naming_it(tmp_path):
    with pytest.raises(VfxkeyError, match=r"comp\.mov( \(frame 1001\))?: cannot write the movie: "):
        with ProResWriter(tmp_path / "comp.mov", 64, 32, Fraction(1, 1000000)) as movie:
            movie.write(noise(32, 64, 4), frame=1001)
    assert files(tmp_path) == []
