from tests.service.conftest import cli  # noqa: F401  (the `homecare` command on a database of its own)
