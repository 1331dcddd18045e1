"""Island-model MAP-Elites on Ray: islands evolve apart and their archives merge."""
