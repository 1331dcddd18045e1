"""One module per command-line command; `fooling.cli` only parses and dispatches."""
