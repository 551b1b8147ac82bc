import os
import os.path as osp
import shutil

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))

# Version ranges mmfasternet works with; requirements/*.txt pin the versions
# the test suite runs with (tools/setup_env.sh installs those).
EXTRAS = dict(
    det=['mmdet>=3.0.0,<4.0.0'],
    # mmsegmentation imports these without declaring them
    seg=['mmsegmentation>=1.0.0,<2.0.0', 'ftfy', 'regex'],
    cls=['mmpretrain>=1.0.0,<2.0.0'],
    deploy=['onnx', 'onnxruntime', 'onnxscript', 'openvino'],
    tests=['pytest', 'pytest-xdist', 'ruff', 'timm>=1.0.16', 'matplotlib',
           'build', 'twine'],
)
EXTRAS['all'] = sorted({req for reqs in EXTRAS.values() for req in reqs})


# What OpenMMLab's mim expects in <package>/.mim/ (as mmdet and mmpretrain
# ship them); mmfasternet.model_zoo reads the model index from there too.
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def add_mim_files():
    """Point ``mmfasternet/.mim/<name>`` at the checkout's ``<name>`` with a
    relative symlink (a copy where symlinks are not allowed), so that an
    editable install (``pip install -e .``, ``setup.py develop``) reads the
    configs as they are edited. Wheels and sdists carry regular files:
    setuptools copies the contents through the links (MANIFEST.in lists
    them). In an unpacked sdist, which has no top-level ``configs/``, the
    shipped ``.mim`` is kept as it is."""
    mim = osp.join(HERE, 'mmfasternet', '.mim')
    for name in MIM_FILES:
        source, target = osp.join(HERE, name), osp.join(mim, name)
        if not osp.exists(source):
            continue
        relative = osp.relpath(source, mim)
        if osp.islink(target) and os.readlink(target) == relative:
            continue
        if osp.isdir(target) and not osp.islink(target):
            shutil.rmtree(target)
        elif osp.lexists(target):
            os.remove(target)
        os.makedirs(mim, exist_ok=True)
        try:
            os.symlink(relative, target)
        except OSError:  # e.g. Windows without the symlink privilege
            if osp.isdir(source):
                shutil.copytree(source, target, ignore=shutil.ignore_patterns(
                    '__pycache__', '*.pyc'))
            else:
                shutil.copyfile(source, target)


def read_version():
    namespace = {}
    with open('mmfasternet/version.py') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


add_mim_files()
setup(
    name='mmfasternet',
    version=read_version(),
    description='FasterNet (CVPR 2023) as an OpenMMLab backbone for mmdet, '
    'mmsegmentation and mmpretrain',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmfasternet', 'mmfasternet.*']),
    # mmfasternet/.mim/ (configs, tools, model index), as MANIFEST.in lists it
    include_package_data=True,
    python_requires='>=3.8',
    # What `import mmfasternet` needs, with ranges wide enough that an
    # existing OpenMMLab environment is kept as it is: torch >= 2.5 for
    # nn.Module.register_load_state_dict_pre_hook; mmcv 2.0/2.1 (mmdet 3.3
    # and mmseg 1.2 refuse 2.2) with its ops, which PyPI has no wheels of:
    # install it first (mim install "mmcv==2.1.0", or tools/setup_env.sh
    # builds it).
    install_requires=[
        'torch>=2.5',
        'numpy',
        'mmengine>=0.10.0,<1.0',
        'mmcv>=2.0.0,<2.2.0',
    ],
    extras_require=EXTRAS,
    license='Apache-2.0',
    zip_safe=False,
)
