"""Evaluation: what is measured, the whole report (docs/evaluation.md), the verdict's part, the bench."""
