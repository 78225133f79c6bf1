"""The optional compiled extensions; everything else is in pyproject.toml.

Three extension modules: ``aioproducer._protocol._crecords`` (Cython, the record batch
builder), ``aioproducer._caccumulate`` (Cython, the accumulator's per-partition append) and
``aioproducer._speedups`` (the loops of send_many and of a batch's completion in Cython,
``_speedups.pyx``, linked with the hand-written C of ``aioproducer/_cext/``: the callback relay
and the fast send()). Cython is a build-time dependency only (pyproject's build-system).

Build-time environment:

- ``AIOPRODUCER_PURE_BUILD=1``: no extension at all (the ``py3-none-any`` wheel).
- ``AIOPRODUCER_STRICT_BUILD=1`` (this repository's CI and the release wheels): the extension
  must build, and compiler warnings are errors.

Otherwise a failed build installs the pure-Python package and says so: a warning, a banner
on the terminal (pip shows a successful build's output only with ``-v``), and a note
beside the package (``aioproducer/_speedups_build_error.txt``) that ``aioproducer._speedups_status``
reports at import. Warnings never fail a user's build: a newer compiler's new warning would
silently drop the speedups.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PACKAGE = "aioproducer"
NOTE = "_speedups_build_error.txt"  # read by aioproducer/_speedups_status.py
STRICT = os.environ.get("AIOPRODUCER_STRICT_BUILD") == "1"
PURE = os.environ.get("AIOPRODUCER_PURE_BUILD") == "1"


class OptionalBuildExt(build_ext):
    """Build the extension; on failure say so loudly and leave the pure-Python package."""

    def build_extensions(self) -> None:
        gcc_like = self.compiler.compiler_type != "msvc"
        flags = ["-O2", "-Wall", *(["-Werror"] if STRICT else [])] if gcc_like else ["/O2"]
        for ext in self.extensions:
            ext.extra_compile_args = [*flags, *ext.extra_compile_args]
        super().build_extensions()

    def run(self) -> None:
        try:
            _cythonize(self.extensions)
            super().run()  # also finds the compiler: no compiler at all fails here
        except Exception as exc:  # any failure leaves the pure-Python package
            self._failed(exc)
        else:
            for folder in self._note_folders():
                (folder / NOTE).unlink(missing_ok=True)

    def _failed(self, exc: Exception) -> None:
        if STRICT:
            raise exc
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        for folder in self._note_folders():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / NOTE).write_text(reason + "\n", encoding="utf-8")
        _announce(
            "",
            "*" * 78,
            "aioproducer: the optional C extension was NOT built. The package installs and",
            "works on its pure-Python code, without the speedups. The failure:",
            f"    {reason}",
            "To get the speedups: install a C compiler and the Python headers, then reinstall",
            "(pip install --no-cache-dir --force-reinstall ...). AIOPRODUCER_STRICT_BUILD=1",
            "makes this failure stop the install; aioproducer.speedups_enabled() tells.",
            "*" * 78,
            "",
        )

    def _note_folders(self) -> list[Path]:
        """Where the package's files land: the build folder, and the source folder when the
        build is in place or editable (the extension is copied there)."""
        folders = {Path(self.get_ext_fullpath(f"{PACKAGE}._speedups")).parent}
        if self.inplace or getattr(self, "editable_mode", False):
            source = self.get_finalized_command("build_py").get_package_dir(PACKAGE)
            folders.add(Path(source or PACKAGE).resolve())
        return sorted(folders)


def _cythonize(extensions: list[Extension]) -> None:
    """Turn the extensions' .pyx sources into C, in place (_speedups includes the API header
    Cython writes: all are cythonized before any compiles). Without Cython this raises, as a
    failed compile does."""
    from Cython.Build import cythonize  # noqa: PLC0415 - a build-time dependency only

    done = cythonize(
        extensions, compiler_directives={"language_level": 3, "embedsignature": True}, quiet=True
    )
    sources = {ext.name: ext.sources for ext in done}
    for ext in extensions:
        ext.sources = sources[ext.name]


def _announce(*lines: str) -> None:
    """Say it as a warning and, when there is one, on the terminal. pip (26) shows a build
    backend's warnings without ``-v`` only when it builds a local folder, and a successful
    build's output only with ``-v``; the terminal is not captured."""
    text = "\n".join(lines) + "\n"
    warnings.warn(text, UserWarning, stacklevel=2)
    with contextlib.suppress(OSError), open("/dev/tty", "w", encoding="utf-8") as tty:
        tty.write(text)


setup(
    ext_modules=[]
    if PURE
    else [
        Extension(
            f"{PACKAGE}._protocol._crecords",
            [f"{PACKAGE}/_protocol/_crecords.pyx"],
            include_dirs=[PACKAGE],
            depends=[f"{PACKAGE}/_cext/encode.h"],
        ),
        Extension(
            f"{PACKAGE}._caccumulate",
            [f"{PACKAGE}/_caccumulate.pyx"],
            include_dirs=[PACKAGE],
            depends=[f"{PACKAGE}/_protocol/_crecords_api.h"],
        ),
        Extension(
            f"{PACKAGE}._speedups",
            [f"{PACKAGE}/_speedups.pyx", f"{PACKAGE}/_cext/relay.c", f"{PACKAGE}/_cext/fastsend.c"],
            include_dirs=[PACKAGE],
            depends=[
                f"{PACKAGE}/_cext/encode.h",
                f"{PACKAGE}/_cext/cext.h",
                f"{PACKAGE}/_protocol/_crecords_api.h",
                f"{PACKAGE}/_caccumulate_api.h",
            ],
        ),
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
