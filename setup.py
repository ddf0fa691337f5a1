"""Only here to add the root-level presets/ folder as the package filmgan.builtin_presets
(pyproject.toml cannot combine package discovery with an extra mapped package)."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["filmgan", "filmgan.*"]), "filmgan.builtin_presets"])
