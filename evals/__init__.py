"""Measuring answer quality and speed: evals, calibration and benchmarks."""
