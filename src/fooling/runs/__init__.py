"""Runs on disk: the folder every command writes, and the files in it.

`directory` claims and locks a run directory, `state` reads and writes checkpoints
and other tensors (safetensors, checked), `progress` the per-generation log, and
`images` the PNG names and the exact reading and writing of 8-bit images. Nothing
here imports the searches, experiments, pages or commands that write runs.
"""
