"""What a run leaves on disk for people: PNGs, an HTML gallery, a progress log, plots.

`images` names, writes and reads elite PNGs, `gallery` the self-contained
`gallery.html`, `progress` the per-generation `progress.csv`, `plots` the PNG
plots, `search_report` all of them for a search result and `figure1` the paper's
Figure 1. `fooling.run_directory` claims the folder they go into; see "A run on
disk" in DESIGN.md.
The submodules are imported directly, so that reading a progress log does not
load matplotlib.
"""
