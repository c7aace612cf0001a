"""The stages and their runner, on real audio, without the pipeline around them."""

import logging
import math
import queue
import threading

import numpy as np

from dmsil.features.asr import ASROptions
from dmsil.features.audio import FRAME_RATE
from dmsil.features.media import VIDEO_RATE, Frame
from realtime.events import StatusChanged, WindowReady
from realtime.pipeline import PipelineOptions
from realtime.sources import AudioChunk, FileSource
from realtime.stages import END, AcousticStage, ASRStage, FaceStage, Faults, run_stage
from realtime.windows import Assembler


def chunks(wav, seconds: float) -> list[AudioChunk]:
    """The first ``seconds`` of a recording as the file source hands them to the stages (16 kHz mono)."""
    return [item for item in FileSource(wav) if item.t < seconds]


def run(stage, items, asm: Assembler, faults: Faults) -> float:
    """Runs ``stage`` on ``items`` then END through a queue smaller than the input; returns its working time."""
    q: queue.Queue = queue.Queue(maxsize=8)
    timed: dict[str, float] = {}

    def put_all() -> None:
        for item in [*items, END]:
            q.put(item)

    reader = threading.Thread(target=put_all)
    reader.start()
    run_stage(stage, q, asm, threading.Event(), faults, lambda name, s: timed.update({name: timed.get(name, 0) + s}))
    reader.join(timeout=30)
    assert not reader.is_alive(), "the queue was emptied: no reader left blocked"
    return timed.get(stage.name, 0.0)


def test_the_acoustic_stage_adds_frames_on_the_stream_clock_and_finishes(talk):
    asm, faults = Assembler(), Faults()
    seconds = run(AcousticStage(faults), chunks(talk["wav"], 2.55), asm, faults)
    stream = asm.streams["acoustic"]
    assert stream.until == math.inf and seconds > 0 and faults.errors == []
    frames = stream.take(0.0, math.inf)
    assert abs(len(frames) - 2.55 * FRAME_RATE) <= 3 * 3  # 25 ms windows: a few frames lost per 1 s block
    assert stream.take(1.0, 1.1) and stream.times[-1] < 2.55


def test_faces_read_at_the_offline_rate_stand_for_the_frames_between(talk):
    """Offline the faces are read at a fraction of the video head's rate; each reading fills the frames
    after it, so the windows hold as many face frames as at the full rate, each the latest reading."""
    read, offline = {}, PipelineOptions().face_rate
    hold = round(VIDEO_RATE / offline)
    assert hold > 1
    for rate in (VIDEO_RATE, offline):
        asm, faults = Assembler(), Faults()
        frames = [
            item for item in FileSource(talk["talk"], video_rate=rate) if isinstance(item, Frame) and item.t < 2.0
        ]
        run(FaceStage(faults, hold=round(VIDEO_RATE / rate)), frames, asm, faults)
        assert faults.errors == [] and asm.streams["face"].until == math.inf
        read[rate] = asm.streams["face"].take(0.0, 2.0)
    full, part = read[VIDEO_RATE], read[offline]
    assert abs(len(part) - len(full)) <= hold and all(v[-1] == 1.0 for v in full + part)  # a face in every frame
    held = [part[i : i + hold] for i in range(0, len(part) - hold + 1, hold)]
    assert all(np.array_equal(g[0], v) for g in held for v in g)  # each reading stands for ``hold`` frames
    assert np.abs(np.mean(part, axis=0) - np.mean(full, axis=0)).max() < 0.1 * np.abs(np.mean(full, axis=0)).max()


def test_a_stage_that_cannot_load_says_why_in_its_modalities_once(talk, caplog):
    asm = Assembler()
    faults = Faults(on_first=lambda stage, why: asm.note(stage, ("text",), why))
    stage = ASRStage(ASROptions(model="/nonexistent/model"), live=False, faults=faults)
    with caplog.at_level(logging.WARNING):
        run(stage, chunks(talk["wav"], 3.0), asm, faults)
    assert asm.streams["asr"].until == math.inf  # finished: the windows do not wait for it
    assert len(faults.errors) == 1 and faults.errors[0].startswith("asr failed")
    asm.advance("face", 4.0)
    asm.advance("acoustic", 4.0)
    asm.saw(4.0)
    events = asm.ready()
    assert [e for e in events if isinstance(e, StatusChanged)] == [StatusChanged("asr", ("text",), faults.errors[0])]
    window = next(e.window for e in events if isinstance(e, WindowReady))
    assert str(window.reasons["text"]) == faults.errors[0] and "video" not in window.reasons
    assert sum("asr failed" in r.message for r in caplog.records) == 1


def test_faults_are_logged_once_per_stage_and_counted(caplog):
    faults = Faults()
    with caplog.at_level(logging.WARNING):
        reasons = [faults.report("face", ValueError("bad frame\nsecond line")) for _ in range(3)]
    assert [str(r) for r in reasons] == ["face failed: ValueError: bad frame"] * 3
    assert faults.counts == {"face": 3} and faults.errors == [str(reasons[0])] and len(caplog.records) == 1
