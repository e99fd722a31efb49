"""``python -m scopedauth`` is the ``scopedauth`` command."""

from .entry import main

if __name__ == "__main__":
    main()
