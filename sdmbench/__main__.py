"""``python -m sdmbench`` is the ``sdmbench`` command."""
from sdmbench.cli import main

if __name__ == "__main__":
    main()
