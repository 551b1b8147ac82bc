"""The examples in the package's docstrings run and print what they show
(doctest), so the documentation cannot drift from the code."""
import doctest
import importlib
import os
import os.path as osp

import pytest

PACKAGE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                   'mmfasternet')


def modules_with_examples():
    """The modules of mmfasternet whose source holds a ``>>>`` example."""
    names = []
    for folder, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            path = osp.join(folder, name)
            if name.endswith('.py') and '>>>' in open(path).read():
                relative = osp.relpath(path[:-3], osp.dirname(PACKAGE))
                names.append(relative.replace(os.sep, '.'))
    return sorted(names)


def test_examples_are_found():
    assert {'mmfasternet.models.backbones.fasternet',
            'mmfasternet.model_zoo'} <= set(modules_with_examples())


@pytest.mark.parametrize('module', modules_with_examples())
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
