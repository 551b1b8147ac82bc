"""mmfasternet's test suite (a package, so that its helpers import as
``tests.helpers`` ahead of the ``tests`` package some libraries install)."""
