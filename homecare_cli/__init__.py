"""The `homecare` command line: the operator's tools, composing the packages the server is made of
(`service`) with the ones it does not ship (`seed`'s districts and generators, `providers`' simulator).
The console command is `homecare_cli.main:main`."""
