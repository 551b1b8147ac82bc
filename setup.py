from setuptools import find_packages, setup

# Version ranges mmfasternet works with; requirements/*.txt pin the versions
# the test suite runs with (tools/setup_env.sh installs those).
EXTRAS = dict(
    det=['mmdet>=3.0.0,<4.0.0'],
    # mmsegmentation imports these without declaring them
    seg=['mmsegmentation>=1.0.0,<2.0.0', 'ftfy', 'regex'],
    cls=['mmpretrain>=1.0.0,<2.0.0'],
    deploy=['onnx', 'onnxruntime', 'onnxscript', 'openvino'],
    tests=['pytest', 'pytest-xdist', 'ruff', 'timm>=1.0.16', 'matplotlib'],
)
EXTRAS['all'] = sorted({req for reqs in EXTRAS.values() for req in reqs})


def read_version():
    namespace = {}
    with open('mmfasternet/version.py') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='mmfasternet',
    version=read_version(),
    description='FasterNet (CVPR 2023) as an OpenMMLab backbone for mmdet, '
    'mmsegmentation and mmpretrain',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmfasternet', 'mmfasternet.*']),
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
