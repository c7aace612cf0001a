"""The live and offline sentiment app: sources (camera, microphone, files, the page's browser streams) ->
stages (face, ASR, acoustic) -> the window assembler -> the scorer (an ``engines`` engine) -> typed events
(:mod:`realtime.events`), read alike by the terminal, the web page and offline scoring.

Where things are: a window is assembled in :mod:`realtime.windows`, a modality is declared in
:mod:`realtime.modalities`, the events are defined in :mod:`realtime.events`.

Entry points: ``python -m realtime`` (``dmsil-live``) and ``python -m realtime score`` (``dmsil-live-score``).
"""
