"""The live and offline sentiment app: sources (camera, microphone, files) -> stages (face, ASR, acoustic)
-> the window assembler -> the scorer (an ``engines`` engine) -> results, on a terminal, a web page or files.

Entry points: ``python -m realtime`` (``dmsil-live``) and ``python -m realtime score`` (``dmsil-live-score``).
"""
