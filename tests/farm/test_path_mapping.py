"""A farm session's path mapping rules, applied to a spec's absolute paths as OpenJD applies them."""

import json
import os
import shutil
import sys
from pathlib import Path

from openjd.sessions import PathMappingRule
from test_engines import assert_exactly_the_shots_frames, readme_openjd_command, run, shot_with

from vfxkey.io import pathmap
from vfxkey.shot.spec import load_spec

RULES = [("POSIX", "/mnt/show", "/local/show"), ("POSIX", "/mnt/show/plates", "/fast/plates"),
         ("WINDOWS", "Z:\\Show", "/local/z"), ("POSIX", "/", "/root-rule")]
PATHS = ["/mnt/show/a/b.exr", "/mnt/show/plates/p.####.exr", "/mnt/showtime/x.exr", "/mnt/show",
         "Z:\\Show\\plates\\a.exr", "z:/show/plates/a.exr", "Z:\\Showtime\\a.exr", "relative/plate.exr",
         "/elsewhere/a.exr"]


def test_rules_map_paths_as_openjd_sessions_maps_them(tmp_path, monkeypatch):
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": f, "source_path": s, "destination_path": d} for f, s, d in RULES]}))
    monkeypatch.setenv(pathmap.ENVIRONMENT, str(rules_file))
    openjd_rules = sorted((PathMappingRule.from_dict({"source_path_format": f, "source_path": s, "destination_path": d})
                           for f, s, d in RULES), key=lambda rule: -rule._source_path_component_count())

    def openjd_map(path):
        for rule in openjd_rules:
            matched, mapped = rule.apply(path=path)
            if matched:
                return mapped
        return path

    for path in PATHS:
        assert pathmap.map_path(path) == openjd_map(path), path


def test_a_spec_read_with_rules_names_the_mapped_paths(tmp_path, monkeypatch):
    spec = shot_with(tmp_path / "shot", "1001-1002")
    spec.write_text(spec.read_text().replace('path = "plate.png"', 'path = "/mnt/show/plate.png"'))
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "POSIX", "source_path": "/mnt/show", "destination_path": str(tmp_path / "shot")}]}))
    monkeypatch.setenv(pathmap.ENVIRONMENT, str(rules_file))
    assert load_spec(spec).plate.path == str(tmp_path / "shot" / "plate.png")


def test_an_openjd_job_maps_the_specs_absolute_paths_with_the_sessions_rules(tmp_path):
    """Submitted where the plates live under studio/, run where they are mounted at worker/."""
    spec = shot_with(tmp_path / "shot", "1001-1003")
    studio = tmp_path / "studio"
    studio.mkdir()
    shutil.move(spec.parent / "plate.png", studio / "plate.png")
    shutil.move(spec.parent / "plate_in", studio / "plate_in")
    text = spec.read_text().replace('path = "plate.png"', f'path = "{studio / "plate.png"}"')
    spec.write_text(text.replace('input = "plate_in/gs.####.png"', f'input = "{studio / "plate_in" / "gs.####.png"}"'))
    from test_engines import submit

    submit(spec, "openjd", tmp_path / "job")
    studio.rename(tmp_path / "worker")
    rules = {"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "POSIX", "source_path": str(studio), "destination_path": str(tmp_path / "worker")}]}
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run([*readme_openjd_command(tmp_path / "job"), "--path-mapping-rules", json.dumps(rules)], cwd=tmp_path,
        env=environment)
    assert_exactly_the_shots_frames(spec, [1001, 1002, 1003])
