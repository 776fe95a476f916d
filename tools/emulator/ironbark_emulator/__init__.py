"""Ironbark's local AWS emulator: moto 5.2.5 server mode plus fidelity patches.

Start it with ``python -m ironbark_emulator --host 127.0.0.1 --port PORT``.
See ``tools/emulator/README.md`` for the control endpoints and the patch table.
"""

MOTO_VERSION = "5.2.5"
