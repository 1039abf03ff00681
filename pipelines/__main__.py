"""Entry point of ``python -m pipelines``."""

from pipelines.cli import load_commands


def main() -> None:
    load_commands()()


if __name__ == "__main__":
    main()
