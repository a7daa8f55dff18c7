"""``python -m mock_as serve``: the same CLI as the ``mock-as`` entry point."""

from mock_as.cli import main

if __name__ == "__main__":
    main()
