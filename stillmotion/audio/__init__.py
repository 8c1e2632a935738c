"""Soundtracks: speech (espeak-ng), procedural sound scenes, background music, beats, the mix.

`soundtrack.make_soundtrack` is the one entry; `voices` is plain data the catalog and API use.
Nothing heavy is imported here, so `stillmotion.audio.voices` loads without numpy or espeak.
"""
