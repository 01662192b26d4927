"""Tests of hpo/config/."""
