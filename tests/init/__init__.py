"""Tests of hpo/init/."""
