"""FasterNet is registered once and found from every OpenMMLab scope."""
import subprocess
import sys
import textwrap

import pytest


def run_python(code, cwd):
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                            capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_import_does_not_pull_downstream_libraries(tmp_path):
    out = run_python(
        """
        import sys
        import mmfasternet
        print(sorted(m for m in ('mmdet', 'mmseg', 'mmpretrain')
                     if m in sys.modules))
        """, cwd=tmp_path)
    assert out.strip() == '[]'


@pytest.mark.parametrize('scope,registry', [
    ('mmdet', 'mmdet.registry'),
    ('mmseg', 'mmseg.registry'),
    ('mmpretrain', 'mmpretrain.registry'),
])
def test_build_from_each_scope_through_custom_imports(tmp_path, scope,
                                                      registry):
    config = tmp_path / 'user_config.py'
    config.write_text(
        textwrap.dedent(f"""
        default_scope = '{scope}'
        custom_imports = dict(imports=['mmfasternet'],
                              allow_failed_imports=False)
        backbone = dict(type='FasterNet', arch='t0', out_indices=(1, 3))
        """))
    out = run_python(
        f"""
        import torch
        from mmengine.config import Config
        from mmengine.registry import DefaultScope
        from {registry} import MODELS
        cfg = Config.fromfile({str(config)!r})  # runs custom_imports
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            model = MODELS.build(cfg.backbone)
        outs = model.eval()(torch.rand(1, 3, 64, 64))
        print(type(model).__module__, [o.shape[1] for o in outs])
        """, cwd=tmp_path)
    assert out.split() == [
        'mmfasternet.models.backbones.fasternet', '[80,', '320]'
    ]


def test_registered_once_in_root_registry():
    from mmengine.registry import MODELS

    import mmfasternet
    assert MODELS.get('FasterNet') is mmfasternet.FasterNet
    assert MODELS.module_dict['FasterNet'] is mmfasternet.FasterNet


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_deploy_hook_is_found_from_each_scope(scope):
    """A config can name it: custom_hooks=[dict(type='DeployHook')]."""
    from importlib import import_module

    from mmengine.registry import DefaultScope

    from mmfasternet.engine.hooks import DeployHook
    registry = import_module(f'{scope}.registry').HOOKS
    with DefaultScope.overwrite_default_scope(scope):
        hook = registry.build(dict(type='DeployHook'))
    assert type(hook) is DeployHook
