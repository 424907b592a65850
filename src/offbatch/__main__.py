from offbatch.cli import run

run()
