"""vfxkey inside Nuke: a panel's values -> ``shot.toml`` -> ``vfxkey`` in the background ->
the element's Read + Merge pasted over the plate.

Runs in Nuke's own Python 3 (3.7 in Nuke 13), which has no numpy or torch: this module
uses the standard library and ``nuke`` only and imports nothing from vfxkey. Every
decision about pixels is made by the ``vfxkey`` command it runs:

1. **Ask**: a ``nuke.Panel`` collects the settings (prompt, seed, key colour, frames, ...).
2. **Write the shot**: ``<script folder>/vfxkey/<name>/v001/shot.toml`` beside the comp (the
   next free version).
3. **Run** ``vfxkey render shot.toml`` as a subprocess with an argument list (never a
   shell), on a thread, so Nuke stays responsive; ``nuke.ProgressTask`` shows the frames
   done and can cancel. The command line is printed and appended to ``vfxkey_bridge.log``
   in the shot folder, so a TD can rerun it.
4. **Bring it in**: ``vfxkey nuke shot.toml --snippet`` writes the element Read + Merge;
   back on Nuke's main thread (``nuke.executeInMainThread``) it is pasted with the plate
   selected, so the Merge's B input is the plate.

``$VFXKEY`` names the command to run (e.g. ``/opt/vfxkey/bin/vfxkey``); default
``vfxkey`` on the ``PATH``. Each run gets its own versioned shot folder
(``vfxkey/<name>/v001``, ``v002``, ...), so a re-key never overwrites frames that Reads
pasted earlier point at.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import signal
import subprocess
import threading
import time

import nuke
import vfxkey_toml

KEY_COLOURS = ("green", "blue")
FARM_ENGINES = ("openjd", "deadline", "opencue")
LOG_NAME = "vfxkey_bridge.log"
SPEC_FORMAT = "vfxkey.shot/1"  # the shot spec format it writes (vfxkey.shot.spec.SPEC_FORMAT)
WINDOWS = os.name == "nt"
# A line of `vfxkey render`'s per-frame progress (vfxkey/cli/progress.py, no terminal):
# "vfxkey render: frame 1001 0.52 s ..."; other numbers in the output are not frames.
FRAME_LINE = re.compile(r"^vfxkey [\w -]+: frame (-?\d+) ")
# Nuke's own configs live in <install>/plugins/OCIOConfigs/configs/<name>/config.ocio.
NUKE_CONFIGS = ("plugins", "OCIOConfigs", "configs")


# --------------------------------------------------------------------------- commands


def vfxkey_command() -> list:
    """The command that runs vfxkey: ``$VFXKEY`` (an executable's path, or a command line
    split like a shell would, e.g. ``python -m ...``), else ``vfxkey`` on the ``PATH``."""
    command = os.environ.get("VFXKEY", "vfxkey")
    if os.path.isfile(command):
        return [command]
    if WINDOWS:  # Windows rules: backslashes are path separators, double quotes group
        return [part[1:-1] if len(part) > 1 and part[0] == part[-1] == '"' else part
                for part in shlex.split(command, posix=False)]
    return shlex.split(command)


def render_args(shot_path: str) -> list:
    return vfxkey_command() + ["render", shot_path]


def snippet_args(shot_path: str, snippet_path: str) -> list:
    """``vfxkey nuke --snippet`` naming the open script's OCIO config and Nuke version, so
    the pasted nodes name colour spaces that exist here (vfxkey refuses a name without one)."""
    args = vfxkey_command() + ["nuke", shot_path, "--snippet", "-o", snippet_path]
    config = script_ocio_config()
    if config:
        args += ["--ocio-config", config]
    if str(getattr(nuke, "NUKE_VERSION_MAJOR", "")) in ("14", "15", "16", "17"):
        args += ["--nuke-version", str(nuke.NUKE_VERSION_MAJOR)]
    return args


def submit_args(shot_path: str, engine: str, chunk: int, job_dir: str) -> list:
    return vfxkey_command() + ["submit", shot_path, "--engine", engine, "--chunk", str(chunk), "-o", job_dir]


def command_line(args: list) -> str:
    """``args`` as this system's shell would need them typed (for showing and logging only)."""
    return subprocess.list2cmdline(args) if WINDOWS else " ".join(shlex.quote(a) for a in args)


def script_ocio_config():
    """The open script's OCIO config as vfxkey can load it: the ``custom`` file, one of
    Nuke's ``fn-nuke_`` built-ins by name, or the file of another config Nuke ships
    (``aces_1.2``, ``nuke-default``); None under Nuke's own colour management."""
    root = nuke.root()
    if root["colorManagement"].value() != "OCIO":
        return None
    choice = root["OCIO_config"].value().split("\t")[0]  # Nuke 17's enum strings carry TAB fields
    if choice == "custom":
        return root["customOCIOConfigPath"].evaluate() or None
    if choice.startswith("fn-nuke_"):
        return choice
    return os.path.join(os.path.dirname(nuke.EXE_PATH), *NUKE_CONFIGS, choice, "config.ocio")


# --------------------------------------------------------------------------- shot specs


def key_spec(name: str, source: dict, plate: dict, values: dict) -> dict:
    """The shot spec of keying ``source`` (a Read's file, frames, colour space) over ``plate``.

    The tables and keys are vfxkey's shot spec (``vfxkey/shot/spec.py``); the paths are
    absolute, the outputs relative to the shot's folder.
    """
    spec = _shot_tables(name, plate, values["frames"])
    spec["element"] = {"mode": "key", "input": source["file"], "input_colorspace": source["colorspace"],
                       "screen": values["screen"], "despill": float(values["despill"])}
    return spec


def generate_spec(name: str, plate: dict, values: dict) -> dict:
    """The shot spec of generating an element with the panel's ``values`` over ``plate``."""
    spec = _shot_tables(name, plate, values["frames"])
    spec["shot"]["seed"] = int(values["seed"])
    # the plate's size, rounded down to the multiple of 8 Stable Diffusion's latents need
    size = f"{plate['width'] // 8 * 8}x{plate['height'] // 8 * 8}"
    spec["element"] = {"mode": "generate", "prompt": values["prompt"], "model": values["model"],
                       "key": values["key colour"], "size": size}
    position = [float(v) for v in values["position"].replace(",", " ").split()]
    if len(position) != 2:
        raise ValueError(f"position {values['position']!r}: give x y in plate pixels from the top left")
    spec["placement"] = {"position": position, "scale": float(values["scale"]),
                         "rotation": float(values["rotation"])}
    return spec


def _shot_tables(name: str, plate: dict, frames: str) -> dict:
    config = script_ocio_config()  # vfxkey reads the Reads' colour-space names in the script's config
    if config and config.startswith("fn-nuke_"):
        config = "ocio://" + config[len("fn-nuke_"):]  # Foundry's copy of OCIO's built-in config
    return {
        "shot": {"format": SPEC_FORMAT, "name": name, "frames": frames, "fps": plate["fps"], "ocio_config": config},
        "plate": {"path": plate["file"], "colorspace": plate["colorspace"]},
        "outputs": {"element": f"render/{name}_element.####.exr", "comp": f"render/{name}_comp.####.exr",
                    "nuke": f"render/{name}.nk", "qc_report": f"render/{name}_qc.html"},
    }


def write_shot(folder: str, spec: dict) -> str:
    """Write ``spec`` as ``folder/shot.toml`` (through a temporary file); return its path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "shot.toml")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(vfxkey_toml.dumps(spec))
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- running


class Job:
    """One ``vfxkey`` subprocess on a thread, its output logged and its progress shown.

    ``frames`` (shot frame numbers) turns output lines naming a frame into progress; the
    progress bar's cancel stops the command; ``on_success`` runs on the same thread when
    the command exits with 0, and the job it returns (if any) is kept as ``followed_by``.
    """

    def __init__(self, title: str, args: list, log_path: str, frames=(), on_success=None):
        self.title, self.args, self.log_path = title, args, log_path
        self.frames, self.on_success = set(frames), on_success
        self.returncode = None
        self.followed_by = None
        self.cancelled = False
        self.last_line = ""
        self.thread = threading.Thread(target=self._run, name=f"vfxkey {title}", daemon=True)

    def start(self) -> Job:
        print(f"vfxkey: {command_line(self.args)}")
        self._log(f"$ {command_line(self.args)}")
        self.thread.start()
        return self

    def _run(self) -> None:
        task = nuke.ProgressTask(f"vfxkey {self.title}")
        task.setMessage(command_line(self.args))
        try:
            process = subprocess.Popen(self.args, **_popen_options())
        except OSError as exc:
            self._finish(None, f"cannot run {self.args[0]}: {exc}")
            return
        reader = threading.Thread(target=self._read, args=(process, task), daemon=True)
        reader.start()
        # until the command has exited and its output is read; Cancel works all along, even
        # if the reader has stopped (the artist may cancel while the command is silent)
        while process.poll() is None or reader.is_alive():
            if task.isCancelled() and process.poll() is None and not self.cancelled:
                self.cancelled = True
                _end_group(process)
            reader.join(0.2)
        if process.returncode == 0 and self.frames:
            task.setProgress(100)
        del task  # closes the progress bar
        self._finish(process.returncode, self.last_line)

    def _read(self, process, task) -> None:
        """Log every output line; ``vfxkey render``'s frame lines move the progress bar, and
        once every frame is done the bar says the shot is being finalized. Whatever goes
        wrong here, the pipe is drained to the end, so the command never blocks on it."""
        done = set()
        for line in process.stdout:
            try:
                line = line.rstrip()
                self._log(line)
                if line:
                    self.last_line = line
                match = FRAME_LINE.match(line)
                if match and int(match.group(1)) in self.frames:
                    done.add(int(match.group(1)))
                    task.setProgress(min(99, int(100 * len(done) / len(self.frames))))
                    if len(done) == len(self.frames):
                        task.setMessage("finalizing: movie, QC report, Nuke script")
            except Exception as exc:  # keep draining: a stopped reader would hang the command
                self.last_line = f"{type(exc).__name__}: {exc}"

    def _finish(self, returncode, message: str) -> None:
        self.returncode = returncode
        self._log("cancelled" if self.cancelled else f"exit {returncode}")
        if returncode == 0:
            if self.on_success is not None:
                self.followed_by = self.on_success()
            return
        if self.cancelled:
            return
        text = (f"vfxkey {self.title} failed: {message}\n\ncommand:\n{command_line(self.args)}\n\n"
                f"log: {self.log_path}")
        nuke.executeInMainThread(nuke.message, (text,))

    def _log(self, line: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def _popen_options() -> dict:
    """How the command runs: output as UTF-8 text whatever the locale (bad bytes replaced;
    the child too writes UTF-8), in its own process group so Cancel ends it and everything
    it started (a wrapper script, ``rez env ... -- vfxkey``), no console window on Windows."""
    options = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                   encoding="utf-8", errors="replace", bufsize=1,
                   env=dict(os.environ, PYTHONUTF8="1", PYTHONIOENCODING="utf-8"))
    if WINDOWS:
        options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
    else:
        options["start_new_session"] = True
    return options


def _end_group(process) -> None:
    """End ``process`` and every process it started (its group)."""
    if WINDOWS:
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(process.pid)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, creationflags=subprocess.CREATE_NO_WINDOW)
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except OSError:  # already gone
        pass


def render_and_paste(shot_path: str, frames, plate_name: str) -> Job:
    """Steps 3 and 4: render the shot, then bring its element in over ``plate_name``."""
    log_path = os.path.join(os.path.dirname(shot_path), LOG_NAME)
    return Job("render", render_args(shot_path), log_path, frames,
               on_success=lambda: bring_in(shot_path, plate_name)).start()


def bring_in(shot_path: str, plate_name) -> Job:
    """Step 4: ``vfxkey nuke --snippet`` into the shot's ``nuke/snippet.nk``, then paste it
    over ``plate_name`` (None: over whatever is selected then) on the main thread."""
    folder = os.path.dirname(shot_path)
    snippet = os.path.join(folder, "nuke", "snippet.nk")
    return Job("nuke --snippet", snippet_args(shot_path, snippet), os.path.join(folder, LOG_NAME),
               on_success=lambda: nuke.executeInMainThread(paste_snippet, (snippet, plate_name))).start()


def paste_snippet(snippet_path: str, plate_name) -> None:
    """On the main thread: paste ``snippet_path`` with ``plate_name`` (if any) selected;
    without one the Merge's B is left unconnected, and the artist is told."""
    for node in nuke.selectedNodes():
        node.setSelected(False)
    plate = nuke.toNode(plate_name) if plate_name else None
    if plate is not None:
        plate.setSelected(True)
    nuke.nodePaste(snippet_path)
    if plate is None:
        nuke.message("vfxkey: the element's Read and Merge were pasted unconnected (no single node was "
                     "selected, or the plate is gone): connect the Merge's B input to the plate")


# --------------------------------------------------------------------------- reading Nuke


MOVIE_FIRST_FRAME = 1001  # vfxkey reads a movie's first frame as shot frame 1001 (vfxkey.io.read)
MOVIE_SUFFIXES = (".mov", ".mp4", ".mxf", ".avi", ".mkv", ".m4v")


def read_info(node) -> dict:
    """What a Read says: file (pattern, full resolution even in proxy mode), the frames it
    gives the script ``first-last`` (after its frame mode), colour space, format, fps."""
    colorspace = node["colorspace"].value()
    match = re.match(r"^default(?: \((.*)\))?$", colorspace)  # "default (sRGB Encoded ...)"
    fmt = node.format()
    return {
        "file": node["file"].evaluate(),  # nuke.filename() gives the proxy file in proxy mode
        "frames": f"{int(node.firstFrame())}-{int(node.lastFrame())}",
        "colorspace": match.group(1) if match else colorspace,  # None: let vfxkey decide
        "width": fmt.width(), "height": fmt.height(),
        "fps": _fps_text(nuke.root()["fps"].value()),
    }


def _fps_text(fps: float) -> str:
    """Nuke's float fps as the rational the spec wants: 23.976 -> "24000/1001"."""
    for base in (24, 25, 30, 48, 50, 60, 120):
        if abs(fps - base * 1000 / 1001) < 1e-3:
            return f"{base * 1000}/1001"
    return str(int(round(fps))) if abs(fps - round(fps)) < 1e-6 else repr(fps)


def shot_folder(name: str) -> tuple:
    """``(<folder of the saved script>/vfxkey/<name>/vNNN, "<name>_vNNN")``: the next free
    version, so earlier renders (and the Reads pasted for them) stay as they were. The
    script must have been saved."""
    script = nuke.root().name()
    if not script or script == "Root":
        raise ValueError("save the Nuke script first: vfxkey writes the shot beside it")
    base = os.path.join(os.path.dirname(os.path.abspath(script)), "vfxkey", name)
    taken = [int(v[1:]) for v in (os.listdir(base) if os.path.isdir(base) else ()) if re.match(r"^v\d{3,}$", v)]
    version = "v%03d" % (max(taken, default=0) + 1)
    return os.path.join(base, version), f"{name}_{version}"


def check_key_input(node, info: dict) -> None:
    """A Read vfxkey can key as it is: its frames are the shot's frames. vfxkey reads file
    frame N of a sequence as shot frame N, and a movie's first frame as shot frame 1001."""
    first = int(info["frames"].split("-")[0])
    if info["file"].lower().endswith(MOVIE_SUFFIXES):
        if first != MOVIE_FIRST_FRAME:
            raise ValueError(f"{node.name()} starts at frame {first}; vfxkey reads a movie's first frame as frame "
                             f"{MOVIE_FIRST_FRAME}: set its frame mode to 'start at' {MOVIE_FIRST_FRAME}")
    elif first != int(node["first"].value()):
        raise ValueError(f"{node.name()} moves its frames (frame mode); vfxkey keys file frame N as frame N: "
                         "render the key without the offset")


def _selected_read():
    nodes = [n for n in nuke.selectedNodes() if n.Class() == "Read"]
    if len(nodes) != 1:
        raise ValueError("select one Read node")
    return nodes[0]


# --------------------------------------------------------------------------- menu actions


def _tell_artist(action):
    """Run a menu action; a ValueError (a missing selection, a bad number) becomes a message."""
    @functools.wraps(action)
    def run():
        try:
            return action()
        except ValueError as exc:
            nuke.message(f"vfxkey: {exc}")
            return None
    return run


@_tell_artist
def key_selected_read():
    """Menu: key the selected Read (a green/blue screen) and comp it over a chosen plate."""
    source = _selected_read()
    plates = [n.name() for n in nuke.allNodes("Read") if n.name() != source.name()]
    if not plates:
        raise ValueError("the script has no other Read to comp the key over")
    info = read_info(source)
    check_key_input(source, info)
    panel = nuke.Panel("vfxkey: key selected Read")
    panel.addEnumerationPulldown("over plate", " ".join(plates))
    panel.addEnumerationPulldown("screen", "auto green blue")
    panel.addSingleLineInput("despill", "1.0")
    panel.addSingleLineInput("frames", info["frames"])
    if not panel.show():
        return None
    values = {k: panel.value(k) for k in ("over plate", "screen", "despill", "frames")}
    plate = read_info(nuke.toNode(values["over plate"]))
    folder, name = shot_folder(f"{source.name()}_key")
    shot = write_shot(folder, key_spec(name, info, plate, values))
    return render_and_paste(shot, _frames(values["frames"]), values["over plate"])


@_tell_artist
def generate_element():
    """Menu: generate an element (prompt, seed, key colour, ...) over the selected plate."""
    plate_node = _selected_read()
    plate = read_info(plate_node)
    panel = nuke.Panel("vfxkey: generate element")
    panel.addSingleLineInput("prompt", "")
    panel.addSingleLineInput("seed", "42")
    panel.addEnumerationPulldown("key colour", " ".join(KEY_COLOURS))
    panel.addSingleLineInput("frames", plate["frames"])
    panel.addFilenameSearch("model path", os.environ.get("VFXKEY_MODEL", ""))
    # placement: where the element's centre goes (plate pixels from the top left), scale, degrees CCW
    panel.addSingleLineInput("position", f"{plate['width'] / 2:g} {plate['height'] / 2:g}")
    panel.addSingleLineInput("scale", "1.0")
    panel.addSingleLineInput("rotation", "0.0")
    if not panel.show():
        return None
    values = {k: panel.value(k) for k in ("prompt", "seed", "key colour", "frames", "position",
                                         "scale", "rotation")}
    values["model"] = panel.value("model path")
    folder, name = shot_folder(f"{plate_node.name()}_gen{int(values['seed'])}")
    shot = write_shot(folder, generate_spec(name, plate, values))
    return render_and_paste(shot, _frames(values["frames"]), plate_node.name())


@_tell_artist
def import_shot():
    """Menu: paste a rendered vfxkey shot's element Read + Merge over the selected node."""
    shot = nuke.getFilename("Import vfxkey shot", "*.toml")
    if not shot:
        return None
    selected = nuke.selectedNodes()
    return bring_in(shot, selected[0].name() if len(selected) == 1 else None)


@_tell_artist
def submit_to_farm():
    """Menu: write a farm job for a shot with ``vfxkey submit``."""
    shot = nuke.getFilename("Submit vfxkey shot", "*.toml")
    if not shot:
        return None
    panel = nuke.Panel("vfxkey: submit to farm")
    panel.addEnumerationPulldown("engine", " ".join(FARM_ENGINES))
    panel.addSingleLineInput("frames per task", "10")
    panel.addSingleLineInput("job folder", os.path.join(os.path.dirname(shot), "farm"))
    if not panel.show():
        return None
    job_dir = panel.value("job folder")
    args = submit_args(shot, panel.value("engine"), int(panel.value("frames per task")), job_dir)
    done = (f"vfxkey: farm job written to {job_dir}",)
    return Job("submit", args, os.path.join(os.path.dirname(shot), LOG_NAME),
               on_success=lambda: nuke.executeInMainThread(nuke.message, done)).start()


def _frames(text: str) -> list:
    """``1001-1048``, ``1001-1048x2`` or ``1001,1005-1010`` -> frame numbers (for progress only)."""
    frames = []
    for part in text.split(","):
        match = re.match(r"^\s*(\d+)(?:\s*-\s*(\d+)(?:\s*x\s*(\d+))?)?\s*$", part)
        if match is None:
            raise ValueError(f"bad frame range {text!r}: expected e.g. 1001-1048")
        first, last, step = match.groups()
        frames += range(int(first), int(last or first) + 1, int(step or 1))
    return frames
