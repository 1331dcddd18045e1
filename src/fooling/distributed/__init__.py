"""Work on Ray: joining or starting a cluster (`cluster`), noticing lost nodes (`nodes`),
and one function over many items on a set of workers (`pool`).

Ray is an optional extra (`pip install "fooling[ray]"`), imported only when more than
one worker is asked for; `cluster` starts a local cluster bound to 127.0.0.1 or joins one.
The island model that runs a search on these workers is `fooling.search.islands`.
"""
