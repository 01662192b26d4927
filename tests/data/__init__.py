"""Tests of hpo/data/."""
