"""Entry point: ``python -m ironbark_emulator``."""

from ironbark_emulator.cli import main

if __name__ == "__main__":
    main()
