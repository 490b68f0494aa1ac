"""The house's layering: rendering a shipped model needs no training code."""

from __future__ import annotations

import json
import subprocess
import sys


def test_rendering_imports_no_training_code():
    # A fresh interpreter: the test process itself has imported drumsynth.train for other tests.
    code = (
        "import json, sys\n"
        "from drumsynth.inference.session import Session\n"
        "for family in ('ndm', 'drumgan'):\n"
        "    session = Session.load(family)\n"
        "    session.generate(session.classes[0], n=1, seed=0)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('drumsynth.train'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_training_entry_points_still_load_on_demand():
    from drumsynth.models import family_module

    for family in ("ndm", "drumgan"):
        module = family_module(family)
        assert callable(module.build_recipe) and callable(module.data_factories)
