from wattlens.cli.entry import run

run()
