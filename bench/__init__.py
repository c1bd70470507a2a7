"""`./scripts/bench`: Dossier's paths measured side by side with their same-run baselines."""
