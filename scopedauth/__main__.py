"""``python -m scopedauth`` is the ``scopedauth`` command."""

from .cli.entry import main

if __name__ == "__main__":
    main()
