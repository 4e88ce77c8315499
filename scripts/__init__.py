"""Developer scripts, run from the repo root as modules (`python -m scripts.devservices`)."""
