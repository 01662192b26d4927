"""Tests of hpo/report/."""
