"""Tests of hpo/model/."""
