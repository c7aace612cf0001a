"""MMSA-format datasets: loading, synthetic data with a planted structure, batching."""
