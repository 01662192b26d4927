"""Tests of hpo/records/."""
