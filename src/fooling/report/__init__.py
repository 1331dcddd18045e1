"""What a run leaves on disk for people: an HTML gallery, plots and pages.

`gallery` writes the self-contained `gallery.html`, `plots` the PNG plots, one module
a result its page (`search_report`, `retrain_report`, `transfer_report`,
`ablation_report`, `detection_report`, `figure1`), and `pages.write_pages` the pages
of any result. The run's own files (the folder, its PNGs, the progress log,
checkpoints) belong to `fooling.runs`, below every layer that writes a run.
The submodules are imported directly, so that reading a run does not load matplotlib.
"""
