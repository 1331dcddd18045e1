"""What a run leaves on disk for people: an HTML gallery, plots and report pages.

`gallery` writes the self-contained `gallery.html`, `plots` the PNG plots,
`search_report` all of them for a search result and `figure1` the paper's Figure 1.
The run's own files (the folder, its PNGs, the progress log, checkpoints) belong to
`fooling.runs`, below every layer that writes a run; see "A run on disk" in DESIGN.md.
The submodules are imported directly, so that reading a run does not load matplotlib.
"""
