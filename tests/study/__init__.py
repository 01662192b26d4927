"""Tests of hpo/study/."""
