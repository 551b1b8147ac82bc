"""Every script path that the README, the docs, the Makefile, the scripts,
the configs and the library name exists (tools/ is grouped into
OpenMMLab's analysis_tools/, deployment/, model_converters/ and misc/)."""
import glob
import os.path as osp
import re

from conftest import REPO_ROOT

TOOL_PATH = re.compile(r'(?<![\w/.])tools/[\w./-]+\.(?:py|sh)\b')
SOURCES = ('README.md', 'Makefile', 'docs/*.md', 'tools/**/*.py',
           'tools/**/*.sh', 'configs/**/*.py', 'mmfasternet/**/*.py',
           'tests/*.py', '.ci/*')


def test_every_named_tool_exists():
    named, missing = set(), []
    for pattern in SOURCES:
        for path in glob.glob(osp.join(REPO_ROOT, pattern), recursive=True):
            with open(path, encoding='utf-8') as f:
                for line_number, line in enumerate(f, 1):
                    for tool in TOOL_PATH.findall(line):
                        named.add(tool)
                        if not osp.isfile(osp.join(REPO_ROOT, tool)):
                            missing.append(
                                f'{osp.relpath(path, REPO_ROOT)}:'
                                f'{line_number}: {tool}')
    assert not missing, '\n'.join(missing)
    assert {'tools/train.py', 'tools/misc/make_demo_data.py',
            'tools/analysis_tools/benchmark.py',
            'tools/deployment/export_onnx.py',
            'tools/model_converters/convert_checkpoint.py'} <= named
