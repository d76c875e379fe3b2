"""`python -m qa`: the same command line as `qa`."""

from qa.cli import main

if __name__ == "__main__":
    main()
