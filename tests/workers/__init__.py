"""Tests of hpo/workers/."""
