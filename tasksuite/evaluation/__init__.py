"""Evaluation protocols, scores and reports."""
