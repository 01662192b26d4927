"""Tests of hpo/savedmodel/."""
