"""The ``drumsynth`` command line: one console script with verbs; each verb is a thin module."""
