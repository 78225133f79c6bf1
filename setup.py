"""Only the optional C extension lives here; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "aioproducer._speedups",
            ["aioproducer/_speedups.c", "aioproducer/_relay.c", "aioproducer/_fastsend.c"],
            depends=["aioproducer/_encode.h"],
            optional=True,  # without a C compiler the pure-Python loops are used
            extra_compile_args=["-O2", "-Wall", "-Werror"],
        )
    ]
)
