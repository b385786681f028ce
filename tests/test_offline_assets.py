import hashlib
import io
import tarfile

import pytest

import tools.offline_assets as oa
from helpers.errors import DataError


def _tarball(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_mathjax(tmp_path, monkeypatch):
    """A small tarball in the npm layout, accepted as the pinned MathJax by patching the hash."""
    path = _tarball(tmp_path / "mathjax.tgz", {
        "package/package.json": b"{}",
        "package/es5/tex-mml-chtml.js": b"window.MathJax = {version: '3.2.2'};",
        "package/es5/tex-svg.js": b"svg",
        "package/es5/input/tex/extensions/color.js": b"color",
        "package/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff": b"font",
        "package/es5/ui/menu.js": b"menu",
        "package/es5/sre/mathmaps/en.json": b"{}",
        "package/es5/sre/mathmaps/de.json": b"{}",
        "package/../evil.js": b"outside",
    })
    monkeypatch.setattr(oa, "MATHJAX_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.delenv("BOOK_MATHJAX_TGZ", raising=False)
    monkeypatch.delenv("BOOK_OFFLINE", raising=False)
    return path


def _no_network(*args, **kwargs):
    raise ConnectionError("no network in this test")


def test_local_tarball_is_checked_against_the_pinned_hash(fake_mathjax, tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_MATHJAX_TGZ", str(fake_mathjax))
    assert oa.fetch_mathjax(tmp_path / "cache") == fake_mathjax
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"not mathjax")
    monkeypatch.setenv("BOOK_MATHJAX_TGZ", str(bad))
    with pytest.raises(DataError, match="bad.tgz.*SHA-256"):
        oa.fetch_mathjax(tmp_path / "cache")
    monkeypatch.setenv("BOOK_MATHJAX_TGZ", str(tmp_path / "missing.tgz"))
    with pytest.raises(DataError, match="missing.tgz does not exist"):
        oa.fetch_mathjax(tmp_path / "cache")


def test_cached_tarball_is_used_without_network(fake_mathjax, tmp_path, monkeypatch):
    import pooch

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"mathjax-{oa.MATHJAX_VERSION}.tgz").write_bytes(fake_mathjax.read_bytes())
    monkeypatch.setattr(pooch, "retrieve", _no_network)
    assert oa.fetch_mathjax(cache).read_bytes() == fake_mathjax.read_bytes()


def test_no_network_and_offline_mode_give_clear_errors(fake_mathjax, tmp_path, monkeypatch):
    import pooch

    monkeypatch.setattr(pooch, "retrieve", _no_network)
    with pytest.raises(DataError, match="could not download .*mathjax-3.2.2.tgz.*BOOK_MATHJAX_TGZ"):
        oa.fetch_mathjax(tmp_path / "cache")
    monkeypatch.setenv("BOOK_OFFLINE", "1")
    with pytest.raises(DataError, match="not cached .*BOOK_OFFLINE=1"):
        oa.fetch_mathjax(tmp_path / "cache")


def test_hash_mismatch_from_download_is_a_data_error(fake_mathjax, tmp_path, monkeypatch):
    import pooch

    def corrupt(*args, **kwargs):
        raise ValueError("SHA256 hash of downloaded file does not match the known hash")

    monkeypatch.setattr(pooch, "retrieve", corrupt)
    with pytest.raises(DataError, match="does not match"):
        oa.fetch_mathjax(tmp_path / "cache")


def test_install_keeps_what_the_entry_script_loads(fake_mathjax, tmp_path):
    static = tmp_path / "_static"
    static.mkdir()
    entry = oa.install_mathjax(static, fake_mathjax)
    root = static / "mathjax"
    assert entry == root / "tex-mml-chtml.js" and entry.read_bytes().startswith(b"window.MathJax")
    assert (root / "input/tex/extensions/color.js").is_file()
    assert (root / "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff").is_file()
    assert (root / "ui/menu.js").is_file() and (root / "sre/mathmaps/en.json").is_file()
    assert not (root / "tex-svg.js").exists() and not (root / "sre/mathmaps/de.json").exists()
    assert not (tmp_path / "evil.js").exists() and not (static / "evil.js").exists()
    # idempotent: a second call keeps the installed copy
    entry.write_text("kept")
    assert oa.install_mathjax(static, fake_mathjax).read_text() == "kept"


def test_install_rejects_bad_inputs(tmp_path):
    with pytest.raises(DataError, match="does not exist: build the book"):
        oa.install_mathjax(tmp_path / "nowhere", tmp_path / "x.tgz")
    static = tmp_path / "_static"
    static.mkdir()
    wrong = _tarball(tmp_path / "wrong.tgz", {"package/es5/tex-svg.js": b"svg"})
    with pytest.raises(DataError, match="no package/es5/tex-mml-chtml.js"):
        oa.install_mathjax(static, wrong)
    corrupt = tmp_path / "corrupt.tgz"
    corrupt.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DataError, match="cannot unpack MathJax from .*corrupt.tgz"):
        oa.install_mathjax(static, corrupt)
    assert not (static / "mathjax").exists()


def _site(tmp_path):
    html = tmp_path / "html"
    (html / "_static").mkdir(parents=True)
    (html / "index.html").write_text(
        '<link rel="stylesheet" href="_static/local.css"><script src="_static/a.js"></script>'
        '<a href="https://github.com/genre-book">a link a reader clicks</a>'
    )
    (html / "_static/local.css").write_text("@font-face { src: url(fonts/x.woff2); }")
    return html


def test_remote_references_lists_what_pages_fetch(tmp_path):
    html = _site(tmp_path)
    assert oa.remote_references(html) == []
    (html / "page.html").write_text(
        '<script src="https://unpkg.com/thebe/lib/index.js"></script>'
        '<link href="//cdn.example.org/x.css" rel="stylesheet"><img src="http://x.org/i.png">'
        '<code>&lt;script src="https://shown.as/code.js"&gt;</code>'
    )
    (html / "_static/remote.css").write_text('@import "https://fonts.example.org/f.css"; '
                                             "a { background: url('https://x.org/bg.png') }")
    assert oa.remote_references(html) == [
        ("_static/remote.css", "https://fonts.example.org/f.css"),
        ("_static/remote.css", "https://x.org/bg.png"),
        ("page.html", "//cdn.example.org/x.css"),
        ("page.html", "http://x.org/i.png"),
        ("page.html", "https://unpkg.com/thebe/lib/index.js"),
    ]
    with pytest.raises(DataError, match="no index.html"):
        oa.remote_references(tmp_path)


def test_check_command_installs_mathjax_and_fails_on_remote_resources(fake_mathjax, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BOOK_MATHJAX_TGZ", str(fake_mathjax))
    html = _site(tmp_path)
    assert oa.main(["check", str(html)]) == 0
    assert (html / "_static/mathjax/tex-mml-chtml.js").is_file()
    assert "no page" in capsys.readouterr().out
    (html / "index.html").write_text('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>')
    assert oa.main(["check", str(html)]) == 1
    assert "cdn.jsdelivr.net" in capsys.readouterr().out
    assert oa.main(["check", str(tmp_path / "nothing")]) == 1


def test_dedupe_scripts_keeps_first_of_each():
    from sphinx.builders.html._assets import _JavaScript

    thebe = 'const THEBE_JS_URL = "x"'
    scripts = [_JavaScript("a.js"), _JavaScript(None, body=thebe), _JavaScript("", body=thebe),
               _JavaScript("a.js"), _JavaScript("b.js", **{"async": "async"}), _JavaScript("b.js")]
    kept = oa.dedupe_scripts(scripts)
    assert kept is scripts
    assert [(str(s.filename or ""), s.attributes) for s in kept] == [
        ("a.js", {}), ("", {"body": thebe}), ("b.js", {"async": "async"}), ("b.js", {})]
