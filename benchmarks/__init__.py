"""mmfasternet's measurement code, kept out of the installed package.

Run from the repository root, as ``python -m benchmarks.<module>``
(README.md in this folder lists the commands), which makes the root
importable: the modules import each other as ``benchmarks.<module>`` and
mmfasternet as installed or from the root, and leave the import path
alone.
"""
