"""Page budgets of the book (plain pytest, part of `make test`).

- every committed chapter notebook ≤ 3 MB, its embedded audio ≤ 1 MB, no audio output longer than 5 s;
- no embedded audio is an excerpt of a GTZAN clip (checked against the clips of ``$GTZAN_MINI_DIR`` /
  ``$GTZAN_FULL_DIR``: loudness envelopes find candidates, samples confirm them; skipped when neither is set);
- a notebook that draws figures has figures in its stored outputs;
- when the book is built (``_build/html``), every HTML page ≤ 5 MB and its embedded audio ≤ 1 MB.

The "build has no warnings" budget is enforced by ``jupyter-book build --warningiserror`` (``make book``).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tools.audio_fingerprint import (
    AUDIO_DATA_URI,
    GTZAN_RATE,
    audio_samples,
    embedded_audio,
    gtzan_excerpts,
)

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (REPO / "chapters").glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
HTML_DIR = REPO / "_build" / "html"

MB = 1_000_000
NOTEBOOK_MAX_BYTES = 3 * MB
PAGE_MAX_BYTES = 5 * MB
AUDIO_MAX_BYTES = 1 * MB
AUDIO_MAX_SECONDS = 5.0

# ---------------------------------------------------------------------------------------------
# the budgets of the committed notebooks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_size(path):
    size = path.stat().st_size
    assert size <= NOTEBOOK_MAX_BYTES, f"{path.name} is {size / MB:.2f} MB (budget {NOTEBOOK_MAX_BYTES / MB:.0f} MB)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_embedded_audio_within_budget(path):
    items = embedded_audio(json.loads(path.read_text(encoding="utf-8")))
    total = sum(len(item["data"]) for item in items)
    assert total <= AUDIO_MAX_BYTES, f"{path.name} embeds {total / MB:.2f} MB of audio (budget 1 MB)"
    for item in items:
        try:
            samples, rate = audio_samples(item["data"])
        except (RuntimeError, sf.LibsndfileError) as err:
            pytest.fail(f"{path.name} cell {item['cell']}: embedded {item['mime']} cannot be decoded ({err})")
        seconds = len(samples) / rate
        assert seconds <= AUDIO_MAX_SECONDS, (
            f"{path.name} cell {item['cell']}: an audio output of {seconds:.1f} s (at most {AUDIO_MAX_SECONDS:.0f} s)"
        )


def _gtzan_clips() -> list[Path]:
    clips = []
    for variable in ("GTZAN_MINI_DIR", "GTZAN_FULL_DIR"):
        folder = os.environ.get(variable)
        if folder and Path(folder).is_dir():
            clips += sorted(Path(folder).rglob("*.wav")) + sorted(Path(folder).rglob("*.au"))
    return clips


def test_no_gtzan_audio_in_outputs():
    clips = _gtzan_clips()
    if not clips:
        pytest.skip("no local GTZAN clips to compare with (set GTZAN_MINI_DIR, as .ci/run does)")
    hits = gtzan_excerpts(NOTEBOOKS, clips)
    assert not hits, "GTZAN audio must not be embedded in committed outputs:\n" + "\n".join(hits)


_PLOTTING = re.compile(r"\bplt\.(?:plot|subplots|figure|imshow|bar|hist|scatter)\b|specshow\(|\bplot_\w+\(|\bsns\.\w+\(")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_that_plots_stores_figures(path):
    """Outputs executed with a non-inline matplotlib backend (e.g. MPLBACKEND=Agg) lose every figure."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    if not any(c.get("outputs") for c in code):
        pytest.skip(f"{path.name} has no stored outputs yet")
    plotting = [i for i, c in enumerate(code) if _PLOTTING.search("".join(c["source"]))]
    images = sum(1 for c in code for o in c.get("outputs", []) if any(k.startswith("image/") for k in o.get("data", {})))
    assert not plotting or images > 0, (
        f"{path.name}: {len(plotting)} code cell(s) draw figures but no figure is stored; re-execute it with "
        "the inline backend (unset MPLBACKEND for the kernel)"
    )


# ---------------------------------------------------------------------------------------------
# the budgets of the built pages


def _pages() -> list[Path]:
    return sorted(HTML_DIR.rglob("*.html")) if (HTML_DIR / "index.html").is_file() else []


def test_built_pages_within_budget():
    pages = _pages()
    if not pages:
        pytest.skip(f"the book is not built ({HTML_DIR} has no index.html; `make book` builds it)")
    too_big, too_loud = [], []
    for page in pages:
        size = page.stat().st_size
        if size > PAGE_MAX_BYTES:
            too_big.append(f"{page.relative_to(HTML_DIR)}: {size / MB:.2f} MB")
        text = page.read_text(encoding="utf-8", errors="replace")
        audio = sum(len(m.group(2)) * 3 // 4 for m in AUDIO_DATA_URI.finditer(text))
        if audio > AUDIO_MAX_BYTES:
            too_loud.append(f"{page.relative_to(HTML_DIR)}: {audio / MB:.2f} MB of audio")
    assert not too_big, f"pages over {PAGE_MAX_BYTES / MB:.0f} MB: {too_big}"
    assert not too_loud, f"pages embedding over 1 MB of audio: {too_loud}"


# ---------------------------------------------------------------------------------------------
# the checks themselves, on notebooks made here (so that they can be seen to fail)


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _notebook_with_audio(payloads: list[bytes], as_html: bool = True) -> dict:
    outputs = []
    for data in payloads:
        encoded = base64.b64encode(data).decode()
        if as_html:
            html = f'<audio controls="controls"><source src="data:audio/wav;base64,{encoded}" type="audio/wav" /></audio>'
            outputs.append({"output_type": "display_data", "data": {"text/html": html}, "metadata": {}})
        else:
            outputs.append({"output_type": "display_data", "data": {"audio/wav": encoded}, "metadata": {}})
    return {"cells": [{"cell_type": "markdown", "source": "# x", "metadata": {}},
                      {"cell_type": "code", "source": "Audio(y, rate=sr)", "outputs": outputs, "metadata": {}}]}


def test_embedded_audio_is_found_and_measured():
    rate = 8000
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate)
    for as_html in (True, False):
        items = embedded_audio(_notebook_with_audio([_wav_bytes(tone, rate)] * 2, as_html=as_html))
        assert [item["cell"] for item in items] == [1, 1]
        samples, got_rate = audio_samples(items[0]["data"])
        assert got_rate == rate and len(samples) / rate == pytest.approx(2.0)


def _fake_clip(rng: np.random.Generator, seconds: float = 12.0) -> np.ndarray:
    """Noise with a random loudness contour, like music's at the scale of frames."""
    n = int(seconds * GTZAN_RATE)
    contour = np.repeat(rng.uniform(0.05, 1.0, n // 1000 + 1), 1000)[:n]
    return (0.5 * contour * rng.standard_normal(n)).astype(np.float32)


def test_gtzan_excerpt_is_detected(tmp_path):
    rng = np.random.default_rng(0)
    clips = []
    for i in range(3):
        path = tmp_path / f"blues.0000{i}.wav"
        sf.write(path, _fake_clip(rng), GTZAN_RATE, subtype="PCM_16")
        clips.append(path)
    clip, _ = sf.read(clips[1], dtype="float32")
    start = int(3.3 * GTZAN_RATE) + 77  # not on a frame boundary
    excerpt = clip[start : start + 3 * GTZAN_RATE]
    excerpt = 0.99 * excerpt / np.abs(excerpt).max()  # IPython.display.Audio normalizes like this
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * GTZAN_RATE) / GTZAN_RATE)
    notebook = tmp_path / "chapter.ipynb"
    notebook.write_text(json.dumps(_notebook_with_audio([_wav_bytes(excerpt, GTZAN_RATE),
                                                         _wav_bytes(tone, GTZAN_RATE)])))
    hits = gtzan_excerpts([notebook], clips)
    assert len(hits) == 1 and "blues.00001.wav" in hits[0], hits
    other = _fake_clip(np.random.default_rng(1), 3.0)  # unrelated audio with the same statistics
    notebook.write_text(json.dumps(_notebook_with_audio([_wav_bytes(other, GTZAN_RATE)])))
    assert gtzan_excerpts([notebook], clips) == []


def test_plotting_detector():
    assert _PLOTTING.search("fig, ax = plt.subplots(1, 2)")
    assert _PLOTTING.search("librosa.display.specshow(S, x_axis='time')")
    assert _PLOTTING.search("plot_history(history)")
    assert not _PLOTTING.search("print(model.summary())")
