"""The live and offline sentiment pipeline (camera, microphone, files, UI).

Not built yet: the realtime stage of the project fills this package.
"""
