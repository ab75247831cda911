"""Each engine's job for stepped and listed shots, run as that engine runs it.

Deadline: the CommandLine plugin's task chunks and token replacement, then the Windows
split of ``Arguments``. OpenCue: cuebot's chunk frame specs (``FrameSet.getChunk``) and
its ``#TOKEN#`` replacement, the command run by a shell as RQD does, and the spec
validated against cuebot's cjsl-1.12 DTD. OpenJD: the README's ``openjd run`` command as
written. Each checks that exactly the shot's frames render and that finalize completes.
"""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml
from click.testing import CliRunner
from lxml import etree
from test_job_files import read_info, split_windows

from vfxkey.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shot"))
from shots import make_shot  # noqa: E402

BIN = Path(sys.executable).parent
VFXKEY = str(BIN / "vfxkey")
DTD = Path(__file__).parent / "data" / "cjsl-1.12.dtd"
README = Path(__file__).resolve().parents[2] / "docs" / "reference.md"  # the openjd run line moved there (issue 23)
SHOTS = {"stepped": ("1001-1010x2", [1001, 1003, 1005, 1007, 1009]),
         "listed": ("1001,1003,1010-1012", [1001, 1003, 1010, 1011, 1012])}


def shot_with(folder: Path, frames: str) -> Path:
    """The small key shot (input frames 1001-1012) rendering only ``frames``."""
    spec = make_shot(folder, frames=12, width=64, height=40)
    spec.write_text(spec.read_text().replace('frames = "1001-1012"', f'frames = "{frames}"'))
    return spec


def submit(spec: Path, engine: str, job: Path, *extra: str) -> None:
    result = CliRunner().invoke(main, ["submit", str(spec), "--engine", engine, "--chunk", "3", "-o", str(job),
                                       "--command", VFXKEY, *extra])
    assert result.exit_code == 0, result.output


def rendered(spec: Path) -> dict[str, list[int]]:
    render = spec.parent / "render"
    return {kind: sorted(int(p.name.split(".")[1]) for p in render.glob(f"{kind}.*.exr")) for kind in ("el", "comp")}


def assert_exactly_the_shots_frames(spec: Path, frames: list[int]) -> None:
    assert rendered(spec) == {"el": frames, "comp": frames}
    assert (spec.parent / "render" / "comp.mov").stat().st_size > 0  # finalize ran
    assert (spec.parent / "render" / "qc.html").stat().st_size > 0


def run(args: list[str], **kwargs) -> str:
    """Run ``args``; its stdout."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result.stdout


# --- Deadline 10: the CommandLine plugin ---------------------------------------------------------

def deadline_tasks(frames: str, chunk: int) -> list[list[int]]:
    """Deadline cuts the job's frame list, in order, into tasks of ChunkSize frames."""
    listed = []
    for item in frames.split(","):
        first, _, last = item.partition("-")
        listed += range(int(first), int(last or first) + 1)
    return [listed[i:i + chunk] for i in range(0, len(listed), chunk)]


def deadline_arguments(arguments: str, start: int, end: int) -> str:
    """The plugin's replacements: <STARTFRAME>/<ENDFRAME> (any case, or padded <STARTFRAME%4>), <QUOTE>."""
    for token, value in (("STARTFRAME", start), ("ENDFRAME", end)):
        arguments = re.sub(rf"(?i)<{token}%(\d+)>", lambda m: str(value).zfill(int(m[1])), arguments)
        arguments = re.sub(rf"(?i)<{token}>", str(value), arguments)
    return arguments.replace("<QUOTE>", '"')


@pytest.mark.parametrize("kind", SHOTS)
def test_deadline_tasks_render_exactly_the_shots_frames(kind, tmp_path):
    text, frames = SHOTS[kind]
    spec = shot_with(tmp_path / "shot", text)
    job = tmp_path / "job"
    submit(spec, "deadline", job)
    for name in ("prepare", "render", "finalize"):
        info, plugin = read_info(job / f"{name}_job_info.job"), read_info(job / f"{name}_plugin_info.job")
        environment = dict(os.environ)  # the job's EnvironmentKeyValueN, as Deadline sets them for each task
        environment |= dict(v.split("=", 1) for k, v in info.items() if k.startswith("EnvironmentKeyValue"))
        for task in deadline_tasks(info["Frames"], int(info["ChunkSize"])):
            args = split_windows(deadline_arguments(plugin["Arguments"], task[0], task[-1]))
            output = run([plugin["Executable"], *args], cwd=tmp_path, env=environment)
            if name == "render":
                assert output.splitlines()[-1] == "Progress: 100%"  # the Monitor's task progress
    assert_exactly_the_shots_frames(spec, frames)


# --- OpenCue: cuebot and RQD -----------------------------------------------------------------------

def cue_frames(text: str) -> list[int]:
    """cuebot's FrameSet of a layer range (the forms vfxkey writes: a, a-b, a-bxN, comma lists)."""
    frames = []
    for item in text.split(","):
        match = re.fullmatch(r"(-?\d+)(?:-(-?\d+)(?:x(\d+))?)?", item)
        first, last, step = int(match[1]), int(match[2] or match[1]), int(match[3] or 1)
        frames += range(first, last + 1, step)
    return frames


def cue_chunk(frames: list[int], start: int, size: int) -> str:
    """FrameSet.getChunk: the frame spec of ``size`` frames from index ``start`` (framesToFrameRanges)."""
    if size == 1:
        return str(frames[start])
    chunk = frames[start:start + size]
    if len(chunk) == 1:
        return str(chunk[0])

    def part(first, last, step):
        return str(first) if first == last else f"{first}-{last}" if step == 1 else f"{first}-{last}x{step}"

    parts, count, step, first, last = [], 1, 0, chunk[0], chunk[0]
    current = chunk[0]
    for current in chunk[1:]:
        if step == 0:
            step = current - first
        if current - last == step:
            last, count = current, count + 1
        elif count == 2 and step != 1:
            parts.append(str(first))
            step, first, last = 0, last, current
        else:
            parts.append(part(first, last, step))
            step, first, last, count = 0, current, current, 1
    parts += [str(first), str(current)] if count == 2 and step != 1 else [part(first, current, step)]
    return ",".join(parts)


def cue_command(cmd: str, frame: int, spec: str, end: int, chunk: int, layer: str, job: str) -> str:
    """DispatchSupportService's replaceAll chain, in its order."""
    for token, value in (("#ZFRAME#", f"{frame:04d}"), ("#IFRAME#", frame), ("#FRAME_START#", frame),
                         ("#FRAME_END#", end), ("#FRAME_CHUNK#", chunk), ("#LAYER#", layer), ("#JOB#", job),
                         ("#FRAMESPEC#", spec), ("#FRAME#", f"{frame:04d}-{layer}")):
        cmd = cmd.replace(token, str(value))
    return cmd


def test_the_chunk_port_gives_cuebots_own_test_results():
    # cuebot's FrameSetTests.java
    mixed = cue_frames("1-10x2,11-100x20,103-108")
    assert [cue_chunk(mixed, 5, 5), cue_chunk(mixed, 2, 5), cue_chunk(mixed, 9, 3)] == ["11-91x20", "5-11x2,31",
                                                                                       "91,103,104"]
    assert cue_chunk(cue_frames("1-100x3"), 9, 3) == "28-34x3" and cue_chunk(cue_frames("1-100"), 9, 3) == "10-12"
    assert cue_chunk(cue_frames("55-60"), 0, 10) == "55-60"


@pytest.mark.parametrize("kind", SHOTS)
def test_opencue_layers_render_exactly_the_shots_frames(kind, tmp_path):
    text, frames = SHOTS[kind]
    spec = shot_with(tmp_path / "shot", text)
    submit(spec, "opencue", tmp_path / "job", "--show", "testing", "--user", "artist", "--job-name", "key_v1")
    xml = tmp_path / "job" / "testshot.xml"
    document = etree.parse(str(xml), etree.XMLParser(no_network=True))
    dtd = etree.DTD(str(DTD))
    assert dtd.validate(document), dtd.error_log.filter_from_errors()
    root = document.getroot()
    post = {layer.get("name") for layer in root.iter("layer") if layer.get("type") == "Post"}
    assert not post & {d.findtext("onlayer") for d in root.iter("depend")}  # cuebot moves Post layers away
    job_name = root.find("job").get("name")
    for layer in root.iter("layer"):  # in dispatch order; the depends are prepare -> render -> finalize
        layer_frames, chunk = cue_frames(layer.findtext("range")), int(layer.findtext("chunk"))
        for index in range(0, len(layer_frames), chunk):
            frame_spec = cue_chunk(layer_frames, index, chunk)
            end = cue_frames(frame_spec)[-1]
            command = cue_command(layer.findtext("cmd").strip(), layer_frames[index], frame_spec, end, chunk,
                                  layer.get("name"), job_name)
            run(["/bin/sh", "-c", command], cwd=tmp_path)
    assert_exactly_the_shots_frames(spec, frames)


# --- OpenJD: the README's command, as written -------------------------------------------------------

def readme_openjd_command(job: Path) -> list[str]:
    command = re.search(r"`(openjd run JOBDIR/[^`]*)`", README.read_text())[1]
    return shlex.split(command.replace("JOBDIR", shlex.quote(str(job))))


def test_the_readmes_openjd_command_renders_a_stepped_shot(tmp_path):
    text, frames = SHOTS["stepped"]
    spec = shot_with(tmp_path / "shot", text)
    result = CliRunner().invoke(main, ["submit", str(spec), "--engine", "openjd", "--chunk", "3",
                                       "-o", str(tmp_path / "job")])
    assert result.exit_code == 0, result.output
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}  # `vfxkey` as the hosts find it
    output = run(readme_openjd_command(tmp_path / "job"), cwd=tmp_path, env=environment)
    assert_exactly_the_shots_frames(spec, frames)
    assert "openjd_progress: 100.0" in output


def test_a_deadline_cloud_dry_run_uploads_the_plate_and_input_sequence_and_brings_back_the_outputs(tmp_path):
    """The deadline client's own submission code with AWS replaced by stand-ins, writing its
    debug snapshot: the input manifest and the output directories it would send."""
    from deadline.client import api
    from deadline.client.api import _submit_job_bundle

    spec = shot_with(tmp_path / "shot", "1001-1004")
    plates = tmp_path / "plates"
    plates.mkdir()
    (spec.parent / "plate.png").rename(plates / "plate.png")  # a plate outside the shot folder
    spec.write_text(spec.read_text().replace('path = "plate.png"', f'path = "{plates / "plate.png"}"'))
    submit(spec, "openjd", tmp_path / "job")
    settings = {"defaults.farm_id": "farm-1", "defaults.queue_id": "queue-1", "settings.auto_accept": "true",
                "defaults.job_attachments_file_system": "COPIED", "settings.allow_bundle_hooks": "false",
                "settings.allow_environment_hooks": "false", "settings.force_s3_check": "false"}
    client = mock.MagicMock()
    client.get_queue.return_value = {"displayName": "queue", "jobAttachmentSettings": {
        "s3BucketName": "bucket", "rootPrefix": "root"}}
    with mock.patch.object(api, "get_boto3_client", return_value=client), \
            mock.patch.object(api, "get_queue_user_boto3_session", return_value=mock.MagicMock()), \
            mock.patch.object(api, "get_queue_parameter_definitions", return_value=[]), \
            mock.patch.object(_submit_job_bundle, "get_setting", side_effect=lambda key, config=None: settings.get(key, "")), \
            mock.patch.dict(os.environ, {"HOME": str(tmp_path / "home")}):
        _submit_job_bundle.create_job_from_job_bundle(str(tmp_path / "job"), debug_snapshot_dir=str(tmp_path / "snap"),
                                                      known_asset_paths=[str(tmp_path)], print_function_callback=print)
    attachments = json.loads((tmp_path / "snap" / "attachments_param.json").read_text())["manifests"]
    uploaded = set()
    for manifest in attachments:
        paths = json.loads((tmp_path / "snap" / "Manifests" / manifest["inputManifestPath"]).read_text())["paths"]
        uploaded |= {os.path.join(manifest["rootPath"], p["path"]) for p in paths}
    inputs = {str(spec), str(plates / "plate.png")} | {str(spec.parent / "plate_in" / f"gs.{f}.png") for f in range(1001, 1013)}
    assert inputs <= uploaded
    outputs = {os.path.join(m["rootPath"], d) for m in attachments for d in m.get("outputRelativeDirectories", [])}
    assert outputs == {str(spec.parent / "render")}


# --- Paths each engine would read differently --------------------------------------------------------

HOSTILE = ["j$(touch pwned)", "a;touch pwned", "R&D", "it's here", "b`touch pwned`", "x|touch pwned #",
           "-rf", "*", "~root", "ショット ünï", "a\\b", 'dq"uote', "$HOME", "%PATH%", "  lead", "!!"]


def test_submit_sh_under_bash_passes_hostile_folder_names_through_untouched(tmp_path):
    fake = tmp_path / "bin" / "deadlinecommand"  # records its arguments, nothing else
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"open({str(tmp_path / 'argv.json')!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    fake.chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in HOSTILE:
        folder = tmp_path / "shots" / name
        folder.mkdir(parents=True)
        (folder / "shot.toml").write_text('[shot]\nname = "sh020"\nframes = "1001-1005"\n[element]\nmode = "key"\n'
                                          'input = "in/gs.####.png"\n[outputs]\nelement = "out/el.####.exr"\n')
        job = folder / "job"
        submit(folder / "shot.toml", "deadline", job)
        run(["bash", str(job / "submit.sh")], cwd=elsewhere, env={**os.environ, "PATH": f"{fake.parent}:/usr/bin:/bin"})
    calls = [json.loads(line) for line in (tmp_path / "argv.json").read_text().splitlines()]
    assert len(calls) == len(HOSTILE)
    for name, argv in zip(HOSTILE, calls):
        job = tmp_path / "shots" / name / "job"
        assert argv == ["-SubmitMultipleJobs", "-dependent",
                        *[a for step in ("prepare", "render", "finalize")
                          for a in ("-job", str(job / f"{step}_job_info.job"), str(job / f"{step}_plugin_info.job"))]]
        plugin = read_info(job / "render_plugin_info.job")
        assert split_windows(plugin["Arguments"])[1] == str(tmp_path / "shots" / name / "shot.toml")
    assert not list(tmp_path.rglob("pwned")) and not list(Path.cwd().glob("pwned"))


@pytest.mark.parametrize("engine, folder, extra, rule", [
    ("deadline", "a<QUOTE>b", [], "CommandLine plugin"),
    ("deadline", "a\u201cb\u201d", [], "CommandLine plugin"),
    ("deadline", "take<STARTFRAME%4>", [], "CommandLine plugin"),
    ("opencue", "shot#IFRAME#", ["--show", "testing", "--user", "artist"], "cuebot replaces"),
    ("opencue", "cost$5", ["--show", "testing", "--user", "artist"], "Docker mode"),
    ("opencue", "a\x1bb", ["--show", "testing", "--user", "artist"], "control character"),
    ("openjd", "a\nb", [], "control character"),
    ("opencue", "ok", ["--show", "tv", "--user", "artist"], "at least 3"),
    ("opencue", "ok", ["--show", "testing", "--user", "root"], "root"),
])
def test_paths_and_names_an_engine_would_misread_are_refused_when_the_job_is_written(engine, folder, extra, rule,
                                                                                     tmp_path):
    (tmp_path / folder).mkdir()
    spec = tmp_path / folder / "shot.toml"
    spec.write_text('[shot]\nname = "sh020"\nframes = "1001-1005"\n[element]\nmode = "key"\n'
                    'input = "in/gs.####.png"\n[outputs]\nelement = "out/el.####.exr"\n')
    result = CliRunner().invoke(main, ["submit", str(spec), "--engine", engine, "-o", str(tmp_path / "job"), *extra])
    assert result.exit_code == 2 and rule in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1  # one line, whatever the path holds
    assert not (tmp_path / "job").exists()


def test_a_folder_nuke_would_evaluate_is_refused_at_submit_not_after_rendering(tmp_path):
    (tmp_path / "take[1]").mkdir()
    spec = tmp_path / "take[1]" / "shot.toml"
    spec.write_text('[shot]\nname = "sh020"\nframes = "1001-1005"\n[element]\nmode = "key"\n'
                    'input = "in/gs.####.png"\n[outputs]\nelement = "out/el.####.exr"\nnuke = "out/sh020.nk"\n')
    result = CliRunner().invoke(main, ["submit", str(spec), "--engine", "openjd", "-o", str(tmp_path / "job")])
    assert result.exit_code != 0 and "TCL" in result.output, result.output


@pytest.mark.parametrize("engine, extra", [("deadline", []), ("opencue", ["--show", "testing", "--user", "artist"]), ("openjd", [])])
def test_job_files_are_utf8_whatever_the_locale(engine, extra, tmp_path):
    folder = tmp_path / "ショット"
    folder.mkdir()
    (folder / "shot.toml").write_text('[shot]\nname = "sh020"\nframes = "1001-1005"\n[element]\nmode = "key"\n'
                                      'input = "in/gs.####.png"\n[outputs]\nelement = "out/el.####.exr"\n')
    environment = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    result = subprocess.run([VFXKEY, "submit", str(folder / "shot.toml"), "--engine", engine, "-o",
                             str(tmp_path / "job"), *extra], capture_output=True, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    texts = [p.read_bytes().decode("utf-8") for p in (tmp_path / "job").iterdir()]
    assert any("ショット" in text for text in texts)


def test_render_within_a_span_the_shot_skips_entirely_is_refused_naming_the_shots_frames(tmp_path):
    spec = shot_with(tmp_path / "shot", SHOTS["listed"][0])
    result = CliRunner().invoke(main, ["render", str(spec), "--within", "1004-1009"])
    assert result.exit_code == 2 and "1001,1003,1010-1012" in result.output, result.output
    result = CliRunner().invoke(main, ["render", str(spec), "--within", "1001-1003", "--frames", "1001"])
    assert result.exit_code == 2 and "not both" in result.output, result.output
    assert rendered(spec) == {"el": [], "comp": []}
