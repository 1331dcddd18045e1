"""What a run leaves on disk for people: PNGs, an HTML gallery, a progress log, plots.

`images` names and writes elite PNGs, `gallery` the self-contained
`gallery.html`, `progress` the per-generation `progress.csv`, `plots` the PNG
plots and `run_directory` all of them together; see "A run on disk" in DESIGN.md.
The submodules are imported directly, so that reading a progress log does not
load matplotlib.
"""
