"""What connects FasterNet to mmengine's Runner. Importing this package
imports nothing; each module registers or offers its own part:

- :mod:`.optim`: the layer-decay optimizer constructor (registered by
  ``import mmfasternet``);
- :mod:`.hooks`: the hooks ``tools/train.py`` and ``tools/test.py`` add to
  a run (crash-safe checkpoints, random states, checkpoint coverage,
  damaged-sample counts, the deploy form);
- :mod:`.tasks`, :mod:`.test_options`, :mod:`.resume`,
  :mod:`.distributed`: the steps the two tools share.
"""
