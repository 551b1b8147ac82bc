from setuptools import find_packages, setup


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
    # tools/setup_env.sh installs these in a working order (mmcv has no PyPI
    # wheels and is built from source there) and then this package with
    # --no-deps; a plain `pip install -e .` on top finds them satisfied.
    install_requires=[
        'torch>=1.8',
        'mmengine>=0.10.0,<1.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmdet>=3.0.0,<4.0.0',
        'mmsegmentation>=1.0.0,<2.0.0',
        'mmpretrain>=1.0.0,<2.0.0',
        # mmsegmentation imports these without declaring them
        'ftfy',
        'regex',
    ],
    extras_require={'tests': ['pytest', 'timm>=1.0.16']},
    license='Apache-2.0',
    zip_safe=False,
)
