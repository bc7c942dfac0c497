"""The Teams app package an administrator uploads: a valid manifest, proper icons, one flat zip, clear errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from PIL import Image
from referencing import Registry
from referencing.exceptions import NoSuchResource

from adapters.teams import package
from bot.grammar import COMING_LATER, SUBCOMMANDS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT.parent / "shared" / "schemas" / "teams-manifest.schema.1.22.json").read_text())
APP_ID = "0b3f6c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f"
MANIFEST_ID = "9e8d7c6b-5a49-4837-a625-14f3e2d1c0b9"
HOST = "breach.example.com"
# Build the parser the way `breachroom` will, from the function this module adds.
RUN = (
    "import argparse, sys\n"
    "from breachroom.teams_cli import add_teams_parser\n"
    "top = argparse.ArgumentParser(prog='breachroom')\n"
    "add_teams_parser(top.add_subparsers(dest='command', required=True))\n"
    "args = top.parse_args()\n"
    "sys.exit(args.run(args))\n"
)


def refuse(uri: str) -> None:
    raise NoSuchResource(ref=uri)  # no schema is fetched over the network


def validate(manifest: dict) -> None:
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA, registry=Registry(retrieve=refuse))
    validator.validate(manifest)


def pixels_of(image: Image.Image) -> list[tuple[int, ...]]:
    access = image.load()
    assert access is not None
    return [access[x, y] for y in range(image.height) for x in range(image.width)]


def breachroom(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", RUN, "teams-package", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_manifest_is_valid_against_the_teams_schema_1_22() -> None:
    manifest = package.manifest(app_id=APP_ID, host=HOST)
    validate(manifest)
    validate(package.manifest(app_id=APP_ID, host=HOST, manifest_id=MANIFEST_ID))
    # The schema says draft-04, which ignores `const`: check the version by hand.
    assert manifest["manifestVersion"] == "1.22" == SCHEMA["properties"]["manifestVersion"]["const"]
    assert manifest["$schema"] == "https://developer.microsoft.com/json-schemas/teams/v1.22/MicrosoftTeams.schema.json"


def test_the_manifest_names_the_bot_its_scopes_and_its_host() -> None:
    manifest = package.manifest(app_id=APP_ID, host=HOST, manifest_id=MANIFEST_ID)
    assert manifest["id"] == MANIFEST_ID
    assert package.manifest(app_id=APP_ID, host=HOST)["id"] == APP_ID
    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    assert manifest["validDomains"] == [HOST]
    developer = manifest["developer"]
    for key in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        assert developer[key].startswith(f"https://{HOST}/")
    assert len(manifest["description"]["short"]) <= 80 and len(manifest["description"]["full"]) <= 4000
    assert "authorization" not in manifest and "webApplicationInfo" not in manifest, (
        "no resource-specific permission is used: see adapters/teams/package.py")


def test_every_command_of_the_grammar_is_suggested_within_teams_limits() -> None:
    (bot,) = package.manifest(app_id=APP_ID, host=HOST)["bots"]
    lists = bot["commandLists"]
    assert sorted(scope for entry in lists for scope in entry["scopes"]) == sorted(bot["scopes"])
    offered: set[str] = set()
    for entry in lists:
        titles = [c["title"] for c in entry["commands"]]
        assert len(titles) <= 10 and len(set(titles)) == len(titles)
        assert {"breach", "help"} <= set(titles)
        for command in entry["commands"]:
            # Teams' documented limits, stricter than the schema's.
            assert len(command["title"]) <= 32 and 0 < len(command["description"]) <= 128
        offered |= set(titles)
    expected = {("breach" if name == "declare" else name) for name in SUBCOMMANDS if name not in COMING_LATER}
    assert offered == expected


def test_the_icons_have_teams_sizes_and_the_outline_is_white_on_transparent() -> None:
    color = Image.open(io.BytesIO(package.color_icon()))
    assert color.format == "PNG" and color.size == (192, 192) and color.mode == "RGB"
    assert len(set(pixels_of(color))) > 2, "a drawing, not a flat square"
    outline = Image.open(io.BytesIO(package.outline_icon()))
    assert outline.format == "PNG" and outline.size == (32, 32) and outline.mode == "RGBA"
    pixels = pixels_of(outline)
    assert {pixel[:3] for pixel in pixels} == {(255, 255, 255)}, "white only, even where transparent"
    alphas = [pixel[3] for pixel in pixels]
    assert alphas.count(0) > 300 and sum(1 for a in alphas if a == 255) > 30, "transparent ground, white lines"


def test_the_zip_is_flat_with_exactly_the_manifest_and_its_two_icons() -> None:
    data = package.package(app_id=APP_ID, host=HOST)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        assert set(manifest["icons"].values()) <= set(archive.namelist())
        assert Image.open(io.BytesIO(archive.read("outline.png"))).size == (32, 32)
    validate(manifest)
    assert package.package(app_id=APP_ID, host=HOST) == data, "the same arguments make the same bytes"


def test_teams_package_writes_the_zip_and_says_where(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    done = breachroom("--app-id", APP_ID.upper(), "--manifest-id", MANIFEST_ID, "--domain", "Breach.Example.com",
                      "--out", "pkg/breachroom-teams.zip", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "pkg/breachroom-teams.zip" in done.stdout and done.stderr == ""
    with zipfile.ZipFile(tmp_path / "pkg" / "breachroom-teams.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["id"] == MANIFEST_ID and manifest["bots"][0]["botId"] == APP_ID
    assert manifest["validDomains"] == [HOST]
    default = breachroom("--app-id", APP_ID, "--domain", HOST, cwd=tmp_path)
    assert default.returncode == 0 and (tmp_path / "breachroom-teams.zip").exists()
    assert not list(tmp_path.glob(".*.partial"))


@pytest.mark.parametrize(("args", "says"), [
    (("--domain", HOST), "--app-id is required"),
    (("--app-id", "not-a-guid", "--domain", HOST), "--app-id: 'not-a-guid' is not a GUID"),
    (("--app-id", APP_ID, "--manifest-id", "1234", "--domain", HOST), "--manifest-id: '1234' is not a GUID"),
    (("--app-id", APP_ID), "--domain is required"),
    (("--app-id", APP_ID, "--domain", "https://breach.example.com"), "without https://"),
    (("--app-id", APP_ID, "--domain", "breach.example.com/api/messages"), "without a path or a port"),
    (("--app-id", APP_ID, "--domain", "breach.example.com:3978"), "without a path or a port"),
    (("--app-id", APP_ID, "--domain", "localhost"), "not a public host name"),
    (("--app-id", APP_ID, "--domain=-bad-.example.com"), "not a public host name"),
    (("--app-id", APP_ID, "--domain", "10.0.0.7"), "not an IP address"),
    (("--app-id", APP_ID, "--domain", HOST, "--out", "package.json"), "should end in .zip"),
    (("--app-id", APP_ID, "--domain", HOST, "--out", "missing/dir/x.zip"), "cannot write missing/dir/x.zip"),
])
def test_bad_arguments_give_one_line_errors(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    done = breachroom(*args, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("breachroom: ") and says in lines[0], done.stderr
    assert not list(tmp_path.rglob("*.zip"))


def test_a_unicode_host_becomes_its_ascii_form() -> None:
    assert package.check_host("café.example.com") == "xn--caf-dma.example.com"
