"""Project scripts: set-up, benchmarks and the shipped default model's recipe (``scripts.default_model``)."""
