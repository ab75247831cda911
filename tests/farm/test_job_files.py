"""Deadline and OpenCue jobs, parsed back: keys, frame lists, chunking, dependencies, quoting."""

import shlex
import subprocess
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from vfxkey.cli import main

SPEC = """\
[shot]
name = "sh020"
frames = "1001-1023"

[element]
mode = "key"
input = "in/gs.####.png"

[outputs]
element = "out/el.####.exr"
"""


@pytest.fixture
def spec(tmp_path):
    folder = tmp_path / "a shot with 'quotes' & spaces"
    folder.mkdir()
    (folder / "shot.toml").write_text(SPEC)
    return folder / "shot.toml"


def submit(spec, engine, job_dir, *extra):
    result = CliRunner().invoke(main, ["submit", str(spec), "--engine", engine, "--chunk", "10", "-o", str(job_dir),
                                       *extra])
    assert result.exit_code == 0, result.output


def read_info(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def split_windows(arguments: str) -> list[str]:
    """Split a command line by the MS C runtime rules (as Windows/.NET programs do)."""
    args, current, quoted, backslashes, pending = [], "", False, 0, False
    for char in arguments:
        if char == "\\":
            backslashes += 1
            continue
        if char == '"':
            current += "\\" * (backslashes // 2)
            if backslashes % 2:
                current += '"'
            else:
                quoted, pending = not quoted, True
            backslashes = 0
            continue
        current += "\\" * backslashes
        backslashes = 0
        if char in " \t" and not quoted:
            if current or pending:
                args.append(current)
            current, pending = "", False
        else:
            current += char
    current += "\\" * backslashes
    if current or pending:
        args.append(current)
    return args


def test_deadline_jobs_chunk_the_frames_and_finalize_depends_on_render(spec, tmp_path):
    submit(spec, "deadline", tmp_path / "job", "--threads", "4")
    job = tmp_path / "job"
    render_info, render_plugin = read_info(job / "render_job_info.job"), read_info(job / "render_plugin_info.job")
    assert render_info["Plugin"] == "CommandLine" and render_info["Frames"] == "1001-1023"
    assert render_info["ChunkSize"] == "10" and render_info["BatchName"] == "vfxkey sh020"
    assert split_windows(render_plugin["Arguments"]) == [
        "render", str(spec), "--within", "<STARTFRAME>-<ENDFRAME>", "--threads", "4"]
    assert render_plugin["Executable"] == "vfxkey"
    assert split_windows(read_info(job / "finalize_plugin_info.job")["Arguments"]) == ["finalize", str(spec)]
    assert read_info(job / "finalize_job_info.job")["Frames"] == "1001"
    # -dependent: each job waits for the one before it, in this order.
    assert (job / "submit.sh").read_text().startswith("#!/bin/sh\n")
    submit_args = shlex.split((job / "submit.sh").read_text().splitlines()[-1])[1:]
    assert submit_args[:3] == ["deadlinecommand", "-SubmitMultipleJobs", "-dependent"]
    jobs = [submit_args[i + 1] for i, a in enumerate(submit_args) if a == "-job"]
    assert [p.split("/")[-1] for p in jobs] == ["prepare_job_info.job", "render_job_info.job", "finalize_job_info.job"]


def test_the_windows_splitter_reads_what_list2cmdline_writes():
    args = ['a b', 'c"d', 'e\\', 'f\\"g', '']
    assert split_windows(subprocess.list2cmdline(args)) == args


def test_opencue_spec_has_a_chunked_render_layer_and_a_dependent_finalize_layer(spec, tmp_path):
    submit(spec, "opencue", tmp_path / "job", "--show", "testing", "--user", "artist", "--uid", "1234")
    root = ET.parse(tmp_path / "job" / "sh020.xml").getroot()
    assert [child.tag for child in root] == ["show", "shot", "user", "uid", "job", "depends"]
    assert [root.findtext(tag) for tag in ("show", "user", "uid")] == ["testing", "artist", "1234"]
    job = root.find("job")
    layers = {layer.get("name"): layer for layer in job.find("layers")}
    assert list(layers) == ["prepare", "render", "finalize"]
    render = layers["render"]
    assert [child.tag for child in render][:3] == ["cmd", "range", "chunk"]  # the DTD's order
    assert render.findtext("range") == "1001-1023" and render.findtext("chunk") == "10"
    assert render.get("type") == "Render" and layers["finalize"].findtext("range") == "1001"
    assert layers["finalize"].get("type") == "Util"  # cuebot would move a Post layer into a job of its own
    assert shlex.split(render.findtext("cmd")) == ["vfxkey", "render", str(spec), "--frames", "#FRAMESPEC#"]
    depends = [(d.get("type"), d.findtext("deplayer"), d.findtext("onlayer")) for d in root.find("depends")]
    assert depends == [("LAYER_ON_LAYER", "render", "prepare"), ("LAYER_ON_LAYER", "finalize", "render")]
    assert all(d.findtext("depjob") == d.findtext("onjob") == job.get("name") for d in root.find("depends"))
