from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("mwdemo._zstd", ["src/zstdmod.c"], libraries=["zstd"]),
        Extension("mwdemo._words", ["src/wordsmod.cpp"], language="c++"),
    ]
)
