"""``python -m nnrun``: the same as the ``nnrun`` console script."""

from nnrun.cli import main

if __name__ == "__main__":
    main()
