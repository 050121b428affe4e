"""tests/ops: deployment scripts and the Docker stack."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "docker: needs a real Docker engine (started by scripts/docker-engine.sh where root can install docker.io)",
    )
