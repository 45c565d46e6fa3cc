"""The ``garrison`` command: one entry point, one sub-command per job."""

from __future__ import annotations

import click

from garrison import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="garrison")
def cli() -> None:
    """Garrison: a small trusted host for plugin-based crypto-futures strategies.

    A PROFILE is a TOML file, one per exchange account, that picks the
    strategies, sizer, risk rules and notifiers to run. Start with
    `garrison check configs/demo.toml`, then `garrison run configs/demo.toml`.
    `garrison plugins` lists, installs and starts plugins; `garrison doctor`
    checks the installation, the plugins, profiles and their journals.
    """


def _add_commands() -> None:
    # Imported here, not at module top, so `import garrison.cli.main` stays cheap.
    from garrison.cli.check_cmd import check
    from garrison.cli.console_cmd import console
    from garrison.cli.control_cmd import COMMANDS as CONTROL_COMMANDS
    from garrison.cli.data_cmd import data
    from garrison.cli.doctor_cmd import doctor
    from garrison.cli.fake_exchange_cmd import fake_exchange
    from garrison.cli.plugins_cmd import plugins
    from garrison.cli.run_cmd import backtest, run
    from garrison.cli.runtime_cmd import COMMANDS as RUNTIME_COMMANDS
    from garrison.cli.train_cmd import train

    for command in (run, backtest, check, plugins, doctor, data, fake_exchange, train, console):
        cli.add_command(command)
    for command in (*CONTROL_COMMANDS, *RUNTIME_COMMANDS):
        cli.add_command(command)


_add_commands()


def main() -> None:
    cli(prog_name="garrison")


if __name__ == "__main__":
    main()
