"""`python -m workbench` runs the `workbench` command."""

from workbench.cli import main

if __name__ == "__main__":
    main()
