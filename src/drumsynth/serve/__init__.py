"""Live front ends' machinery: the OSC server (``drumsynth serve``) and the render worker the web
instrument shares (:mod:`drumsynth.serve.latest`)."""
